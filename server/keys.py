"""The server's secret key and what it protects (Salesforce tokens at rest, the web pages' session
cookies): each use gets its own key, derived from the one secret (`derive_key`).

`TIMETRAIL_SECRET_KEY` wins; otherwise a key is generated once into the data dir with owner-only
permissions. Servers that share one MongoDB must share the key: set the variable on all of them.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .datadir import private_dir

log = logging.getLogger(__name__)

KEY_FILE = "secret.key"


def load_secret_key(configured: str | None, data_dir: Path) -> str:
    if configured:
        return configured
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    private_dir(data_dir)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log.info("Generated a secret key in %s", path)
    return key


def derive_key(secret: str, purpose: bytes) -> bytes:
    """32 bytes for one `purpose`, derived from the server's secret (HKDF-SHA256): a key that
    leaks from one use reveals neither the secret nor another use's key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


SALESFORCE_TOKENS = b"timetrail salesforce tokens"
WEB_SESSIONS = b"timetrail web sessions"


class Cipher:
    """Authenticated encryption (Fernet) under a key derived from the server's secret."""

    def __init__(self, secret: str) -> None:
        derived = derive_key(secret, SALESFORCE_TOKENS)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "Stored Salesforce tokens cannot be decrypted: TIMETRAIL_SECRET_KEY changed"
            ) from None
