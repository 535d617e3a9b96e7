"""What a command checks before it writes anything: that it can listen where it is told to and
that its data dir is writable. Each failure is a `StartupError` with one line for the terminal."""

from __future__ import annotations

import errno
import socket
import tempfile
from pathlib import Path

from .datadir import private_dir


class StartupError(Exception):
    """Why the command cannot start, in one line for the terminal."""


def check_data_dir(path: Path) -> None:
    """The embedded store, the secret key and the CA bundle live in the data dir: it must be
    writable before anything starts."""
    try:
        private_dir(path)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise StartupError(
            f"the data dir {path} is not writable ({error.strerror or error}); set "
            "TIMETRAIL_DATA_DIR to a folder this user can write."
        ) from None


def listening_socket(
    host: str, port: int, *, choose: str = "--port or TIMETRAIL_PORT"
) -> socket.socket:
    """A socket listening on host:port, or a `StartupError` that says why not and names the
    option (`choose`) that picks another port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise StartupError(f"cannot listen on {host}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise port_error(error, host, port, choose) from None
    sock.setblocking(False)
    return sock


def port_error(error: OSError, host: str, port: int, choose: str) -> StartupError:
    """The one line for a failed bind to host:port."""
    if error.errno == errno.EADDRINUSE:
        return StartupError(
            f"port {port} on {host} is already in use (another Timetrail server?); choose "
            f"another with {choose}."
        )
    return StartupError(f"cannot listen on {host}:{port} ({error.strerror})")
