"""What ``SQLiteCache`` offers besides ``get`` and ``set``: statistics, clearing, invalidation, listing.

Each is one statement run by ``SQLiteCache._run``, which holds the thread's connection, follows a
file moved aside by another process, and recovers from a file damaged in use, as ``get`` and
``set`` do; here only the SQL and what the caller gets back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from typed_llm._cache.base import CacheStats
from typed_llm._cache.entry import invalidation_cutoff
from typed_llm._cache.sqlite_inspect import _MODEL

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable
    from datetime import datetime, timedelta
    from pathlib import Path

__all__ = ["Maintenance"]

T = TypeVar("T")


class Maintenance:
    """The statements of ``SQLiteCache`` other than a lookup and a write."""

    path: Path

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SQLiteCache's

    def _counts(self) -> tuple[int, int]:
        raise NotImplementedError  # SQLiteCache's: (hits, misses)

    def stats(self) -> CacheStats:
        """Counts and sizes (file sizes include SQLite's own pages and the WAL)."""
        (entries,) = self._run(lambda db: db.execute("SELECT count(*) FROM entries").fetchone())
        size = sum(
            candidate.stat().st_size
            for candidate in (self.path, self.path.with_name(self.path.name + "-wal"))
            if candidate.exists()
        )
        hits, misses = self._counts()
        return CacheStats(int(entries), size, hits, misses, str(self.path))

    def clear(self) -> None:
        """Remove every entry (the file stays)."""
        self._run(lambda connection: connection.execute("DELETE FROM entries"))

    def discard(self, key: str) -> None:
        """Remove the entry under ``key``."""
        self._run(lambda connection: connection.execute("DELETE FROM entries WHERE key = ?", (key,)))

    def stored_values(self) -> list[bytes]:
        """Every stored value (what a replay-only cache searches for the nearest request on a miss)."""
        rows = self._run(lambda connection: connection.execute("SELECT value FROM entries").fetchall())
        return [bytes(value) for (value,) in rows]

    def entries_by_model(self) -> dict[str, int]:
        """How many entries each model snapshot answered (``"unknown"``: an unreadable entry)."""
        sql = f"SELECT {_MODEL} AS model, count(*) FROM entries GROUP BY model"  # noqa: S608  (fixed SQL)
        rows = self._run(lambda connection: connection.execute(sql).fetchall())
        return {str(model) if model is not None else "unknown": int(count) for model, count in rows}

    def invalidate(self, *, model: str | None = None, older_than: datetime | timedelta | None = None) -> int:
        """Remove the entries of ``model`` (``response.model``), or written before ``older_than``, or both.

        Args:
            model: the model snapshot, as the API named it (``gpt-4o-2024-08-06``).
            older_than: an aware ``datetime``, or a ``timedelta`` (an age); the row's write time
                decides, so entries stored before provenance was recorded are dated too.

        Returns:
            How many entries were removed.

        Raises:
            ValueError: neither condition was given (``clear()`` removes everything).
        """
        cutoff = invalidation_cutoff(model, older_than)
        conditions: list[str] = []
        parameters: list[str | float] = []
        if model is not None:
            conditions.append(f"{_MODEL} = ?")
            parameters.append(model)
        if cutoff is not None:
            conditions.append("created < ?")
            parameters.append(cutoff)
        sql = f"DELETE FROM entries WHERE {' AND '.join(conditions)}"  # noqa: S608  (fixed SQL, values bound)
        cursor = self._run(lambda connection: connection.execute(sql, parameters))
        return cursor.rowcount
