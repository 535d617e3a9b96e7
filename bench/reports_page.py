"""The web Reports page's CPU in one process, against the API report it is built on.

Opens a data directory `bench/api.py --keep` seeded (a year of 50,000 entries; the server must
not be running on it: the embedded store admits one process at a time), signs in on the web
pages as its administrator and asks, in this process, through aiohttp's test client:

- `report`: `Reports.tables` alone, with the page's groupings and arguments (the API's part);
- `page`: `GET /reports` over the same year as `bench/api.py` opens it (tables and charts).

Each figure is CPU time (`time.process_time`, so other processes on the machine do not count)
per call, the median and the best of `--repeats` calls after one warm-up; `page - report` is
what the page adds. `--profile [tottime]` prints where a page's time goes (cProfile; its
overhead inflates the figures). It never asserts on time.

    python bench/api.py --only reports --keep --duration 1     # prints the kept folder
    python bench/reports_page.py KEPT_FOLDER/data
    python bench/reports_page.py KEPT_FOLDER/data --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import processes
from aiohttp.test_utils import TestClient, TestServer

from server import clock
from server.app import create_app
from server.appkeys import SERVICES
from server.reports import DAY_PROJECT, GROUPINGS
from server.settings import Settings
from server.web import charts
from server.web.session import COOKIE, CSRF_FIELD


async def sign_in(client: TestClient[Any, Any]) -> str:
    async with client.get("/") as resp:
        text = await resp.text()
    token = text.split(f'name="{CSRF_FIELD}" value="', 1)[1].split('"', 1)[0]
    form = {"email": processes.ADMIN_EMAIL, "password": processes.PASSWORD, CSRF_FIELD: token}
    async with client.post("/signin", data=form, allow_redirects=False) as resp:
        assert resp.status == 303, f"sign-in: HTTP {resp.status}"
        return resp.cookies[COOKIE].value


async def cpu(call: Callable[[], Awaitable[Any]], repeats: int) -> list[float]:
    """CPU seconds of each of `repeats` calls, after one unmeasured."""
    await call()
    spent = []
    for _ in range(repeats):
        started = time.process_time()
        await call()
        spent.append(time.process_time() - started)
    return spent


async def measure(data_dir: Path, repeats: int, profile: str | None) -> None:
    app = create_app(Settings(data_dir=data_dir))
    async with TestClient(TestServer(app)) as client:
        headers = {"Cookie": f"{COOKIE}={await sign_in(client)}"}
        services = app[SERVICES]
        token, _ = await services.accounts.login(processes.ADMIN_EMAIL, processes.PASSWORD)
        caller = await services.accounts.authenticate(token)
        zone = await services.account_settings.time_zone(caller.account_id)
        today = clock.now().astimezone(zone).date()
        first, last = today - dt.timedelta(days=365), today
        start = dt.datetime.combine(first, dt.time(), zone)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
        params = {"from": first.isoformat(), "to": last.isoformat()}
        size = 0

        async def report() -> None:
            await services.reports.tables(
                caller,
                start,
                end,
                (*GROUPINGS, DAY_PROJECT),
                None,
                zone=zone,
                projects_apart=charts.COLOURS,
            )

        async def page() -> None:
            nonlocal size
            async with client.get("/reports", params=params, headers=headers) as resp:
                assert resp.status == 200, f"/reports: HTTP {resp.status}"
                size = len(await resp.read())

        if profile:
            await page()
            profiler = cProfile.Profile()
            profiler.enable()
            await page()
            profiler.disable()
            pstats.Stats(profiler).sort_stats(profile).print_stats(45)
            return
        figures = {"report": await cpu(report, repeats), "page": await cpu(page, repeats)}
        print(f"{first} to {last} ({zone}), page {size:,} bytes; CPU ms, {repeats} calls each:")
        for name, spent in figures.items():
            print(
                f"  {name:<14} median {statistics.median(spent) * 1000:6.1f}"
                f"  best {min(spent) * 1000:6.1f}"
            )
        added = statistics.median(figures["page"]) - statistics.median(figures["report"])
        print(f"  {'page - report':<14} median {added * 1000:6.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("data_dir", type=Path, help="a data directory bench/api.py --keep left")
    parser.add_argument("--repeats", type=int, default=15, help="measured calls (default 15)")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="cumulative",
        choices=("cumulative", "tottime"),
        help="cProfile one page instead, sorted so (default cumulative)",
    )
    args = parser.parse_args(argv)
    asyncio.run(measure(args.data_dir, max(1, args.repeats), args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
