"""Object ids: 24 lowercase hex characters, like MongoDB ObjectIds, exchanged as strings."""

from __future__ import annotations

import re
import secrets

from .errors import InvalidRequestError

_ID = re.compile(r"[0-9a-f]{24}")


def new_id() -> str:
    return secrets.token_hex(12)


def parse_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidRequestError(f"{field} is not a valid id (24 hexadecimal characters).")
    return value
