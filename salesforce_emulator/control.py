"""The control API under ``/__control/``: JSON, no authentication, for tests, benchmarks and the
demo. Each endpoint is a thin call into the ``Emulator``.

| method and path | body | what it does |
| --- | --- | --- |
| GET /__control/state | | org, users, record counts, API usage, pending failures |
| POST /__control/reset | ``{"seed", "api_disabled_user"}`` (seed: demo, empty, counts) | new org |
| GET /__control/api-calls | | ``{"api_calls", "limit"}`` |
| PUT /__control/api-limit | ``{"limit", "used"?}`` | set the daily limit (and usage) |
| PUT /__control/api-access | ``{"enabled", "username"?}`` | API access of the org or a user |
| POST /__control/records/{Type} | field values | create a record |
| GET, PATCH /__control/records/{id} | field values | read or change a record |
| POST /__control/records/{id}/{action} | ``{"status"?}`` | close, reopen, delete, undelete, purge |
| POST /__control/recycle-bin/empty | | erase deleted records, purge the delete log |
| POST /__control/tokens/expire | | expire every access token |
| POST /__control/tokens/revoke | ``{"username"?}`` | revoke refresh and access tokens |
| POST /__control/failures | ``{"mode", "count", "seconds"?, "scope"?}`` | inject failures |
| DELETE /__control/failures | | drop pending failures |
| PUT /__control/page-size | ``{"size"}`` (1 to 2,000) | the most records a query page holds |
| POST /__control/authorization/next | ``{"deny": true}`` or ``{"username"}`` | the next authorize |
| POST /__control/clock | ``{"advance_seconds"}`` | move the emulator's clock |
| PUT /__control/connected-app | ``{"redirect_uris": [...]}`` | the callback URLs accepted |
| PUT /__control/object-access | ``{"object", "readable", "username"?}`` | object access |
| PUT /__control/field-access | ``{"object", "field", "readable", "username"?}`` | field access |
| PUT /__control/connected-app/rotation | ``{"enabled"}`` | refresh token rotation on or off |
| POST /__control/instance/move | | move the org to its other instance host name |
| PUT /__control/tokens/refuse-new | ``{"enabled"}`` | REST refuses every new access token |

Creating or changing a record with ``?stamped_seconds_ago=N`` commits it late: its SystemModstamp
lies N seconds in the past.

Failure modes: ``unavailable``, ``server_error``, ``delay``, ``drop`` (any request of the scope) and
``expired_locator`` (the next query-more requests only: their locator has expired).

Seed counts: ``users``, ``accounts``, ``opportunities``, ``cases``, ``activities`` (Tasks),
``events``, ``api_disabled_user``, ``random_seed``, ``history_days``. Access without a username
applies to every user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .appkeys import EMULATOR
from .emulator import Emulator
from .faults import FaultMode, FaultScope
from .org import Record, RecordError
from .schema import to_json
from .seeding import SeedSpec

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/__control/"):
        return await handler(request)
    try:
        return await handler(request)
    except (ControlError, RecordError) as error:
        return web.json_response({"error": str(error)}, status=error.status)
    except (ValueError, TypeError, KeyError) as error:
        return web.json_response({"error": f"bad request: {error}"}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ControlError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def _emulator(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


def record_json(emulator: Emulator, record: Record) -> dict[str, Any]:
    type_name = emulator.org.type_of(record)
    out: dict[str, Any] = {"attributes": {"type": type_name}}
    out.update({name: to_json(value) for name, value in record.items()})
    return out


async def get_state(request: web.Request) -> web.Response:
    return web.json_response(_emulator(request).state())


async def reset(request: web.Request) -> web.Response:
    body = await _body(request)
    seed = body.get("seed", "demo")
    if isinstance(seed, dict):
        seed = SeedSpec(**seed)
    elif seed not in ("demo", "empty"):
        raise ControlError("seed is 'demo', 'empty' or an object of counts")
    emulator = _emulator(request)
    emulator.reset(seed, api_disabled_user=bool(body.get("api_disabled_user", False)))
    return web.json_response(emulator.state())


async def get_api_calls(request: web.Request) -> web.Response:
    org = _emulator(request).org
    return web.json_response({"api_calls": org.api_calls, "limit": org.daily_api_limit})


async def put_api_limit(request: web.Request) -> web.Response:
    body = await _body(request)
    emulator = _emulator(request)
    used = body.get("used")
    emulator.set_api_limit(int(body["limit"]), None if used is None else int(used))
    return await get_api_calls(request)


async def put_api_access(request: web.Request) -> web.Response:
    body = await _body(request)
    emulator = _emulator(request)
    emulator.set_api_enabled(bool(body["enabled"]), body.get("username"))
    return web.json_response(emulator.state())


def _stamped_seconds_ago(request: web.Request) -> float:
    return float(request.query.get("stamped_seconds_ago", 0))


async def create_record(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    record = emulator.create_record(
        request.match_info["type"],
        await _body(request),
        stamped_seconds_ago=_stamped_seconds_ago(request),
    )
    return web.json_response(record_json(emulator, record), status=201)


async def get_record(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    return web.json_response(record_json(emulator, emulator.org.require(request.match_info["id"])))


async def change_record(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    record = emulator.update_record(
        request.match_info["id"],
        await _body(request),
        stamped_seconds_ago=_stamped_seconds_ago(request),
    )
    return web.json_response(record_json(emulator, record))


async def empty_recycle_bin(request: web.Request) -> web.Response:
    return web.json_response({"erased": _emulator(request).empty_recycle_bin()})


async def act_on_record(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    org = emulator.org
    record_id, action = request.match_info["id"], request.match_info["action"]
    status = (await _body(request)).get("status")
    if action == "purge":
        org.purge(record_id)
        return web.Response(status=204)
    actions = {
        "close": lambda: org.close(record_id, status),
        "reopen": lambda: org.reopen(record_id, status),
        "delete": lambda: org.delete(record_id),
        "undelete": lambda: org.undelete(record_id),
    }
    if action not in actions:
        raise ControlError(f"unknown action {action}", 404)
    return web.json_response(record_json(emulator, actions[action]()))


async def expire_tokens(request: web.Request) -> web.Response:
    return web.json_response({"expired": _emulator(request).expire_access_tokens()})


async def revoke_tokens(request: web.Request) -> web.Response:
    body = await _body(request)
    return web.json_response({"revoked": _emulator(request).revoke_tokens(body.get("username"))})


async def add_failures(request: web.Request) -> web.Response:
    body = await _body(request)
    emulator = _emulator(request)
    try:
        mode = FaultMode(body.get("mode", "unavailable"))
        scope = FaultScope(body.get("scope", "rest"))
    except ValueError as error:
        raise ControlError(str(error)) from None
    count = int(body.get("count", 1))
    emulator.inject_failures(mode, count, seconds=float(body.get("seconds", 0)), scope=scope)
    return web.json_response({"pending": len(emulator.faults)})


async def clear_failures(request: web.Request) -> web.Response:
    _emulator(request).faults.clear()
    return web.json_response({"pending": 0})


async def put_page_size(request: web.Request) -> web.Response:
    body = await _body(request)
    emulator = _emulator(request)
    emulator.set_page_size(int(body["size"]))
    return web.json_response({"size": emulator.page_size})


async def next_authorization(request: web.Request) -> web.Response:
    body = await _body(request)
    emulator = _emulator(request)
    if body.get("deny"):
        emulator.deny_next_authorization()
    elif body.get("username"):
        emulator.authorize_next_as(str(body["username"]))
    else:
        raise ControlError('give {"deny": true} or {"username": "…"}')
    return web.Response(status=204)


async def advance_clock(request: web.Request) -> web.Response:
    body = await _body(request)
    emulator = _emulator(request)
    emulator.advance_clock(float(body["advance_seconds"]))
    return web.json_response({"now": emulator.state()["now"]})


async def put_connected_app(request: web.Request) -> web.Response:
    body = await _body(request)
    emulator = _emulator(request)
    uris = body.get("redirect_uris", [])
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise ControlError("redirect_uris is a list of URLs")
    emulator.app.redirect_uris = uris
    return web.json_response({"client_id": emulator.app.client_id, "redirect_uris": uris})


def _readable(body: dict[str, Any]) -> bool:
    readable = body["readable"]
    if not isinstance(readable, bool):
        raise ControlError("readable is true or false")
    return readable


def _username(body: dict[str, Any]) -> str | None:
    username = body.get("username")
    return None if username is None else str(username)


async def put_object_access(request: web.Request) -> web.Response:
    body = await _body(request)
    name = _emulator(request).set_object_access(
        str(body["object"]), _readable(body), _username(body)
    )
    return web.json_response(
        {"object": name, "readable": body["readable"], "username": _username(body)}
    )


async def put_field_access(request: web.Request) -> web.Response:
    body = await _body(request)
    name, field_name = _emulator(request).set_field_access(
        str(body["object"]), str(body["field"]), _readable(body), _username(body)
    )
    return web.json_response(
        {
            "object": name,
            "field": field_name,
            "readable": body["readable"],
            "username": _username(body),
        }
    )


async def put_rotation(request: web.Request) -> web.Response:
    body = await _body(request)
    emulator = _emulator(request)
    emulator.set_refresh_rotation(bool(body["enabled"]))
    return web.json_response({"rotate_refresh_tokens": emulator.app.rotate_refresh_tokens})


async def move_instance(request: web.Request) -> web.Response:
    return web.json_response({"instance_url": _emulator(request).move_instance()})


async def refuse_new_tokens(request: web.Request) -> web.Response:
    body = await _body(request)
    enabled = bool(body["enabled"])
    _emulator(request).refuse_new_sessions(enabled)
    return web.json_response({"refuse_new": enabled})


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/__control/state", get_state)
    router.add_post("/__control/reset", reset)
    router.add_get("/__control/api-calls", get_api_calls)
    router.add_put("/__control/api-limit", put_api_limit)
    router.add_put("/__control/api-access", put_api_access)
    router.add_post("/__control/records/{type:[A-Za-z]+}", create_record)
    router.add_get("/__control/records/{id:[A-Za-z0-9]{15,18}}", get_record)
    router.add_patch("/__control/records/{id:[A-Za-z0-9]{15,18}}", change_record)
    router.add_post("/__control/records/{id:[A-Za-z0-9]{15,18}}/{action}", act_on_record)
    router.add_post("/__control/recycle-bin/empty", empty_recycle_bin)
    router.add_post("/__control/tokens/expire", expire_tokens)
    router.add_post("/__control/tokens/revoke", revoke_tokens)
    router.add_post("/__control/failures", add_failures)
    router.add_delete("/__control/failures", clear_failures)
    router.add_put("/__control/page-size", put_page_size)
    router.add_post("/__control/authorization/next", next_authorization)
    router.add_post("/__control/clock", advance_clock)
    router.add_put("/__control/connected-app", put_connected_app)
    router.add_put("/__control/object-access", put_object_access)
    router.add_put("/__control/field-access", put_field_access)
    router.add_put("/__control/connected-app/rotation", put_rotation)
    router.add_post("/__control/instance/move", move_instance)
    router.add_put("/__control/tokens/refuse-new", refuse_new_tokens)
