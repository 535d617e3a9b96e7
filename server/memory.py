"""Bounded memories of what was read: the entries used last (`LRU`), and values kept while the
store says the collections they came from are unwritten (`Remembered`)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar, overload

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")

Versions = tuple[int | None, ...]


class LRU(Generic[K, V]):
    """A dict that keeps the `size` entries used last."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._size = size

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: D) -> V | D: ...

    def get(self, key: K, default: object = None) -> object:
        if key not in self._items:
            return default
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def drop(self, key: K) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


class Remembered(Generic[K, V]):
    """Values read from the store, each kept with the `version()`s the collections it was read
    from had then, and given back only while they still have them: on the embedded store, whose
    only writer this process is, a write to any of them makes it read again. Where the store
    cannot tell (`version()` is None: MongoDB, which other processes write), nothing is kept."""

    def __init__(self, size: int) -> None:
        self._kept: LRU[K, tuple[Versions, V]] = LRU(size)

    def get(self, key: K, versions: Versions) -> V | None:
        if None in versions:
            return None
        kept = self._kept.get(key)
        return kept[1] if kept is not None and kept[0] == versions else None

    def put(self, key: K, versions: Versions, value: V) -> None:
        if None not in versions:
            self._kept.put(key, (versions, value))
