"""``MemoryCache``: a bounded, thread-safe, in-process LRU."""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING

from typed_llm._cache.base import CacheStats
from typed_llm._cache.entry import describe_entry, invalidation_cutoff, matches

if TYPE_CHECKING:
    from datetime import datetime, timedelta

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

    def discard(self, key: str) -> None:
        """Remove the entry under ``key``."""
        with self._lock:
            self._entries.pop(key, None)

    def stored_values(self) -> list[bytes]:
        """Every stored value (what a replay-only cache searches for the nearest request on a miss)."""
        with self._lock:
            return list(self._entries.values())

    def entries_by_model(self) -> dict[str, int]:
        """How many entries each model snapshot answered (``"unknown"``: an unreadable entry)."""
        with self._lock:
            values = list(self._entries.values())
        found: dict[str, int] = {}
        for value in values:
            model = describe_entry(value)[0] or "unknown"
            found[model] = found.get(model, 0) + 1
        return found

    def invalidate(self, *, model: str | None = None, older_than: datetime | timedelta | None = None) -> int:
        """Remove the entries of ``model`` (``response.model``), or written before ``older_than``, or both.

        Entries stored before provenance was recorded count as older than any ``older_than``.

        Returns:
            How many entries were removed.

        Raises:
            ValueError: neither condition was given (``clear()`` removes everything).
        """
        cutoff = invalidation_cutoff(model, older_than)
        with self._lock:
            doomed = [key for key, value in self._entries.items() if matches(value, model, cutoff)]
            for key in doomed:
                del self._entries[key]
        return len(doomed)
