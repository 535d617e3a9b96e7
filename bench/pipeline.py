"""The server's CPU per request for timer start + stop pairs, in one process, without sockets.

The real application (`create_app`, the embedded store in a temporary data directory, one account
and its administrator's token) gets raw HTTP/1.1 requests through aiohttp's own request handler
over an in-memory transport: no client, no kernel, so the CPU this process spends is the server's.
Three runs, each the best of `--repeats` batches of `--pairs` pairs, in µs of CPU per request:

- `pairs`: `POST /api/v1/timer/start` + `POST /api/v1/timer/stop` as `bench/api.py` sends them;
- `pipeline`: the same requests with the two timer handlers answering a constant entry at once:
  what every API request costs before and after its handler (routing, middlewares, the body,
  the bearer token, validation, the response and its headers);
- `bare`: a bare aiohttp app answering the same requests, on the same harness (aiohttp's own
  share).

One request at a time, so the embedded store commits once per request (under load it commits in
groups): compare runs of this script, not these figures with `bench/api.py`'s. It never asserts
on time.

    python bench/pipeline.py                  # ~1 minute
    python bench/pipeline.py --pairs 300 --repeats 2   # a quick smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from argon2 import PasswordHasher

from server import security
from server.app import create_app
from server.appkeys import SERVICES
from server.routes import timer
from server.routes.registry import Call, Endpoint, json
from server.settings import Settings

START, STOP = "/api/v1/timer/start", "/api/v1/timer/stop"


class Transport(asyncio.Transport):
    """Keeps what the server writes; `answer` waits for one whole response."""

    def __init__(self) -> None:
        super().__init__()
        self._written = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._written += data
        if self._waiter is not None and not self._waiter.done() and self._complete():
            self._waiter.set_result(None)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _complete(self) -> bool:
        head, found, body = bytes(self._written).partition(b"\r\n\r\n")
        if not found:
            return False
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return len(body) >= int(value)
        return True

    async def answer(self) -> bytes:
        if not self._complete():
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        answer = bytes(self._written)
        self._written.clear()
        return answer

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return True


def raw_request(path: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection:
    """One keep-alive connection to an application, in memory."""

    def __init__(self, handler: RequestHandler, transport: Transport) -> None:
        self._handler, self._transport = handler, transport

    @classmethod
    async def to(cls, app: web.Application) -> tuple[Connection, web.AppRunner]:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        assert runner.server is not None
        transport = Transport()
        handler = runner.server()
        handler.connection_made(transport)
        return cls(handler, transport), runner

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        self._handler.data_received(raw)
        answer = await self._transport.answer()
        status = int(answer.split(b" ", 2)[1])
        return status, answer.partition(b"\r\n\r\n")[2]

    def close(self) -> None:
        self._handler.connection_lost(None)


async def cpu_per_request(
    connection: Connection, start: bytes, stop: bytes, pairs: int, repeats: int
) -> float:
    async def batch(n: int) -> None:
        for _ in range(n):
            status, body = await connection.send(start)
            assert status == 201, body
            status, body = await connection.send(stop)
            assert status == 200, body

    await batch(max(pairs // 10, 10))  # warm up
    best = float("inf")
    for _ in range(repeats):
        began = time.process_time()
        await batch(pairs)
        best = min(best, time.process_time() - began)
    return best / (2 * pairs) * 1e6


def answering_at_once(endpoints: list[Endpoint]) -> list[Endpoint]:
    """The timer's endpoints, their handlers answering a constant entry without any work."""
    entry = {"id": "0" * 24, "task_id": "1" * 24, "note": "bench", "running": True}

    async def start(call: Call) -> web.StreamResponse:
        return json({"entry": entry, "stopped": None}, status=201)

    async def stop(call: Call) -> web.StreamResponse:
        return json({"entry": entry})

    handlers = {START: start, STOP: stop}
    return [
        dataclasses.replace(e, handler=handlers[e.path]) if e.path in handlers else e
        for e in endpoints
    ]


def bare_app() -> web.Application:
    async def timer_like(request: web.Request) -> web.Response:
        await request.read()
        status = 201 if request.path == START else 200
        return web.Response(body=b'{"entry":{}}', status=status, content_type="application/json")

    app = web.Application()
    app.router.add_post(START, timer_like)
    app.router.add_post(STOP, timer_like)
    return app


async def measure_app(data_dir: Path, pairs: int, repeats: int) -> float:
    """The pairs against the real application on a new data directory."""
    app = create_app(Settings(data_dir=data_dir))
    connection, runner = await Connection.to(app)
    try:
        accounts = app[SERVICES].accounts
        token = (await accounts.create_account("Acme", "admin@acme.test", "Ada", "password"))[2]
        status, body = await connection.send(raw_request("/api/v1/tasks", token, b'{"name":"P"}'))
        assert status == 201, body
        task = orjson.loads(body)["id"]
        start = raw_request(START, token, orjson.dumps({"task_id": task, "note": "bench"}))
        stop = raw_request(STOP, token, b"{}")
        return await cpu_per_request(connection, start, stop, pairs, repeats)
    finally:
        connection.close()
        await runner.cleanup()


async def main(pairs: int, repeats: int) -> None:
    # Sign-in is not measured: cheap Argon2 parameters keep the set-up quick.
    security.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures["pairs"] = await measure_app(Path(tmp) / "pairs", pairs, repeats)
        real = timer.routes.endpoints[:]
        timer.routes.endpoints[:] = answering_at_once(real)
        try:
            figures["pipeline"] = await measure_app(Path(tmp) / "pipeline", pairs, repeats)
        finally:
            timer.routes.endpoints[:] = real
    connection, runner = await Connection.to(bare_app())
    try:
        start, stop = raw_request(START, "-", b"{}"), raw_request(STOP, "-", b"{}")
        figures["bare"] = await cpu_per_request(connection, start, stop, pairs, repeats)
    finally:
        connection.close()
        await runner.cleanup()
    print(f"server CPU per request, best of {repeats} x {pairs} pairs (µs):")
    for name, us in figures.items():
        print(f"  {name:9s} {us:7.1f}")
    print(f"  our pipeline beyond bare aiohttp: {figures['pipeline'] - figures['bare']:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.pairs, args.repeats))
