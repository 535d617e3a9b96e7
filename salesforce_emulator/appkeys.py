"""Typed application keys shared by the emulator's apps."""

from __future__ import annotations

from aiohttp import web

from .emulator import Emulator
from .rest import RestApi

EMULATOR = web.AppKey("emulator", Emulator)
REST_API = web.AppKey("rest_api", RestApi)
