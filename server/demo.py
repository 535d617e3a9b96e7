"""`timetrail demo`: the server and the local Salesforce emulator, seeded with a sample org and
wired together in one process, for trying Timetrail without a Salesforce org."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import replace

from aiohttp import web

from .accounts import Accounts
from .app import create_app
from .services import CALLBACK_PATH
from .settings import Settings
from .store import open_store

log = logging.getLogger(__name__)

DEMO_EMAIL = "admin@demo.example"
DEMO_PASSWORD = "timetrail-demo"


async def run_demo(settings: Settings, login_port: int, instance_port: int) -> int:
    from salesforce_emulator.runner import running_emulator

    callback = settings.base_url + CALLBACK_PATH
    async with running_emulator(
        settings.data_dir,
        seed="demo",
        redirect_uris=[callback],
        login_port=login_port,
        instance_port=instance_port,
    ) as emu:
        wired = replace(
            settings,
            salesforce_client_id=emu.client_id,
            salesforce_client_secret=emu.client_secret,
            salesforce_login_url=emu.login_url,
            salesforce_ca_bundle=emu.ca_file,
        )
        token = await _first_account(wired)
        runner = web.AppRunner(create_app(wired), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, wired.host, wired.port).start()
        print(f"Timetrail demo on {wired.base_url}")
        print(f"  sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}")
        if token:
            print(f"  administrator token: {token}")
        print(f"  Salesforce emulator: login {emu.login_url}, instance {emu.instance_url}")
        print(f"  its CA certificate: {emu.ca_file} (curl --cacert it to play the browser)")
        print("Ctrl-C stops both.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await runner.cleanup()
    return 0


async def _first_account(settings: Settings) -> str | None:
    """Create the demo account on an empty store; returns its administrator's token."""
    store = await open_store(settings.mongodb_uri, settings.data_dir)
    try:
        accounts = Accounts(store)
        if await accounts.has_accounts():
            return None
        _, _, token = await accounts.create_account("Demo", DEMO_EMAIL, "Demo Admin", DEMO_PASSWORD)
        return token
    finally:
        await store.close()
