"""A server that cannot start says why in one line and exits before it writes anything: a port
already in use, a data dir it cannot write."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, server_env, server_process

pytestmark = pytest.mark.slow


def _timetrail(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env=server_env(data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_port_in_use_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = _timetrail(
            "serve", "--host", "127.0.0.1", "--port", str(port), data_dir=tmp_path / "data"
        )
    line = _one_clear_line(result)
    assert f"port {port}" in line and "already in use" in line
    assert not (tmp_path / "data").exists()


def test_a_data_dir_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (
        ["serve", "--port", "0"],
        [
            "init",
            "--account",
            "A",
            "--email",
            "a@a.test",
            "--name",
            "A",
            "--password",
            "long enough",
        ],
    ):
        line = _one_clear_line(_timetrail(*command, data_dir=blocker / "data"))
        assert "data dir" in line and "not writable" in line, line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write a read-only folder")
def test_a_read_only_data_dir_is_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o500)
    line = _one_clear_line(_timetrail("serve", "--port", "0", data_dir=data_dir))
    assert "not writable" in line


def test_a_start_prints_no_scheduler_chatter(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with server_process(tmp_path / "data", log):
        pass
    text = log.read_text()
    assert "Salesforce sync every" in text  # our own line says what the scheduler does
    assert "tentatively" not in text and "apscheduler" not in text, text


def test_the_start_line_counts_in_the_singular_for_one(tmp_path: Path) -> None:
    created = _timetrail(
        "init",
        "--account",
        "Acme",
        "--email",
        "a@acme.test",
        "--name",
        "Ada",
        "--password",
        "long enough",
        data_dir=tmp_path / "data",
    )
    assert created.returncode == 0, created.stderr
    log = tmp_path / "server.log"
    with server_process(tmp_path / "data", log):
        pass
    assert "tree indexes of 1 account (0 tasks)" in log.read_text()
