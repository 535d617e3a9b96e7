"""Sign-in, sign-out and the caller's own profile."""

from __future__ import annotations

from aiohttp import web

from ..accounts import user_view
from ..validation import Field
from .registry import Call, Routes, json, no_content

routes = Routes("auth")

LOGIN = {
    "email": Field("string", required=True, min_length=1, max_length=254),
    "password": Field("string", required=True, min_length=1, max_length=1024),
}
CHANGE_PASSWORD = {
    "current_password": Field("string", required=True, min_length=1, max_length=1024),
    "new_password": Field("string", required=True, min_length=8, max_length=1024),
}


def client_address(call: Call) -> str | None:
    """The address sign-in attempts are counted against: the peer of the connection
    (`request.remote`). `X-Forwarded-For` is not trusted: behind a reverse proxy every client
    shares the proxy's address, so the proxy should limit its clients itself (README)."""
    return call.request.remote


@routes.post(
    "/api/v1/auth/login",
    "Sign in with email and password; returns a bearer token",
    auth=False,
    body=LOGIN,
    responses={200: "Login"},
    errors=(400, 401, 429),
)
async def login(call: Call) -> web.StreamResponse:
    token, user = await call.services.accounts.login(
        call.body["email"], call.body["password"], client_address(call)
    )
    return json({"token": token, "user": user_view(user)})


@routes.post("/api/v1/auth/logout", "Revoke the calling token", responses={204: None})
async def logout(call: Call) -> web.StreamResponse:
    await call.services.accounts.logout(call.caller)
    return no_content()


@routes.get("/api/v1/me", "The signed-in user and their account", responses={200: "Me"})
async def get_me(call: Call) -> web.StreamResponse:
    return json(await call.services.accounts.me(call.caller))


@routes.post(
    "/api/v1/me/password",
    "Change one's own password; the user's other tokens are revoked, the calling one kept",
    body=CHANGE_PASSWORD,
    responses={204: None},
    errors=(400, 403, 429),
)
async def change_password(call: Call) -> web.StreamResponse:
    await call.services.accounts.change_password(
        call.caller,
        call.body["current_password"],
        call.body["new_password"],
        client_address(call),
    )
    return no_content()
