"""The app factories: the login host (OAuth, identity) and the instance host (REST; the OAuth
endpoints and identity URL too, as a My Domain host serves them), both with the control API and
the fault injection that the control API arms."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import control, oauth
from .appkeys import EMULATOR, REST_API
from .emulator import Emulator
from .errors import SalesforceError, invalid_session, server_unavailable
from .faults import FaultMode, FaultScope
from .rest import Request, Response, RestApi, parse_version
from .sessions import PRODUCTION

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LATEST_VERSION = 66
_WRITES = ("POST", "PUT", "PATCH")


def _scope(path: str) -> FaultScope | None:
    if path.startswith("/services/data"):
        return FaultScope.REST
    if path.startswith(("/services/oauth2/", "/id/")):
        return FaultScope.OAUTH
    return None


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the next armed failure to a REST or OAuth request: wait, answer 503, or drop the
    connection without an answer."""
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
    if scope is FaultScope.REST:
        error = server_unavailable()
        return web.json_response(
            error.body(), status=error.status, headers={"Sforce-Limit-Info": emulator.limit_info()}
        )
    return web.json_response(
        {"error": "temporarily_unavailable", "error_description": "service unavailable"},
        status=503,
    )


async def serve_rest(request: web.Request) -> web.Response:
    """Every ``/services/data/vNN.N/…`` request: check the version and the session, count the
    call, dispatch; ``Sforce-Limit-Info`` on every answer."""
    emulator = request.app[EMULATOR]
    try:
        version = parse_version(request.match_info["version"])
        if not emulator.serves_instance(request.host):
            raise invalid_session()  # the org moved to another instance host
        access = emulator.authenticate(request.headers.get("Authorization"))
        emulator.admit_api_call(access)
        body = None
        if request.method in _WRITES and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                raise SalesforceError(400, "JSON_PARSER_ERROR", "the body is not JSON") from None
        response = request.app[REST_API].dispatch(
            Request(
                request.method,
                version,
                request.match_info.get("path", "").strip("/"),
                dict(request.query),
                body,
                request.headers,
            )
        )
    except SalesforceError as error:
        response = Response(error.status, error.body())
    return web.json_response(
        response.body,
        status=response.status,
        headers={"Sforce-Limit-Info": emulator.limit_info()},
    )


def _release(version: int) -> str:
    """The release a version came with: 31.0 was Summer '14, three releases a year."""
    years, step = divmod(version - 31, 3)
    season = ("Summer", "Winter", "Spring")[step]
    year = 14 + years + (0 if step == 0 else 1)
    return f"{season} '{year:02d}"


async def list_versions(request: web.Request) -> web.Response:
    """The versions served (no session needed, and no API call counted)."""
    return web.json_response(
        [
            {"label": _release(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(31, LATEST_VERSION + 1)
        ],
        headers={"Sforce-Limit-Info": request.app[EMULATOR].limit_info()},
    )


def _base_app(emulator: Emulator) -> web.Application:
    app = web.Application(middlewares=[control.control_errors, inject_faults])
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
