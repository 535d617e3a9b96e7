"""The admin console in a real terminal: tmux at 80x24, a real server process, keys typed."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import PASSWORD, server_env, server_process

TMUX = shutil.which("tmux")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed: no real terminal to run in"),
]


def wait_for(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`timetrail init`, then `timetrail serve` on a free port, as a person would run them."""
    data_dir = tmp_path / "data"
    init = [sys.executable, "-m", "server", "init", "--account", "Acme"]
    init += ["--email", "admin@acme.test", "--name", "Ada Admin", "--password", PASSWORD]
    subprocess.run(init, env=server_env(data_dir), check=True, capture_output=True, timeout=60)
    with server_process(data_dir, tmp_path / "server.log", start_within=20) as url:
        yield url


class Terminal:
    """One tmux server of our own (its own socket), one 80x24 window."""

    def __init__(self, socket: str) -> None:
        assert TMUX is not None
        self.base = [TMUX, "-L", socket]

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            [*self.base, *args], check=True, capture_output=True, text=True, timeout=10
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "console")

    def keys(self, *keys: str) -> None:
        for key in keys:  # one at a time, as a person types: focus moves between them
            self.tmux("send-keys", "-t", "console", key)
            time.sleep(0.5 if key in ("Enter", "Tab") else 0.2)

    def wait_for_text(self, *texts: str) -> str:
        """The screen once it shows every one of `texts` (the terminal paints in pieces)."""
        shown = [""]

        def showing() -> bool:
            shown[0] = self.screen()
            return all(text in shown[0] for text in texts)

        try:
            wait_for(showing, repr(texts))
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; the terminal shows:\n{shown[0]}") from None
        return shown[0]


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal(f"timetrail-test-{uuid.uuid4().hex[:8]}")
    try:
        yield term
    finally:
        subprocess.run([*term.base, "kill-server"], check=False, capture_output=True, timeout=10)


def test_the_console_signs_in_and_fits_80_by_24_in_a_real_terminal(
    server: str, terminal: Terminal, tmp_path: Path
) -> None:
    command = shlex.join(
        [
            "env",
            f"TIMETRAIL_ADMIN_CONFIG_DIR={tmp_path / 'console'}",
            "TERM=xterm-256color",
            sys.executable,
            "-m",
            "tui",
            "--server",
            server,
            "--no-browser",
        ]
    )
    terminal.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "console", "sh", "-c", command)

    terminal.wait_for_text("sign in as an administrator", server, "^s Sign in")
    terminal.keys("admin@acme.test", "Enter", PASSWORD, "Enter")

    overview = terminal.wait_for_text(
        "Salesforce integration: not connected",
        "Signed in as Ada Admin <admin@acme.test>",
        # This server has no Salesforce settings: the console says so, not "Press e".
        "(not_configured)",
        "TIMETRAIL_SALESFORCE_CLIENT_ID",
        "^q Quit",
    )
    lines = overview.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    assert "e Enable / re-enable" in lines[-1] and "^q Quit" in lines[-1]

    # Every tab's key bindings fit on the footer line.
    for key, binding in [
        ("2", "^s Save"),
        ("3", "D Whole project"),
        ("4", "s Force sync"),
        ("5", "d (Re)activate"),
    ]:
        terminal.keys(key)
        footer = terminal.wait_for_text(binding).splitlines()[-1]
        assert footer.rstrip().endswith("^q Quit"), footer
    terminal.keys("4")
    sync = terminal.wait_for_text("s Force sync").splitlines()
    header = next(line for line in sync if "Started" in line)
    # Every column of the history is on the screen, Calls and Error included, none cut.
    for column in ("Started", "Trigger", "Status", "New", "Calls", "Warn", "Error"):
        assert f" {column} " in f"{header} ", header
    terminal.keys("5")
    users = terminal.wait_for_text("admin@acme.test  administrator")
    assert "Ada Admin" in users

    terminal.keys("C-q")
    wait_for(lambda: "console" not in _sessions(terminal), "the console to quit")
    assert (tmp_path / "console" / "admin.json").exists()


def _sessions(terminal: Terminal) -> str:
    done = subprocess.run(
        [*terminal.base, "list-sessions"], check=False, capture_output=True, text=True, timeout=10
    )
    return done.stdout
