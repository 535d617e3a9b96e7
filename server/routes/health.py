"""Liveness and store health."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from .registry import Call, Routes, json

log = logging.getLogger(__name__)
routes = Routes("health")


@routes.get(
    "/healthz", "Server and store health", auth=False, responses={200: "Health", 503: "Health"}
)
async def get_health(call: Call) -> web.StreamResponse:
    try:
        await asyncio.wait_for(call.services.store.ping(), timeout=5)
    except Exception as exc:  # any failure to reach the store is "unavailable"
        log.warning("Health check: store unreachable: %s", exc)
        return json({"status": "degraded", "store": "unreachable"}, status=503)
    return json({"status": "ok", "store": "ok"})
