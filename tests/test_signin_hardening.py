"""Sign-in under attack (issue 12): bursts, floods, email probing, passwords and token lifetime."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from support import PASSWORD, ROOT, AiohttpClient, Api, Response, World, server_env, sign_in

from server import clock, security
from server.app import create_app
from server.appkeys import SERVICES
from server.settings import Settings, SettingsError

LOGIN = "/api/v1/auth/login"
ADMIN = "admin@acme.test"
# Long enough for anything but a hang (a test that waits on one fails instead of hanging).
HANG = 60


class CountingHasher(PasswordHasher):
    """Cheap Argon2 that counts the passwords it checks and can hold them (`gate`)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.checks = 0
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.checks += 1
        self.gate.wait(HANG)
        return super().verify(hash, password)


@pytest.fixture
def hasher() -> Iterator[CountingHasher]:
    counting = CountingHasher()
    security.use_password_hasher(counting)
    yield counting
    counting.gate.set()
    security.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


class Clock:
    """The server's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def time(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(clock, "now", lambda: fake.now)
    return fake


async def login(client: TestClient[Any, Any], email: str, password: str) -> Response:
    return await Api(client).post(LOGIN, {"email": email, "password": password})


async def login_from(
    client: TestClient[Any, Any], address: str, email: str, password: str
) -> Response:
    """A sign-in from another loopback address (the server sees it as `request.remote`)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        url = client.make_url(LOGIN)
        async with session.post(url, json={"email": email, "password": password}) as resp:
            return Response(resp.status, await resp.json(), resp.headers)


def refused(r: Response) -> bool:
    """A 429 that says when to come back."""
    return (
        r.status == 429
        and r.code == "too_many_requests"
        and int(r.headers.get("Retry-After", "0")) >= 1
    )


async def first_answers(tasks: list[asyncio.Task[Response]], count: int) -> list[Response]:
    """The first `count` answers among `tasks` (the others still waiting)."""
    answered: list[Response] = []
    pending = set(tasks)
    while len(answered) < count:
        done, pending = await asyncio.wait(
            pending, timeout=HANG, return_when=asyncio.FIRST_COMPLETED
        )
        assert done, f"only {len(answered)} of {count} answered; the rest wait on the hashing"
        answered += [t.result() for t in done]
    return answered


def spawn(calls: list[Awaitable[Response]]) -> list[asyncio.Task[Response]]:
    async def run(call: Awaitable[Response]) -> Response:
        return await call

    return [asyncio.ensure_future(run(c)) for c in calls]


# 1. The throttle holds under bursts ---------------------------------------------------------------


async def test_a_burst_of_wrong_passwords_gets_five_checks_and_no_error(
    any_world: World, hasher: CountingHasher
) -> None:
    answers = await asyncio.gather(
        *(login(any_world.client, ADMIN, f"wrong password {i}") for i in range(60))
    )

    assert hasher.checks <= 5
    statuses = sorted(r.status for r in answers)
    assert statuses.count(401) <= 5, statuses
    assert all(r.status == 401 or refused(r) for r in answers), statuses


async def test_the_right_password_late_in_a_burst_gets_no_token(
    world: World, hasher: CountingHasher
) -> None:
    hasher.gate.clear()  # the first checks take as long as the burst
    try:
        wrong = spawn([login(world.client, ADMIN, f"wrong password {i}") for i in range(39)])
        turned_away = await first_answers(wrong, 34)
        assert all(refused(r) for r in turned_away), [r.status for r in turned_away]

        right = await login(world.client, ADMIN, PASSWORD)

        assert refused(right), right.body
    finally:
        hasher.gate.set()
    checked = await asyncio.gather(*wrong)
    assert sorted(r.status for r in checked).count(401) == 5
    assert hasher.checks == 5


async def test_a_long_attack_on_one_email_locks_it_longer_but_never_fails(
    world: World, time: Clock
) -> None:
    retry_after = 0
    for _ in range(80):
        r = await login(world.client, ADMIN, "wrong password")
        while r.status == 429:
            retry_after = int(r.headers["Retry-After"])
            time.advance(seconds=retry_after)
            r = await login(world.client, ADMIN, "wrong password")
        assert r.status == 401, r.body

    assert retry_after == 15 * 60  # the longest lock
    time.advance(seconds=retry_after)
    assert (await login(world.client, ADMIN, PASSWORD)).status == 200


