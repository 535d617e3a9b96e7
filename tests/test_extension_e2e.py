"""The browser extension end to end: Debian's Chromium loads it unpacked (headless), the popup is
driven by the accessible names of its controls, and the real server runs as its own process.

A fake Salesforce record page is served over HTTPS (a trustme certificate for
acme.lightning.force.com, which Chromium is told resolves to 127.0.0.1) so that the popup can
find the record in the "current tab" exactly as it does on a real org."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
import trustme
from support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    ROOT,
    free_port,
    require_chromium,
    server_process,
)

from server.accounts import Accounts
from server.store import open_store
from server.tree import Source, Tree

require_chromium("the extension's browser test", "sync_api")
from playwright.sync_api import (  # noqa: E402 (once the browser is known to be there)
    BrowserContext,
    Locator,
    Page,
    Playwright,
    Worker,
    expect,
    sync_playwright,
)

pytestmark = pytest.mark.slow

EXTENSION = ROOT / "extension"
ARTIFACTS = ROOT / "tests" / "artifacts"
SALESFORCE_HOST = "acme.lightning.force.com"
RECORD_ID = "0065g00000XyZaBAAV"
RECORD_URL = f"https://{SALESFORCE_HOST}/lightning/r/Opportunity/{RECORD_ID}/view"
USER_EMAIL = "uma@acme.test"
EXPIRED = "Your sign-in has expired. Please sign in again."


@dataclass
class Server:
    base: str
    admin_token: str
    user_token: str
    user_id: str
    tasks: dict[str, str]  # name → id

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {token or self.user_token}"}
        with httpx2.Client(trust_env=False, timeout=10) as http:
            return http.request(method, self.base + path, json=body, headers=headers)

    def admin(self, method: str, path: str, body: Any = None) -> httpx2.Response:
        return self.call(method, path, body, self.admin_token)

    def login(self) -> dict[str, Any]:
        with httpx2.Client(trust_env=False, timeout=10) as http:
            r = http.post(
                self.base + "/api/v1/auth/login", json={"email": USER_EMAIL, "password": PASSWORD}
            )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def timer(self) -> dict[str, Any]:
        r = self.call("GET", "/api/v1/timer")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


async def _seed_store(data_dir: Path) -> tuple[str, str, dict[str, str]]:
    """The account, its administrator and the imported Salesforce tasks, written to the embedded
    store before the server opens it (imports have no HTTP endpoint of their own)."""
    store = await open_store(None, data_dir)
    try:
        accounts = Accounts(store)
        account, _admin, token = await accounts.create_account(
            "Acme", "admin@acme.test", "Ada Admin", PASSWORD
        )
        tree = Tree(store, accounts)
        project = await tree.create_imported_task(account["_id"], None, "Salesforce", None)
        folder = await tree.create_imported_task(
            account["_id"], project["_id"], "Opportunities", None
        )
        source = Source("salesforce", "Opportunity", RECORD_ID, RECORD_URL)
        record = await tree.create_imported_task(
            account["_id"], folder["_id"], "Acme — 200 licences", source
        )
        return token, project["_id"], {"Acme — 200 licences": record["_id"]}
    finally:
        await store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("server") / "data"
    admin_token, sf_project, tasks = asyncio.run(_seed_store(data_dir))
    with server_process(data_dir, data_dir.parent / "server.log") as base:
        server = _own_server(base, (admin_token, sf_project, tasks))  # (tasks: filled below)
        website = server.admin("POST", "/api/v1/tasks", {"name": "Website relaunch"}).json()
        intranet = server.admin("POST", "/api/v1/tasks", {"name": "Intranet"}).json()
        for name, parent in [
            ("Design mockups", website),
            ("Copywriting", website),
            ("Old brochure", website),
            ("Wiki cleanup", intranet),
        ]:
            r = server.admin("POST", "/api/v1/tasks", {"name": name, "parent_id": parent["id"]})
            assert r.status_code == 201, r.text
            tasks[name] = r.json()["id"]
        for project in (website["id"], intranet["id"]):
            r = server.admin(
                "PUT", f"/api/v1/tasks/{project}/members/{server.user_id}", {"role": "regular"}
            )
            assert r.status_code == 200, r.text
        tasks["Intranet"] = intranet["id"]
        yield server


class _RecordPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>Acme - 200 licences | Salesforce</title><h1>Acme</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def salesforce_page_port() -> Iterator[int]:
    """A stand-in for a Salesforce record page: HTTPS (force.com is HSTS-preloaded)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(SALESFORCE_HOST).configure_cert(context)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RecordPage)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


