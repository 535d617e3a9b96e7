"""A browser, as far as the web pages' tests need one: its own session cookie, forms posted with
the CSRF token of the page last seen."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from server.web.session import COOKIE, CSRF_FIELD

_CSRF = re.compile(rf'name="{CSRF_FIELD}" value="([^"]+)"')


@dataclass
class Page:
    status: int
    text: str
    headers: Any
    set_cookie: str | None  # the session cookie's Set-Cookie header, when the answer sent one

    @property
    def location(self) -> str | None:
        location: str | None = self.headers.get("Location")
        return location

    def has(self, text: str) -> bool:
        return text in html.unescape(self.text)


class Browser:
    """One browser's cookie, kept apart from every other `Browser` on the same test client."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.cookie: str | None = None
        self.csrf: str | None = None

    async def request(self, method: str, path: str, data: Any = None) -> Page:
        self.client.session.cookie_jar.clear()
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        async with self.client.request(
            method, path, data=data, headers=headers, allow_redirects=False
        ) as resp:
            text = await resp.text()
            set_cookie = next(
                (h for h in resp.headers.getall("Set-Cookie", []) if h.startswith(COOKIE + "=")),
                None,
            )
            if COOKIE in resp.cookies:
                self.cookie = resp.cookies[COOKIE].value or None
        self.client.session.cookie_jar.clear()
        found = _CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return Page(resp.status, text, resp.headers, set_cookie)

    async def get(self, path: str) -> Page:
        return await self.request("GET", path)

    async def post(
        self, path: str, fields: dict[str, str] | None = None, csrf: bool = True
    ) -> Page:
        data = dict(fields or {})
        if csrf and self.csrf:
            data[CSRF_FIELD] = self.csrf
        return await self.request("POST", path, data)

    async def sign_in(self, email: str, password: str) -> Page:
        await self.get("/")
        return await self.post("/signin", {"email": email, "password": password})
