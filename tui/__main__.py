"""`python -m tui [--server URL]`: the admin console."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="timetrail admin", description="The admin console.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server", help="the server's URL (default TIMETRAIL_SERVER_URL, then the saved one)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="never open a web browser to enable Salesforce"
    )


def run(args: argparse.Namespace) -> int:
    from .app import AdminApp

    AdminApp(server_url=args.server, open_browser=not args.no_browser).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
