"""What the server keeps of what it read: bounded, and only while the store says it holds."""

from __future__ import annotations

from server.memory import LRU, Remembered


def test_an_lru_keeps_the_entries_used_last() -> None:
    kept: LRU[str, int | None] = LRU(2)
    kept.put("a", 1)
    kept.put("b", None)
    assert kept.get("a") == 1  # "a" is now the one used last
    kept.put("c", 3)
    assert kept.get("b", "missing") == "missing"
    assert (kept.get("a"), kept.get("c"), len(kept)) == (1, 3, 2)
    kept.drop("a")
    assert kept.get("a") is None and len(kept) == 1


def test_remembered_values_hold_while_their_collections_are_unwritten() -> None:
    kept: Remembered[str, str] = Remembered(10)
    kept.put("k", (1, 7), "value")
    assert kept.get("k", (1, 7)) == "value"
    assert kept.get("k", (2, 7)) is None  # one of the collections was written since
    kept.put("k", (None, 7), "other")  # a backend that cannot tell: nothing is kept
    assert kept.get("k", (1, 7)) == "value"
    assert kept.get("k", (None, 7)) is None
