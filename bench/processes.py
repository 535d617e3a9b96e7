"""Helpers the benchmark scripts share: which code is measured, free local ports, the
processes they start (CPU time, memory, a clean stop)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The administrator every benchmark creates.
ADMIN_EMAIL = "admin@bench.test"
PASSWORD = "bench-password-1"
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


def memory_kb(pid: int | str) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in kB, from /proc/PID/status."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


@dataclass
class Process:
    """A process a benchmark started, its output in `log`."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return math.nan
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_kb(self) -> dict[str, int]:
        return memory_kb(self.pid)

    def stop(self, timeout: float = 30.0) -> None:
        if self.popen.poll() is not None:
            return
        # aiohttp's run_app and the emulator shut down cleanly on it (and cProfile saves).
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)


async def wait_healthy(
    process: Process, answers: Callable[[], Awaitable[bool]], give_up_after: float
) -> float:
    """Seconds until `answers()` (a health check) is true; raises if the process exits first or
    the time runs out."""
    started = time.perf_counter()
    while True:
        if process.popen.poll() is not None:
            raise RuntimeError(
                f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}"
            )
        if await answers():
            return time.perf_counter() - started
        if time.perf_counter() - started > give_up_after:
            raise RuntimeError(f"{process.name} not healthy after {give_up_after:.0f} s")
        await asyncio.sleep(0.1)


@contextlib.contextmanager
def scratch(prefix: str, keep: bool) -> Iterator[Path]:
    """A folder for a benchmark's data and logs, removed at the end unless `keep` (then its
    path is printed); a benchmark that ends normally prints how long it took in all."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    started = time.perf_counter()
    try:
        yield workdir
    finally:
        if keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"Total {time.perf_counter() - started:.0f} s")


def init_account(env: dict[str, str]) -> str:
    """`python -m server init` with this environment: the account and its administrator;
    returns the administrator's token."""
    command = [sys.executable, "-m", "server", "init", "--account", "Bench"]
    command += ["--email", ADMIN_EMAIL, "--name", "Admin", "--password", PASSWORD]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"timetrail init failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]
