"""The timer pairs' floor on our store, for `bench/api.py`: a bare aiohttp app that does only what
a timer start or stop cannot skip, through the server's own embedded store.

- the caller is whoever the bearer token names (a dictionary: no hashing, no sign-in expiry);
- a start reads the caller's running timer by its unique key, stops it if one runs, and inserts
  the new entry; a stop reads it and sets its end: the same writes as the server's, on a copy
  of the benchmark's data directory (the same entries and indexes);
- the answer leaves once the store's group commit has made the write durable, as the
  server's does, and is a body of the size of the server's.

Nothing else: no validation, permission check, idempotency, middleware, view or security
header. Between this and the bare POST handler lies what the store costs; between the server
and this, what the server's request pipeline and domain cost.

Usage: TIMETRAIL_DATA_DIR=<a copy of a data dir> python bench/store_floor.py HOST PORT
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from server import clock
from server.ids import new_id
from server.store import Store, open_embedded

STORE: web.AppKey[Store] = web.AppKey("store", Store)
TIMER_OF = "timer_of"
# What the server answers, in size (`bench/api.py` TIMER_LIKE_BODY).
ENTRY = {
    "task": {"id": "6b088eb6aea19e610654f2f3", "name": "Contract review", "path": ["Acme"]},
    "duration": 0,
    "source": "api",
}
users: dict[str, str] = {}


def caller(request: web.Request) -> str:
    token = request.headers.get("Authorization", "").partition(" ")[2]
    if not token:
        raise web.HTTPUnauthorized()
    return users.setdefault(token, new_id())


def view(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        **ENTRY,
        "id": entry["_id"],
        "user_id": entry["user_id"],
        "task_id": entry["task_id"],
        "start": clock.iso(entry["start"]),
        "end": clock.iso(entry["end"]),
        "note": entry["note"],
    }


async def stop_running(store: Store, user: str) -> dict[str, Any] | None:
    running = await store.entries.find_one({TIMER_OF: user})
    if running is None:
        return None
    return await store.entries.find_one_and_update(
        {"_id": running["_id"], TIMER_OF: user},
        {"$set": {"end": clock.now()}, "$unset": {TIMER_OF: ""}},
    )


async def start(request: web.Request) -> web.Response:
    store, user = request.app[STORE], caller(request)
    body = orjson.loads(await request.read())
    stopped = await stop_running(store, user)
    entry = {
        "_id": new_id(),
        "account_id": "bench",
        "user_id": user,
        "task_id": body["task_id"],
        "start": clock.now(),
        "end": None,
        "note": body.get("note", ""),
        "source": "api",
        TIMER_OF: user,
    }
    await store.entries.insert_one(entry)
    await store.durable()
    answer = {"entry": view(entry), "stopped": view(stopped) if stopped else None}
    return web.Response(body=orjson.dumps(answer), status=201, content_type="application/json")


async def stop(request: web.Request) -> web.Response:
    store, user = request.app[STORE], caller(request)
    await request.read()
    stopped = await stop_running(store, user)
    if stopped is None:
        raise web.HTTPConflict()
    await store.durable()
    answer = {"entry": view(stopped)}
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def store_ctx(app: web.Application) -> Any:
    app[STORE] = await open_embedded(Path(os.environ["TIMETRAIL_DATA_DIR"]))
    yield
    await app[STORE].close()


def main() -> None:
    app = web.Application()
    app.cleanup_ctx.append(store_ctx)
    app.router.add_post("/api/v1/timer/start", start)
    app.router.add_post("/api/v1/timer/stop", stop)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=sys.argv[1], port=int(sys.argv[2]), access_log=None, print=None)


if __name__ == "__main__":
    main()
