"""Security headers on every response, errors and static pages included (one signal handler,
so no route can forget them): never sniff a content type, never say which server software
answers, and an HTML page may load nothing, be framed by nobody and leak no referrer. A page
that needs a script of the server's own says so (`allow_own_scripts`); no page runs any other."""

from __future__ import annotations

from aiohttp import web

SERVER = "timetrail"
# The pages the server renders run no script and load nothing but their stylesheet and images
# from the server itself (no inline style either).
HTML_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# A page with a script of its own: that file (no inline script), fetching from the server only.
OWN_SCRIPTS_POLICY = f"{HTML_POLICY}; script-src 'self'; connect-src 'self'"
CSP = "Content-Security-Policy"


def allow_own_scripts(response: web.StreamResponse) -> None:
    """Let this page run the server's own scripts (`/static/…`), and nothing else."""
    response.headers[CSP] = OWN_SCRIPTS_POLICY


async def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Server"] = SERVER
    headers["X-Content-Type-Options"] = "nosniff"
    if response.content_type == "text/html":
        headers.setdefault(CSP, HTML_POLICY)
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"


def install(app: web.Application) -> None:
    app.on_response_prepare.append(secure_headers)
