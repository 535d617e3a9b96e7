"""The `timetrail` command line: serve, init, account create, demo, admin."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from .accounts import Accounts, normalize_password
from .app import create_app
from .demo import DEMO_INSTANCE_PORT, DEMO_LOGIN_PORT, DemoPorts, run_demo
from .errors import ApiError
from .settings import Settings, SettingsError
from .startup import StartupError, check_data_dir, listening_socket
from .store import StoreError, open_store

log = logging.getLogger("timetrail")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timetrail", description="Timetrail: time tracking for teams that work in Salesforce."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="start the server")
    serve.add_argument("--host", help="listen address (default TIMETRAIL_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default TIMETRAIL_PORT or 8080)")

    def account_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--account", required=True, help="the organisation's name")
        p.add_argument("--email", required=True, help="the administrator's email")
        p.add_argument("--name", required=True, help="the administrator's name")
        p.add_argument("--password", help="the administrator's password (prompted if absent)")

    account_arguments(
        commands.add_parser("init", help="create the first account and its administrator")
    )
    demo = commands.add_parser(
        "demo",
        help="the server and a local Salesforce emulator with a sample org, wired together",
        description=(
            "The server and a local Salesforce emulator with a sample org, wired together in "
            "one process, on a data dir of its own: a new temporary folder each time (never "
            "TIMETRAIL_DATA_DIR nor TIMETRAIL_MONGODB_URI), removed when the demo stops unless "
            "--keep is given. It prints how to sign in."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument(
        "--host", help="listen address (default TIMETRAIL_HOST or 127.0.0.1)", default=None
    )
    demo.add_argument(
        "--port", type=int, help="listen port (default TIMETRAIL_PORT or 8080)", default=None
    )
    demo.add_argument(
        "--login-port", type=int, default=DEMO_LOGIN_PORT, help="the emulator's login host"
    )
    demo.add_argument(
        "--instance-port", type=int, default=DEMO_INSTANCE_PORT, help="the emulator's instance"
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="keep the demo's data dir when it stops (it prints where it is)",
    )

    admin = commands.add_parser("admin", help="the admin console (a terminal UI)")
    _admin_arguments(admin)

    account = commands.add_parser("account", help="manage accounts")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    account_arguments(account_commands.add_parser("create", help="add a further, isolated account"))
    return parser


def _admin_arguments(parser: argparse.ArgumentParser) -> None:
    # Imported here so that the server never imports the console (nor Textual).
    from tui.__main__ import add_arguments

    add_arguments(parser)


def _password(given: str | None) -> str:
    """The password as given, piped (its first line) or typed, normalised as the API does."""
    if given is not None:
        return normalize_password(given)
    if not sys.stdin.isatty():
        return normalize_password(sys.stdin.readline())
    first = getpass.getpass("Administrator password: ")
    if normalize_password(getpass.getpass("Repeat it: ")) != normalize_password(first):
        raise SystemExit("The passwords differ.")
    return normalize_password(first)


async def _create_account(settings: Settings, args: argparse.Namespace, first: bool) -> int:
    store = await open_store(settings.mongodb_uri, settings.data_dir)
    try:
        accounts = Accounts(store)
        if first and await accounts.has_accounts():
            print(
                "This store already has an account; `timetrail init` only sets up an empty one. "
                "Use `timetrail account create` to add another account.",
                file=sys.stderr,
            )
            return 1
        try:
            account, user, token = await accounts.create_account(
                args.account, args.email, args.name, _password(args.password)
            )
        except ApiError as error:
            print(f"Error: {error.message}", file=sys.stderr)
            return 1
    finally:
        await store.close()
    print(f"Created account {account['name']!r} ({account['_id']})")
    print(f"Administrator: {user['email']} ({user['_id']})")
    print("Token (shown once; use it as 'Authorization: Bearer <token>'):")
    print(token)
    return 0


# A server's objects mostly live as long as it does (the store's indexes and caches, the tree
# index) or for one request. With the collector's default thresholds it ran every ~700
# allocations (a request or two) and walked the whole long-lived heap every few seconds under
# load (~30 ms each at 20,000 tasks): what start-up loaded is frozen out of its sight, and it
# runs less often. Cycles are rare here; reference counting frees the rest.
GC_THRESHOLDS = (50_000, 20, 100)


async def _freeze_what_startup_loaded(app: web.Application) -> None:
    gc.collect()
    gc.freeze()


def _serving(app: web.Application) -> web.Application:
    gc.set_threshold(*GC_THRESHOLDS)
    app.on_startup.append(_freeze_what_startup_loaded)  # after the store and indexes load
    return app


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "admin":
        from tui.__main__ import run

        return run(args)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # A line per outgoing HTTP request is noise at INFO.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    # APScheduler narrates adding and running its one job at INFO; its warnings still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    # What the server writes (store, keys, CA bundle) is for its own user from the first byte.
    os.umask(0o077)
    try:
        if args.command == "serve":
            settings = settings.with_listen(args.host, args.port)
            # Bound before the store opens: a busy port changes nothing on disk.
            sock = listening_socket(settings.host, settings.port)
            check_data_dir(settings.data_dir)
            web.run_app(_serving(create_app(settings)), sock=sock, access_log=None)
            return 0
        if args.command == "demo":
            settings = settings.with_listen(args.host, args.port)
            ports = DemoPorts(args.login_port, args.instance_port)
            return run_demo(settings, ports, keep=args.keep)
        check_data_dir(settings.data_dir)
        if args.command == "init":
            return asyncio.run(_create_account(settings, args, first=True))
        if args.command == "account":
            return asyncio.run(_create_account(settings, args, first=False))
    except (StoreError, StartupError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    raise AssertionError(args.command)  # pragma: no cover
