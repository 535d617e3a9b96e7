"""Helpers the benchmark scripts share: which code is measured, free local ports."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def code_version() -> str:
    """The commit measured, and any uncommitted changes to the server (read-only git calls)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--", "server"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split("\n")
    except OSError:
        return "unknown (no git)"
    changed = [line[3:] for line in status if line.strip()]
    if not changed:
        return f"{head or 'unknown'}"
    return f"{head} with uncommitted changes to {', '.join(changed)}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port
