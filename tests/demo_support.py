"""Running `timetrail demo` in tests, as a person runs it: its own ports, its own folders."""

from __future__ import annotations

import contextlib
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
from support import ROOT, free_port, server_env


def demo_env(tmp_path: Path) -> dict[str, str]:
    """The real data dir in `tmp_path/data`, temporary folders in `tmp_path/tmp`."""
    env = server_env(tmp_path / "data")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp_path / "tmp")
    return env


def demo_command(port: int, login: int, instance: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "server",
        "demo",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--login-port",
        str(login),
        "--instance-port",
        str(instance),
        *extra,
    ]


@contextlib.contextmanager
def running_demo(
    tmp_path: Path, port: int, *extra: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The demo started on `port` and free emulator ports; yields it and what it printed."""
    process = subprocess.Popen(
        demo_command(port, free_port(), free_port(), *extra),
        env=demo_env(tmp_path),
        cwd=ROOT,
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
        yield process, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


@dataclass(frozen=True)
class Demo:
    url: str
    token: str  # the administrator's
    ca_file: str  # the emulator's CA: the browser's trust, for a test that plays the browser

    @classmethod
    def from_output(cls, port: int, output: str) -> Demo:
        token = re.search(r"administrator token: (\S+)", output)
        ca = re.search(r"its CA certificate: (\S+)", output)
        assert token and ca, output
        return cls(f"http://127.0.0.1:{port}", token.group(1), ca.group(1))

    def connect_salesforce(self) -> None:
        """Enable the integration and approve it as the administrator's browser would; the
        first sync has run when this returns."""
        auth = {"Authorization": f"Bearer {self.token}"}
        context = ssl.create_default_context(cafile=self.ca_file)
        with httpx2.Client(verify=context, trust_env=False, follow_redirects=True) as http:
            url = http.post(f"{self.url}/api/v1/integrations/salesforce/connect", headers=auth)
            page = http.get(url.json()["authorize_url"])
            assert page.status_code == 200 and "connected" in page.text, page.text
            runs = f"{self.url}/api/v1/integrations/salesforce/runs"
            deadline = time.monotonic() + 30
            while [run["status"] for run in http.get(runs, headers=auth).json()["items"]] in (
                [],
                ["running"],
            ):
                assert time.monotonic() < deadline, "the first sync did not end"
                time.sleep(0.1)
