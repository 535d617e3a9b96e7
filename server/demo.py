"""`timetrail demo`: the server and the local Salesforce emulator, seeded with a sample org and
wired together in one process, for trying Timetrail without a Salesforce org.

The demo never touches the real store: it runs on a data dir of its own, a new temporary folder
each time (removed when it stops unless kept), with the embedded store whatever
`TIMETRAIL_MONGODB_URI` says. So its account is always new and the credentials it prints work,
and the emulator's org (which lives in memory, one per run) always matches what the store holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web

from .accounts import Accounts
from .app import create_app
from .services import CALLBACK_PATH
from .settings import Settings
from .startup import StartupError, listening_socket, port_error
from .store import open_store

log = logging.getLogger(__name__)

DEMO_EMAIL = "admin@demo.example"
DEMO_PASSWORD = "timetrail-demo"
DEMO_LOGIN_PORT = 8443
DEMO_INSTANCE_PORT = 9443
EMULATOR_HOST = "127.0.0.1"


@dataclass(frozen=True)
class DemoPorts:
    """The emulator's two hosts (the server's port is in the settings)."""

    login: int = DEMO_LOGIN_PORT
    instance: int = DEMO_INSTANCE_PORT


def run_demo(settings: Settings, ports: DemoPorts, *, keep: bool) -> int:
    """Bind all three ports, then make the demo's data dir and serve until Ctrl-C. A busy port
    raises `StartupError` before anything is written."""
    from salesforce_emulator.runner import bind_loopback

    server = listening_socket(settings.host, settings.port)
    emulator: list[list[socket.socket]] = []
    try:
        for port, option in ((ports.login, "--login-port"), (ports.instance, "--instance-port")):
            try:
                emulator.append(bind_loopback(port))
            except OSError as error:
                raise port_error(error, EMULATOR_HOST, port, option) from None
    except StartupError:
        for sock in (server, *(s for group in emulator for s in group)):
            sock.close()
        raise
    data_dir = Path(tempfile.mkdtemp(prefix="timetrail-demo-"))
    demo = replace(settings, data_dir=data_dir, mongodb_uri=None, secret_key=None)
    try:
        return asyncio.run(_serve(demo, server, emulator))
    finally:
        if keep:
            print(f"The demo's data is kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


async def _serve(
    settings: Settings, server: socket.socket, emulator: list[list[socket.socket]]
) -> int:
    from salesforce_emulator.runner import running_emulator

    callback = settings.base_url + CALLBACK_PATH
    async with running_emulator(
        settings.data_dir, seed="demo", redirect_uris=[callback], sockets=emulator
    ) as emu:
        wired = replace(
            settings,
            salesforce_client_id=emu.client_id,
            salesforce_client_secret=emu.client_secret,
            salesforce_login_url=emu.login_url,
            salesforce_ca_bundle=emu.ca_file,
        )
        token = await _demo_account(wired)
        runner = web.AppRunner(create_app(wired), access_log=None)
        await runner.setup()
        await web.SockSite(runner, server).start()
        print(f"Timetrail demo on {wired.base_url}, its data in {wired.data_dir}")
        print(f"  sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}")
        print(f"  administrator token: {token}")
        print(f"  Salesforce emulator: login {emu.login_url}, instance {emu.instance_url}")
        print(f"  its CA certificate: {emu.ca_file} (curl --cacert it to play the browser)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        print("Ctrl-C stops both.", flush=True)
        await stop.wait()
        await runner.cleanup()
    return 0


async def _demo_account(settings: Settings) -> str:
    """Create the demo account on the demo's new store; returns its administrator's token."""
    store = await open_store(None, settings.data_dir)
    try:
        accounts = Accounts(store)
        _, _, token = await accounts.create_account("Demo", DEMO_EMAIL, "Demo Admin", DEMO_PASSWORD)
        return token
    finally:
        await store.close()
