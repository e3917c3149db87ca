"""A bounded map that drops what was used least recently, shared by a
process's threads: the kept fragments (``webapp.fragments``) and pages
(``webapp.page_cache``)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """At most ``limit`` values, or, with ``weigh``, values weighing at most
    ``limit`` in all (a page's bytes); a value heavier than that is not kept."""

    def __init__(self, limit: int, weigh: Callable[[V], int] = lambda value: 1) -> None:
        self.limit = limit
        self._weigh = weigh
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: V) -> None:
        weight = self._weigh(value)
        if weight > self.limit:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= self._weigh(old)
            self._items[key] = value
            self._weight += weight
            while self._weight > self.limit:
                _, dropped = self._items.popitem(last=False)
                self._weight -= self._weigh(dropped)
