"""A few results kept per process, for work whose inputs never change under a key.

Registered models, training snapshots and a champion's calibration are immutable, so their
costly products (a deserialized model, a scored reference sample, drift thresholds) can be
kept by a key that names their content. In a warm kernel (:mod:`fti.run.kernels`) that serves
one notebook after another, the next notebook then gets them without the work.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    """The ``size`` most recently used results, by key; older ones are dropped."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, T] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The result kept for ``key``, else ``compute()``, kept for next time."""
        if key in self._items:
            self._items.move_to_end(key)
        else:
            self._items[key] = compute()
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return self._items[key]

    def __len__(self) -> int:
        return len(self._items)
