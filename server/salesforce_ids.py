"""Salesforce record ids: 15-character case-sensitive ids and their 18-character form."""

from __future__ import annotations

import re

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# A 15-character id, or one with its 3-character suffix (also the OpenAPI document's pattern).
PATTERN = "^[a-zA-Z0-9]{15}([a-zA-Z0-5]{3})?$"
_ID = re.compile(PATTERN)


def _suffix(body: str) -> str:
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(body[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _ALPHABET[bits]
    return suffix


def to_18(record_id: str) -> str | None:
    """The 18-character id for a 15- or 18-character one, or None if it is not a record id.

    The suffix encodes, for each 5-character chunk, which characters are upper case. That is what
    makes 18-character ids safe in case-insensitive places, so an 18-character id whose letters
    lost their case (`0065g00000xyzabaav`) is restored from its suffix; one whose suffix does not
    match its body is not a valid id.
    """
    if not _ID.fullmatch(record_id):
        return None
    if len(record_id) == 15:
        return record_id + _suffix(record_id)
    suffix = record_id[15:].upper()
    body = list(record_id[:15])
    if record_id[:15] != record_id[:15].upper() and record_id[:15] != record_id[:15].lower():
        # Mixed case: the case is meaningful as given.
        restored = "".join(body)
    else:
        for chunk in range(3):
            bits = _ALPHABET.index(suffix[chunk])
            for position in range(5):
                i = chunk * 5 + position
                body[i] = body[i].upper() if bits & (1 << position) else body[i].lower()
        restored = "".join(body)
    if _suffix(restored) != suffix:
        return None
    return restored + suffix
