"""``MemoryCache``: a bounded, thread-safe, in-process LRU."""

from __future__ import annotations

import collections
import threading

from typed_llm._cache.base import CacheStats

__all__ = ["MemoryCache"]


class MemoryCache:
    """An in-process cache of at most ``max_entries`` entries; the least recently used goes first.

    Thread-safe. Nothing is written anywhere.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max = max_entries
        self._entries: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: str) -> bytes | None:
        """The value under ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return value

    def set(self, key: str, value: bytes) -> None:
        """Store ``value``; past ``max_entries`` the least recently used entry is dropped."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def stats(self) -> CacheStats:
        """Counts and sizes."""
        with self._lock:
            size = sum(len(value) for value in self._entries.values())
            return CacheStats(len(self._entries), size, self._hits, self._misses, "memory")

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self._entries.clear()
