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

A file damaged in place while in use (its bytes overwritten: "file is not a database", "database
disk image is malformed") is handled as at the start, once: the first operation that meets the
damage checks it on a connection of its own, moves the file aside and opens a fresh one under the
folder lock; other threads and processes find the path naming another file and reopen there.

``close()`` closes the connection of every thread (``sqlite_handles``); a closed cache raises a
``CacheError`` saying so, and never reopens on its own.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self, TypeVar

from typed_llm._cache.sqlite_files import (
    DAMAGED,
    Identity,
    cache_error,
    code,
    confirm_damage,
    file_identity,
    folder_lock,
    move_aside,
    refuse_if_not_a_database,
    refuse_link,
)
from typed_llm._cache.sqlite_handles import Handle, Handles, close_handle, closed_error
from typed_llm._cache.sqlite_inspect import seed_cache_path
from typed_llm._cache.sqlite_maintenance import Maintenance
from typed_llm._cache.sqlite_schema import migrate, needs_preparing
from typed_llm._errors import CacheError
from typed_llm._logging import emit

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SQLiteCache", "claimed_by_client"]

T = TypeVar("T")


_WRITE_ATTEMPTS: Final = 3
"""Writes of one value while the file at the path keeps being replaced, before a CacheError."""


_SELECT: Final = "SELECT value, created FROM entries WHERE key = ?"
_UPSERT: Final = (
    "INSERT INTO entries (key, value, created) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, created = excluded.created"
)
"""A new key takes the next id; a known one keeps its row (its index entry is not rewritten)."""


class SQLiteCache(Maintenance):
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
        self._handles = Handles()
        self._given_up: Identity | None = None
        """A file damaged in use that could not be moved aside: not tried again at every call."""
        self._handed_over = False
        """Built for a client to own (``from_seed``): the first client given it closes it."""
        self._handover_lock = threading.Lock()
        self._counts_lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._writes = 0
        with self._handle().lock:
            self._create()

    @classmethod
    def from_seed(
        cls, *, cache_api_calls: bool, cache_file_name: str | os.PathLike[str]
    ) -> SQLiteCache | None:
        """The cache TinyTroupe's ``CACHE_API_CALLS`` / ``CACHE_FILE_NAME`` settings ask for, or None.

        A seed file name ending in ``.pickle`` gets ``.sqlite3`` instead: the old pickle is never read.
        The cache is built for a client (the settings' ``build_client`` hands it to one): the first
        client given it owns it, and that client's ``close()`` closes it.
        """
        if not cache_api_calls:
            return None
        cache = cls(seed_cache_path(cache_file_name))
        cache._handed_over = True
        return cache

    def _claim(self) -> bool:
        """Whether the client now given this cache owns it: True once, for ``from_seed``'s."""
        with self._handover_lock:
            handed, self._handed_over = self._handed_over, False
        return handed

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

    def _handle(self) -> Handle:
        """This thread's handle (one per thread and per process: a connection must not cross a fork)."""
        handle: Handle | None = getattr(self._local, "handle", None)
        if handle is not None and handle.pid == os.getpid():
            return handle
        handle = Handle()
        self._handles.add(handle, self.path)
        self._local.handle = handle
        return handle

    def _keep(self, connection: sqlite3.Connection, identity: Identity | None) -> None:
        """This thread's connection, and the file (device, inode) the path named as it was opened."""
        handle: Handle = self._local.handle
        handle.connection = connection
        handle.identity = identity

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
        handle: Handle = self._local.handle
        return file_identity(now) != handle.identity

    def _reopen(self, *, locked: bool = False, announce: bool = True) -> sqlite3.Connection:
        """This thread's connection on the file now at the path (its old file was moved away).

        Closing the old connection is safe: SQLite sees that its file moved and neither
        checkpoints nor deletes the -wal and -shm now at the path (the new file's). A connection
        made by the process this one was forked from is in another handle, dropped unclosed.
        """
        handle: Handle = self._local.handle
        stale, handle.connection = handle.connection, None
        if stale is not None:
            stale.close()
        if announce:
            emit(logging.INFO, "cache_file_reopened", path=str(self.path))
        if not locked:
            self._create()
        else:
            try:
                self._open_locked()
            except (OSError, sqlite3.Error) as exc:
                raise self._error(exc) from exc
        return self._connection(handle)  # the one _create or _open_locked kept

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

    def _recovered(self, exc: sqlite3.Error) -> bool:
        """After ``exc`` in use: True when this thread's connection is now on a usable file, to retry on.

        Damage found in use (``exc`` says the file is not a database, or malformed) is confirmed on
        a connection of its own, under the folder lock; the file is then moved aside as at the
        start (one ``cache_file_damaged`` warning) and a fresh one opened. If another process or
        thread moved it first, this one only reopens at the path. A file that cannot be moved or
        reopened is remembered, so its ``CacheError`` is not paid again with a check at every call.
        """
        handle: Handle = self._local.handle
        if code(exc) not in DAMAGED or (handle.identity is not None and handle.identity == self._given_up):
            return False
        try:
            with folder_lock(self.path.parent):
                if self._moved():  # moved aside (or replaced) while this thread waited for the lock
                    self._reopen(locked=True)
                    return True
                damage = confirm_damage(self.path)
                if damage is None:  # the file reads well on its own: this connection's state was wrong
                    self._reopen(locked=True, announce=False)
                    return True
                refuse_link(self.path, damage)
                aside = move_aside(self.path)
                emit(
                    logging.WARNING,
                    "cache_file_damaged",
                    path=str(self.path),
                    moved_to=str(aside),
                    error=str(damage),
                )
                self._reopen(locked=True, announce=False)
        except (OSError, CacheError):
            self._given_up = handle.identity
            return False
        return True

    def _error(self, exc: OSError | sqlite3.Error) -> CacheError:
        return cache_error(self.path, exc)

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread off: close() closes every thread's connection, under its handle's lock.
        connection = sqlite3.connect(
            self.path, timeout=self._busy_ms / 1000, isolation_level=None, check_same_thread=False
        )
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

    def _connection(self, handle: Handle) -> sqlite3.Connection:
        """``handle``'s connection (its lock held), opened if it has none; a closed cache refuses."""
        if self._handles.closed:
            raise closed_error(self.path)
        connection = handle.connection
        if connection is not None:
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

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on this thread's connection, moved onto the file now at the path if its own moved."""
        handle = self._handle()
        with handle.lock:
            connection = self._connection(handle)
            if self._moved():
                connection = self._reopen()
            try:
                return work(connection)
            except sqlite3.Error as exc:
                if not self._recovered(exc):
                    raise self._error(exc) from exc
            try:  # once more, on the fresh file
                return work(self._connection(handle))
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None if absent or older than ``ttl``.

        Raises:
            CacheError: SQLite failed (a lost file, a damage that could not be moved aside), or the
                cache was closed; the caching layer makes it a miss.
        """
        handle = self._handle()
        with handle.lock:
            row = self._select(handle, key)
        if row is None or (self._ttl is not None and time.time() - row[1] > self._ttl):
            with self._counts_lock:
                self._misses += 1
            return None
        with self._counts_lock:
            self._hits += 1
        return bytes(row[0])

    def _select(self, handle: Handle, key: str) -> tuple[bytes, float] | None:
        connection = self._connection(handle)  # a hit answers without a look at the path: the fast path
        row: tuple[bytes, float] | None
        try:
            row = connection.execute(_SELECT, (key,)).fetchone()
        except sqlite3.Error as exc:  # a lost file, a page damaged after the start
            if self._moved():
                row = None  # asked again below, in the file at the path
            elif self._recovered(exc):  # damaged in place: now on a fresh file (or a reopened one)
                return self._select_again(self._connection(handle), key)
            else:
                raise self._error(exc) from exc
        if row is None and self._moved():  # a miss in a file moved away: ask the one at the path
            return self._select_again(self._reopen(), key)
        return row

    def _select_again(self, connection: sqlite3.Connection, key: str) -> tuple[bytes, float] | None:
        try:
            row: tuple[bytes, float] | None = connection.execute(_SELECT, (key,)).fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        return row

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` in one transaction; evict the oldest past ``max_entries``.

        After the commit the path must still name the file written: if another process moved it
        aside meanwhile (or it was deleted or replaced), the value is written again into the file
        now at the path, so it is never stored only where no one looks. A file found damaged is
        moved aside once and the value written into the fresh one.
        """
        handle = self._handle()
        with handle.lock:
            connection = self._connection(handle)
            recovered = False
            for attempt in range(_WRITE_ATTEMPTS):
                try:
                    self._write(connection, key, value)
                except sqlite3.Error as exc:
                    last = attempt == _WRITE_ATTEMPTS - 1
                    if not last and not self._moved() and not recovered and self._recovered(exc):
                        recovered = True
                        connection = self._connection(handle)
                        continue
                    if last or not self._moved():
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

    def _counts(self) -> tuple[int, int]:
        with self._counts_lock:
            return self._hits, self._misses

    def close(self) -> None:
        """Close the connections of every thread; then every operation raises ``CacheError``.

        Safe to call more than once, and from any thread: an operation in flight in another
        thread finishes first (its connection is closed after it, never under it).
        """
        for handle in self._handles.close():
            close_handle(handle)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def claimed_by_client(cache: object) -> bool:
    """Whether a client given ``cache`` owns it, and so closes it with itself.

    Only a cache built for a client is: ``SQLiteCache.from_seed``'s (the settings' ``build_client``
    hands one to the client it builds), and only for the first client given it. A cache you built
    and passed in is yours to close, as an ``http_client`` you pass is.
    """
    return isinstance(cache, SQLiteCache) and cache._claim()  # noqa: SLF001  (this module's class)
