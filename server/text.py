"""People's text (names, notes) as stored: no characters that hide or disguise what is shown.

NUL and the other control characters break terminals, CSV files and some databases; the
bidirectional controls (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F, U+061C) make a name read
differently from what it is ("Trojan Source"). Both are removed on the way in; a note keeps its
line breaks and tabs, a name is one line.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_NAME_DROPS = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}]")
_NOTE_DROPS = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}]")


def clean_name(value: str) -> str:
    """One line of text: controls (line breaks too) and bidi controls removed, ends trimmed."""
    return _NAME_DROPS.sub("", value).strip()


def clean_note(value: str) -> str:
    """Lines of text: line breaks and tabs kept, other controls and bidi controls removed."""
    return _NOTE_DROPS.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def counted(n: int, noun: str) -> str:
    """`1 account`, `2 accounts`: a count with its noun, singular for one (nouns in -s only)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
