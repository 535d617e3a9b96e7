"""Typed application keys, declared in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from .services import Services
from .settings import Settings
from .store import Store

SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
# How the app gets its store: the embedded/MongoDB opener in production, mongomock in tests.
STORE_FACTORY: web.AppKey[Callable[[], Awaitable[Store]]] = web.AppKey("store_factory")
OPENAPI = web.AppKey("openapi", dict)
