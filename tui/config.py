"""Where the console keeps its sign-in: a JSON file readable by its owner only."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_config_dir

CONFIG_DIR_ENV = "TIMETRAIL_ADMIN_CONFIG_DIR"
SERVER_URL_ENV = "TIMETRAIL_SERVER_URL"
DEFAULT_SERVER_URL = "http://127.0.0.1:8080"
FILE_NAME = "admin.json"


@dataclass(frozen=True)
class Saved:
    server_url: str | None = None
    token: str | None = None


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(user_config_dir("timetrail"))


def config_file() -> Path:
    return config_dir() / FILE_NAME


def load() -> Saved:
    try:
        data = json.loads(config_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Saved()
    if not isinstance(data, dict):
        return Saved()
    url, token = data.get("server_url"), data.get("token")
    return Saved(url if isinstance(url, str) else None, token if isinstance(token, str) else None)


def save(saved: Saved) -> None:
    """Write the file with owner-only permissions (0700 folder, 0600 file) from the start."""
    folder = config_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / FILE_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"server_url": saved.server_url, "token": saved.token}, out)
    path.chmod(0o600)


def forget_token() -> None:
    saved = load()
    if saved.token is not None:
        save(Saved(saved.server_url, None))


def server_url(flag: str | None) -> str:
    """The server to use: the flag, then the environment, then the saved one, then the default."""
    return flag or os.environ.get(SERVER_URL_ENV) or load().server_url or DEFAULT_SERVER_URL