class Switch:
    """A TCP relay in front of the server that can be switched off: the extension, pointed at
    it, sees the server go away and come back (connections refused while it is off) while the
    server, and what it stored, stays. With `answers_lost` the requests still reach the server,
    but its answers never come back (a network dropping the connection on the way back): the
    extension cannot know whether what it sent happened."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._on = True
        self._answers_lost = False
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def on(self) -> bool:
        return self._on

    @on.setter
    def on(self, value: bool) -> None:
        self._on = value
        if not value:  # the browser's kept-alive connections go down with the server
            self._drop_open()

    @property
    def answers_lost(self) -> bool:
        return self._answers_lost

    @answers_lost.setter
    def answers_lost(self, value: bool) -> None:
        self._answers_lost = value
        self._drop_open()  # kept-alive connections were made under the other mode

    def _drop_open(self) -> None:
        for sock in list(self._open):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.on:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
                client.close()  # a reset: "cannot reach the server"
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # the server itself is down: refused, as it would be directly
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
                client.close()
                continue
            self._open |= {client, upstream}
            back = self._lose_answer if self.answers_lost else self._pipe
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=back, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _lose_answer(upstream: socket.socket, client: socket.socket) -> None:
        """The server answered (so it did what was asked): the answer is thrown away and the
        client's connection closed without it."""
        with contextlib.suppress(OSError):
            upstream.recv(65536)
        for s in (upstream, client):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


@pytest.fixture(scope="module")
def switch(server: Server) -> Iterator[Switch]:
    relay = Switch(int(server.base.rsplit(":", 1)[1]))
    yield relay
    relay.close()


@dataclass
class Browser:
    context: BrowserContext
    worker: Worker
    popup_url: str
    dead_server: str
    page_errors: list[str]

    def badge(self) -> str:
        text: str = self.worker.evaluate("chrome.action.getBadgeText({})")
        return text

    def storage(self) -> dict[str, Any]:
        stored: dict[str, Any] = self.worker.evaluate("chrome.storage.local.get(null)")
        return stored


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(
    server: Server,  # before playwright: seeding the store runs an asyncio loop of its own
    switch: Switch,
    salesforce_page_port: int,
    tmp_path_factory: pytest.TempPathFactory,
    playwright: Playwright,
) -> Iterator[Browser]:
    # The extension as a person loads it, except that its manifest also grants the test
    # servers' origins up front: Chromium asks the person before granting an optional host
    # permission, and a headless browser has nobody to click "Allow".
    dead_server = f"http://127.0.0.1:{free_port()}"
    unpacked = tmp_path_factory.mktemp("extension") / "timetrail"
    shutil.copytree(EXTENSION, unpacked, ignore=shutil.ignore_patterns("test", "docs"))
    manifest = json.loads((unpacked / "manifest.json").read_text())
    manifest["host_permissions"] += [f"{server.base}/*", f"{dead_server}/*", f"{switch.base}/*"]
    # The extension reads the page's URL through `activeTab`, which Chrome grants when the person
    # clicks the toolbar icon or presses the shortcut; a headless browser has neither, and the
    # popup opens as a tab here: `tabs` stands for that grant.
    assert "tabs" not in manifest["permissions"] and "activeTab" in manifest["permissions"]
    manifest["permissions"].append("tabs")
    (unpacked / "manifest.json").write_text(json.dumps(manifest))
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("profile")),
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            f"--disable-extensions-except={unpacked}",
            f"--load-extension={unpacked}",
            f"--host-resolver-rules=MAP {SALESFORCE_HOST} 127.0.0.1:{salesforce_page_port}",
            "--ignore-certificate-errors",
        ],
    )
    try:
        workers = context.service_workers
        worker = workers[0] if workers else context.wait_for_event("serviceworker")
        extension_id = worker.url.split("/")[2]
        yield Browser(
            context,
            worker,
            f"chrome-extension://{extension_id}/popup/popup.html",
            dead_server,
            [],
        )
    finally:
        context.close()


@pytest.fixture
def fresh(browser: Browser, server: Server, switch: Switch) -> Iterator[Browser]:
    """Each test starts signed out, with no timer on the server and a clear badge."""
    browser.worker.evaluate(
        "chrome.storage.local.clear().then(() => chrome.action.setBadgeText({text: ''}))"
    )
    server.call("POST", "/api/v1/timer/stop")
    browser.page_errors.clear()
    switch.on = True
    switch.answers_lost = False
    yield browser
    assert browser.page_errors == [], "uncaught errors in the popup"
    for page in browser.context.pages:
        if page.url.startswith("chrome-extension://") or SALESFORCE_HOST in page.url:
            page.close()


def open_popup(browser: Browser) -> Page:
    page = browser.context.new_page()
    page.on("pageerror", lambda error: browser.page_errors.append(str(error)))
    page.set_viewport_size({"width": 360, "height": 600})
    page.goto(browser.popup_url)
    return page