# 5. Nobody can jam sign-in ---------------------------------------------------------------------


async def test_unknown_emails_from_one_address_are_turned_away_before_hashing(
    world: World, hasher: CountingHasher
) -> None:
    answers = await asyncio.gather(
        *(login(world.client, f"nobody{i}@acme.test", "some password") for i in range(120))
    )

    assert hasher.checks <= 20  # unknown emails cost a hash, and count against the address
    assert sum(refused(r) for r in answers) >= 100
    assert all(r.status == 401 or refused(r) for r in answers)
    elsewhere = await login_from(world.client, "127.0.0.2", ADMIN, PASSWORD)
    assert elsewhere.status == 200, elsewhere.body


async def test_an_unknown_email_costs_a_password_check(
    world: World, hasher: CountingHasher
) -> None:
    r = await login(world.client, "nobody@acme.test", PASSWORD)

    assert (r.status, r.code) == (401, "invalid_credentials")
    assert hasher.checks == 1


async def test_attempts_beyond_the_hashing_queue_are_refused_at_once(
    world: World, hasher: CountingHasher
) -> None:
    room = security.MAX_PENDING_CHECKS
    hasher.gate.clear()
    try:
        attempts = spawn(
            [
                login_from(world.client, f"127.0.0.{10 + i}", f"user{i}@acme.test", "x" * 12)
                for i in range(room + 4)
            ]
        )
        excess = await first_answers(attempts, 4)
        assert all(refused(r) for r in excess), [r.body for r in excess]
    finally:
        hasher.gate.set()
    answers = await asyncio.gather(*attempts)
    assert sorted(r.status for r in answers) == [401] * room + [429] * 4


async def test_sign_in_records_expire(world: World, time: Clock) -> None:
    store = world.services.store
    assert (await login(world.client, "someone@acme.test", "wrong password")).status == 401
    assert await store.login_attempts.count({}) > 0

    time.advance(days=1)
    assert (await login(world.client, "other@acme.test", "wrong password")).status == 401

    remaining = await store.login_attempts.find({})
    assert not [doc["_id"] for doc in remaining if "someone@acme.test" in doc["_id"]]


# 8. No cross-account email probing -------------------------------------------------------------


async def test_an_email_of_another_account_gets_the_same_answer_as_ones_own(
    world: World,
) -> None:
    await world.new_account("Beta", "boss@beta.test")
    await world.admin.add_user("ann@acme.test")

    def new_user(email: str) -> dict[str, str]:
        return {"email": email, "name": "Someone", "password": "long enough password"}

    own = await world.admin.post("/api/v1/users", new_user("ann@acme.test"))
    other = await world.admin.post("/api/v1/users", new_user("boss@beta.test"))

    assert (other.status, other.code) == (409, "email_taken")
    assert other.body == own.body
    assert "beta" not in other.body["error"]["message"].lower()
    spec = (await world.admin.get("/api/v1/openapi.json")).body
    assert "unique" in spec["paths"]["/api/v1/users"]["post"]["description"]


# 9. One password rule; changing passwords ------------------------------------------------------


@pytest.mark.slow
async def test_a_password_piped_to_init_signs_in_as_typed_through_the_api(
    tmp_path: Path,
) -> None:
    args = ["init", "--account", "Acme", "--email", ADMIN, "--name", "Ada Admin"]
    created = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server", *args],
        input="  piped pass phrase \r\n",
        env=server_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr

    app = create_app(Settings(data_dir=tmp_path))
    async with TestClient(TestServer(app)) as client:
        r = await login(client, ADMIN, "piped pass phrase")
        assert r.status == 200, r.body


async def test_a_user_changes_their_password_and_their_other_sessions_end(
    world: World,
) -> None:
    other_session = await sign_in(world.client, ADMIN)
    path = "/api/v1/me/password"

    wrong = await world.admin.post(
        path, {"current_password": "not it at all", "new_password": "a new pass phrase"}
    )
    assert (wrong.status, wrong.code) == (403, "forbidden")
    short = await world.admin.post(path, {"current_password": PASSWORD, "new_password": "short"})
    assert (short.status, short.code) == (400, "invalid_request")

    done = await world.admin.post(
        path, {"current_password": PASSWORD, "new_password": "  a new pass phrase\r\n"}
    )

    assert done.status == 204, done.body
    assert (await world.admin.get("/api/v1/me")).status == 200
    assert (await other_session.get("/api/v1/me")).status == 401
    assert (await login(world.client, ADMIN, PASSWORD)).status == 401
    assert (await login(world.client, ADMIN, "a new pass phrase")).status == 200


