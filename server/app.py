"""The one place that builds the application (used by `timetrail serve` and by every test)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from . import headers, openapi
from . import web as pages
from .appkeys import OPENAPI, SERVICES, SETTINGS, STORE_FACTORY
from .keys import load_secret_key
from .middlewares import errors_to_json
from .routes import ALL
from .routes.registry import Endpoint, register
from .services import Services
from .settings import Settings
from .store import Store, open_store
from .validation import MAX_BODY_BYTES

log = logging.getLogger(__name__)


def endpoints() -> list[Endpoint]:
    return [e for table in ALL for e in table.endpoints]


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = await app[STORE_FACTORY]()
    services = app[SERVICES] = Services.build(app[SETTINGS], store)
    log.info("Store ready (%s)", store.backend)
    await services.tracking.adopt_old_timers()
    await services.tree.finish_moves()
    services.tree.load_indexes()
    services.scheduler.start()
    sweep = asyncio.create_task(services.tracking.sweep_forever())
    yield
    sweep.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweep
    services.scheduler.shutdown()
    await services.tree.close()
    await services.syncs.close()
    await store.close()


def create_app(
    settings: Settings, store_factory: Callable[[], Awaitable[Store]] | None = None
) -> web.Application:
    # The secret key is read (or made) once, here: the Salesforce tokens' cipher and the web
    # pages' session cookies each derive their own key from it.
    secret = load_secret_key(settings.secret_key, settings.data_dir)
    settings = dataclasses.replace(settings, secret_key=secret)
    app = web.Application(middlewares=[errors_to_json], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[STORE_FACTORY] = store_factory or (
        lambda: open_store(settings.mongodb_uri, settings.data_dir)
    )
    app.cleanup_ctx.append(_store_ctx)
    headers.install(app)
    all_endpoints = endpoints()
    register(app, all_endpoints)
    pages.install(app, secret, settings.base_url)
    app[OPENAPI] = openapi.build(all_endpoints)
    return app