def sign_in_with_storage(browser: Browser, server: Server, base: str | None = None) -> str:
    """A signed-in extension without going through the form (the form has its own test)."""
    answer = server.login()
    session = {"serverUrl": base or server.base, "token": answer["token"], "user": answer["user"]}
    browser.worker.evaluate("s => chrome.storage.local.set({session: s})", session)
    token: str = answer["token"]
    return token


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"popup-{name}.png"
    page.locator("main").screenshot(path=str(path))
    return path


def test_sign_in_search_start_salesforce_record_and_stop(fresh: Browser, server: Server) -> None:
    popup = open_popup(fresh)
    expect(popup.get_by_role("button", name="Continue")).to_be_visible()
    screenshot(popup, "signed-out")

    # The server's address is its own step: a typo is said to be one (no permission asked).
    popup.get_by_label("Server URL").fill("htp//host")
    popup.get_by_role("button", name="Continue").click()
    expect(popup.get_by_role("alert")).to_contain_text('"htp//host" is not a web address.')
    popup.get_by_label("Server URL").fill(server.base)
    popup.get_by_role("button", name="Continue").click()
    expect(popup.get_by_text(f"to {server.base}")).to_be_visible()
    popup.get_by_label("Email").fill(USER_EMAIL)
    popup.get_by_label("Password").fill(PASSWORD)
    popup.get_by_role("button", name="Sign in").click()
    search = popup.get_by_role("combobox", name="Search tasks")
    expect(search).to_be_visible()
    expect(popup.get_by_text("Uma User")).to_be_visible()
    assert fresh.storage()["session"]["serverUrl"] == server.base

    # Search by the start of a word; the dropdown shows each task with its path.
    search.fill("des")
    options = popup.get_by_role("listbox").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Design mockups")
    expect(options.first).to_contain_text("Website relaunch")
    expect(search).to_have_attribute("aria-expanded", "true")
    search.fill("wi")  # a task of another project
    expect(options.filter(has_text="Wiki cleanup")).to_contain_text("Intranet")
    search.fill("")
    search.type("mock", delay=30)
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Design mockups")
    screenshot(popup, "searching")

    # Keyboard: arrow down highlights, Enter chooses, Enter again starts.
    search.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(search).to_have_attribute("aria-activedescendant", "task-option-0")
    search.press("Enter")
    expect(search).to_have_value("Design mockups")
    expect(popup.get_by_role("listbox")).to_be_hidden()
    start = popup.get_by_role("button", name="Start", exact=True)
    expect(start).to_be_enabled()
    start.click()

    stop = popup.get_by_role("button", name="Stop tracking")
    expect(stop).to_be_visible()
    expect(popup.locator("#running-name")).to_have_text("Design mockups")
    elapsed = popup.get_by_role("timer")
    expect(elapsed).to_have_text(re.compile(r"^0:00:0\d$"))
    first = elapsed.inner_text()
    expect(elapsed).not_to_have_text(first, timeout=3000)  # it counts every second
    assert fresh.badge() == "0:00"
    running = server.timer()
    assert running["running"] is True
    assert running["entry"]["task_id"] == server.tasks["Design mockups"]
    assert running["entry"]["source"] == "extension"

    # The note is saved to the running entry when the field is left.
    popup.get_by_label("Note", exact=True).fill("hero section drafts")
    popup.get_by_label("Note", exact=True).press("Tab")
    expect(popup.get_by_text("Note saved")).to_be_visible()
    assert server.timer()["entry"]["note"] == "hero section drafts"
    shot = screenshot(popup, "running")
    assert shot.stat().st_size > 1000

    # On a Salesforce record page, the popup offers that record's task first.
    record_tab = fresh.context.new_page()
    record_tab.goto(RECORD_URL)
    expect(record_tab.locator("h1")).to_have_text("Acme")
    popup.bring_to_front()
    popup.reload()
    offer = popup.get_by_role("button", name="Start tracking Acme — 200 licences")
    expect(offer).to_be_visible()
    expect(popup.locator("#suggestion")).to_contain_text(
        "Salesforce \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} Opportunities"
    )
    offer.click()
    expect(popup.locator("#running-name")).to_have_text("Acme — 200 licences")
    expect(offer).to_be_hidden()  # the running card shows it: no second card for the same task
    running = server.timer()
    assert running["entry"]["task_id"] == server.tasks["Acme — 200 licences"]
    assert running["entry"]["source"] == "extension"

    time.sleep(1.2)
    stop.click()
    expect(popup.get_by_role("alert")).to_contain_text("Stopped Acme — 200 licences after 0:00:0")
    expect(stop).to_be_hidden()
    assert fresh.badge() == ""
    assert server.timer() == {"running": False}
    entries = server.call(
        "GET", f"/api/v1/entries?task_id={server.tasks['Acme — 200 licences']}"
    ).json()["items"]
    assert len(entries) == 1
    assert entries[0]["end"] is not None
    assert 1 <= entries[0]["duration"] <= 30

    # Signing out revokes the token on the server.
    token = fresh.storage()["session"]["token"]
    popup.get_by_role("button", name="Sign out").click()
    expect(popup.get_by_label("Password")).to_be_visible()
    assert "session" not in fresh.storage()
    assert server.call("GET", "/api/v1/me", token=token).status_code == 401


