"""The admin console's HTTP client: every call the console makes to the Timetrail API.

No widgets here. Results are typed dictionaries shaped as API.md describes them; every failure is
an `ApiError` carrying the API's `{"error": {"code", "message"}}` (or `server_unreachable`)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal, NotRequired, TypedDict, cast

import aiohttp

log = logging.getLogger(__name__)

INTEGRATION = "/api/v1/integrations/salesforce"
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)

SalesforceObject = Literal["Opportunity", "Case"]


class ApiError(Exception):
    """A failed call: the API's error code and its sentence for people."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, from a 429's Retry-After


class User(TypedDict):
    id: str
    email: str
    name: str
    role: Literal["administrator", "user"]
    active: bool


class Account(TypedDict):
    id: str
    name: str


class Me(TypedDict):
    id: str
    email: str
    name: str
    role: Literal["administrator", "user"]
    account: Account


class AccountSettings(TypedDict):
    """The account's settings (`GET /api/v1/account`)."""

    id: str
    name: str
    forgotten_timer_hours: int
    time_zone: str  # an IANA name: where the account's days (and months) end
    currency: str
    idle_minutes: int


class Login(TypedDict):
    token: str
    user: User


class Counts(TypedDict):
    created: int
    updated: int
    archived: int
    restored: int


class RunWarning(TypedDict):
    object: str
    code: str
    message: str


class Run(TypedDict):
    id: str
    trigger: str
    status: Literal["running", "succeeded", "failed"]
    started_at: str | None
    finished_at: str | None
    counts: Counts
    api_calls: int
    error: str | None
    warnings: list[RunWarning]


class Org(TypedDict):
    org_id: str
    user_id: str
    username: str
    instance_url: str


class ObjectSelection(TypedDict):
    enabled: bool
    mode: Literal["all", "selected"]
    ids: list[str]


class Selection(TypedDict):
    objects: dict[str, ObjectSelection]
    activities: bool


class ApiUsage(TypedDict):
    used: int
    limit: int


class Integration(TypedDict):
    status: str
    reason: str | None
    owner: User | None
    org: Org | None
    selection: Selection
    project_id: str | None
    last_run: Run | None
    next_run_at: str | None
    api_usage: ApiUsage | None
    message: str | None
    connected_at: NotRequired[str | None]
    environment: NotRequired[str | None]


class Authorization(TypedDict):
    authorize_url: str
    expires_at: str


class CatalogItem(TypedDict):
    id: str
    name: str
    object: str
    closed: bool
    selected: bool


class CatalogPage(TypedDict):
    items: list[CatalogItem]
    next_cursor: str | None


class Source(TypedDict):
    system: str
    object: str
    id: str
    url: str


class Task(TypedDict):
    id: str
    name: str
    parent_id: str | None
    path: list[str]
    kind: Literal["project", "task"]
    archived: bool
    locked: bool
    source: Source | None
    my_role: str | None


class TaskPage(TypedDict):
    items: list[Task]
    next_cursor: str | None


class MemberUser(TypedDict):
    id: str
    email: str
    name: str


class Member(TypedDict):
    user: MemberUser
    role: Literal["manager", "regular", "guest"]
    inherited_from: str | None


Grouping = Literal["project", "task", "user", "day"]


class SummaryItem(TypedDict):
    key: dict[str, Any]
    seconds: int
    entries: int
    billable_seconds: NotRequired[int]
    amount: NotRequired[str]


class Summary(TypedDict):
    """A report; the amounts only when the caller may see rates (`currency` says so)."""

    items: list[SummaryItem]
    total_seconds: int
    currency: NotRequired[str]
    total_billable_seconds: NotRequired[int]
    total_amount: NotRequired[str]


