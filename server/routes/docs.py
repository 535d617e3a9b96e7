"""The machine-readable API description."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import OPENAPI
from .registry import Call, Routes, json

routes = Routes("docs")


@routes.get("/api/v1/openapi.json", "This OpenAPI 3.1 document", auth=False, responses={200: None})
async def get_openapi(call: Call) -> web.StreamResponse:
    return json(call.request.app[OPENAPI])
