"""The admin console in a real terminal: tmux at 80x24, a real server process, keys typed.
Each tab is read as a person reads it: the columns that matter whole, results told apart, the
status lines readable while a toast shows."""

from __future__ import annotations

import datetime as dt
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from demo_support import Demo, running_demo
from support import PASSWORD, free_port, server_env, server_process

from tui import config

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

    def start(self, command: list[str]) -> None:
        """`command` in the window, 80 columns by 24 lines."""
        size = ["-x", "80", "-y", "24"]
        self.tmux("new-session", "-d", *size, "-s", "console", "sh", "-c", shlex.join(command))

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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`timetrail demo`, its Salesforce connected (the first sync done), and a user whose name
    and email are longer than a column of 80 can hold."""
    port = free_port()
    with running_demo(tmp_path_factory.mktemp("demo"), port) as (_, output):
        demo = Demo.from_output(port, output)
        demo.connect_salesforce()
        added = httpx2.post(
            f"{demo.url}/api/v1/users",
            json={"email": LONG_EMAIL, "name": LONG_NAME, "password": PASSWORD, "role": "user"},
            headers={"Authorization": f"Bearer {demo.token}"},
            trust_env=False,
        )
        assert added.status_code == 201, added.text
        yield demo


LONG_NAME = "Maximiliane Oberhauser-Wittgenstein"
LONG_EMAIL = "maximiliane.oberhauser-wittgenstein@example.org"


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
    terminal.start(
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


def open_console(
    terminal: Terminal, demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The console signed in to the demo as its administrator (a saved sign-in, as a previous
    run leaves it), at 80x24; returns the first screen, the Overview."""
    folder = tmp_path / "console"
    monkeypatch.setenv(config.CONFIG_DIR_ENV, str(folder))
    config.save(config.Saved(demo.url, demo.token))
    command = [
        "env",
        f"{config.CONFIG_DIR_ENV}={folder}",
        "TERM=xterm-256color",
        sys.executable,
        "-m",
        "tui",
        "--server",
        demo.url,
        "--no-browser",
    ]
    terminal.tmux(
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "24",
        "-s",
        "console",
        "sh",
        "-c",
        shlex.join(command),
    )
    return terminal.wait_for_text("Salesforce integration: active", "e Enable", "^q Quit")


def assert_fits(screen: str, keys: str) -> list[str]:
    """The screen's lines: at most 24 of at most 80 columns, the footer whole on the last."""
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines), screen
    assert keys in lines[-1] and lines[-1].rstrip().endswith("^q Quit"), lines[-1]
    return lines


def columns_of(lines: list[str], first: str) -> list[str]:
    """The headers of the table whose first header is `first`, from there to the line's end."""
    header = next(line for line in lines if f"  {first}  " in line)
    return header[header.index(f"  {first}  ") :].split()


