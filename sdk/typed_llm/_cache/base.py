"""The ``Cache`` protocol every backend implements, and the statistics it reports.

Values are the response's JSON bytes, never pickle: loading a cache must not run code.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

__all__ = ["Cache", "CacheStats", "Listing"]


@attrs.frozen
class CacheStats:
    """What a cache holds, and how this process has used it."""

    entries: int
    """Entries stored (expired ones included until they are overwritten or evicted)."""
    size_bytes: int
    """Bytes of stored values (for SQLite: the database file and its WAL)."""
    hits: int
    """Lookups answered, by this instance."""
    misses: int
    """Lookups not answered, by this instance (expired entries count as misses)."""
    location: str
    """Where the entries live (``memory`` or the file's path)."""


@runtime_checkable
class Cache(Protocol):
    """Bytes by key: what the caching layer needs of a backend."""

    def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None."""
        ...

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``, replacing any value there, whole or not at all."""
        ...

    def stats(self) -> CacheStats:
        """Counts and sizes."""
        ...

    def clear(self) -> None:
        """Remove every entry."""
        ...


@runtime_checkable
class Listing(Protocol):
    """A backend that can hand over every stored value (each built-in one can)."""

    def stored_values(self) -> list[bytes]:
        """Every stored value, in no particular order."""
        ...
