"""Salesforce record ids: 15-character case-sensitive ids and their 18-character form."""

from __future__ import annotations

import re

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?")


def to_18(record_id: str) -> str | None:
    """The 18-character id for a 15- or 18-character one, or None if it is not a record id.

    The suffix encodes, for each 5-character chunk, which characters are upper case; an
    18-character id whose suffix does not match its body is not a valid id.
    """
    if not _ID.fullmatch(record_id):
        return None
    body = record_id[:15]
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(body[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _ALPHABET[bits]
    if len(record_id) == 18 and record_id[15:] != suffix:
        return None
    return body + suffix
