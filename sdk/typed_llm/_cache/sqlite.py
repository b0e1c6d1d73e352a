"""``SQLiteCache``: the embedded default, one file shared by threads and processes.

WAL, a busy timeout and one transaction per write, so a reader sees a whole value or none and a
process killed mid-write leaves the file readable. A damaged file is moved aside and the cache
starts empty; one it cannot use is a ``CacheError`` with the path and what to do.

A connection stays on the file it opened, whatever name that file has since: SQLite reads and
writes through its open descriptors. So each connection remembers which file it opened, and when
another process moves that file aside (or it is deleted or replaced), a write (after its commit) or
a miss sees that the path names another file and opens that one: no answer is stored where no one
looks, and this process sees what the others store. SQLite itself leaves the -wal and -shm at the
path alone when a connection to a moved file closes, and discards a -wal beside an empty new file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from typed_llm._cache.base import CacheStats
from typed_llm._cache.entry import invalidation_cutoff
from typed_llm._cache.sqlite_files import (
    DAMAGED,
    Identity,
    cache_error,
    code,
    file_identity,
    folder_lock,
    move_aside,
    refuse_if_not_a_database,
)
from typed_llm._cache.sqlite_inspect import _MODEL, seed_cache_path
from typed_llm._cache.sqlite_schema import migrate, needs_preparing
from typed_llm._errors import CacheError
from typed_llm._logging import emit

if TYPE_CHECKING:
    from datetime import datetime, timedelta

__all__ = ["SQLiteCache"]


_WRITE_ATTEMPTS: Final = 3
"""Writes of one value while the file at the path keeps being replaced, before a CacheError."""


_SELECT: Final = "SELECT value, created FROM entries WHERE key = ?"
_UPSERT: Final = (
    "INSERT INTO entries (key, value, created) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, created = excluded.created"
)
"""A new key takes the next id; a known one keeps its row (its index entry is not rewritten)."""


class SQLiteCache:
    """The embedded cache: one SQLite file, shared by threads and processes.

    Args:
        path: the database file; created (with its folder) if missing, readable by its owner only.
        ttl: seconds an entry stays valid; None for ever. Expired entries are misses at once and
            are deleted every 64 writes.
        max_entries: when set, the oldest entries beyond this many are removed as new ones arrive
            (checked every 64 writes, so the bound may be overshot by up to 63).
        busy_timeout: seconds a write waits for another writer before failing.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ttl: float | None = None,
        max_entries: int | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        # The same rule as the clients' timeout: nan and inf pass a "> 0" test but make every
        # entry a miss (nan) or overflow SQLite's busy timeout (inf).
        if ttl is not None and not 0 < ttl < float("inf"):
            raise ValueError(f"ttl must be a positive, finite number of seconds (None: for ever), got {ttl}")
        if not 0 <= busy_timeout < float("inf"):
            raise ValueError(f"busy_timeout must be a finite number of seconds >= 0, got {busy_timeout}")
        if max_entries is not None and max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.path = Path(path)
        self._ttl = ttl
        self._max = max_entries
        self._busy_ms = int(busy_timeout * 1000)
        self._local = threading.local()
        self._counts_lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._writes = 0
        self._create()

    @classmethod
    def from_seed(
        cls, *, cache_api_calls: bool, cache_file_name: str | os.PathLike[str]
    ) -> SQLiteCache | None:
        """The cache TinyTroupe's ``CACHE_API_CALLS`` / ``CACHE_FILE_NAME`` settings ask for, or None.

        A seed file name ending in ``.pickle`` gets ``.sqlite3`` instead: the old pickle is never read.
        """
        if not cache_api_calls:
            return None
        return cls(seed_cache_path(cache_file_name))

    def _create(self) -> None:
        try:
            self._open_file()
        except sqlite3.DatabaseError:
            # Damaged, or another process is moving a damaged file aside right now (its -wal or
            # -shm vanishing under this open is an I/O error): look again under the lock.
            self._recover()
        except OSError as exc:
            raise self._error(exc) from exc

    def _open_file(self, *, locked: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Create the file readable by its owner only before SQLite opens it; SQLite gives its
        # -wal and -shm files the same permissions as the database file.
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:  # taken before SQLite opens the path: a file swapped in between is only a reopen later
            identity = file_identity(os.fstat(descriptor))
        finally:
            os.close(descriptor)
        connection = self._connect()
        try:
            if needs_preparing(connection, str(self.path)):  # a new file, or one in an older schema
                if locked:
                    migrate(connection, str(self.path))
                else:
                    with folder_lock(self.path.parent):
                        migrate(connection, str(self.path))
        except BaseException:
            connection.close()
            raise
        self._keep(connection, identity)

    def _keep(self, connection: sqlite3.Connection, identity: Identity | None) -> None:
        """This thread's connection, and the file (device, inode) the path named as it was opened."""
        self._local.connection = connection
        self._local.pid = os.getpid()
        self._local.identity = identity

    def _moved(self) -> bool:
        """Whether the path names another file than this thread's connection (made first) opened.

        Another process moved a damaged file aside, or someone deleted or replaced it; True when
        the path is missing too. An error other than a missing file cannot tell: False, and
        SQLite's own error, if there is one, says what is wrong.
        """
        try:
            now = self.path.stat()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return file_identity(now) != getattr(self._local, "identity", None)

    def _reopen(self) -> sqlite3.Connection:
        """This thread's connection on the file now at the path (its old file was moved away).

        Closing the old connection is safe: SQLite sees that its file moved and neither
        checkpoints nor deletes the -wal and -shm now at the path (the new file's). One made by
        the process this one was forked from is dropped unclosed, as ``_connection`` drops it.
        """
        stale: sqlite3.Connection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if stale is not None and self._local.pid == os.getpid():
            stale.close()
        emit(logging.INFO, "cache_file_reopened", path=str(self.path))
        self._create()
        connection: sqlite3.Connection = self._local.connection
        return connection

    def _recover(self) -> None:
        """Move a damaged database aside and start empty, once, whoever else starts on it too."""
        with folder_lock(self.path.parent):
            try:  # another process may have moved it aside while this one waited for the lock
                self._open_locked()
            except sqlite3.DatabaseError as exc:
                if code(exc) not in DAMAGED:
                    raise self._error(exc) from exc
                damage = exc
            except OSError as exc:
                raise self._error(exc) from exc
            else:
                return
            refuse_if_not_a_database(self.path, damage)
            try:
                aside = move_aside(self.path)
                emit(
                    logging.WARNING,
                    "cache_file_damaged",
                    path=str(self.path),
                    moved_to=str(aside),
                    error=str(damage),
                )
                self._open_locked()
            except (OSError, sqlite3.Error) as exc:
                raise self._error(exc) from exc

    def _open_locked(self) -> None:
        """``_open_file`` under the folder lock, waiting out another process's brief hold on the file.

        In a few WAL cases SQLite answers SQLITE_BUSY at once, without its busy handler: a last
        connection removing its WAL and shared memory as it closes, a WAL recovery in another
        process (https://sqlite.org/wal.html, "Sometimes Queries Return SQLITE_BUSY In WAL
        Mode"). Processes starting together on one file, a damaged one above all (every failed
        open closes its connection), meet them. Under the folder lock no process of this SDK
        migrates or moves the file, so such a BUSY is passing: try again, within the busy timeout.
        """
        deadline = time.monotonic() + self._busy_ms / 1000
        while True:
            try:
                self._open_file(locked=True)
            except sqlite3.OperationalError as exc:
                if code(exc) != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            else:
                return
            time.sleep(0.01)

    def _error(self, exc: OSError | sqlite3.Error) -> CacheError:
        return cache_error(self.path, exc)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self._busy_ms / 1000, isolation_level=None)
        try:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            connection.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a killed process loses nothing committed; a power cut may lose the
            # last writes, never the file.
            connection.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: a connection must not cross a fork.
        pid = os.getpid()
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == pid:
            return connection
        try:  # before the connect, as in _open_file
            identity: Identity | None = file_identity(self.path.stat())
        except OSError:
            identity = None  # missing: the first check opens the file then at the path
        try:
            connection = self._connect()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        self._keep(connection, identity)
        return connection

    def _current(self) -> sqlite3.Connection:
        """This thread's connection, moved onto the file now at the path if its own file moved."""
        connection = self._connection()
        return self._reopen() if self._moved() else connection

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None if absent or older than ``ttl``.

        Raises:
            CacheError: SQLite failed (a damaged page, a lost file); the caching layer makes it a miss.
        """
        connection = self._connection()  # a hit answers without a look at the path: the fast path
        try:
            row = connection.execute(_SELECT, (key,)).fetchone()
        except sqlite3.Error as exc:  # a page damaged after the start, a lost file: typed, with advice
            if not self._moved():
                raise self._error(exc) from exc
            row = None
        if row is None and self._moved():  # a miss in a file moved away: ask the one at the path
            try:
                row = self._reopen().execute(_SELECT, (key,)).fetchone()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        fresh = row is not None and (self._ttl is None or time.time() - row[1] <= self._ttl)
        with self._counts_lock:
            if fresh:
                self._hits += 1
            else:
                self._misses += 1
        return bytes(row[0]) if fresh else None

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` in one transaction; evict the oldest past ``max_entries``.

        After the commit the path must still name the file written: if another process moved it
        aside meanwhile (or it was deleted or replaced), the value is written again into the file
        now at the path, so it is never stored only where no one looks.
        """
        connection = self._connection()
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                self._write(connection, key, value)
            except sqlite3.Error as exc:
                if attempt == _WRITE_ATTEMPTS - 1 or not self._moved():
                    raise self._error(exc) from exc
            else:
                if not self._moved():
                    return
            connection = self._reopen()
        raise CacheError(
            f"SQLiteCache cannot use {self.path}: the file at the path was replaced "
            f"{_WRITE_ATTEMPTS} times during one write; check what moves or deletes it",
            path=str(self.path),
        )

    def _write(self, connection: sqlite3.Connection, key: str, value: bytes) -> None:
        connection.execute(_UPSERT, (key, value, time.time()))
        with self._counts_lock:
            self._writes += 1
            check = (self._max is not None or self._ttl is not None) and self._writes % 64 == 1
        if check:
            self._evict(connection)

    def _evict(self, connection: sqlite3.Connection) -> None:
        # Every 64th write of this instance (the first included): expired rows go, then the
        # oldest rows beyond max_entries. Between two passes the bound may be overshot by 63.
        if self._ttl is not None:
            connection.execute("DELETE FROM entries WHERE created < ?", (time.time() - self._ttl,))
        if self._max is None:
            return
        (count,) = connection.execute("SELECT count(*) FROM entries").fetchone()
        if count > self._max:
            connection.execute(
                "DELETE FROM entries WHERE id IN (SELECT id FROM entries ORDER BY created LIMIT ?)",
                (count - self._max,),
            )

    def stats(self) -> CacheStats:
        """Counts and sizes (file sizes include SQLite's own pages and the WAL)."""
        try:
            (entries,) = self._current().execute("SELECT count(*) FROM entries").fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        size = sum(
            candidate.stat().st_size
            for candidate in (self.path, self.path.with_name(self.path.name + "-wal"))
            if candidate.exists()
        )
        with self._counts_lock:
            return CacheStats(int(entries), size, self._hits, self._misses, str(self.path))

    def clear(self) -> None:
        """Remove every entry (the file stays)."""
        try:
            self._current().execute("DELETE FROM entries")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def discard(self, key: str) -> None:
        """Remove the entry under ``key``."""
        try:
            self._current().execute("DELETE FROM entries WHERE key = ?", (key,))
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def stored_values(self) -> list[bytes]:
        """Every stored value (what a replay-only cache searches for the nearest request on a miss)."""
        try:
            rows = self._current().execute("SELECT value FROM entries").fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        return [bytes(value) for (value,) in rows]

    def entries_by_model(self) -> dict[str, int]:
        """How many entries each model snapshot answered (``"unknown"``: an unreadable entry)."""
        try:
            rows = (
                self._current()
                .execute(f"SELECT {_MODEL} AS model, count(*) FROM entries GROUP BY model")  # noqa: S608  (fixed SQL)
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
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
        try:
            cursor = self._current().execute(
                # fixed SQL text, the values bound
                f"DELETE FROM entries WHERE {' AND '.join(conditions)}",  # noqa: S608
                parameters,
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        return cursor.rowcount

    def close(self) -> None:
        """Close this thread's connection."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