def test_an_expired_sign_in_goes_back_to_the_sign_in_screen(fresh: Browser, server: Server) -> None:
    token = sign_in_with_storage(fresh, server)
    popup = open_popup(fresh)
    expect(popup.get_by_role("combobox", name="Search tasks")).to_be_visible()

    assert server.call("POST", "/api/v1/auth/logout", token=token).status_code == 204
    popup.reload()
    expect(popup.get_by_role("alert")).to_have_text(EXPIRED)
    expect(popup.get_by_role("button", name="Sign in")).to_be_visible()
    expect(popup.locator("#signin-server")).to_have_text(server.base)  # the address is kept
    assert "session" not in fresh.storage()


def test_an_unreachable_server_is_named(fresh: Browser, server: Server) -> None:
    popup = open_popup(fresh)
    popup.get_by_label("Server URL").fill(fresh.dead_server)
    popup.get_by_role("button", name="Continue").click()
    popup.get_by_label("Email").fill(USER_EMAIL)
    popup.get_by_label("Password").fill(PASSWORD)
    popup.get_by_role("button", name="Sign in").click()
    expect(popup.get_by_role("alert")).to_have_text(
        f"Cannot reach the Timetrail server at {fresh.dead_server}. "
        "Check the address and your connection."
    )
    assert "session" not in fresh.storage()

    # Signed in, then the server goes away: the popup says so and keeps the sign-in.
    answer = server.login()
    session = {"serverUrl": fresh.dead_server, "token": answer["token"], "user": answer["user"]}
    fresh.worker.evaluate("s => chrome.storage.local.set({session: s})", session)
    popup.reload()
    expect(popup.get_by_role("alert")).to_contain_text(
        f"Cannot reach the Timetrail server at {fresh.dead_server}"
    )
    expect(popup.get_by_role("button", name="Sign out")).to_be_visible()
    assert fresh.storage()["session"]["token"] == answer["token"]


def test_a_timer_started_elsewhere_shows_when_the_popup_reads_again(
    fresh: Browser, server: Server
) -> None:
    sign_in_with_storage(fresh, server)
    popup = open_popup(fresh)
    expect(popup.get_by_role("combobox", name="Search tasks")).to_be_visible()
    expect(popup.get_by_role("button", name="Stop tracking")).to_be_hidden()
    # the service worker re-reads the server every minute
    alarm = fresh.worker.evaluate("chrome.alarms.get('timer-refresh')")
    assert alarm["periodInMinutes"] == 1

    started = server.call(
        "POST", "/api/v1/timer/start", {"task_id": server.tasks["Copywriting"], "source": "tui"}
    )
    assert started.status_code == 201, started.text
    popup.reload()
    expect(popup.locator("#running-name")).to_have_text("Copywriting")
    expect(popup.get_by_role("button", name="Stop tracking")).to_be_visible()
    assert fresh.badge() == "0:00"

    assert server.call("POST", "/api/v1/timer/stop").status_code == 200
    popup.reload()
    expect(popup.get_by_role("combobox", name="Search tasks")).to_be_visible()
    expect(popup.get_by_role("button", name="Stop tracking")).to_be_hidden()
    assert fresh.badge() == ""


def fire_refresh_alarm(browser: Browser) -> None:
    """The worker's own minute alarm, due now instead of within the minute (unpacked extensions
    may schedule alarms this soon); the worker's listener does the rest."""
    browser.worker.evaluate(
        "chrome.alarms.create('timer-refresh', {delayInMinutes: 0.005, periodInMinutes: 1})"
    )


def badge_becomes(browser: Browser, text: str) -> None:
    deadline = time.monotonic() + 10
    while browser.badge() != text:
        assert time.monotonic() < deadline, f"badge {browser.badge()!r}, expected {text!r}"
        time.sleep(0.1)


def test_the_badge_follows_the_server_without_the_popup(fresh: Browser, server: Server) -> None:
    sign_in_with_storage(fresh, server)
    started = server.call("POST", "/api/v1/timer/start", {"task_id": server.tasks["Copywriting"]})
    assert started.status_code == 201, started.text
    fire_refresh_alarm(fresh)
    badge_becomes(fresh, "0:00")
    assert fresh.storage()["timer"]["entry"]["task"]["name"] == "Copywriting"

    assert server.call("POST", "/api/v1/timer/stop").status_code == 200
    fire_refresh_alarm(fresh)
    badge_becomes(fresh, "")
    assert fresh.storage()["timer"]["running"] is False


