"""Salesforce's REST API through simple-salesforce, run off the event loop.

The one place that calls Salesforce's REST API, and the one classifier of its failures:
- `SessionExpired` (401 `INVALID_SESSION_ID`): refresh the access token and retry once;
- `ApiDisabled` (403 `API_DISABLED_FOR_ORG` / `API_CURRENTLY_DISABLED`): the admin must act;
- `LimitExceeded` (403 `REQUEST_LIMIT_EXCEEDED`): wait for the org's daily limit;
- `Unavailable` (5xx, timeouts, dropped connections): retry later;
- anything else is a `SalesforceError` with Salesforce's own code and message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError as LibraryError

from .tls import Trust

log = logging.getLogger(__name__)

T = TypeVar("T")
# Connecting must be quick; an answer may take minutes (a large page, a busy org).
TIMEOUT_SECONDS = (30, 300)
# Subrequests of one Composite call: at most 25, of which at most 5 query, queryAll or query-more.
COMPOSITE_MAX_SUBREQUESTS = 25
COMPOSITE_MAX_QUERIES = 5
# Scheduled syncs pause while the org's API usage in the rolling 24 hours is at least this share
# of its daily allocation (forced ones still run).
API_PAUSE_SHARE = 0.9
# The org's usage, wherever it stands among the header's segments; not the per-app pilot's
# `per-app-api-usage=17/250(appName=…)`.
_API_USAGE = re.compile(r"(?<![\w-])api-usage=(\d+)/(\d+)")


class SalesforceError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class SessionExpired(SalesforceError):
    pass


class ApiDisabled(SalesforceError):
    pass


class LimitExceeded(SalesforceError):
    pass


class Unavailable(SalesforceError):
    pass


API_DISABLED_CODES = ("API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED")
# The most of a plain-text error body repeated in a message (such as a 403's `Bad_OAuth_Token`).
ERROR_TEXT_CHARS = 200


def classify(exc: Exception) -> SalesforceError:
    """One decision for every failure: what it is, in Salesforce's own words."""
    if isinstance(exc, SalesforceError):
        return exc
    if isinstance(exc, LibraryError):
        code, message = _first_error(exc.content)
        return classify_status(exc.status, code, message)
    if isinstance(exc, requests.RequestException):
        return Unavailable("UNREACHABLE", f"Salesforce could not be reached: {exc}")
    raise exc


def classify_status(status: int, code: str, message: str) -> SalesforceError:
    if status == 401:
        return SessionExpired(code or "INVALID_SESSION_ID", message, status)
    if code in API_DISABLED_CODES:
        return ApiDisabled(code, message, status)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return LimitExceeded(code, message, status)
    if status >= 500:
        return Unavailable(code or "SERVER_ERROR", message or f"HTTP {status}", status)
    return SalesforceError(code or "ERROR", message or f"HTTP {status}", status)


def billed(exc: SalesforceError) -> bool:
    """Whether Salesforce counted a call that failed this way against the daily limit: it does
    not count calls it refused before running (expired session, no API access, limit reached)
    nor ones it never answered (outages, timeouts)."""
    return not isinstance(exc, (SessionExpired, ApiDisabled, LimitExceeded, Unavailable))


def _first_error(content: Any) -> tuple[str, str]:
    """(errorCode, message) of an error body. A body that is not JSON (a 503's maintenance
    page, a 414's) says nothing worth repeating when it is markup; a short text is kept."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return str(content.get("errorCode", "")), str(content.get("message", ""))
    text = str(content or "").strip()
    return "", "" if text.startswith("<") else text[:ERROR_TEXT_CHARS]


@dataclass
class ApiUsage:
    used: int
    limit: int


def parse_api_usage(header: str | None) -> ApiUsage | None:
    """The org's calls used and allowed in 24 h from `Sforce-Limit-Info` (`api-usage=18/15000`,
    maybe with other segments such as `api-bursts=1/750`); None without it. Used may exceed
    the limit."""
    match = _API_USAGE.search(header or "")
    return None if match is None else ApiUsage(int(match.group(1)), int(match.group(2)))


def api_limit_paused(usage: dict[str, int] | None) -> bool:
    """Whether the last known API usage (`{"used", "limit"}`) pauses scheduled syncs."""
    if not usage or usage.get("limit", 0) <= 0:
        return False
    return usage["used"] >= API_PAUSE_SHARE * usage["limit"]


@dataclass
class Composite:
    """The answers of a Composite call, each the body or the failure as the same call alone
    would have raised it, and Salesforce's time when it answered (its `Date` header)."""

    answers: list[dict[str, Any] | SalesforceError]
    time: dt.datetime | None

    def body(self, index: int) -> dict[str, Any]:
        """An answer's body; a failed subrequest raises."""
        answer = self.answers[index]
        if isinstance(answer, SalesforceError):
            raise answer
        return answer


