"""The store's own errors, raised by every backend."""

from __future__ import annotations


class StoreError(Exception):
    """The store could not be opened or reached."""


class DuplicateKeyError(StoreError):
    """A unique index (or `_id`) refused a write."""
