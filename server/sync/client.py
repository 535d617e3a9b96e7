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
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError as LibraryError

from .tls import Trust

log = logging.getLogger(__name__)

T = TypeVar("T")
TIMEOUT_SECONDS = 30


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


def _first_error(content: Any) -> tuple[str, str]:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return str(content.get("errorCode", "")), str(content.get("message", ""))
    return "", str(content or "")


@dataclass
class ApiUsage:
    used: int
    limit: int


class _Session(requests.Session):
    """A session whose trust comes only from Timetrail's settings, with a default timeout."""

    def __init__(self, trust: Trust) -> None:
        super().__init__()
        self.trust_env = False  # REQUESTS_CA_BUNDLE and proxies in the environment do not apply
        self.verify = trust.bundle

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)


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
            usage = self._sf.api_usage.get("api-usage")
            if usage is not None:
                self.api_usage = ApiUsage(int(usage.used), int(usage.total))
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

    async def batch(self, urls: list[str]) -> list[dict[str, Any]]:
        """GET subrequests (relative URLs, `vNN.N/…`) through the Composite API's batch
        resource: one API call for all of them. Each answer's body, in order; a failed one
        raises as the same call would alone."""

        def run(sf: Salesforce) -> list[dict[str, Any]]:
            body = {"batchRequests": [{"method": "GET", "url": u} for u in urls]}
            answer = sf.restful("composite/batch", method="POST", json=body)
            if not isinstance(answer, dict):
                raise SalesforceError("INVALID_RESPONSE", "the Composite API answered no results")
            return list(answer["results"])

        results = await self._run(run)
        bodies = []
        for result in results:
            status = int(result["statusCode"])
            if status >= 400:
                code, message = _first_error(result["result"])
                raise classify_status(status, code, message)
            bodies.append(dict(result["result"]))
        return bodies

    async def queryable_objects(self) -> set[str]:
        """The objects this user may query, from the global describe (`GET sobjects/`, one
        counted call): the probe that the data API works, whatever object it is that the
        user cannot read. Raises `ApiDisabled` when the org or the user has no API access."""
        answer: Any = await self._run(lambda sf: sf.describe())
        sobjects = answer.get("sobjects", []) if isinstance(answer, dict) else []
        return {str(o["name"]) for o in sobjects if isinstance(o, dict) and o.get("queryable")}
