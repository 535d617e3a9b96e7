"""Page declarations: one record per page or form target, registered from one place.

A page handler gets a `Visit`: the request, the services, who is signed in, and for a POST the
form, whose CSRF token is already checked (a POST without it is refused with 403 before the
handler runs). Errors become an HTML page in the API's error words (status, code, message);
a page that needs a signed-in user sends anyone else to the sign-in page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..accounts import Caller
from ..appkeys import SERVICES
from ..errors import ApiError, TooManyRequestsError
from ..services import Services
from . import session

SIGN_IN = "/"


@dataclass(frozen=True)
class Visit:
    request: web.Request
    services: Services
    form: Mapping[str, str]
    # Who is signed in (None: nobody; only pages declared `signed_in=False` see that).
    user: Caller | None

    @property
    def caller(self) -> Caller:
        assert self.user is not None, "page declared without sign-in"
        return self.user

    async def render(
        self, template: str, context: Mapping[str, Any], status: int = 200
    ) -> web.Response:
        return await render(self.request, template, context, status, self.user)


PageHandler = Callable[[Visit], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    handler: PageHandler
    # Only for a signed-in user; anyone else is sent to the sign-in page.
    signed_in: bool = True

    def aiohttp_handler(self) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                form: Mapping[str, str] = {}
                if self.method == "POST":
                    posted = await request.post()
                    form = {k: v for k, v in posted.items() if isinstance(v, str)}
                    await session.check_csrf(request, form)
                caller = await session.signed_in(request)
                if self.signed_in and caller is None:
                    raise web.HTTPSeeOther(SIGN_IN)
                return await self.handler(Visit(request, request.app[SERVICES], form, caller))
            except ApiError as error:
                return await error_page(request, error)

        handle.__name__ = self.handler.__name__
        return handle


class Pages:
    """The pages of one area of the site."""

    def __init__(self) -> None:
        self.pages: list[Page] = []

    def get(self, path: str, **options: Any) -> Callable[[PageHandler], PageHandler]:
        return self._add("GET", path, options)

    def post(self, path: str, **options: Any) -> Callable[[PageHandler], PageHandler]:
        return self._add("POST", path, options)

    def _add(
        self, method: str, path: str, options: dict[str, Any]
    ) -> Callable[[PageHandler], PageHandler]:
        def add(handler: PageHandler) -> PageHandler:
            self.pages.append(Page(method, path, handler, **options))
            return handler

        return add


def register(app: web.Application, pages: Iterable[Page], around: Middleware) -> None:
    """Route every page through `around` (the session middleware: the pages alone use it, so
    the API's requests do not pay for it)."""
    for page in pages:
        handler = _through(around, page.aiohttp_handler())
        if page.method == "GET":
            app.router.add_get(page.path, handler)  # (and HEAD)
        else:
            app.router.add_route(page.method, page.path, handler)


def _through(middleware: Middleware, handler: Handler) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await middleware(request, handler)

    handle.__name__ = handler.__name__
    return handle


async def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    caller: Caller | None = None,
) -> web.Response:
    """A page: the template with the CSRF token for its forms and who is signed in; personal,
    so never cached."""
    page = {"csrf_field": session.CSRF_FIELD, "csrf_token": await session.csrf_token(request)}
    response = aiohttp_jinja2.render_template(
        template, request, {**page, "me": caller, **context}, status=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def error_page(request: web.Request, error: ApiError) -> web.Response:
    response = await render(
        request,
        "error.html",
        {"status": error.status, "code": error.code, "message": error.message},
        error.status,
        await session.signed_in(request) if error.status != 401 else None,
    )
    if isinstance(error, TooManyRequestsError):
        response.headers["Retry-After"] = str(error.retry_after)
    return response
