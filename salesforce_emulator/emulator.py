"""The ``Emulator``: one org and its connected app in memory, with everything tests may do to
them. The HTTP apps (``app.py``) and the control API are thin layers over this object, and
in-process tests use it directly to seed and inspect.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from yarl import URL

from . import errors
from .clock import Clock
from .cursors import PAGE_SIZE, Cursors
from .faults import Fault, FaultMode, FaultQueue, FaultScope
from .ids import IdFactory
from .org import Org, Record, RecordError
from .schema import format_datetime
from .seeding import SeedSpec, seed_demo, seed_generated, seed_users
from .sessions import SANDBOX, AccessToken, ConnectedApp, Grant, Sessions, signature

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "3MVG9Emulator.Timetrail.Local.Connected.App"
DEFAULT_CLIENT_SECRET = "timetrail-emulator-secret"

Seed = str | SeedSpec
"""``"empty"`` (users only), ``"demo"`` (a small realistic org) or generated counts."""


@dataclass
class NextAuthorization:
    """What the next visit to the authorize endpoint does instead of approving as the default
    user: deny, or log in as another user."""

    deny: bool = False
    username: str | None = None


class Emulator:
    def __init__(
        self,
        seed: Seed = "demo",
        *,
        api_disabled_user: bool = False,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        redirect_uris: list[str] | None = None,
    ) -> None:
        self.clock = Clock()
        self._ids = IdFactory()
        self.app = ConnectedApp(client_id, client_secret, list(redirect_uris or []))
        # Where the two sites are served; the runner sets them once it knows its ports.
        self.login_url = "https://localhost"
        self.instance_url = "https://127.0.0.1"
        # The sandbox login host (test.salesforce.com), when the runner serves one.
        self.sandbox_login_url: str | None = None
        self.faults = FaultQueue()
        self.next_authorization: NextAuthorization | None = None
        self.org = self._new_org(seed, api_disabled_user)
        self.sessions = Sessions(self.app, self.clock, self.org.id)
        self.cursors = Cursors(self._ids)
        # The most records a query page holds (Salesforce may answer fewer than asked).
        self.page_size = PAGE_SIZE
        # The SOQL of the latest queries run (``query``/``queryAll`` and their first pages in
        # composites), oldest first: tests check what a client asked.
        self.queries: deque[str] = deque(maxlen=1000)

    # --- the org -------------------------------------------------------------------------

    def reset(self, seed: Seed = "demo", *, api_disabled_user: bool = False) -> Org:
        """A new org (new ids, no tokens, no API calls counted), seeded."""
        self.org = self._new_org(seed, api_disabled_user)
        self.sessions = Sessions(self.app, self.clock, self.org.id)
        self.cursors = Cursors(self._ids)
        self.page_size = PAGE_SIZE
        self.faults.clear()
        self.next_authorization = None
        self.queries.clear()
        return self.org

    def _new_org(self, seed: Seed, api_disabled_user: bool) -> Org:
        org = Org(self._ids, self.clock, name="Acme Demo")
        now = self.clock.now()
        if isinstance(seed, SeedSpec):
            disabled = seed.api_disabled_user or api_disabled_user
            seed_generated(org, replace(seed, api_disabled_user=disabled), now)
        elif seed == "demo":
            seed_demo(org, now, api_disabled_user=api_disabled_user)
        elif seed == "empty":
            seed_users(org, 1, api_disabled_user=api_disabled_user)
        else:
            raise ValueError(f"unknown seed {seed!r}: use 'demo', 'empty' or a SeedSpec")
        logger.info("seeded org %s (%s)", org.id, seed)
        return org

    def user(self, username_or_id: str) -> Record:
        user = self.org.user_by_username(username_or_id) or self.org.get(username_or_id)
        if user is None or self.org.type_of(user) != "User":
            raise RecordError(f"no user {username_or_id}", 404)
        return user

    @property
    def default_user(self) -> Record:
        return self.user(self.org.default_user_id)

    # --- controls ------------------------------------------------------------------------

    def expire_access_tokens(self) -> int:
        return self.sessions.expire_access_tokens()

    def revoke_tokens(self, username: str | None = None) -> int:
        user_id = None if username is None else self.user(username)["Id"]
        return self.sessions.revoke_all(user_id)

    def set_refresh_rotation(self, enabled: bool) -> None:
        """The connected app's refresh token rotation."""
        self.app.rotate_refresh_tokens = enabled

    def move_instance(self) -> str:
        """Move the org to another instance host (as a migration or a My Domain rename does):
        the next token responses carry the new ``instance_url``, and data calls to the old
        host answer 401 ``INVALID_SESSION_ID``. The instance site answers to both of its names
        (``127.0.0.1`` and ``localhost``), so a move swaps one for the other."""
        url = URL(self.instance_url)
        host = "localhost" if url.host == "127.0.0.1" else "127.0.0.1"
        self.instance_url = str(url.with_host(host)).rstrip("/")
        return self.instance_url

    def serves_instance(self, host: str | None) -> bool:
        """Whether a request's ``Host`` is the org's current instance host."""
        return host == URL(self.instance_url).raw_authority

    def refuse_new_sessions(self, refused: bool = True) -> None:
        """Every access token issued from now on is refused by the REST API at once."""
        self.sessions.refuse_new_sessions = refused

    def set_api_enabled(self, enabled: bool, username: str | None = None) -> None:
        """API access for the whole org, or for one user's profile."""
        if username is None:
            self.org.api_enabled = enabled
            return
        user_id = self.user(username)["Id"]
        if enabled:
            self.org.api_disabled_users.discard(user_id)
        else:
            self.org.api_disabled_users.add(user_id)

    def set_object_access(
        self, object_name: str, readable: bool, username: str | None = None
    ) -> str:
        """Whether one user's profile (without a username: every user's) may read an object;
        the object's canonical name."""
        user_id = None if username is None else self.user(username)["Id"]
        return self.org.access.set_object(object_name, readable, user_id)

    def set_field_access(
        self, object_name: str, field_name: str, readable: bool, username: str | None = None
    ) -> tuple[str, str]:
        """Field-level security of one field for one user (without a username: every user);
        the canonical object and field names."""
        user_id = None if username is None else self.user(username)["Id"]
        return self.org.access.set_field(object_name, field_name, readable, user_id)

    def create_record(
        self, type_name: str, values: dict[str, Any], *, stamped_seconds_ago: float = 0.0
    ) -> Record:
        """A new record; with ``stamped_seconds_ago``, committed late: its SystemModstamp lies
        that far in the past although it becomes visible only now."""
        return self.org.insert(type_name, values, at=self._stamp(stamped_seconds_ago))

    def update_record(
        self, record_id: str, values: dict[str, Any], *, stamped_seconds_ago: float = 0.0
    ) -> Record:
        """A change to a record, stamped like ``create_record``."""
        return self.org.update(record_id, values, at=self._stamp(stamped_seconds_ago))

    def _stamp(self, seconds_ago: float) -> Any:
        return self.clock.now() - timedelta(seconds=seconds_ago) if seconds_ago else None

    def empty_recycle_bin(self) -> int:
        """Erase every soft-deleted record and purge the delete log: ``…/deleted`` then knows
        nothing before now (``earliestDateAvailable`` moves to now). The records erased."""
        return self.org.empty_recycle_bin()

    def set_page_size(self, size: int) -> None:
        """At most `size` records a query page (1 to 2,000): Salesforce may answer fewer rows
        than asked, so a client must follow ``nextRecordsUrl`` whatever the page holds."""
        if not 1 <= size <= PAGE_SIZE:
            raise ValueError(f"a page holds 1 to {PAGE_SIZE} records")
        self.page_size = size

    def set_api_limit(self, limit: int, used: int | None = None) -> None:
        self.org.daily_api_limit = limit
        if used is not None:
            self.org.api_calls = used

    def inject_failures(
        self,
        mode: FaultMode | str,
        count: int = 1,
        *,
        seconds: float = 0.0,
        scope: FaultScope | str = FaultScope.REST,
    ) -> None:
        self.faults.add(Fault(FaultMode(mode), seconds, FaultScope(scope)), count)

    def deny_next_authorization(self) -> None:
        self.next_authorization = NextAuthorization(deny=True)

    def authorize_next_as(self, username: str) -> None:
        self.user(username)
        self.next_authorization = NextAuthorization(username=username)

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @property
    def api_calls(self) -> int:
        return self.org.api_calls

    def issue_tokens(self, username: str | None = None) -> dict[str, Any]:
        """The token endpoint's answer for a user (default: the org's default user) without the
        browser round trip: for tests and benchmarks that need a session, not the flow."""
        user = self.user(username) if username else self.default_user
        redirect_uri = "https://client.invalid/callback"
        code = self.sessions.issue_code(redirect_uri, user["Id"], self.app.scopes, None)
        return self.token_response(self.sessions.exchange_code(code, redirect_uri, None))

    # --- what the HTTP layers ask --------------------------------------------------------

    def authenticate(self, authorization: str | None) -> AccessToken:
        """The live access token of an ``Authorization: Bearer|OAuth <token>`` header, or 401
        INVALID_SESSION_ID."""
        if not authorization:
            raise errors.invalid_session()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token.strip():
            raise errors.invalid_session()
        access = self.sessions.access(token.strip(), self.org.session_timeout)
        if access is None:
            raise errors.invalid_session()
        if access.rest_refused:
            raise errors.session_not_valid_for_rest()
        return access

    def admit_api_call(self, access: AccessToken, calls: int = 1) -> None:
        """Count a request's API calls (one; a ``composite/batch`` counts each subrequest) for a
        session, or refuse it: API access off for the org or the user's profile, or the daily
        limit used up."""
        if not self.org.api_enabled:
            raise errors.api_disabled_for_org()
        if not self.org.user_api_enabled(access.user_id):
            raise errors.api_disabled_for_org()
        if self.org.api_calls >= self.org.daily_api_limit:
            raise errors.request_limit_exceeded()
        self.org.api_calls += calls

    def limit_info(self) -> str:
        return f"api-usage={self.org.api_calls}/{self.org.daily_api_limit}"

    def identity_url(self, user_id: str, family: str | None = None) -> str:
        login = self.sandbox_login_url if family == SANDBOX else None
        return f"{login or self.login_url}/id/{self.org.id}/{user_id}"

    def token_response(self, grant: Grant) -> dict[str, Any]:
        access = grant.access
        identity = self.identity_url(access.user_id, access.family)
        issued_at = str(int(access.issued_at.timestamp() * 1000))
        body: dict[str, Any] = {"access_token": access.token}
        if grant.refresh_token is not None:
            body["refresh_token"] = grant.refresh_token
        body.update(
            {
                "signature": signature(self.app.client_secret, identity, issued_at),
                "scope": " ".join(access.scopes),
                "instance_url": self.instance_url,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
            }
        )
        return body

    def identity(self, user: Record) -> dict[str, Any]:
        """The identity service's answer for a user (the common fields)."""
        rest = f"{self.instance_url}/services/data/v{{version}}/"
        return {
            "id": self.identity_url(user["Id"]),
            "asserted_user": True,
            "user_id": user["Id"],
            "organization_id": self.org.id,
            "username": user["Username"],
            "nick_name": user["Username"].split("@")[0],
            "display_name": user["Name"],
            "email": user["Email"],
            "email_verified": True,
            "first_name": user["FirstName"],
            "last_name": user["LastName"],
            "timezone": "GMT",
            "photos": {
                "picture": f"{self.instance_url}/profilephoto/005/F",
                "thumbnail": f"{self.instance_url}/profilephoto/005/T",
            },
            "urls": {
                "rest": rest,
                "sobjects": rest + "sobjects/",
                "query": rest + "query/",
                "profile": f"{self.instance_url}/{user['Id']}",
            },
            "active": bool(user["IsActive"]),
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "last_modified_date": format_datetime(user["LastModifiedDate"]),
        }

    def state(self) -> dict[str, Any]:
        """A summary for the control API and for people."""
        org = self.org
        return {
            "org": {
                "id": org.id,
                "name": org.name,
                "api_enabled": org.api_enabled,
                "api_calls": org.api_calls,
                "daily_api_limit": org.daily_api_limit,
            },
            "users": [
                {
                    "id": u["Id"],
                    "username": u["Username"],
                    "name": u["Name"],
                    "api_enabled": org.user_api_enabled(u["Id"]),
                    "default": u["Id"] == org.default_user_id,
                }
                for u in org.users()
            ],
            "counts": {
                t: {"live": org.count(t), "stored": org.count(t, include_deleted=True)}
                for t in ("Account", "Opportunity", "Case", "Task", "Event")
            },
            "login_url": self.login_url,
            "sandbox_login_url": self.sandbox_login_url,
            "instance_url": self.instance_url,
            "rotate_refresh_tokens": self.app.rotate_refresh_tokens,
            "client_id": self.app.client_id,
            "redirect_uris": self.app.redirect_uris,
            "pending_failures": len(self.faults),
            "now": format_datetime(self.clock.now()),
        }
