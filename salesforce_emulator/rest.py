"""The REST API under ``/services/data/vNN.N/``, as a dispatcher free of HTTP plumbing so the
Composite API can run its subrequests through the same code.

Resources: the version's resource list, ``query`` and ``queryAll`` (2,000 records a page, then
``query/<locator>-<offset>``, each locator read once, in order: ``cursors.py``), ``sobjects``
(a short global describe), ``sobjects/T/describe``, ``sobjects/T/updated`` and
``sobjects/T/deleted`` (replication), ``sobjects/T/<id>`` (one record), ``limits``,
``composite/batch`` (each subrequest counts as a call) and ``composite`` (one call for up to 25
subrequests, at most 5 of them queries; GET subrequests). Versions 31.0 to 68.0 are served;
older ones answer 410 Gone, as retired versions do, newer ones 404.

Each request is answered as its session's user sees the org: an object they cannot read is
unknown (INVALID_TYPE in SOQL, NOT_FOUND under ``sobjects/``), a field hidden from them an
unknown column. Composite subrequests run as the user of the call that carries them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import errors
from .access import Visibility
from .cursors import PAGE_SIZE, Cursor
from .emulator import Emulator
from .errors import SalesforceError
from .faults import LOCATOR_MODES, FaultScope
from .ids import KEY_PREFIXES, to_18
from .org import REPLICATION_DELETED_DAYS, REPLICATION_UPDATED_DAYS, Org, Record
from .schema import SCHEMA, SObjectType, format_datetime, parse_datetime, sobject_type, to_json
from .soql import CompiledQuery, SoqlError, prepare

MIN_VERSION = 31
# The newest version served: Winter '27 (SALESFORCE.md §2.6). Newer ones do not exist yet.
LATEST_VERSION = 68
MAX_SUBREQUESTS = 25
MAX_QUERY_SUBREQUESTS = 5  # query, queryAll and query-more subrequests of one composite
_VERSION = re.compile(r"v(\d{2,3})\.(\d)")
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)\.([^}]+)\}")


@dataclass(frozen=True)
class Request:
    method: str
    version: str  # "66.0"
    path: str  # below /services/data/vNN.N/, without slashes at either end
    params: Mapping[str, str]
    body: Any = None
    headers: Mapping[str, str] | None = None
    user_id: str | None = None  # the session's user; None: a subrequest, run as its caller's


@dataclass(frozen=True)
class Response:
    status: int
    body: Any


def parse_version(segment: str) -> str:
    """``66.0`` from ``v66.0``; 404 for what is no version or one newer than the latest, 410
    for a retired one."""
    match = _VERSION.fullmatch(segment)
    if match is None or int(match.group(1)) > LATEST_VERSION:
        raise errors.not_found()
    if int(match.group(1)) < MIN_VERSION:
        raise SalesforceError(410, None, f"API version {segment[1:]} has been retired")
    return segment[1:]


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _replication_bounds(params: Mapping[str, str]) -> tuple[datetime, datetime]:
    start_text, end_text = params.get("start"), params.get("end")
    if not start_text or not end_text:
        raise SalesforceError(400, "MISSING_ARGUMENT", "start and end are both required")
    try:
        # A '+' left unencoded in a query string arrives as a space, and stays one: unparsable.
        start = parse_datetime(start_text)
        end = parse_datetime(end_text)
    except ValueError:
        raise errors.invalid_replication_date(
            "start and end must be dateTime values such as 2026-01-01T00:00:00+00:00"
        ) from None
    # Salesforce ignores the seconds of both bounds.
    return _floor_minute(start), _floor_minute(end)


def api_calls_of(path: str, body: Any) -> int:
    """What a request counts against the daily limit: one, but ``composite/batch`` counts each
    of its subrequests (``composite`` counts one however many it carries)."""
    if path.strip("/") == "composite/batch" and isinstance(body, dict):
        items = body.get("batchRequests")
        if isinstance(items, list) and items:
            return min(len(items), MAX_SUBREQUESTS)
    return 1


def _is_query(url: str) -> bool:
    """Whether a subrequest URL is a query, a queryAll or a query-more."""
    path = urlsplit(url).path.strip("/")
    if path.startswith("services/data/"):
        path = path[len("services/data/") :]
    resource = path.partition("/")[2].strip("/")
    return re.fullmatch(r"(?:query|queryAll)(?:/.*)?", resource) is not None


class RestApi:
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._caller: str | None = None  # the user of the request being answered
        self._routes: list[tuple[re.Pattern[str], dict[str, Callable[..., Response]]]] = [
            (re.compile(r""), {"GET": self._resources}),
            (re.compile(r"(query|queryAll)"), {"GET": self._query}),
            (re.compile(r"(?:query|queryAll)/(\w+)-(\d+)"), {"GET": self._more}),
            (re.compile(r"sobjects"), {"GET": self._describe_global}),
            (re.compile(r"sobjects/(\w+)/describe"), {"GET": self._describe}),
            (re.compile(r"sobjects/(\w+)/updated"), {"GET": self._updated}),
            (re.compile(r"sobjects/(\w+)/deleted"), {"GET": self._deleted}),
            (re.compile(r"sobjects/(\w+)/(\w{15}|\w{18})"), {"GET": self._record}),
            (re.compile(r"limits"), {"GET": self._limits}),
            (re.compile(r"composite/batch"), {"POST": self._batch}),
            (re.compile(r"composite"), {"POST": self._composite}),
        ]

    @property
    def _org(self) -> Org:
        return self._emulator.org

    def dispatch(self, request: Request) -> Response:
        """Answer one request, errors included, as Salesforce would, as its user sees the org
        (a request without a user is a subrequest of the one being answered)."""
        if request.user_id is None:
            return self._answer(request)
        outer, self._caller = self._caller, request.user_id
        try:
            return self._answer(request)
        finally:
            self._caller = outer

    @property
    def _visible(self) -> Visibility:
        return self._org.access.for_user(self._caller)

    def _answer(self, request: Request) -> Response:
        try:
            for pattern, methods in self._routes:
                match = pattern.fullmatch(request.path)
                if match is None:
                    continue
                handler = methods.get(request.method)
                if handler is None:
                    allowed = ",".join(methods)
                    raise SalesforceError(
                        405,
                        "METHOD_NOT_ALLOWED",
                        f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
                    )
                return handler(request, *match.groups())
            raise errors.not_found()
        except SalesforceError as error:
            return Response(error.status, error.body())

    # --- resources -----------------------------------------------------------------------

    def _resources(self, request: Request) -> Response:
        base = f"/services/data/v{request.version}"
        names = ("sobjects", "query", "queryAll", "limits", "composite")
        return Response(200, {name: f"{base}/{name}" for name in names})

    def _summary(self, sobject: SObjectType, version: str) -> dict[str, Any]:
        readable = self._visible.object_readable(sobject.name)
        base = f"/services/data/v{version}/sobjects/{sobject.name}"
        return {
            "name": sobject.name,
            "label": sobject.name,
            "keyPrefix": KEY_PREFIXES[sobject.name],
            "queryable": readable,
            "retrieveable": readable,
            "replicateable": readable,
            "urls": {"sobject": base, "describe": f"{base}/describe"},
        }

    def _describe_global(self, request: Request) -> Response:
        """Every object, with what the user may do with it."""
        sobjects = [self._summary(t, request.version) for t in SCHEMA.values()]
        return Response(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    def _describe(self, request: Request, type_name: str) -> Response:
        """An object's fields, without those hidden from the user."""
        sobject = SCHEMA[self._type(type_name).lower()]
        visible = self._visible
        fields = [
            {
                "name": f.name,
                "type": f.type.value,
                "referenceTo": list(f.reference_to),
                "relationshipName": f.relationship_name,
            }
            for f in sobject.fields
            if visible.field_readable(sobject.name, f.name)
        ]
        return Response(200, {**self._summary(sobject, request.version), "fields": fields})

    def _limits(self, request: Request) -> Response:
        org = self._org
        return Response(
            200,
            {
                "DailyApiRequests": {
                    "Max": org.daily_api_limit,
                    "Remaining": max(org.daily_api_limit - org.api_calls, 0),
                }
            },
        )

    # --- queries -------------------------------------------------------------------------

    def _query(self, request: Request, resource: str) -> Response:
        text = request.params.get("q")
        if not text:
            raise errors.malformed_query("A query string (q) is required")
        now = self._emulator.clock.now()
        try:
            compiled = prepare(text, now, self._visible)
        except SoqlError as error:
            raise SalesforceError(400, error.error_code, error.message) from None
        include_deleted = resource == "queryAll"
        self._emulator.queries.append(text)
        rows = self._org.rows(compiled.sobject.name)
        if not include_deleted:  # query leaves out deleted rows and archived activities
            rows = (r for r in rows if not r["IsDeleted"] and not r.get("IsArchived"))
        records = compiled.run(rows, self._resolve)
        if compiled.count_only:
            return Response(200, {"totalSize": len(records), "done": True, "records": []})
        page_size = self._page_size(request)
        version = request.version
        if len(records) > page_size:  # only a result with more pages needs a locator
            cursor = self._emulator.cursors.open(compiled, records, page_size, now, version)
        else:
            cursor = Cursor("", compiled, records, page_size, now, version)
        return Response(200, self._page(cursor, 0))

    def _more(self, request: Request, locator: str, offset: str) -> Response:
        """The page a locator answers next, once; an unknown or expired locator, or one asked
        for another page, is INVALID_QUERY_LOCATOR (so is one an armed fault expires)."""
        emulator = self._emulator
        if emulator.faults.take(FaultScope.REST, LOCATOR_MODES) is not None:
            emulator.cursors.expire(locator)
        cursor = emulator.cursors.take(locator, int(offset), emulator.clock.now())
        if cursor is None:
            raise errors.invalid_query_locator()
        return Response(200, self._page(cursor, int(offset)))

    def _page_size(self, request: Request) -> int:
        """``Sforce-Query-Options: batchSize=N`` (200 to 2,000) or 2,000, never more than the
        org's page size (Salesforce may answer fewer rows than asked)."""
        options = (request.headers or {}).get("Sforce-Query-Options", "")
        match = re.search(r"batchSize=(\d+)", options)
        asked = PAGE_SIZE if match is None else min(max(int(match.group(1)), 200), PAGE_SIZE)
        return min(asked, self._emulator.page_size)

    def _page(self, cursor: Cursor, start: int) -> dict[str, Any]:
        """A page in the version of the query that opened the cursor (its later pages too)."""
        version = cursor.version
        end = start + cursor.page_size
        page = cursor.records[start:end]
        done = end >= len(cursor.records)
        body: dict[str, Any] = {"totalSize": len(cursor.records), "done": done}
        if not done:
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor.locator}-{end}"
        query: CompiledQuery = cursor.query
        body["records"] = [query.project(r, self._resolve, version) for r in page]
        return body

    def _resolve(self, record_id: str) -> Record | None:
        record = self._org.get(record_id)
        if record is None or record["IsDeleted"]:
            return None
        return record

    # --- records and replication ---------------------------------------------------------

    def _type(self, name: str) -> str:
        """The canonical name of an object the user may read, else NOT_FOUND."""
        sobject = sobject_type(name)
        if sobject is None or not self._visible.object_readable(sobject.name):
            raise errors.not_found()
        return sobject.name

    def _record(self, request: Request, type_name: str, record_id: str) -> Response:
        canonical = self._type(type_name)
        record = self._resolve(to_18(record_id) or "")
        if record is None or self._org.type_of(record) != canonical:
            raise errors.not_found()
        sobject = SCHEMA[canonical.lower()]
        wanted = request.params.get("fields")
        visible = self._visible
        names = [f.name for f in sobject.fields if visible.field_readable(canonical, f.name)]
        if wanted:
            names = []
            for name in wanted.split(","):
                field_ = sobject.field(name.strip())
                if field_ is None or not visible.field_readable(canonical, field_.name):
                    raise SalesforceError(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{name.strip()}' on sobject of type {canonical}",
                    )
                names.append(field_.name)
        body: dict[str, Any] = {
            "attributes": {
                "type": canonical,
                "url": f"/services/data/v{request.version}/sobjects/{canonical}/{record['Id']}",
            }
        }
        body.update({name: to_json(record.get(name)) for name in names})
        return Response(200, body)

    def _updated(self, request: Request, type_name: str) -> Response:
        canonical = self._type(type_name)
        start, end = _replication_bounds(request.params)
        now = self._emulator.clock.now()
        if start < now - timedelta(days=REPLICATION_UPDATED_DAYS):
            raise errors.invalid_replication_date(
                f"startDate cannot be more than {REPLICATION_UPDATED_DAYS} days ago"
            )
        if end <= start:
            raise errors.invalid_replication_date("endDate must chronologically follow startDate")
        covered = min(end, _floor_minute(now))
        ids = self._org.updated_ids(canonical, start, covered)
        return Response(200, {"ids": ids, "latestDateCovered": format_datetime(covered)})

    def _deleted(self, request: Request, type_name: str) -> Response:
        canonical = self._type(type_name)
        start, end = _replication_bounds(request.params)
        now = self._emulator.clock.now()
        horizon = now - timedelta(days=REPLICATION_DELETED_DAYS)
        if start < horizon:
            raise errors.invalid_replication_date(
                f"startDate cannot be more than {REPLICATION_DELETED_DAYS} days ago"
            )
        if end <= start:
            raise errors.invalid_replication_date("endDate must chronologically follow startDate")
        covered = min(end, _floor_minute(now))
        deleted = self._org.deleted_records(canonical, start, covered)
        earliest = _floor_minute(max(horizon, self._org.delete_log_since))
        return Response(
            200,
            {
                "deletedRecords": [
                    {"id": record_id, "deletedDate": format_datetime(at)}
                    for record_id, at in deleted
                ],
                "earliestDateAvailable": format_datetime(earliest),
                "latestDateCovered": format_datetime(covered),
            },
        )

    # --- composite -----------------------------------------------------------------------

    def _subrequest(self, method: str, url: str, headers: Mapping[str, str] | None) -> Response:
        """Run a subrequest given as ``vNN.N/…`` or ``/services/data/vNN.N/…``."""
        parts = urlsplit(url)
        path = parts.path.strip("/")
        if path.startswith("services/data/"):
            path = path[len("services/data/") :]
        segment, _, rest = path.partition("/")
        try:
            version = parse_version(segment)
        except SalesforceError as error:
            return Response(error.status, error.body())
        if method.upper() != "GET":
            refusal = SalesforceError(
                400, "INVALID_OPERATION", "the emulator's Composite API runs GET subrequests only"
            )
            return Response(refusal.status, refusal.body())
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        return self.dispatch(Request("GET", version, rest.strip("/"), params, None, headers))

    def _subrequests(self, body: Any, key: str) -> list[dict[str, Any]]:
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise SalesforceError(400, "JSON_PARSER_ERROR", f"{key} must be a list of requests")
        if len(items) > MAX_SUBREQUESTS:
            raise SalesforceError(
                400, "LIMIT_EXCEEDED", f"A maximum of {MAX_SUBREQUESTS} subrequests is allowed"
            )
        return items

    def _batch(self, request: Request) -> Response:
        """``composite/batch``: independent subrequests, each counted as an API call."""
        items = self._subrequests(request.body, "batchRequests")
        halt = bool(request.body.get("haltOnError"))
        results: list[dict[str, Any]] = []
        halted = False
        for item in items:
            if halted:
                results.append(
                    {
                        "statusCode": 412,
                        "result": [
                            {
                                "errorCode": "BATCH_PROCESSING_HALTED",
                                "message": "Batch processing halted per request",
                            }
                        ],
                    }
                )
                continue
            answer = self._subrequest(
                str(item.get("method", "")), str(item.get("url", "")), request.headers
            )
            results.append({"statusCode": answer.status, "result": answer.body})
            halted = halt and answer.status >= 400
        has_errors = any(r["statusCode"] >= 400 for r in results)
        return Response(200, {"hasErrors": has_errors, "results": results})

    def _composite(self, request: Request) -> Response:
        """``composite``: subrequests in order; a later one may use ``@{ref.path}`` to read an
        earlier answer (``@{opps.records[0].Id}``)."""
        items = self._subrequests(request.body, "compositeRequest")
        queries = sum(1 for i in items if _is_query(str(i.get("url", ""))))
        if queries > MAX_QUERY_SUBREQUESTS:
            raise SalesforceError(
                400,
                "LIMIT_EXCEEDED",
                f"A composite request may contain at most {MAX_QUERY_SUBREQUESTS} query, "
                f"queryAll or query more subrequests; this one has {queries}",
            )
        all_or_none = bool(request.body.get("allOrNone"))
        answers: dict[str, Any] = {}
        out: list[dict[str, Any]] = []
        failed = False
        for item in items:
            reference = str(item.get("referenceId", ""))
            if failed and all_or_none:
                body: Any = [
                    {
                        "errorCode": "PROCESSING_HALTED",
                        "message": "The transaction was rolled back since another operation in "
                        "the same transaction failed.",
                    }
                ]
                out.append(
                    {
                        "body": body,
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": reference,
                    }
                )
                continue
            try:
                url = _REFERENCE.sub(lambda m: _dereference(answers, m), str(item.get("url", "")))
            except LookupError as error:
                answer = Response(400, [{"errorCode": "INVALID_REFERENCE", "message": str(error)}])
            else:
                answer = self._subrequest(str(item.get("method", "")), url, request.headers)
            answers[reference] = answer.body
            failed = failed or answer.status >= 400
            out.append(
                {
                    "body": answer.body,
                    "httpHeaders": {},
                    "httpStatusCode": answer.status,
                    "referenceId": reference,
                }
            )
        return Response(200, {"compositeResponse": out})


def _dereference(answers: Mapping[str, Any], match: re.Match[str]) -> str:
    reference, path = match.group(1), match.group(2)
    if reference not in answers:
        raise LookupError(f"no earlier subrequest {reference}")
    value: Any = answers[reference]
    for step in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            value = value[int(step[1:-1])] if step.startswith("[") else value[step]
        except (KeyError, IndexError, TypeError):
            raise LookupError(f"@{{{reference}.{path}}} does not resolve") from None
    return str(value)
