"""`timetrail demo`: server and emulator wired together, as a person would try it, on data of
its own that never mixes into the real store."""

from __future__ import annotations

import re
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from demo_support import demo_command, demo_env, running_demo
from support import ROOT, free_port

pytestmark = pytest.mark.slow


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    assert process.stdout is not None
    return process.stdout.read()


def test_the_demo_connects_to_its_emulator_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    with running_demo(tmp_path, port) as (process, output):
        token = re.search(r"administrator token: (\S+)", output)
        ca = re.search(r"its CA certificate: (\S+)", output)
        instance = re.search(r"instance (https://\S+)", output)
        assert token and ca and instance, output
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token.group(1)}"}
        context = ssl.create_default_context(cafile=ca.group(1))
        with httpx2.Client(verify=context, trust_env=False, follow_redirects=True) as http:
            url = http.post(f"{base}/api/v1/integrations/salesforce/connect", headers=auth)
            page = http.get(url.json()["authorize_url"])
            assert page.status_code == 200 and "connected" in page.text
            status = http.get(f"{base}/api/v1/integrations/salesforce", headers=auth).json()
            assert status["status"] == "active"
            assert status["org"]["instance_url"] == instance.group(1)
        _stop(process)


def test_the_demo_keeps_out_of_the_real_store_and_its_credentials_work(tmp_path: Path) -> None:
    real = tmp_path / "data"
    real.mkdir()
    (real / "keep-me").write_text("the real store")
    port = free_port()
    for _ in range(2):  # a second demo after the first prints credentials that work as well
        with running_demo(tmp_path, port) as (process, output):
            signin = re.search(r"sign in as (\S+) / (\S+)", output)
            where = re.search(r"its data in (\S+)", output)
            assert signin and where, output
            demo_dir = Path(where.group(1))
            assert demo_dir.is_dir() and not demo_dir.is_relative_to(real)
            answer = httpx2.post(
                f"http://127.0.0.1:{port}/api/v1/auth/login",
                json={"email": signin.group(1), "password": signin.group(2)},
                trust_env=False,
            )
            assert answer.status_code == 200, answer.text
            _stop(process)
        assert not demo_dir.exists()  # removed when the demo stops
    assert sorted(p.name for p in real.iterdir()) == ["keep-me"]


def test_keep_keeps_the_demo_data_and_says_where(tmp_path: Path) -> None:
    with running_demo(tmp_path, free_port(), "--keep") as (process, output):
        where = re.search(r"its data in (\S+)", output)
        assert where, output
        after = _stop(process)
    assert f"kept in {where.group(1)}" in after
    assert any(Path(where.group(1)).iterdir())


def test_demo_help_shows_its_defaults_and_its_data_dir() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "demo", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    text = " ".join(result.stdout.split())
    assert "8443" in text and "9443" in text
    assert "temporary folder" in text and "--keep" in text
    assert "never TIMETRAIL_DATA_DIR" in text


@pytest.mark.parametrize("busy", ["server", "login", "instance"])
def test_a_busy_demo_port_is_one_line_and_nothing_is_written(tmp_path: Path, busy: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        ports = {"server": free_port(), "login": free_port(), "instance": free_port()}
        ports[busy] = taken.getsockname()[1]
        result = subprocess.run(
            demo_command(ports["server"], ports["login"], ports["instance"]),
            env=demo_env(tmp_path),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"port {ports[busy]}" in lines[0] and "already in use" in lines[0]
    option = {"server": "--port", "login": "--login-port", "instance": "--instance-port"}[busy]
    assert option in lines[0]
    assert not (tmp_path / "data").exists()
    assert not any((tmp_path / "tmp").iterdir())
