"""The SQLite cache's connections: one per thread, each behind its own lock, all closed by ``close()``.

SQLite connections are not shared between threads here (each thread opens its own, so readers
never wait for one another), yet ``close()`` runs in one thread and must close them all: a cache
that leaves a descriptor open per thread that ever used it is not closed. So every connection sits
in a ``Handle`` with a lock its own thread takes around each operation (never contended but by
``close()``), and the cache keeps a weak set of its handles: a thread that ends frees its handle
and its connection as before, and ``close()`` takes each live handle's lock in turn, so it waits
for an operation in flight in another thread to finish instead of closing the file under it
(which SQLite answers with a misuse error, or worse, a descriptor number reused meanwhile).

After ``close()`` every operation raises ``CacheError`` saying the cache was closed: no
connection is opened again behind the caller's back. A handle made by the process this one was
forked from is not closed here: a connection must not cross a fork (SQLite's locks belong to the
process that opened them).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING

from typed_llm._errors import CacheError

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

    from typed_llm._cache.sqlite_files import Identity

__all__ = ["Handle", "Handles", "close_handle", "closed_error"]


class Handle:
    """One thread's connection, the file (device, inode) it opened, and the lock around its use."""

    __slots__ = ("__weakref__", "connection", "identity", "lock", "pid")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.connection: sqlite3.Connection | None = None
        self.identity: Identity | None = None

    def __del__(self) -> None:
        # Its thread ended (the thread-local held the only strong reference): close the connection
        # now, not when the collector breaks the cycle sqlite3's statement cache makes with it.
        connection = self.connection
        if connection is not None and self.pid == os.getpid():
            connection.close()


class Handles:
    """The live handles of one cache, and whether it was closed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: weakref.WeakSet[Handle] = weakref.WeakSet()
        self.closed = False

    def add(self, handle: Handle, path: Path) -> None:
        """Keep ``handle`` (for ``close()``); a cache already closed refuses it."""
        with self._lock:
            if self.closed:
                raise closed_error(path)
            self._live.add(handle)

    def close(self) -> list[Handle]:
        """Mark the cache closed; the handles of this process, which the caller closes one by one."""
        with self._lock:
            self.closed = True
            pid = os.getpid()
            return [handle for handle in self._live if handle.pid == pid]


def close_handle(handle: Handle) -> None:
    """Close ``handle``'s connection once no operation of its thread is using it."""
    with handle.lock:
        connection, handle.connection = handle.connection, None
        if connection is not None:
            connection.close()


def closed_error(path: Path) -> CacheError:
    """The typed error of an operation on a closed ``SQLiteCache``."""
    return CacheError(
        f"SQLiteCache({path}) is closed (close() was called, by you or by the client that built it); "
        "make a new SQLiteCache to use the file again",
        path=str(path),
    )