async def test_an_administrator_resets_a_users_password(world: World) -> None:
    ann = await world.admin.add_user("ann@acme.test")

    forbidden = await ann.patch(f"/api/v1/users/{ann.id}", {"password": "ann chose this"})
    assert forbidden.status == 403
    reset = await world.admin.patch(f"/api/v1/users/{ann.id}", {"password": "reset by the admin"})

    assert reset.status == 200, reset.body
    assert reset.body["email"] == "ann@acme.test"
    assert (await ann.get("/api/v1/me")).status == 401
    assert (await login(world.client, "ann@acme.test", PASSWORD)).status == 401
    assert (await login(world.client, "ann@acme.test", "reset by the admin")).status == 200
    assert (await world.admin.get("/api/v1/me")).status == 200


# 14. Tokens end when unused ----------------------------------------------------------------------


async def test_a_token_unused_for_the_idle_limit_is_refused(any_world: World, time: Clock) -> None:
    admin = any_world.admin
    assert (await admin.get("/api/v1/me")).status == 200  # (remembered on the embedded store)

    for _ in range(3):  # used every 29 days, it lives on
        time.advance(days=29)
        assert (await admin.get("/api/v1/me")).status == 200

    time.advance(days=30, seconds=1)
    r = await admin.get("/api/v1/me")

    assert (r.status, r.code) == (401, "unauthorized")


async def test_the_idle_limit_is_a_setting(
    aiohttp_client: AiohttpClient, tmp_path: Path, time: Clock
) -> None:
    settings = Settings.from_env(
        {"TIMETRAIL_DATA_DIR": str(tmp_path), "TIMETRAIL_TOKEN_IDLE_DAYS": "2"}
    )
    client = await aiohttp_client(create_app(settings))
    await client.app[SERVICES].accounts.create_account("Acme", ADMIN, "Ada", PASSWORD)
    admin = await sign_in(client, ADMIN)

    time.advance(days=1, hours=23)
    assert (await admin.get("/api/v1/me")).status == 200
    time.advance(days=2, seconds=1)
    assert (await admin.get("/api/v1/me")).status == 401
    with pytest.raises(SettingsError, match="TIMETRAIL_TOKEN_IDLE_DAYS"):
        Settings.from_env({"TIMETRAIL_TOKEN_IDLE_DAYS": "0"})


async def test_a_token_in_use_is_rewritten_at_most_once_an_hour(
    aiohttp_client: AiohttpClient, settings: Settings, time: Clock
) -> None:
    client = await aiohttp_client(create_app(settings))  # the embedded store counts its writes
    await client.app[SERVICES].accounts.create_account("Acme", ADMIN, "Ada", PASSWORD)
    admin = await sign_in(client, ADMIN)
    tokens = client.app[SERVICES].store.tokens

    written = tokens.version()
    for _ in range(5):
        time.advance(minutes=10)
        assert (await admin.get("/api/v1/me")).status == 200
    assert tokens.version() == written

    time.advance(minutes=20)
    assert (await admin.get("/api/v1/me")).status == 200
    assert tokens.version() != written


async def test_tokens_left_unused_are_deleted(world: World, time: Clock) -> None:
    ann = await world.admin.add_user("ann@acme.test")
    tokens = world.services.store.tokens
    assert await tokens.count({"user_id": ann.id}) == 1

    time.advance(days=31)
    await sign_in(world.client, ADMIN)  # a sign-in clears out what expired

    assert await tokens.count({"user_id": ann.id}) == 0


async def test_a_clock_set_back_does_not_lock_anyone_out(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows opened before the server's clock was set back (NTP, a VM restored) must not
    lock an address for as long as the clock moved."""
    earlier = clock.now() - dt.timedelta(days=300)
    monkeypatch.setattr(clock, "now", lambda: earlier)
    again = await sign_in(world.client, "admin@acme.test")
    assert (await again.get("/api/v1/me")).status == 200