class AdminApi:
    """An API client for one server, signed in with one token (or not yet)."""

    def __init__(self, server_url: str, token: str | None = None) -> None:
        self.server_url = server_url.rstrip("/")
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str | int | bool | None] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        query = {
            k: (str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in (params or {}).items()
            if v is not None and v != ""
        }
        url = self.server_url + path
        try:
            async with self._client().request(
                method, url, json=body, params=query, headers=headers
            ) as resp:
                data: Any = None
                if resp.content_type == "application/json":
                    data = await resp.json()
                if resp.status >= 400:
                    raise _error(resp.status, data, resp.headers.get("Retry-After"))
                return data
        except aiohttp.ClientConnectionError as exc:
            log.debug("cannot reach %s: %s", url, exc)
            raise ApiError(
                0,
                "server_unreachable",
                f"Cannot reach the Timetrail server at {self.server_url}. "
                "Check the address and that the server is running.",
            ) from exc
        except TimeoutError as exc:
            raise ApiError(
                0, "server_unreachable", f"The server at {self.server_url} did not answer in time."
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise ApiError(0, "invalid_url", f"{self.server_url} is not a server URL.") from exc

    # Auth and users -----------------------------------------------------------------------

    async def login(self, email: str, password: str) -> Login:
        result = cast(
            Login,
            await self._call("POST", "/api/v1/auth/login", {"email": email, "password": password}),
        )
        self.token = result["token"]
        return result

    async def logout(self) -> None:
        await self._call("POST", "/api/v1/auth/logout")
        self.token = None

    async def me(self) -> Me:
        return cast(Me, await self._call("GET", "/api/v1/me"))

    async def account(self) -> AccountSettings:
        return cast(AccountSettings, await self._call("GET", "/api/v1/account"))

    async def users(self) -> list[User]:
        items: list[User] = []
        cursor: str | None = None
        while True:
            page = await self._call("GET", "/api/v1/users", params={"limit": 500, "cursor": cursor})
            items.extend(cast(list[User], page["items"]))
            cursor = page["next_cursor"]
            if not cursor:
                return items

    async def add_user(self, email: str, name: str, password: str, role: str) -> User:
        body = {"email": email, "name": name, "password": password, "role": role}
        return cast(User, await self._call("POST", "/api/v1/users", body))

    async def update_user(self, user_id: str, **fields: Any) -> User:
        return cast(User, await self._call("PATCH", f"/api/v1/users/{user_id}", fields))

    async def deactivate_user(self, user_id: str) -> None:
        await self._call("DELETE", f"/api/v1/users/{user_id}")

    # The tree and roles -------------------------------------------------------------------

    async def projects(self, q: str = "", cursor: str | None = None) -> TaskPage:
        params: dict[str, str | int | bool | None] = {"roots": True, "q": q, "cursor": cursor}
        return cast(TaskPage, await self._call("GET", "/api/v1/tasks", params=params))

    async def search_tasks(self, q: str, cursor: str | None = None) -> TaskPage:
        params: dict[str, str | int | bool | None] = {"q": q, "cursor": cursor}
        return cast(TaskPage, await self._call("GET", "/api/v1/tasks", params=params))

    async def task(self, task_id: str) -> Task:
        return cast(Task, await self._call("GET", f"/api/v1/tasks/{task_id}"))

    async def children(self, task_id: str, cursor: str | None = None) -> TaskPage:
        params: dict[str, str | int | bool | None] = {"limit": 200, "cursor": cursor}
        path = f"/api/v1/tasks/{task_id}/children"
        return cast(TaskPage, await self._call("GET", path, params=params))

    async def members(self, task_id: str) -> list[Member]:
        body = await self._call("GET", f"/api/v1/tasks/{task_id}/members")
        return cast(list[Member], body["items"])

    async def set_role(self, task_id: str, user_id: str, role: str) -> list[Member]:
        path = f"/api/v1/tasks/{task_id}/members/{user_id}"
        body = await self._call("PUT", path, {"role": role})
        return cast(list[Member], body["items"])

    async def unassign(self, task_id: str, user_id: str, subtree: bool = False) -> None:
        params: dict[str, str | int | bool | None] = {"scope": "subtree" if subtree else "node"}
        await self._call("DELETE", f"/api/v1/tasks/{task_id}/members/{user_id}", params=params)

    # Reports ------------------------------------------------------------------------------

    async def summary(self, start: dt.date, end: dt.date, group_by: Grouping) -> Summary:
        """The account's time from `start` to `end` (exclusive), days in the account's time
        zone, per `group_by`."""
        params: dict[str, str | int | bool | None] = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "group_by": group_by,
        }
        return cast(Summary, await self._call("GET", "/api/v1/reports/summary", params=params))

    # The Salesforce integration -----------------------------------------------------------

    async def integration(self) -> Integration:
        return cast(Integration, await self._call("GET", INTEGRATION))

    async def connect(self, environment: str | None = None) -> Authorization:
        """An authorization URL; `environment` is production (the default), sandbox or the
        org's My Domain URL."""
        body = {"environment": environment} if environment else None
        return cast(Authorization, await self._call("POST", f"{INTEGRATION}/connect", body))

    async def unlink(self) -> Integration:
        return cast(Integration, await self._call("POST", f"{INTEGRATION}/unlink"))

    async def force_sync(self) -> Run:
        body = await self._call("POST", f"{INTEGRATION}/sync")
        return cast(Run, body["run"])

    async def runs(self, limit: int = 20) -> list[Run]:
        body = await self._call("GET", f"{INTEGRATION}/runs", params={"limit": limit})
        return cast(list[Run], body["items"])

    async def run(self, run_id: str) -> Run:
        return cast(Run, await self._call("GET", f"{INTEGRATION}/runs/{run_id}"))

    async def catalog(
        self, sobject: SalesforceObject, q: str = "", cursor: str | None = None
    ) -> CatalogPage:
        params: dict[str, str | int | bool | None] = {"object": sobject, "q": q, "cursor": cursor}
        return cast(CatalogPage, await self._call("GET", f"{INTEGRATION}/catalog", params=params))

    async def set_selection(self, selection: Selection) -> Selection:
        return cast(Selection, await self._call("PUT", f"{INTEGRATION}/selection", selection))


def _error(status: int, data: Any, retry_after: str | None = None) -> ApiError:
    wait = int(retry_after) if retry_after and retry_after.isdigit() else None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        error = data["error"]
        return ApiError(status, str(error.get("code")), str(error.get("message")), wait)
    return ApiError(status, "http_error", f"The server answered HTTP {status}.", wait)
