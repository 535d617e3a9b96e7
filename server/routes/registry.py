"""Endpoint declarations: path, method, validation specs and documentation in one record.

Route modules declare endpoints with a `Routes` table; `server.app` registers every table, and
`server.openapi` documents the very same records, so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from ..accounts import Caller
from ..appkeys import SERVICES
from ..errors import (
    ApiError,
    ForbiddenError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    RequestTimeoutError,
    UnauthorizedError,
)
from ..idempotency import HEADER as IDEMPOTENCY_HEADER
from ..idempotency import Answer, fingerprint, parse_key
from ..ids import parse_id
from ..services import Services
from ..validation import MAX_BODY_BYTES, Spec, parse_body, read_query

Handler = Callable[["Call"], Awaitable[web.StreamResponse]]

# A response that is an HTML page (for a browser), in `Endpoint.responses`.
HTML = "text/html"

# How long a request body may take to arrive, in seconds: the caller's rights are decided once
# it has (see `Endpoint.aiohttp_handler`), so a body may not hold a decision open for long.
BODY_SECONDS = 30.0


@dataclass(frozen=True)
class Call:
    """What a handler gets: the validated body and query, the caller and the services."""

    request: web.Request
    services: Services
    body: dict[str, Any]
    query: dict[str, Any]
    _caller: Caller | None

    @property
    def caller(self) -> Caller:
        assert self._caller is not None, "endpoint declared without auth"
        return self._caller

    def path_id(self, name: str = "id") -> str:
        return parse_id(self.request.match_info[name], name)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: Spec | None = None
    query: Spec | None = None
    auth: bool = True
    admin: bool = False
    # status → component schema name, HTML for a page, or None for no body; documented in
    # OpenAPI with `errors`, the statuses answered in the error shape (`server.openapi` adds
    # those every endpoint of its kind can answer).
    responses: Mapping[int, str | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    # Takes an `Idempotency-Key` header: a request sent again with the same key gets the first
    # answer, without running twice (`server.idempotency`).
    idempotent: bool = False

    def aiohttp_handler(self) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        # What every request of this endpoint needs, looked up once, here.
        handler, body_spec, query_spec = self.handler, self.body, self.query
        auth, admin, idempotent = self.auth, self.admin, self.idempotent

        async def respond(
            request: web.Request, services: Services, caller: Caller | None, raw: bytes
        ) -> web.StreamResponse:
            query = read_query(request, query_spec) if query_spec else {}
            body = parse_body(raw, request, body_spec) if body_spec is not None else {}
            response = await handler(Call(request, services, body, query, caller))
            # A response tells its client that what it did happened: it leaves once the
            # store has committed every write made so far (the embedded store commits in
            # groups), including any other request's write this one may have read.
            await services.store.durable()
            return response

        async def handle(request: web.Request) -> web.StreamResponse:
            services = request.app[SERVICES]
            # The whole body first, then who the caller is now: rights checked before a slow
            # body arrived would be acted on after they were taken away.
            raw = await receive_body(request) if body_spec is not None else b""
            caller = await authenticate(request, services) if auth else None
            if admin and caller is not None and not caller.is_admin:
                raise ForbiddenError("Only administrators can do this.")
            key = parse_key(request.headers.get(IDEMPOTENCY_HEADER)) if idempotent else None
            if key is None or caller is None:
                return await respond(request, services, caller, raw)

            first: list[web.StreamResponse] = []

            async def run() -> Answer:
                response = await respond(request, services, caller, raw)
                body = response.body if isinstance(response, web.Response) else None
                assert body is None or isinstance(body, bytes), "idempotent answers are whole"
                first.append(response)
                return Answer(response.status, body or b"", response.content_type)

            if body_spec is None and request.body_exists:
                raw = await request.read()
            answer, replayed = await services.idempotency.once(
                caller.user_id,
                key,
                fingerprint(request.method, request.path_qs, raw),
                run,
                _error_answer,
            )
            await services.store.durable()  # (the kept answer, too)
            return _replay(answer) if replayed else first[0]

        handle.__name__ = self.handler.__name__
        return handle


def register(app: web.Application, endpoints: Iterable[Endpoint]) -> None:
    """Route every endpoint, a GET also for HEAD, and every other method of each path to 405
    `method_not_allowed` with `Allow` (a path never falls through to another path's routes)."""
    resources: dict[str, web.Resource] = {}
    allowed: dict[str, set[str]] = {}
    for endpoint in endpoints:
        if endpoint.path not in resources:
            resources[endpoint.path] = app.router.add_resource(endpoint.path)
        resource, methods = resources[endpoint.path], allowed.setdefault(endpoint.path, set())
        handler = endpoint.aiohttp_handler()
        resource.add_route(endpoint.method, handler)
        methods.add(endpoint.method)
        if endpoint.method == "GET":
            resource.add_route("HEAD", handler)
            methods.add("HEAD")
    for path, resource in resources.items():
        resource.add_route("*", _method_not_allowed(", ".join(sorted(allowed[path]))))


def _method_not_allowed(allow: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def method_not_allowed(request: web.Request) -> web.StreamResponse:
        raise MethodNotAllowedError(allow=allow)

    return method_not_allowed


def _error_answer(error: ApiError) -> Answer:
    return Answer(error.status, orjson.dumps(error.as_body()), "application/json")


def _replay(answer: Answer) -> web.Response:
    """A kept answer, sent again (marked as such)."""
    response = web.Response(body=answer.body or None, status=answer.status)
    if answer.content_type and answer.body:
        response.content_type = answer.content_type
        response.charset = "utf-8"
    response.headers["Idempotent-Replayed"] = "true"
    return response


async def receive_body(request: web.Request) -> bytes:
    """The request body, read within `BODY_SECONDS` and `MAX_BODY_BYTES`: 408
    `request_timeout` or 413 `payload_too_large` otherwise."""
    try:
        if request.content.is_eof():  # all of it arrived already (a small body)
            return await request.read()
        async with asyncio.timeout(BODY_SECONDS):
            return await request.read()
    except TimeoutError:
        raise RequestTimeoutError(
            f"The request body did not arrive within {BODY_SECONDS:g} seconds."
        ) from None
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLargeError(
            f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB."
        ) from None


async def authenticate(request: web.Request, services: Services) -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("Send a bearer token: Authorization: Bearer <token>.")
    return await services.accounts.authenticate(token.strip())


class Routes:
    """The endpoints of one API resource."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def route(
        self, method: str, path: str, summary: str, **options: Any
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method, path, handler, summary, self.tag, **options))
            return handler

        return register

    def get(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, summary, **options)

    def post(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, summary, **options)

    def put(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, summary, **options)

    def patch(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, summary, **options)

    def delete(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, summary, **options)


def json(data: Any, status: int = 200) -> web.Response:
    # orjson: a timer call's response in ~1 µs instead of the standard library's ~10.
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", charset="utf-8"
    )


def no_content() -> web.Response:
    return web.Response(status=204)
