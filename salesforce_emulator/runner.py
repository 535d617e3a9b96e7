"""Serving the emulator over HTTPS in the running event loop.

Two sites, as Salesforce has two hosts: the login host ``https://localhost:<port>`` (OAuth,
identity) and the instance host ``https://127.0.0.1:<port>`` (REST, the token's
``instance_url``), and on request a third, the sandbox login host (test.salesforce.com's part,
``https://localhost:<port>``). Both names resolve on any machine without configuration and both
are in the one certificate the throwaway CA issues; every site also listens on ``::1`` when it
can, for systems where ``localhost`` resolves to IPv6 first (the instance site answers to
``https://localhost:<port>`` too, the name an instance move switches to).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .app import SERVER_LINE_BYTES, create_instance_app, create_login_app
from .emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, Seed
from .sessions import SANDBOX
from .tls import EmulatorTls

logger = logging.getLogger(__name__)

CA_FILE_NAME = "salesforce-emulator-ca.pem"


@dataclass
class RunningEmulator:
    emulator: Emulator
    login_url: str
    instance_url: str
    ca_file: Path
    tls: EmulatorTls
    sandbox_login_url: str | None = None

    @property
    def client_id(self) -> str:
        return self.emulator.app.client_id

    @property
    def client_secret(self) -> str:
        return self.emulator.app.client_secret

    @property
    def api_calls(self) -> int:
        return self.emulator.api_calls

    @property
    def authorize_url(self) -> str:
        return f"{self.login_url}/services/oauth2/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.login_url}/services/oauth2/token"

    @property
    def revoke_url(self) -> str:
        return f"{self.login_url}/services/oauth2/revoke"

    @property
    def control_url(self) -> str:
        return f"{self.instance_url}/__control"


def _listen(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def bind_loopback(port: int) -> list[socket.socket]:
    """Sockets bound to `port` (0: a free one) on 127.0.0.1 and, where it can, on ::1; an
    `OSError` when the port is taken."""
    sockets = [_listen("127.0.0.1", port, socket.AF_INET)]
    with contextlib.suppress(OSError):
        sockets.append(_listen("::1", sockets[0].getsockname()[1], socket.AF_INET6))
    return sockets


def _runner(app: web.Application, access_log: bool) -> web.AppRunner:
    # aiohttp refuses request lines and header lines over 8,190 bytes by itself: the emulator's
    # apps decide about long requests instead, as Salesforce does (app.refuse_long_requests).
    limits: dict[str, Any] = {
        "max_line_size": SERVER_LINE_BYTES,
        "max_field_size": SERVER_LINE_BYTES,
    }
    if access_log:
        return web.AppRunner(app, shutdown_timeout=1, **limits)
    return web.AppRunner(app, access_log=None, shutdown_timeout=1, **limits)


async def _stop(runner: web.AppRunner) -> None:
    """Stop serving. Connections still open afterwards (a TLS close waits for the client's
    reply, which an idle client never sends) are cut, so none outlives the event loop."""
    server = runner.server
    transports = [h.transport for h in (server.connections if server else []) if h.transport]
    await runner.cleanup()
    for transport in transports:
        transport.abort()
    if transports:
        await asyncio.sleep(0)  # let the aborted transports close their sockets


@contextlib.asynccontextmanager
async def running_emulator(
    directory: Path | None = None,
    *,
    seed: Seed = "demo",
    api_disabled_user: bool = False,
    emulator: Emulator | None = None,
    ca_file: Path | None = None,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    redirect_uris: list[str] | None = None,
    login_port: int = 0,
    instance_port: int = 0,
    sandbox: bool = False,
    sandbox_login_port: int = 0,
    access_log: bool = False,
    sockets: list[list[socket.socket]] | None = None,
) -> AsyncIterator[RunningEmulator]:
    """Serve an emulator (a new one, seeded, unless given) on both hosts until the block ends;
    with ``sandbox``, a sandbox login host too (``sandbox_login_url``).

    The CA certificate is written to ``ca_file``, or to ``directory/salesforce-emulator-ca.pem``.
    Ports 0 pick free ones. ``sockets`` are the hosts' sockets already bound (`bind_loopback`),
    login host first, in place of the ports; they are closed when the block ends.
    """
    if ca_file is None:
        if directory is None:
            raise ValueError("give a directory or a ca_file for the CA certificate")
        ca_file = directory / CA_FILE_NAME
    if emulator is None:
        emulator = Emulator(
            seed,
            api_disabled_user=api_disabled_user,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=redirect_uris,
        )
    ports = [login_port, instance_port, *([sandbox_login_port] if sandbox else [])]
    bound: list[list[socket.socket]] = list(sockets or [])
    try:
        for port in ports[len(bound) :]:
            bound.append(bind_loopback(port))
    except OSError:
        for sock in (s for group in bound for s in group):
            sock.close()
        raise
    # Written once the ports are ours: a busy port leaves nothing behind.
    tls = EmulatorTls()
    tls.write_ca(ca_file)
    context = tls.server_context()

    def port_of(sockets: list[socket.socket]) -> int:
        return int(sockets[0].getsockname()[1])

    emulator.login_url = f"https://localhost:{port_of(bound[0])}"
    emulator.instance_url = f"https://127.0.0.1:{port_of(bound[1])}"
    apps = [create_login_app(emulator), create_instance_app(emulator)]
    if sandbox:
        emulator.sandbox_login_url = f"https://localhost:{port_of(bound[2])}"
        apps.append(create_login_app(emulator, SANDBOX))
    runners = [_runner(app, access_log) for app in apps]
    try:
        for runner, group in zip(runners, bound, strict=True):
            await runner.setup()
            for sock in group:
                await web.SockSite(runner, sock, ssl_context=context).start()
        logger.info(
            "Salesforce emulator: login %s, instance %s", emulator.login_url, emulator.instance_url
        )
        yield RunningEmulator(
            emulator,
            emulator.login_url,
            emulator.instance_url,
            ca_file,
            tls,
            emulator.sandbox_login_url,
        )
    finally:
        for runner in runners:
            await _stop(runner)
        for sock in (s for group in bound for s in group):
            sock.close()
