"""Request fields that more than one resource declares alike."""

from __future__ import annotations

from .. import rates
from ..validation import Field


def hourly_rate(description: str) -> Field:
    """An hourly rate in the account's currency, as a decimal string (null: none set)."""
    return Field(
        "string",
        nullable=True,
        max_length=10,
        pattern=rates.RATE_PATTERN,
        mismatch="must be a decimal number with at most two decimals, such as 85.50",
        description=description,
    )
