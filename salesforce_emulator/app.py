"""The app factories: the login host (OAuth, identity) and the instance host (REST; the OAuth
endpoints and identity URL too, as a My Domain host serves them), both with the control API and
the fault injection that the control API arms."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from email.utils import format_datetime

from aiohttp import web

from . import control, errors, oauth
from .appkeys import EMULATOR, REST_API
from .emulator import Emulator
from .errors import SalesforceError, invalid_session
from .faults import FaultMode, FaultScope
from .rest import (
    LATEST_VERSION,
    MIN_VERSION,
    Request,
    Response,
    RestApi,
    api_calls_of,
    parse_version,
)
from .sessions import PRODUCTION

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_WRITES = ("POST", "PUT", "PATCH")
REST_CONTENT_TYPE = "application/json;charset=UTF-8"
MAX_REQUEST_BYTES = 16_384  # the URI, and the URI plus the headers
# What the HTTP server itself accepts, well above that, so that the limit answers as Salesforce.
SERVER_LINE_BYTES = 4 * MAX_REQUEST_BYTES
# What an injected outage answers, as Salesforce's edge does during maintenance: a 503 whose
# body is an HTML page, not the REST API's JSON (SALESFORCE.md: never assume JSON on non-2xx).
MAINTENANCE_PAGE = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>"
    "<h1>Down for maintenance</h1><p>This service is temporarily unavailable.</p></body></html>"
)


def _scope(path: str) -> FaultScope | None:
    if path.startswith("/services/data"):
        return FaultScope.REST
    if path.startswith(("/services/oauth2/", "/id/")):
        return FaultScope.OAUTH
    return None


def _edge_page(status: int, title: str) -> web.Response:
    page = f"<html><head><title>{status} {title}</title></head><body><h1>{title}</h1></body></html>"
    return web.Response(status=status, text=page, content_type="text/html")


@web.middleware
async def refuse_long_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A URI over 16,384 bytes answers 414, a URI and headers over that together 431, both with
    an HTML page from Salesforce's edge: no API call is counted."""
    uri = len(request.raw_path.encode())
    headers = sum(len(name) + len(value) + 4 for name, value in request.raw_headers)
    if uri > MAX_REQUEST_BYTES:
        return _edge_page(414, "Request-URI Too Long")
    if uri + headers > MAX_REQUEST_BYTES:
        return _edge_page(431, "Request Header Fields Too Large")
    return await handler(request)


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the next armed failure to a REST or OAuth request: wait, answer 503 or 500, or
    drop the connection without an answer. None of them is an API call counted."""
    scope = _scope(request.path)
    emulator = request.app[EMULATOR]
    fault = None if scope is None else emulator.faults.take(scope)
    if fault is None:
        return await handler(request)
    logger.info("injecting %s into %s %s", fault.mode.value, request.method, request.path)
    if fault.mode is FaultMode.DELAY:
        await asyncio.sleep(fault.seconds)
        return await handler(request)
    if fault.mode is FaultMode.DROP:
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing more to say on a closed connection
    if fault.mode is FaultMode.SERVER_ERROR:
        if scope is FaultScope.REST:
            return rest_json(errors.unknown_exception().body(), 500, _date(emulator))
        return web.json_response(
            {"error": "unknown_error", "error_description": "retry your request"}, status=500
        )
    if scope is FaultScope.REST:  # (an edge's maintenance page: never assume JSON on a 503)
        return web.Response(
            text=MAINTENANCE_PAGE, content_type="text/html", status=503, headers=_date(emulator)
        )
    return web.json_response(
        {"error": "temporarily_unavailable", "error_description": "service unavailable"},
        status=503,
    )


async def serve_rest(request: web.Request) -> web.Response:
    """Every ``/services/data/vNN.N/…`` request: check the version and the session, count the
    call, dispatch. ``Sforce-Limit-Info`` only on a counted call's success: whether Salesforce
    sends it with errors is unverified, so a client must not need it there."""
    emulator = request.app[EMULATOR]
    path = request.match_info.get("path", "").strip("/")
    counted = False
    try:
        version = parse_version(request.match_info["version"])
        if not emulator.serves_instance(request.host):
            raise invalid_session()  # the org moved to another instance host
        access = emulator.authenticate(request.headers.get("Authorization"))
        body = None
        if request.method in _WRITES and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                raise SalesforceError(400, "JSON_PARSER_ERROR", "the body is not JSON") from None
        emulator.admit_api_call(access, api_calls_of(path, body))
        counted = True
        response = request.app[REST_API].dispatch(
            Request(
                request.method,
                version,
                path,
                dict(request.query),
                body,
                request.headers,
                access.user_id,
            )
        )
    except SalesforceError as error:
        response = Response(error.status, error.body())
    headers = _date(emulator)
    if counted and response.status < 300:
        headers["Sforce-Limit-Info"] = emulator.limit_info()
    return rest_json(response.body, response.status, headers)


def rest_json(body: object, status: int, headers: dict[str, str]) -> web.Response:
    """A REST answer's JSON, with the Content-Type written as Salesforce writes it
    (SALESFORCE.md §4.1), not as aiohttp would (`application/json; charset=utf-8`)."""
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={**headers, "Content-Type": REST_CONTENT_TYPE},
    )


def _date(emulator: Emulator) -> dict[str, str]:
    """The time by the org's clock (the host's clock is not Salesforce's), on every answer."""
    return {"Date": format_datetime(emulator.clock.now(), usegmt=True)}


def _release(version: int) -> str:
    """The release a version came with: 31.0 was Summer '14, three releases a year."""
    years, step = divmod(version - 31, 3)
    season = ("Summer", "Winter", "Spring")[step]
    year = 14 + years + (0 if step == 0 else 1)
    return f"{season} '{year:02d}"


async def list_versions(request: web.Request) -> web.Response:
    """The versions served, newest last: no session needed, no API call counted, and no
    ``Sforce-Limit-Info`` (SALESFORCE.md §4.3)."""
    return rest_json(
        [
            {"label": _release(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(MIN_VERSION, LATEST_VERSION + 1)
        ],
        200,
        _date(request.app[EMULATOR]),
    )


def _base_app(emulator: Emulator) -> web.Application:
    app = web.Application(middlewares=[refuse_long_requests, control.control_errors, inject_faults])
    app[EMULATOR] = emulator
    oauth.add_routes(app)
    control.add_routes(app)
    return app


def create_login_app(emulator: Emulator, family: str = PRODUCTION) -> web.Application:
    """A login host (``production``: login.salesforce.com, ``sandbox``: test.salesforce.com):
    authorize, token, revoke, the identity URL, the control API."""
    app = _base_app(emulator)
    app[oauth.LOGIN_FAMILY] = family
    return app


def create_instance_app(emulator: Emulator) -> web.Application:
    """The instance host (``instance_url``): the REST API, plus what the login host serves."""
    app = _base_app(emulator)
    app[REST_API] = RestApi(emulator)
    app.router.add_get("/services/data", list_versions)
    app.router.add_get("/services/data/", list_versions)
    app.router.add_route("*", "/services/data/{version}", serve_rest)
    app.router.add_route("*", "/services/data/{version}/{path:.*}", serve_rest)
    return app
