"""Salesforce record ids: a key prefix per object type, 15 case-sensitive characters, and the
3-character suffix that encodes their letter case (the 18-character form the API returns)."""

from __future__ import annotations

import re

KEY_PREFIXES = {
    "Organization": "00D",
    "User": "005",
    "Account": "001",
    "Opportunity": "006",
    "Case": "500",
    "Task": "00T",
    "Event": "00U",
    "QueryLocator": "0r8",
}

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-5]{3})?")
_POD = "8d"  # the two characters after the prefix name the server pod in real ids


def case_suffix(body: str) -> str:
    """The three suffix characters of a 15-character id: for each 5-character chunk, a bit per
    upper-case letter, read as an index into A-Z then 0-5."""
    suffix = []
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(body[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def to_18(record_id: str) -> str | None:
    """The 18-character id for a 15- or 18-character one, or None if it is not a valid id.

    An 18-character id whose letters lost their case is restored from its suffix, as Salesforce
    accepts 18-character ids case-insensitively.
    """
    if not _ID.fullmatch(record_id):
        return None
    if len(record_id) == 15:
        return record_id + case_suffix(record_id)
    body, suffix = record_id[:15], record_id[15:].upper()
    if body in (body.upper(), body.lower()):
        chars = list(body)
        for chunk in range(3):
            bits = _SUFFIX_ALPHABET.index(suffix[chunk])
            for position in range(5):
                i = chunk * 5 + position
                chars[i] = chars[i].upper() if bits & (1 << position) else chars[i].lower()
        body = "".join(chars)
    if case_suffix(body) != suffix:
        return None
    return body + suffix


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits)).rjust(width, "0")


class IdFactory:
    """Hands out new 18-character ids, in sequence per key prefix.

    The sequence starts high enough that ids mix digits with upper- and lower-case letters, so
    every id exercises the case suffix.
    """

    _FIRST = 62**5 * 1000 + 12_345

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def new(self, object_type: str) -> str:
        prefix = KEY_PREFIXES[object_type]
        number = self._next.get(prefix, self._FIRST)
        self._next[prefix] = number + 1
        body = prefix + _POD + "0" + _base62(number, 9)
        return body + case_suffix(body)


def key_prefix(record_id: str) -> str:
    return record_id[:3]
