"""Configuration, read once from the environment at the entry point (see API.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

PREFIX = "TIMETRAIL_"


class SettingsError(ValueError):
    """A configuration value is malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("timetrail")))
    host: str = "127.0.0.1"
    port: int = 8080
    # Unset: derived from the listen address (see `base_url`).
    public_url: str | None = None
    secret_key: str | None = None
    salesforce_client_id: str | None = None
    salesforce_client_secret: str | None = None
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_sandbox_login_url: str = "https://test.salesforce.com"
    salesforce_ca_bundle: Path | None = None
    salesforce_api_version: str = "66.0"
    sync_interval_seconds: int = 3600
    # A bearer token unused this long is refused.
    token_idle_days: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(PREFIX + name)
            return value if value not in (None, "") else None

        def get_int(name: str, default: int, minimum: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{PREFIX}{name} must be an integer, not {raw!r}") from None
            if value < minimum:
                raise SettingsError(f"{PREFIX}{name} must be at least {minimum}")
            return value

        defaults = cls()
        port = get_int("PORT", defaults.port, 0)
        if port > 65535:
            raise SettingsError(f"{PREFIX}PORT must be a TCP port (0-65535)")
        data_dir = get("DATA_DIR")
        ca_bundle = get("SALESFORCE_CA_BUNDLE")
        return cls(
            mongodb_uri=get("MONGODB_URI"),
            data_dir=Path(data_dir).expanduser() if data_dir else defaults.data_dir,
            host=get("HOST") or defaults.host,
            port=port,
            public_url=(get("PUBLIC_URL") or "").rstrip("/") or None,
            secret_key=get("SECRET_KEY"),
            salesforce_client_id=get("SALESFORCE_CLIENT_ID"),
            salesforce_client_secret=get("SALESFORCE_CLIENT_SECRET"),
            salesforce_login_url=(get("SALESFORCE_LOGIN_URL") or defaults.salesforce_login_url),
            salesforce_sandbox_login_url=(
                get("SALESFORCE_SANDBOX_LOGIN_URL") or defaults.salesforce_sandbox_login_url
            ),
            salesforce_ca_bundle=Path(ca_bundle).expanduser() if ca_bundle else None,
            salesforce_api_version=get("SALESFORCE_API_VERSION") or defaults.salesforce_api_version,
            sync_interval_seconds=get_int(
                "SYNC_INTERVAL_SECONDS", defaults.sync_interval_seconds, 1
            ),
            token_idle_days=get_int("TOKEN_IDLE_DAYS", defaults.token_idle_days, 1),
        )

    @property
    def base_url(self) -> str:
        """The server's public base URL: `TIMETRAIL_PUBLIC_URL`, or where it listens."""
        return self.public_url or f"http://{self.host}:{self.port}"

    def with_listen(self, host: str | None, port: int | None) -> Settings:
        """Command-line flags win over the environment."""
        return replace(
            self,
            host=host if host is not None else self.host,
            port=port if port is not None else self.port,
        )