def choose_task(popup: Page, words: str, name: str) -> None:
    search = popup.get_by_role("combobox", name="Search tasks")
    expect(search).to_be_visible()
    search.fill(words)
    popup.get_by_role("option").filter(has_text=name).click()
    expect(search).to_have_value(name)


def test_archived_and_forbidden_tasks_say_why_they_cannot_start(
    fresh: Browser, server: Server
) -> None:
    sign_in_with_storage(fresh, server)
    popup = open_popup(fresh)
    start = popup.get_by_role("button", name="Start", exact=True)
    try:
        _archived_then_forbidden(popup, start, server)
    finally:  # leave the shared server as the other tests expect it
        server.admin("PATCH", f"/api/v1/tasks/{server.tasks['Old brochure']}", {"archived": False})
        server.admin(
            "PUT",
            f"/api/v1/tasks/{server.tasks['Intranet']}/members/{server.user_id}",
            {"role": "regular"},
        )


def _archived_then_forbidden(popup: Page, start: Locator, server: Server) -> None:
    choose_task(popup, "old", "Old brochure")
    r = server.admin("PATCH", f"/api/v1/tasks/{server.tasks['Old brochure']}", {"archived": True})
    assert r.status_code == 200, r.text
    start.click()
    expect(popup.get_by_role("alert")).to_have_text(
        "This task is archived and takes no new timers."
    )
    assert server.timer() == {"running": False}
    # searching for it now says why it is not offered
    popup.get_by_role("combobox", name="Search tasks").fill("brochure")
    expect(popup.locator("#search-status")).to_have_text(
        '"Old brochure" is archived and takes no new timers.'
    )

    choose_task(popup, "wiki", "Wiki cleanup")
    r = server.admin(
        "PUT",
        f"/api/v1/tasks/{server.tasks['Intranet']}/members/{server.user_id}",
        {"role": "guest"},
    )
    assert r.status_code == 200, r.text
    start.click()
    expect(popup.get_by_role("alert")).to_have_text("You cannot track time on this task.")
    assert server.timer() == {"running": False}
    # still signed in: these are not sign-in problems
    expect(popup.get_by_role("button", name="Sign out")).to_be_visible()


