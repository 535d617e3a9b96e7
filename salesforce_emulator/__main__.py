"""``python -m salesforce_emulator``: serve a seeded emulator until Ctrl-C (SIGINT) or SIGTERM.

    python -m salesforce_emulator --seed demo --login-port 8443 --instance-port 9443 \\
        --ca-file /tmp/sf-ca.pem [--sandbox --sandbox-login-port 8444]

prints the login URL (and the sandbox login URL with ``--sandbox``), the instance URL, the
connected app's client id and secret, and where the CA certificate is (point
``TIMETRAIL_SALESFORCE_CA_BUNDLE`` at it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tempfile
from pathlib import Path

from .emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Seed
from .runner import CA_FILE_NAME, running_emulator
from .seeding import SeedSpec


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m salesforce_emulator",
        description="A local Salesforce stand-in (OAuth, REST query/queryAll, replication) "
        "over HTTPS, for tests and the demo.",
    )
    parser.add_argument(
        "--seed",
        default="demo",
        help="'demo' (a small realistic org), 'empty' (users only) or counts such as "
        "'opportunities=20000,cases=20000,activities=100000'",
    )
    parser.add_argument(
        "--api-disabled-user", action="store_true", help="add a user without API access"
    )
    parser.add_argument("--login-port", type=int, default=0, help="login host port (0: a free one)")
    parser.add_argument(
        "--instance-port", type=int, default=0, help="instance host port (0: a free one)"
    )
    parser.add_argument(
        "--ca-file",
        type=Path,
        default=Path(tempfile.gettempdir()) / CA_FILE_NAME,
        help="where to write the CA certificate (PEM)",
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="serve a sandbox login host (test.salesforce.com's part) too",
    )
    parser.add_argument(
        "--sandbox-login-port",
        type=int,
        default=0,
        help="sandbox login host port, with --sandbox (0: a free one)",
    )
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="a callback URL the connected app accepts (repeatable; none: any is accepted)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def parse_seed(text: str) -> Seed:
    if text in ("demo", "empty"):
        return text
    counts: dict[str, int] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name.strip() not in SeedSpec.__dataclass_fields__ or not value.strip().isdigit():
            raise argparse.ArgumentTypeError(f"bad seed item {item!r}")
        counts[name.strip()] = int(value)
    return SeedSpec(**counts)  # type: ignore[arg-type]


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_emulator(
        seed=parse_seed(args.seed),
        api_disabled_user=args.api_disabled_user,
        ca_file=args.ca_file,
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uris=args.redirect_uri,
        login_port=args.login_port,
        instance_port=args.instance_port,
        sandbox=args.sandbox,
        sandbox_login_port=args.sandbox_login_port,
        access_log=args.access_log,
    ) as running:
        default_user = running.emulator.default_user["Username"]
        sandbox = (
            f"  sandbox login: {running.sandbox_login_url}\n" if running.sandbox_login_url else ""
        )
        print(
            "Salesforce emulator ready\n"
            f"  login URL:     {running.login_url}\n"
            f"{sandbox}"
            f"  instance URL:  {running.instance_url}\n"
            f"  client id:     {running.client_id}\n"
            f"  client secret: {running.client_secret}\n"
            f"  CA bundle:     {running.ca_file}\n"
            f"  signs in as:   {default_user}\n"
            f"  control API:   {running.control_url}/state\n"
            "Ctrl-C stops it.",
            flush=True,
        )
        await stop.wait()
    print("Salesforce emulator stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        parse_seed(args.seed)
    except argparse.ArgumentTypeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
