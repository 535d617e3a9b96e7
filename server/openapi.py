"""The OpenAPI 3.1 document, built from the same endpoint records the app registers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import ApiError
from .routes.registry import HTML, Endpoint
from .sync.objects import RECORDS
from .sync.runs import TRIGGERS
from .tracking import SOURCES
from .tree import SOURCE_OBJECTS
from .validation import object_schema

_PARAM = re.compile(r"{(\w+)}")

_ERROR_TEXT = {
    400: "invalid_request: the body or query is malformed; the message names the field",
    401: "unauthorized (invalid_credentials at sign-in)",
    403: "forbidden",
    404: "not_found (also for other accounts' objects)",
    409: "conflict; the code names it (email_taken, task_archived, no_running_timer, "
    "imported_structure_locked, task_has_entries, timer_running, last_administrator, "
    "user_inactive, tree_busy, source_taken, sync_running, not_connected, needs_reauth, "
    "salesforce_not_configured, idempotency_key_in_use)",
    408: "request_timeout: the request body did not arrive within 30 seconds",
    413: "payload_too_large",
    415: "unsupported_media_type: a body that is not application/json",
    422: "idempotency_key_reused: this Idempotency-Key was sent with a different request",
    429: "too_many_requests (see Retry-After)",
    502: "salesforce_unavailable",
    503: "store_unavailable: the database cannot be reached or refused a write",
}

_INFO = (
    "Time tracking for teams that work in Salesforce. Every error has one shape, "
    '{"error": {"code", "message"}}. Besides the statuses each operation lists, a method a '
    "path does not list is answered 405 method_not_allowed with an Allow header naming the "
    "path's methods (components.responses.MethodNotAllowed), and a request line longer than "
    "8190 bytes is refused 400 in plain text by the HTTP server before the API reads it."
)

# What a summary line cannot say, by (method, path).
_DESCRIPTIONS = {
    ("POST", "/api/v1/auth/login"): (
        "Throttled: at most 5 password checks per email per 15 minutes, then one per lock "
        "(30 s, doubling, at most 15 minutes), and at most 20 failed or pending checks per client "
        "address (the connection's peer address), locked the same way. Unknown emails cost and "
        "count the same as known ones. When the server is busy checking other passwords, or a "
        "limit is reached, the answer is 429 too_many_requests with Retry-After (seconds). "
        "Tokens expire once unused for TIMETRAIL_TOKEN_IDLE_DAYS (30 by default)."
    ),
    ("POST", "/api/v1/users"): (
        "Emails are unique across the whole server (sign-in is by email alone). An email "
        "already used by any user, of this account or of another one, is refused with 409 "
        "email_taken and the same message, which does not say which account holds it."
    ),
    ("PATCH", "/api/v1/users/{id}"): (
        "A password sets the user's new password (at least 8 characters, surrounding "
        "whitespace removed) and revokes all their tokens (the caller's own, when it is their "
        "own password, is kept)."
    ),
    ("GET", "/api/v1/reports/summary"): (
        "A bare date in from or to means its midnight in the account's time_zone (GET "
        "/api/v1/account); a time with an offset is taken as given. group_by=day: a day "
        "is midnight to midnight in that zone (an entry past midnight counts on both days). "
        "project_id: 404 not_found unless the caller can see that task. to must be after from, "
        "and at most 366 days after it (400 invalid_request otherwise; ask for a longer period "
        "one year at a time). An entry crossing the range counts in part, a running one up to "
        "now. The server prepares one report at a time and up to 16 wait "
        "their turn in order; past that, 429 too_many_requests with Retry-After (seconds). "
        "format=csv streams the CSV (chunked); errors are always JSON."
    ),
    ("GET", "/oauth/salesforce/callback"): (
        "An HTML page saying the outcome: 200 when the connection is made, 400 when it is not "
        "(an unknown, used or expired state, a refusal at Salesforce). 409 "
        "salesforce_not_configured (JSON) when the server has no connected app configured."
    ),
    ("POST", "/api/v1/me/password"): (
        "new_password: at least 8 characters; surrounding whitespace is not part of a password. "
        "A wrong current_password is 403 forbidden. The check is throttled as sign-in is (429 "
        "with Retry-After)."
    ),
}

_ID = {"type": "string", "pattern": "^[0-9a-f]{24}$"}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


_MONEY = {
    "type": "string",
    "pattern": r"^[0-9]+\.[0-9]{2}$",
    "description": "Money in the account's currency, a decimal string with two decimals",
}
_RATE = {
    "type": ["string", "null"],
    "pattern": r"^[0-9]+\.[0-9]{2}$",
    "description": "Hourly rate in the account's currency, two decimals (null: none set here)",
}

TASK_REF = {
    "type": ["object", "null"],
    "properties": {
        "id": _ID,
        "name": {"type": "string"},
        "path": {"type": "array", "items": {"type": "string"}},
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Health": {
        "type": "object",
        "properties": {"status": {"type": "string"}, "store": {"type": "string"}},
    },
    "User": {
        "type": "object",
        "required": ["id", "email", "name", "role", "active"],
        "properties": {
            "id": _ID,
            "email": {"type": "string"},
            "name": {"type": "string"},
            "role": {"enum": ["administrator", "user"]},
            "active": {"type": "boolean"},
            "rate": {
                **_RATE,
                "description": "The user's hourly rate, over the task's where set (null: none); "
                "shown to administrators only",
            },
        },
    },
    "UserList": _list_of("User"),
    "Login": {
        "type": "object",
        "required": ["token", "user"],
        "properties": {"token": {"type": "string"}, "user": _ref("User")},
    },
    "Me": {
        "type": "object",
        "properties": {
            "id": _ID,
            "email": {"type": "string"},
            "name": {"type": "string"},
            "role": {"enum": ["administrator", "user"]},
            "account": {
                "type": "object",
                "properties": {
                    "id": _ID,
                    "name": {"type": "string"},
                    "idle_minutes": {
                        "type": "integer",
                        "description": "The account's idle minutes for the extension",
                    },
                },
            },
        },
    },
    "Task": {
        "type": "object",
        "required": [
            "id",
            "name",
            "parent_id",
            "path",
            "kind",
            "archived",
            "locked",
            "source",
            "my_role",
        ],
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "parent_id": {"type": ["string", "null"]},
            "path": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["project", "task"]},
            "archived": {"type": "boolean"},
            "locked": {"type": "boolean"},
            "source": {
                "type": ["object", "null"],
                "properties": {
                    "system": {"const": "salesforce"},
                    "object": {"enum": list(SOURCE_OBJECTS)},
                    "id": {"type": "string", "minLength": 18, "maxLength": 18},
                    "url": {"type": ["string", "null"]},
                },
            },
            "my_role": {"enum": ["manager", "regular", "guest", None]},
            "billable": {
                "type": ["boolean", "null"],
                "description": "Billable by default, set on this task (null: as the task above "
                "says; a project without one: true)",
            },
            "rate": {
                **_RATE,
                "description": "Hourly rate set on this task (null: the nearest task above "
                "that has one sets it); present for administrators and the task's managers only",
            },
        },
    },
    "TaskList": _list_of("Task"),
    "Member": {
        "type": "object",
        "properties": {
            "user": {
                "type": "object",
                "properties": {"id": _ID, "email": {"type": "string"}, "name": {"type": "string"}},
            },
            "role": {"enum": ["manager", "regular", "guest"]},
            "inherited_from": {"type": ["string", "null"]},
        },
    },
    "MemberList": {
        "type": "object",
        "properties": {"items": {"type": "array", "items": _ref("Member")}},
    },
    "Entry": {
        "type": "object",
        "required": [
            "id",
            "user_id",
            "task_id",
            "task",
            "start",
            "end",
            "duration",
            "note",
            "source",
        ],
        "properties": {
            "id": _ID,
            "user_id": _ID,
            "task_id": {"type": ["string", "null"]},
            "task": TASK_REF,
            "start": _TIME,
            "end": _NULLABLE_TIME,
            "duration": {"type": "integer", "description": "Seconds; counts up while running"},
            "note": {"type": "string"},
            "source": {"enum": list(SOURCES)},
            "billable": {
                "type": "boolean",
                "description": "As set on the entry, else as its task says (default true)",
            },
        },
    },
    "EntryList": {
        **_list_of("Entry"),
        "properties": {
            **_list_of("Entry")["properties"],
            "total_seconds": {
                "type": ["integer", "null"],
                "description": "With both from and to: the seconds of every entry listed "
                "(all pages; a running one up to now); null otherwise",
            },
        },
    },
    "Timer": {
        "type": "object",
        "required": ["running"],
        "properties": {"running": {"type": "boolean"}, "entry": _ref("Entry")},
    },
    "TimerStarted": {
        "type": "object",
        "properties": {
            "entry": _ref("Entry"),
            "stopped": {"oneOf": [_ref("Entry"), {"type": "null"}]},
        },
    },
    "TimerStopped": {"type": "object", "properties": {"entry": _ref("Entry")}},
    "Account": {
        "type": "object",
        "required": [
            "id",
            "name",
            "forgotten_timer_hours",
            "time_zone",
            "currency",
            "idle_minutes",
        ],
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "forgotten_timer_hours": {
                "type": "integer",
                "minimum": 1,
                "maximum": 24,
                "description": "A timer running longer is stopped at start + this many hours, "
                "its note saying so (default 12)",
            },
            "idle_minutes": {
                "type": "integer",
                "minimum": 1,
                "maximum": 240,
                "description": "After this many minutes without input while a timer runs, the "
                "extension asks about the idle time (default 10)",
            },
            "time_zone": {
                "type": "string",
                "description": "IANA time zone name: where the account's days end (default UTC)",
            },
            "currency": {
                "type": "string",
                "pattern": "^[A-Z]{3}$",
                "description": "ISO 4217 code of the account's rates and amounts (default EUR)",
            },
        },
    },
    "Integration": {
        "type": "object",
        "required": ["status", "reason", "owner", "org", "selection", "message"],
        "properties": {
            "status": {
                "enum": [
                    "not_connected",
                    "authorizing",
                    "active",
                    "needs_reauth",
                    "error",
                    "unlinked",
                ]
            },
            "reason": {
                "type": ["string", "null"],
                "description": "not_connected or error: not_configured (the server has no "
                "TIMETRAIL_SALESFORCE_CLIENT_ID / _SECRET: it can neither enable nor sync, "
                "whatever connection the store holds); active: api_limit (scheduled syncs paused "
                "at 90 % of the org's daily API calls); needs_reauth: owner_left, refresh_refused"
                " (Salesforce refused the refresh token), session_refused (a session refused "
                "right after its refresh); error: api_disabled (the org's edition has no API "
                "access, or the user's profile lacks “API Enabled”; scheduled syncs stop), "
                "access_denied, authorization_expired, authorization_failed, token_error, "
                "identity_failed, objects_unavailable (neither Opportunities nor Cases can be "
                "queried), salesforce_error, unreachable",
            },
            "environment": {
                "type": ["string", "null"],
                "description": "where the connection logs in: production, sandbox, or the "
                "org's My Domain URL (null before the first connection)",
            },
            "owner": {"oneOf": [_ref("User"), {"type": "null"}]},
            "org": {
                "type": ["object", "null"],
                "properties": {
                    "org_id": {"type": "string"},
                    "user_id": {"type": "string"},
                    "username": {"type": "string"},
                    "instance_url": {"type": "string"},
                },
            },
            "selection": {"type": "object"},
            "project_id": {"type": ["string", "null"]},
            "last_run": {"type": ["object", "null"]},
            "next_run_at": _NULLABLE_TIME,
            "api_usage": {
                "type": ["object", "null"],
                "properties": {"used": {"type": "integer"}, "limit": {"type": "integer"}},
            },
            "message": {"type": ["string", "null"]},
            "connected_at": _NULLABLE_TIME,
        },
    },
    "Run": {
        "type": "object",
        "required": [
            "id",
            "trigger",
            "status",
            "started_at",
            "finished_at",
            "counts",
            "api_calls",
            "error",
            "warnings",
        ],
        "properties": {
            "id": _ID,
            "trigger": {"enum": list(TRIGGERS)},
            "status": {"enum": ["running", "succeeded", "failed"]},
            "started_at": _TIME,
            "finished_at": _NULLABLE_TIME,
            "counts": {
                "type": "object",
                "description": "Tasks created, updated, archived and restored; while the run "
                "is going, so far (recorded after every page it reads)",
                "properties": {
                    k: {"type": "integer"} for k in ("created", "updated", "archived", "restored")
                },
            },
            "api_calls": {
                "type": "integer",
                "description": "Calls Salesforce counted; while the run is going, so far",
            },
            "error": {"type": ["string", "null"]},
            "warnings": {
                "type": "array",
                "description": "Objects the sync could not read, one entry each: the "
                "Salesforce object, Salesforce's errorCode (INVALID_TYPE for an object the "
                "user's profile cannot read, INVALID_FIELD for a field hidden by field-level "
                "security, NOT_FOUND, INSUFFICIENT_ACCESS; INVALID_QUERY_LOCATOR when "
                "Salesforce refused a query's next page again after the query was restarted "
                "once) and its message. The run still "
                "succeeds with the other objects; nothing of a skipped object is archived and "
                "its cursors stay, so the first run after it is readable again catches up.",
                "items": {
                    "type": "object",
                    "required": ["object", "code", "message"],
                    "properties": {
                        "object": {"type": "string"},
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    },
    "RunList": _list_of("Run"),
    "CatalogItem": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "object": {"enum": [o.sobject for o in RECORDS]},
            "closed": {"type": "boolean"},
            "selected": {"type": "boolean"},
        },
    },
    "CatalogPage": _list_of("CatalogItem"),
    "Selection": {
        "type": "object",
        "properties": {
            "objects": {"type": "object"},
            "activities": {
                "type": "boolean",
                "description": "Tasks and Events (meetings) on the items imported.",
            },
        },
    },
    "RunStarted": {"type": "object", "properties": {"run": _ref("Run")}},
    "Authorization": {
        "type": "object",
        "required": ["authorize_url", "expires_at"],
        "properties": {"authorize_url": {"type": "string"}, "expires_at": _TIME},
    },
    "Summary": {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "object"},
                        "seconds": {"type": "integer"},
                        "entries": {"type": "integer"},
                        "billable_seconds": {
                            "type": "integer",
                            "description": "Billable seconds the caller may see priced",
                        },
                        "amount": {
                            **_MONEY,
                            "description": "Billable seconds x hourly rate, rounded once, "
                            "half up, to cents",
                        },
                    },
                },
            },
            "total_seconds": {"type": "integer"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "total_billable_seconds": {"type": "integer"},
            "total_amount": {**_MONEY, "description": "The sum of the groups' amounts"},
        },
        "description": "Amount fields (billable_seconds, amount, currency, total_*) only for "
        "administrators, and managers for the entries on tasks they manage",
    },
}


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
    "description": (
        "A key the client makes up for this one request (a UUID, say). Sent again with the same "
        "key, by the same user, within 24 hours, the request is not run again: the first "
        "answer comes back (status and body; errors such as 409 too), marked with the header "
        "Idempotent-Replayed: true. While the first is still running, a second answers 409 "
        "idempotency_key_in_use; the key sent with a different method, path or body answers "
        "422 idempotency_key_reused."
    ),
}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": endpoint.handler.__name__,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
    }
    description = _DESCRIPTIONS.get((endpoint.method, endpoint.path))
    if description:
        op["description"] = description
    if not endpoint.auth:
        op["security"] = []
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _ID if name.endswith("id") else {"type": "string"},
        }
        for name in _PARAM.findall(endpoint.path)
    ]
    for name, field in (endpoint.query or {}).items():
        params.append(
            {"name": name, "in": "query", "required": field.required, "schema": field.schema()}
        )
    if endpoint.idempotent:
        params.append(_IDEMPOTENCY_KEY)
    if params:
        op["parameters"] = params
    if endpoint.body is not None:
        op["requestBody"] = {
            "required": any(f.required for f in endpoint.body.values()),
            "content": {"application/json": {"schema": object_schema(endpoint.body)}},
        }
    responses: dict[str, Any] = {}
    for status, schema in endpoint.responses.items():
        response: dict[str, Any] = {"description": "OK" if status < 300 else "See body"}
        if schema == HTML:
            response["description"] = "An HTML page saying the outcome"
        if schema is not None:
            response["content"] = _content(schema)
        responses[str(status)] = response
    for status in sorted(_error_statuses(endpoint)):
        text = _ERROR_TEXT.get(status, ApiError.code)
        declared = responses.get(str(status))
        error = responses.setdefault(str(status), {})
        error["description"] = f"{declared['description']}; or {text}" if declared else text
        error.setdefault("content", {})["application/json"] = {"schema": _ref("Error")}
        if status == 429:
            error["headers"] = {"Retry-After": _RETRY_AFTER}
    op["responses"] = responses
    return op


def _content(schema: str) -> dict[str, Any]:
    if schema == HTML:
        return {HTML: {"schema": {"type": "string"}}}
    content = {"application/json": {"schema": _ref(schema)}}
    if schema == "Summary":
        content["text/csv"] = {"schema": {"type": "string"}}
    return content


def _error_statuses(endpoint: Endpoint) -> set[int]:
    """Every status the endpoint may answer in the error shape: its own, and those of what it
    is (signed in, for administrators, with a body, a query or an id in its path)."""
    statuses = {*endpoint.errors, 503}
    if endpoint.auth:
        statuses.add(401)
    if endpoint.admin:
        statuses.add(403)
    if _PARAM.search(endpoint.path) or endpoint.query or endpoint.idempotent:
        statuses.add(400)  # a malformed id in the path, query or Idempotency-Key
    if endpoint.body is not None:
        statuses.update((400, 408, 413, 415))
    if endpoint.idempotent:
        statuses.update((400, 409, 422))  # a malformed key, one in use, one reused
    return statuses


_RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}


def build(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Timetrail API", "version": "1", "description": _INFO},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
            "responses": {
                "MethodNotAllowed": {
                    "description": "method_not_allowed: the path does not list this method",
                    "headers": {
                        "Allow": {
                            "description": "The path's methods, for example GET, HEAD",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    },
                    "content": {"application/json": {"schema": _ref("Error")}},
                }
            },
        },
    }