def test_the_overview_at_80_by_24(
    demo: Demo, terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overview = open_console(terminal, demo, tmp_path, monkeypatch)
    lines = assert_fits(overview, "e Enable / re-enable")
    assert "Signed in as Demo Admin <admin@demo.example>" in overview
    assert "Owner: Demo Admin <admin@demo.example>" in overview
    assert any(re.match(r" Salesforce user: \S+@\S+ \(005\w+\)$", line) for line in lines)
    assert any(re.match(r" Salesforce org: 00D\w+ at https://", line) for line in lines)
    assert any(line.startswith(" Last sync: succeeded (connect)") for line in lines), overview


def test_the_items_tab_keeps_its_page_line_readable_under_a_toast(
    demo: Demo, terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_console(terminal, demo, tmp_path, monkeypatch)
    terminal.keys("2")
    # The tab's footer too: the terminal may show the tab before its keys.
    items = terminal.wait_for_text("Opportunities in Salesforce", "all are imported.", "^s Save")
    lines = assert_fits(items, "^s Save")
    assert "Acme - 200 seat renewal" in items
    page_line = next(line for line in lines if line.strip().startswith("Page 1,"))
    terminal.keys("C-s")
    saved = terminal.wait_for_text("The selection is saved.")
    # While the toast shows, the page line is still there, whole, below it.
    assert page_line in saved.splitlines(), saved
    assert_fits(saved, "^s Save")


def test_the_roles_tab_tells_search_results_apart(
    demo: Demo, terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_console(terminal, demo, tmp_path, monkeypatch)
    terminal.keys("3")
    terminal.wait_for_text("Salesforce: 2 members", "Maximiliane", "D Whole project")
    terminal.keys("/", "Acme", "Enter")
    found = terminal.wait_for_text("Acme - 200 seat renewal: 2 members")
    lines = assert_fits(found, "D Whole project")
    # Two opportunities of Acme, both under Salesforce > Opportunities: each reads its own name.
    results = [line[:40] for line in lines if "▶" in line[:4]]
    assert len(results) == 2, found
    assert "Acme - 200 seat renewal" in results[0], found
    assert "Acme - plant rollout phase 2" in results[1], found
    # The members of the first: every column, the role of the one with a long name too.
    assert columns_of(lines, "User") == ["User", "Role", "From"], found
    long = next(line for line in lines if "Maximiliane" in line)
    assert re.search(r"Maximiliane.*…\s+regular\s+↑ Salesforce$", long), found


def test_the_sync_tab_shows_every_column_and_the_run_under_a_toast(
    demo: Demo, terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_console(terminal, demo, tmp_path, monkeypatch)
    terminal.keys("4")
    sync = terminal.wait_for_text("Started", "succeeded", "Run started", "s Force sync")
    lines = assert_fits(sync, "s Force sync")
    headers = ["Started", "Trigger", "Status", "New", "Upd", "Arc", "Res", "Calls", "Warn", "Error"]
    assert columns_of(lines, "Started") == headers, sync
    # The connect run: its time, trigger, status and every count under its header.
    first = next(line for line in lines if " connect " in line)
    assert re.match(r"\s+\d\d-\d\d \d\d:\d\d\s+connect\s+succeeded(\s+\d+){5}\s*$", first), first
    terminal.keys("s")
    forced = terminal.wait_for_text("Sync started.", "force")
    # The selected run's line stays readable while the toast shows.
    run_line = r"^ Run started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, took \d+\.\d\d s\.$"
    assert any(re.match(run_line, line.rstrip()) for line in forced.splitlines()), forced
    assert_fits(forced, "s Force sync")


def test_the_users_tab_shows_every_column_on_its_first_visit(
    demo: Demo, terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_console(terminal, demo, tmp_path, monkeypatch)
    terminal.keys("5")
    users = terminal.wait_for_text("users,", "Demo Admin", "Maximiliane", "d (Re)activate")
    lines = assert_fits(users, "d (Re)activate")
    assert columns_of(lines, "Name") == ["Name", "Email", "Role", "Active"], users
    admin = next(line for line in lines if "Demo Admin" in line)
    # Every column of the administrator whole: email, role, active, owner of the integration.
    assert re.search(r"admin@demo\.ex\S*\s+administrator\s+yes\s+Salesforce owner", admin), users
    long = next(line for line in lines if "Maximiliane" in line)
    assert re.search(r"Maximiliane.*…\s+maximiliane.*…\s+user\s+yes\s*$", long), users


def _sessions(terminal: Terminal) -> str:
    done = subprocess.run(
        [*terminal.base, "list-sessions"], check=False, capture_output=True, text=True, timeout=10
    )
    return done.stdout


def _api(demo: Demo, method: str, path: str, body: dict[str, object]) -> dict[str, object]:
    done = httpx2.request(
        method,
        f"{demo.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {demo.token}"},
        trust_env=False,
    )
    assert done.status_code in (200, 201), done.text
    return dict(done.json())


def test_the_reports_tab_draws_a_bar_per_day_within_80_by_24(
    demo: Demo, terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _api(demo, "POST", "/api/v1/tasks", {"name": "Website redesign"})
    _api(demo, "PATCH", f"/api/v1/tasks/{project['id']}", {"rate": "100"})
    this_month = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1, microsecond=0)
    for day, hours in ((3, 2), (4, 6), (5, 1)):
        start = last_month.replace(day=day, hour=8).isoformat()
        body = {"task_id": project["id"], "start": start, "duration": hours * 3600}
        _api(demo, "POST", "/api/v1/entries", body)

    open_console(terminal, demo, tmp_path, monkeypatch)
    terminal.keys("6")
    terminal.wait_for_text(f"{this_month:%B %Y}, by project:", "g Group by")
    terminal.keys("p", "g", "g", "g")
    by_day = terminal.wait_for_text(f"{last_month:%B %Y}, by day: 9:00 h in 3 entries")
    lines = assert_fits(by_day, "g Group by")
    assert columns_of(lines, "Day") == ["Day", "Hours", "Entries", "Amount", "EUR", "Time"]
    bars = {
        line.split()[1]: line.split()[-1]
        for line in lines
        if re.match(r"^\s+\w\w\w \d{4}-\d\d-\d\d\s", line)
    }
    days = [f"{last_month.replace(day=d):%Y-%m-%d}" for d in (3, 4, 5)]
    assert list(bars) == days, by_day
    # One bar per day, drawn to one scale: the longest day's reaches the screen's right side.
    assert all(set(bar) <= set("█▏▎▍▌▋▊▉") for bar in bars.values()), by_day
    longest = next(line for line in lines if days[1] in line)
    assert re.search(r"6:00\s+1\s+600\.00\s+█+$", longest.rstrip()), by_day
    assert len(longest.rstrip()) >= 76, by_day
    assert len(bars[days[0]]) == round(len(bars[days[1]]) / 3), by_day
