"""List paging: `limit` (default 50, max 500) and an opaque `cursor`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import InvalidRequestError
from .validation import Field

T = TypeVar("T")

# What a cursor is made of (URL-safe base64 without padding), here and in the catalog's.
CURSOR_PATTERN = "^[A-Za-z0-9_-]*$"

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

QUERY: dict[str, Field] = {
    "limit": Field(
        "integer", minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT, description="Page size"
    ),
    "cursor": Field(
        "string",
        max_length=200,
        pattern=CURSOR_PATTERN,
        mismatch="is not a cursor this server returned",
        description="next_cursor of the previous page",
    ),
}


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int

    @classmethod
    def from_query(cls, query: dict[str, Any]) -> Page:
        return cls(offset=decode_cursor(query.get("cursor")), limit=query["limit"])

    def next_cursor(self, returned: int, has_more: bool) -> str | None:
        return encode_cursor(self.offset + returned) if has_more else None

    def slice(self, items: Sequence[T]) -> tuple[list[T], str | None]:
        chunk = list(items[self.offset : self.offset + self.limit])
        return chunk, self.next_cursor(len(chunk), self.offset + self.limit < len(items))


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequestError("cursor is not a cursor this server returned.") from None
    if kind != "o" or offset < 0:
        raise InvalidRequestError("cursor is not a cursor this server returned.")
    return offset
