"""The SQLite cache file's schema, its version, and the in-place migration of older files.

Schema 2 (``PRAGMA user_version = 2``) is an ordinary rowid table with a unique index on the key.
Schema 1 (files written before it, ``user_version`` 0) kept the entries in a ``WITHOUT ROWID``
table clustered on the key: there a row too big to sit inline in the key's B-tree (any value over
about 1 KB, so most real answers) spilled into an overflow page of its own, about 4.7 KB on disk
per 1.1 KB entry and an extra page read per lookup. A rowid table keeps such a row inline in its
leaf page (3 per 4 KB page), which measured 1.45 KB per entry and a lookup 2-3x faster.

The column names are the same in both, so an older typed-llm still reads and writes a migrated file.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Final

from typed_llm._errors import CacheError
from typed_llm._logging import emit

__all__ = ["SCHEMA_VERSION", "migrate", "needs_preparing"]

SCHEMA_VERSION: Final = 2
"""``PRAGMA user_version`` of a file in today's schema."""

_CREATE: Final = (
    "CREATE TABLE entries (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
    "value BLOB NOT NULL, created REAL NOT NULL)"
)
_CREATE_INDEX: Final = "CREATE INDEX IF NOT EXISTS entries_created ON entries (created)"


def _version(connection: sqlite3.Connection) -> int:
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def needs_preparing(connection: sqlite3.Connection, path: str) -> bool:
    """Whether the file needs its table created or migrated (a read of the header: no lock taken).

    Raises:
        sqlite3.DatabaseError: the file is not a database.
        CacheError: the file was made by a newer typed-llm (it is left alone).
    """
    version = _version(connection)
    if version > SCHEMA_VERSION:
        raise CacheError(
            f"SQLiteCache cannot use {path}: the file has schema {version}, newer than this "
            f"typed-llm's {SCHEMA_VERSION}; upgrade typed-llm, or pass another path",
            path=path,
        )
    return version < SCHEMA_VERSION


def migrate(connection: sqlite3.Connection, path: str) -> None:
    """Create the table in an empty file, or move a schema-1 file's entries into schema 2, in place.

    One write transaction: a process killed half-way leaves the old file as it was. The caller
    holds a lock that serialises this between the processes of this SDK (a migration of a large
    file takes longer than SQLite's busy timeout). After a migration the file is vacuumed, which
    gives the old table's pages back to the disk.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        moved = _prepare(connection)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    if moved is None:
        return
    # Outside the transaction (VACUUM cannot run in one). A VACUUM that fails (a full disk: it
    # needs room for a copy) leaves a migrated, working file that is only larger than it could be.
    # In WAL mode the vacuumed pages go to the WAL first: the checkpoint writes them back and
    # truncates the file (it waits for no reader; one still reading leaves that for a later one).
    try:
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as exc:
        emit(logging.WARNING, "cache_vacuum_failed", path=path, error=str(exc))
    emit(logging.INFO, "cache_migrated", path=path, entries=moved, schema=SCHEMA_VERSION)


def _prepare(connection: sqlite3.Connection) -> int | None:
    """Under the write lock: the table in schema 2; how many entries moved (None: none to move)."""
    if _version(connection) == SCHEMA_VERSION:  # another process did it while this one waited
        return None
    found = connection.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'entries'"
    ).fetchone()
    if found is None:
        connection.execute(_CREATE)
        connection.execute(_CREATE_INDEX)
        return None
    if "WITHOUT ROWID" not in str(found[0]).upper():  # already a rowid table (version not yet set)
        connection.execute(_CREATE_INDEX)
        return None
    connection.execute("DROP INDEX IF EXISTS entries_created")
    connection.execute("ALTER TABLE entries RENAME TO entries_v1")
    connection.execute(_CREATE)
    # In write order, so the oldest entries keep the lowest ids, as new ones get the next.
    cursor = connection.execute(
        "INSERT INTO entries (key, value, created) "
        "SELECT key, value, created FROM entries_v1 ORDER BY created"
    )
    moved = cursor.rowcount
    connection.execute("DROP TABLE entries_v1")
    connection.execute(_CREATE_INDEX)
    return moved
