"""The data dir holds the store, the secret key and the Salesforce CA bundle: only the user the
server runs as may enter it (0700) or read what is in it (0600)."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) for its owner alone, or tighten it if it exists and
    is ours (a folder someone else owns is left as its owner set it)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(DIR_MODE)
    return path


def private_files(path: Path) -> None:
    """Owner-only modes on every folder and file below `path` that this user owns (what an
    engine created with the process's umask)."""
    for entry in (path, *path.rglob("*")):
        if entry.is_symlink():
            continue
        info = entry.stat()
        if info.st_uid != os.getuid():
            continue
        wanted = DIR_MODE if entry.is_dir() else FILE_MODE
        if info.st_mode & 0o777 != wanted and info.st_mode & 0o077:
            entry.chmod(wanted)


def write_private(path: Path, text: str) -> None:
    """Write a file that is owner-only from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, FILE_MODE)  # an older file keeps its mode through O_TRUNC
