"""Which certificates the server trusts for the Salesforce hosts.

The system's trust store, plus the PEM file of `TIMETRAIL_SALESFORCE_CA_BUNDLE` when set (a
company proxy, or the local emulator). The same trust is handed to both HTTP clients explicitly:
httpx (authlib) gets an SSL context, requests (simple-salesforce) gets a bundle path on a session
with `trust_env = False`, so `REQUESTS_CA_BUNDLE` and friends in the environment cannot override it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import certifi

from ..datadir import private_dir, write_private


@dataclass(frozen=True)
class Trust:
    extra_ca: Path | None
    bundle: str  # a PEM file: the system's CAs plus the extra ones

    @classmethod
    def build(cls, extra_ca: Path | None, data_dir: Path) -> Trust:
        if extra_ca is None:
            return cls(None, certifi.where())
        if not extra_ca.is_file():
            raise ValueError(f"TIMETRAIL_SALESFORCE_CA_BUNDLE: no such file: {extra_ca}")
        combined = private_dir(data_dir) / "salesforce-ca-bundle.pem"
        write_private(combined, Path(certifi.where()).read_text() + "\n" + extra_ca.read_text())
        return cls(extra_ca, str(combined))

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.bundle)
