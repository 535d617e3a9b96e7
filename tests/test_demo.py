"""`timetrail demo`: server and emulator wired together, as a person would try it."""

from __future__ import annotations

import re
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from support import free_port, server_env


@pytest.mark.slow
def test_the_demo_connects_to_its_emulator_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, login, instance = free_port(), free_port(), free_port()
    env = server_env(tmp_path / "data")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server",
            "demo",
            "--port",
            str(port),
            "--login-port",
            str(login),
            "--instance-port",
            str(instance),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the demo exited early:\n" + "".join(lines)
            lines.append(line)
            if "Ctrl-C stops both" in line:
                break
        output = "".join(lines)
        token = re.search(r"administrator token: (\S+)", output)
        ca = re.search(r"its CA certificate: (\S+)", output)
        assert token and ca, output
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token.group(1)}"}
        context = ssl.create_default_context(cafile=ca.group(1))
        with httpx2.Client(verify=context, trust_env=False, follow_redirects=True) as http:
            url = http.post(f"{base}/api/v1/integrations/salesforce/connect", headers=auth)
            page = http.get(url.json()["authorize_url"])
            assert page.status_code == 200 and "connected" in page.text
            status = http.get(f"{base}/api/v1/integrations/salesforce", headers=auth).json()
            assert status["status"] == "active"
            assert status["org"]["instance_url"] == f"https://127.0.0.1:{instance}"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
