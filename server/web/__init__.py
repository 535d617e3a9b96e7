"""The web pages people use in a browser: sign-in, My week and Reports.

Rendered on the server from `templates/` (Jinja2, autoescaped), with the stylesheet from
`static/` served by the server itself (no CDN; one small script, on My week for administrators,
follows the Salesforce integration's runs). A cookie session (`session.py`)
keeps the sign-in; every form carries the session's CSRF token (`pages.py`).
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import session_middleware

from . import integration, pages, reports, signin, week
from .session import cookie_storage

HERE = Path(__file__).parent
STATIC = "/static/"
# Every page and form target. They answer HTML to a browser with a session cookie, so they are
# not part of the API's OpenAPI document.
PAGES: tuple[pages.Page, ...] = (
    *signin.pages.pages,
    *week.pages.pages,
    *integration.pages.pages,
    *reports.pages.pages,
)


def install(app: web.Application, secret: str, base_url: str) -> None:
    """Add the pages (each through the session middleware), templates and static files."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    pages.register(app, PAGES, session_middleware(cookie_storage(secret, base_url)))
    app.router.add_static(STATIC, HERE / "static")