def entries_of(server: Server, task: str) -> list[dict[str, Any]]:
    r = server.call("GET", f"/api/v1/entries?task_id={server.tasks[task]}")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _own_server(base: str, seed: tuple[str, str, dict[str, str]]) -> Server:
    """The test user, a member of the Salesforce project, on a server of its own at `base`
    whose store `_seed_store` seeded (`seed`: what it returned)."""
    admin_token, project, tasks = seed
    partial = Server(base, admin_token, "", "", tasks)
    r = partial.admin(
        "POST",
        "/api/v1/users",
        {"email": USER_EMAIL, "name": "Uma User", "password": PASSWORD, "role": "user"},
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = partial.admin("PUT", f"/api/v1/tasks/{project}/members/{user_id}", {"role": "regular"})
    assert r.status_code == 200, r.text
    return Server(base, admin_token, partial.login()["token"], user_id, tasks)


def test_a_stop_made_while_the_server_is_down_ends_the_entry_at_the_click(
    fresh: Browser, switch: Switch, tmp_path: Path
) -> None:
    """The server process stops, the stop is clicked, the server starts again on its data: the
    entry ends at the click, once. (A server of its own: the shared one stays up.)"""
    data_dir = tmp_path / "data"
    with ThreadPoolExecutor(1) as pool:  # (playwright's loop runs on this thread)
        seed = pool.submit(asyncio.run, _seed_store(data_dir)).result()
    port = free_port()
    log = tmp_path / "server.log"
    task = "Acme \N{EM DASH} 200 licences"
    shared_port = switch.target_port
    switch.target_port = port  # the extension talks to this server through the relay
    try:
        with server_process(data_dir, log, port=port) as base:
            own = _own_server(base, seed)
            sign_in_with_storage(fresh, own, switch.base)
            r = own.call("POST", "/api/v1/timer/start", {"task_id": own.tasks[task]})
            assert r.status_code == 201, r.text
            popup = open_popup(fresh)
            stop = popup.get_by_role("button", name="Stop tracking")
            expect(stop).to_be_visible()
        # the server process has stopped
        clicked = dt.datetime.now(dt.UTC)
        stop.click()
        expect(popup.get_by_role("status").filter(has_text="offline")).to_have_text(
            "offline \N{EM DASH} 1 change waiting"
        )
        expect(stop).to_be_hidden()
        assert fresh.badge() == "\N{HORIZONTAL ELLIPSIS}"  # changes waiting: never a blank badge
        assert fresh.storage()["queue"][0]["kind"] == "stop"
        time.sleep(4)  # the server is away for a while; the popup keeps trying

        with server_process(data_dir, log, port=port):  # back, on the same data
            # the open popup sends the stop within its next refresh
            expect(popup.locator("#offline")).to_be_hidden(timeout=10_000)
            assert own.timer() == {"running": False}
            r = own.call("GET", f"/api/v1/entries?task_id={own.tasks[task]}")
            entries = r.json()["items"]
            assert len(entries) == 1, entries
            end = dt.datetime.fromisoformat(entries[0]["end"])
            assert abs((end - clicked).total_seconds()) <= 2, (end, clicked)
            assert fresh.storage()["queue"] == []
            badge_becomes(fresh, "")
            popup.close()  # (before its server goes away again)
    finally:
        switch.target_port = shared_port


def test_a_start_and_note_made_offline_arrive_once(
    fresh: Browser, server: Server, switch: Switch
) -> None:
    sign_in_with_storage(fresh, server, switch.base)
    popup = open_popup(fresh)
    expect(popup.get_by_role("combobox", name="Search tasks")).to_be_visible()
    choose_task(popup, "copy", "Copywriting")
    switch.on = False
    popup.get_by_role("button", name="Start", exact=True).click()
    expect(popup.locator("#running-name")).to_have_text("Copywriting")
    popup.get_by_label("Note", exact=True).fill("offline words")
    popup.get_by_label("Note", exact=True).press("Tab")
    expect(popup.locator("#offline")).to_have_text("offline — 1 change waiting")
    before = len(entries_of(server, "Copywriting"))

    switch.on = True
    popup.reload()  # opening the popup again sends what waits
    expect(popup.locator("#offline")).to_be_hidden(timeout=10_000)
    running = server.timer()
    assert running["running"] is True
    assert running["entry"]["task_id"] == server.tasks["Copywriting"]
    assert running["entry"]["note"] == "offline words"
    assert len(entries_of(server, "Copywriting")) == before + 1
    expect(popup.get_by_role("button", name="Stop tracking")).to_be_visible()


def test_discard_and_a_stop_made_elsewhere_show_in_the_open_popup(
    fresh: Browser, server: Server
) -> None:
    sign_in_with_storage(fresh, server)
    popup = open_popup(fresh)
    choose_task(popup, "design", "Design mockups")
    before = len(entries_of(server, "Design mockups"))
    popup.get_by_role("button", name="Start", exact=True).click()
    discard = popup.get_by_role("button", name="Discard timer")
    expect(discard).to_be_visible()
    discard.click()
    expect(popup.get_by_role("alert")).to_have_text("Timer discarded; no time was kept.")
    assert server.timer() == {"running": False}
    assert len(entries_of(server, "Design mockups")) == before

    # a timer started and stopped through the API shows in the open popup within 5 s
    started = server.call("POST", "/api/v1/timer/start", {"task_id": server.tasks["Copywriting"]})
    assert started.status_code == 201
    expect(popup.locator("#running-name")).to_have_text("Copywriting", timeout=5000)
    assert server.call("POST", "/api/v1/timer/stop").status_code == 200
    expect(popup.get_by_role("button", name="Stop tracking")).to_be_hidden(timeout=5000)
    badge_becomes(fresh, "")


def test_salesforce_pages_without_a_suggestion_say_why(fresh: Browser, server: Server) -> None:
    sign_in_with_storage(fresh, server)
    page = fresh.context.new_page()
    page.goto(f"https://{SALESFORCE_HOST}/lightning/r/Opportunity/0065g00000AbCdE/view")
    popup = open_popup(fresh)
    note = popup.locator("#page-note")
    expect(note).to_have_text(
        "This Salesforce record is not in Timetrail (it was not imported), so there is nothing "
        "to suggest."
    )
    expect(popup.locator("#suggestion")).to_be_hidden()
    page.goto(f"https://{SALESFORCE_HOST}/lightning/o/Opportunity/list")
    page.bring_to_front()
    popup.reload()
    expect(note).to_have_text(
        "On a Salesforce list or other page nothing is suggested: open a record to track it."
    )


def test_today_lists_entries_to_continue_edit_and_delete(fresh: Browser, server: Server) -> None:
    sign_in_with_storage(fresh, server)
    now = dt.datetime.now().astimezone()  # the browser's local time is this machine's
    if now.hour == 0 and now.minute < 40:
        pytest.skip("the entries below would start yesterday")
    done = server.call(
        "POST",
        "/api/v1/entries",
        {
            "task_id": server.tasks["Wiki cleanup"],
            "start": (now - dt.timedelta(minutes=30)).isoformat(),
            "duration": 300,
            "note": "tidy",
        },
    )
    assert done.status_code == 201, done.text
    started_at = now - dt.timedelta(minutes=5)
    r = server.call(
        "POST",
        "/api/v1/timer/start",
        {"task_id": server.tasks["Copywriting"], "started_at": started_at.isoformat()},
    )
    assert r.status_code == 201, r.text
    popup = open_popup(fresh)
    today = popup.get_by_role("list", name="Today's entries")
    # (the shared server has the other tests' entries of today too)
    expect(today.get_by_role("listitem").filter(has_text="tidy")).to_have_count(1)
    expect(popup.locator("#today-total")).to_have_text(re.compile(r"^\d+:\d\d$"))

    # edit the running timer's start: 20 minutes earlier
    span = f"{started_at:%H:%M}\N{EN DASH}now"
    popup.get_by_role("button", name=f"Edit Copywriting {span}").click()
    earlier = now - dt.timedelta(minutes=20)
    popup.get_by_label("Start").fill(f"{earlier:%H:%M}")
    popup.get_by_role("button", name="Save").click()
    expect(today).to_contain_text(f"{earlier:%H:%M}\N{EN DASH}now")
    start = dt.datetime.fromisoformat(server.timer()["entry"]["start"])
    assert start == earlier.replace(second=0, microsecond=0)

    # continue the stopped one: a new timer on its task
    popup.get_by_role("button", name="Continue Wiki cleanup").first.click()
    expect(popup.locator("#running-name")).to_have_text("Wiki cleanup")
    assert server.timer()["entry"]["task_id"] == server.tasks["Wiki cleanup"]

    # delete the first one
    wiki = (
        f"{now - dt.timedelta(minutes=30):%H:%M}\N{EN DASH}{now - dt.timedelta(minutes=25):%H:%M}"
    )
    popup.get_by_role("button", name=f"Delete Wiki cleanup {wiki}").click()
    expect(popup.get_by_role("alert")).to_contain_text("Deleted Wiki cleanup")
    assert done.json()["id"] not in {e["id"] for e in entries_of(server, "Wiki cleanup")}


def test_an_empty_search_offers_recent_tasks_first(fresh: Browser, server: Server) -> None:
    sign_in_with_storage(fresh, server)
    r = server.call("POST", "/api/v1/timer/start", {"task_id": server.tasks["Design mockups"]})
    assert r.status_code == 201, r.text
    assert server.call("POST", "/api/v1/timer/stop").status_code == 200
    popup = open_popup(fresh)
    search = popup.get_by_role("combobox", name="Search tasks")
    expect(search).to_be_visible()
    search.blur()
    search.focus()
    options = popup.get_by_role("listbox").get_by_role("option")
    expect(options.first).to_contain_text("Design mockups")
    expect(popup.locator("#search-status")).to_have_text("Recent tasks")


def test_idle_time_can_be_discarded(fresh: Browser, server: Server) -> None:
    """chrome.idle cannot be made idle in a headless browser: the worker's record of it is
    written as its listener writes it, and the popup asks."""
    sign_in_with_storage(fresh, server)
    now = dt.datetime.now(dt.UTC)
    started = server.call(
        "POST",
        "/api/v1/timer/start",
        {
            "task_id": server.tasks["Copywriting"],
            "started_at": (now - dt.timedelta(minutes=50)).isoformat(),
        },
    )
    assert started.status_code == 201, started.text
    since = now - dt.timedelta(minutes=30)
    until = now - dt.timedelta(minutes=5)
    fresh.worker.evaluate(
        "i => chrome.storage.local.set({idle: i})",
        {"since": since.timestamp() * 1000, "until": until.timestamp() * 1000},
    )
    popup = open_popup(fresh)
    expect(popup.locator("#idle-text")).to_contain_text("(25 min) while tracking Copywriting")
    popup.get_by_role("button", name="Discard and continue").click()
    expect(popup.get_by_role("alert")).to_have_text("Idle time discarded; tracking again.")
    entries = entries_of(server, "Copywriting")
    cut = next(e for e in entries if e["id"] == started.json()["entry"]["id"])
    assert abs(dt.datetime.fromisoformat(cut["end"]).timestamp() - since.timestamp()) <= 1
    running = server.timer()
    assert running["running"] is True and running["entry"]["task_id"] == server.tasks["Copywriting"]
    assert fresh.storage().get("idle") is None


def test_idle_minutes_are_a_setting(fresh: Browser, server: Server) -> None:
    sign_in_with_storage(fresh, server)
    popup = open_popup(fresh)
    popup.get_by_text("Settings", exact=True).click()
    minutes = popup.get_by_label("Ask about idle time after (minutes)")
    expect(minutes).to_have_value("10")  # the default
    minutes.fill("0")
    popup.get_by_role("button", name="Save settings").click()
    expect(popup.locator("#settings-status")).to_have_text("Enter whole minutes from 1 to 240.")
    assert "settings" not in fresh.storage()

    minutes.fill("25")
    popup.get_by_role("button", name="Save settings").click()
    expect(popup.locator("#settings-status")).to_have_text(
        "Saved: idle time is asked about after 25 minutes."
    )
    assert fresh.storage()["settings"] == {"idleMinutes": 25}
    popup.reload()  # kept: the next popup shows it
    popup.get_by_text("Settings", exact=True).click()
    expect(popup.get_by_label("Ask about idle time after (minutes)")).to_have_value("25")


def test_a_replayed_start_with_the_same_key_creates_one_entry(
    fresh: Browser, server: Server, switch: Switch
) -> None:
    sign_in_with_storage(fresh, server, switch.base)
    popup = open_popup(fresh)
    choose_task(popup, "design", "Design mockups")
    before = len(entries_of(server, "Design mockups"))

    switch.answers_lost = True  # the start reaches the server; its answer never comes back
    popup.get_by_role("button", name="Start", exact=True).click()
    expect(popup.locator("#running-name")).to_have_text("Design mockups")
    expect(popup.locator("#offline")).to_have_text("offline — 1 change waiting")
    first = server.timer()
    assert first["running"] is True, "the start did reach the server"
    time.sleep(4)  # the popup sends it again (every 3 s) and loses the answer again

    switch.answers_lost = False
    expect(popup.locator("#offline")).to_be_hidden(timeout=10_000)
    assert fresh.storage()["queue"] == []
    running = server.timer()
    assert running["entry"]["id"] == first["entry"]["id"], "a replay started another entry"
    assert len(entries_of(server, "Design mockups")) == before + 1
    expect(popup.get_by_role("alert")).to_be_hidden()  # nothing refused on the way
    expect(popup.locator("#running-name")).to_have_text("Design mockups")


def test_an_entry_edited_and_one_deleted_offline_arrive_once(
    fresh: Browser, server: Server, switch: Switch
) -> None:
    sign_in_with_storage(fresh, server, switch.base)
    now = dt.datetime.now().astimezone()  # the browser's local time is this machine's
    if now.hour == 0 and now.minute < 56:
        pytest.skip("the entries below would start yesterday")
    made = {}
    for note, minutes_ago in (("move my start", 40), ("delete me", 20)):
        r = server.call(
            "POST",
            "/api/v1/entries",
            {
                "task_id": server.tasks["Design mockups"],
                "start": (now - dt.timedelta(minutes=minutes_ago)).isoformat(),
                "duration": 300,
                "note": note,
            },
        )
        assert r.status_code == 201, r.text
        made[note] = r.json()
    popup = open_popup(fresh)
    today = popup.get_by_role("list", name="Today's entries")
    moved = today.get_by_role("listitem").filter(has_text="move my start")
    doomed = today.get_by_role("listitem").filter(has_text="delete me")
    expect(doomed).to_have_count(1)

    # The server is down: the deletion and the edit are kept, shown, and wait.
    switch.on = False
    doomed.get_by_role("button", name=re.compile("^Delete Design mockups")).click()
    expect(doomed).to_have_count(0)
    expect(popup.get_by_role("alert")).to_contain_text("the server gets it once it can be reached.")
    old_start = now - dt.timedelta(minutes=40)
    new_start = now - dt.timedelta(minutes=55)
    moved.get_by_role("button", name=re.compile("^Edit Design mockups")).click()
    popup.get_by_label("Start").fill(f"{new_start:%H:%M}")
    popup.get_by_role("button", name="Save").click()
    expect(popup.get_by_role("alert")).to_have_text(
        "Edit kept; it is sent once the server can be reached."
    )
    expect(moved).to_contain_text(
        f"{new_start:%H:%M}\N{EN DASH}{old_start + dt.timedelta(minutes=5):%H:%M}"
    )
    expect(popup.locator("#offline")).to_have_text("offline — 2 changes waiting")
    assert server.call("GET", f"/api/v1/entries/{made['delete me']['id']}").status_code == 200

    # Back, but its answers are lost: the deletion reaches the server, the popup cannot know it.
    switch.answers_lost = True
    switch.on = True
    deadline = time.monotonic() + 10
    while server.call("GET", f"/api/v1/entries/{made['delete me']['id']}").status_code != 404:
        assert time.monotonic() < deadline, "the popup did not send the deletion"
        time.sleep(0.2)
    expect(popup.locator("#offline")).to_have_text("offline — 2 changes waiting")

    switch.answers_lost = False
    expect(popup.locator("#offline")).to_be_hidden(timeout=10_000)
    assert fresh.storage()["queue"] == []
    # each happened once: the replayed deletion got its first answer, not "not found"
    expect(popup.locator("#message")).not_to_contain_text("refused")
    edited = server.call("GET", f"/api/v1/entries/{made['move my start']['id']}").json()
    assert dt.datetime.fromisoformat(edited["start"]) == new_start.replace(second=0, microsecond=0)
    assert edited["duration"] == 300 + 15 * 60
    notes = [e["note"] for e in entries_of(server, "Design mockups")]
    assert notes.count("move my start") == 1 and "delete me" not in notes
    expect(moved).to_contain_text(f"{new_start:%H:%M}")
