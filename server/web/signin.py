"""`/`: the sign-in page (My week once signed in), signing in and out."""

from __future__ import annotations

from aiohttp import web

from ..errors import InvalidCredentialsError, InvalidRequestError, TooManyRequestsError
from ..routes.auth import LOGIN
from . import session
from .pages import SIGN_IN, Pages, Visit

pages = Pages()

MY_WEEK = "/week"


@pages.get(SIGN_IN, signed_in=False)
async def sign_in_page(visit: Visit) -> web.StreamResponse:
    if visit.user is not None:
        raise web.HTTPSeeOther(MY_WEEK)
    return await visit.render("signin.html", {"email": ""})


@pages.post("/signin", signed_in=False)
async def sign_in(visit: Visit) -> web.StreamResponse:
    """The API's sign-in (`Accounts.login`): the same checks, throttle and lockout, counted
    against the connection's peer address as the API's are (`routes.auth.client_address`)."""
    email = visit.form.get("email", "")
    try:
        fields = {name: LOGIN[name].parse(name, visit.form.get(name, "")) for name in LOGIN}
        token, _user = await visit.services.accounts.login(
            fields["email"], fields["password"], visit.request.remote
        )
    except (InvalidRequestError, InvalidCredentialsError, TooManyRequestsError) as error:
        response = await visit.render(
            "signin.html", {"email": email, "error": error.message}, error.status
        )
        if isinstance(error, TooManyRequestsError):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    await session.begin(visit.request, token)
    raise web.HTTPSeeOther(MY_WEEK)


@pages.post("/signout", signed_in=False)
async def sign_out(visit: Visit) -> web.StreamResponse:
    await session.end(visit.request)
    raise web.HTTPSeeOther(SIGN_IN)
