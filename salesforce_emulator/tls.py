"""TLS for the emulator's two host names: a throwaway certificate authority (trustme) and one
server certificate valid for ``localhost``, ``127.0.0.1`` and ``::1``.

Clients trust the emulator by trusting the CA's PEM file (``write_ca``), e.g. through
``TIMETRAIL_SALESFORCE_CA_BUNDLE`` or ``requests``' ``verify=``.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

HOST_NAMES = ("localhost", "127.0.0.1", "::1")


class EmulatorTls:
    def __init__(self) -> None:
        self._ca = trustme.CA(organization_name="Timetrail Salesforce emulator")
        self._certificate = self._ca.issue_cert(*HOST_NAMES)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._certificate.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the emulator (and nothing else)."""
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    def write_ca(self, path: Path) -> Path:
        """Write the CA certificate (PEM) where clients will read it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._ca.cert_pem.write_to_path(str(path))
        return path