class _Session(requests.Session):
    """A session whose trust comes only from Timetrail's settings, with a default timeout."""

    def __init__(self, trust: Trust) -> None:
        super().__init__()
        self.trust_env = False  # REQUESTS_CA_BUNDLE and proxies in the environment do not apply
        self.verify = trust.bundle
        # Salesforce's clock when it last answered (the `Date` header), to the second.
        self.salesforce_time: dt.datetime | None = None
        self.api_usage: ApiUsage | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        kwargs["verify"] = self.verify
        response = super().request(method, url, *args, **kwargs)
        self.salesforce_time = _http_date(response.headers.get("Date"))
        # Absent from some answers (the versions list; errors, maybe): the last one known stays.
        usage = parse_api_usage(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            self.api_usage = usage
        return response


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class SalesforceClient:
    def __init__(self, instance_url: str, access_token: str, api_version: str, trust: Trust):
        self._session = _Session(trust)
        self._sf = Salesforce(
            instance_url=instance_url,
            session_id=access_token,
            version=api_version,
            session=self._session,
        )
        self.api_usage: ApiUsage | None = None

    def close(self) -> None:
        """Close the pooled connections now rather than whenever the collector runs."""
        self._session.close()

    async def _run(self, fn: Callable[[Salesforce], T]) -> T:
        try:
            result = await asyncio.to_thread(fn, self._sf)
        except Exception as exc:
            raise classify(exc) from exc
        finally:
            if self._session.api_usage is not None:
                self.api_usage = self._session.api_usage
        return result

    async def query(self, soql: str) -> dict[str, Any]:
        """The first page of a query: `records`, `done`, `nextRecordsUrl`."""
        result: dict[str, Any] = await self._run(lambda sf: dict(sf.query(soql)))
        return result

    async def query_page(self, soql: str, *, include_deleted: bool) -> dict[str, Any]:
        """The first page of a query (`queryAll` with `include_deleted`)."""
        result: dict[str, Any] = await self._run(
            lambda sf: dict(sf.query(soql, include_deleted=include_deleted))
        )
        return result

    async def next_page(self, url: str) -> dict[str, Any]:
        """The page a `nextRecordsUrl` points to (queryAll's later pages live under /query/
        and keep including deleted rows)."""
        result: dict[str, Any] = await self._run(
            lambda sf: dict(sf.query_more(url, identifier_is_url=True))
        )
        return result

    async def composite(self, urls: list[str]) -> Composite:
        """GET subrequests (relative URLs, `vNN.N/…`) in one Composite API call, which counts
        as one API call: at most 25, of which at most 5 queries (the caller packs them)."""

        def run(sf: Salesforce) -> list[dict[str, Any]]:
            body = {
                "allOrNone": False,
                "compositeRequest": [
                    {"method": "GET", "url": f"/services/data/{u}", "referenceId": f"r{i}"}
                    for i, u in enumerate(urls)
                ],
            }
            answer = sf.restful("composite", method="POST", json=body)
            if not isinstance(answer, dict) or not isinstance(
                answer.get("compositeResponse"), list
            ):
                raise SalesforceError("INVALID_RESPONSE", "the Composite API answered no results")
            return list(answer["compositeResponse"])

        results = await self._run(run)
        answers: list[dict[str, Any] | SalesforceError] = []
        for result in results:
            status = int(result["httpStatusCode"])
            if status >= 400:
                code, message = _first_error(result["body"])
                answers.append(classify_status(status, code, message))
            else:
                answers.append(dict(result["body"]))
        return Composite(answers, self._session.salesforce_time)

    async def queryable_objects(self) -> set[str]:
        """The objects this user may query, from the global describe (`GET sobjects/`, one
        counted call): the probe that the data API works, whatever object it is that the
        user cannot read. Raises `ApiDisabled` when the org or the user has no API access."""
        answer: Any = await self._run(lambda sf: sf.describe())
        sobjects = answer.get("sobjects", []) if isinstance(answer, dict) else []
        return {str(o["name"]) for o in sobjects if isinstance(o, dict) and o.get("queryable")}
