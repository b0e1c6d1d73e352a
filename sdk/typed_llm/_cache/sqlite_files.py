"""The SQLite cache's file on disk: which file a path names, the folder lock, a damaged file moved
aside, and the typed error for a file the cache cannot use.

``SQLiteCache`` (``sqlite.py``) decides when; this module knows how, and what SQLite's result codes
mean for the person who has to act on them.
"""  # noqa: D205  (two lines of summary)

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from typing import TYPE_CHECKING, Final

from typed_llm._errors import CacheError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = [
    "DAMAGED",
    "NOT_ALLOWED",
    "SQLITE_HEADER",
    "Identity",
    "cache_error",
    "code",
    "confirm_damage",
    "file_identity",
    "folder_lock",
    "move_aside",
    "refuse_if_not_a_database",
    "refuse_link",
]

SQLITE_HEADER: Final = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

DAMAGED: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
"""SQLite's (primary) result codes for a file it cannot read as a database."""

NOT_ALLOWED: Final = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN})
"""SQLite's result codes for a file or folder this user may not write (or create)."""

Identity = tuple[int, int]
"""A file's (device, inode): the file a path names, whatever names the file has since."""


def code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code (the low byte of an extended one such as READONLY_DIRECTORY)."""
    return (exc.sqlite_errorcode or 0) & 0xFF


def file_identity(status: os.stat_result) -> Identity:
    """The (device, inode) of a ``stat`` or ``fstat`` result."""
    return (status.st_dev, status.st_ino)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder``: flock, so between processes and between threads here."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def refuse_link(path: Path, damage: sqlite3.DatabaseError) -> None:
    """Raise ``CacheError`` when ``path`` is a symbolic link: moving it aside would move the link."""
    if path.is_symlink():
        raise CacheError(
            f"SQLiteCache cannot use {path}: it is a symbolic link to a file SQLite cannot "
            f"read ({damage}); a link is left alone: point it at a cache file, remove it, or pass "
            "another path",
            path=str(path),
        ) from damage


def refuse_if_not_a_database(path: Path, damage: sqlite3.DatabaseError) -> None:
    """Raise ``CacheError`` for what may not be a cache: a link, or a file not starting as SQLite's do.

    Such a file is left alone: a mistyped path must not cost the user a file.
    """
    refuse_link(path, damage)
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise cache_error(path, exc) from exc
    if not SQLITE_HEADER.startswith(header):
        raise CacheError(
            f"SQLiteCache cannot use {path}: it is not an SQLite database ({damage}), so it "
            "may not be a cache and is left alone: check the path, or delete or move the file",
            path=str(path),
        ) from damage


def confirm_damage(path: Path) -> sqlite3.DatabaseError | None:
    """SQLite's word that the file at ``path`` is damaged, read on a connection of its own; None if not.

    A connection in use that meets a damaged page may be wrong about the file only through its own
    state; a fresh one that cannot open it, or whose ``quick_check`` finds a fault, is not. The
    check reads every page (a second or so per GB), and runs once, when damage shows up in use.
    """
    try:
        connection = sqlite3.connect(path, isolation_level=None)
    except sqlite3.DatabaseError as exc:
        return exc if code(exc) in DAMAGED else None
    try:
        (verdict,) = connection.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.DatabaseError as exc:
        return exc if code(exc) in DAMAGED else None
    finally:
        connection.close()
    if verdict == "ok":
        return None
    found = sqlite3.DatabaseError(f"database disk image is malformed (quick_check: {verdict})")
    found.sqlite_errorcode = sqlite3.SQLITE_CORRUPT
    found.sqlite_errorname = "SQLITE_CORRUPT"
    return found


def move_aside(path: Path) -> Path:
    """Rename a damaged ``path`` (and its -wal and -shm) to ``PATH.damaged-<UTC time>-<pid>``.

    The caller holds the folder lock. The WAL and shared-memory files go first: a process opening
    the path meanwhile finds the damaged file without them (and fails, and waits for the lock),
    never a new file beside a stale WAL. A -wal such a process makes beside the damaged file is
    empty, and SQLite discards a -wal it finds beside an empty database file: the fresh file never
    reads one. A connection still open on the moved file writes on into it (its descriptors follow
    the file): ``SQLiteCache`` checks the path after each write for that.
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.damaged-{stamp}-{os.getpid()}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            side.replace(aside.with_name(aside.name + suffix))
    path.replace(aside)
    return aside


def cache_error(path: Path, exc: OSError | sqlite3.Error) -> CacheError:
    """The typed error for a cache file that cannot be used, with what to do about it."""
    result = code(exc) if isinstance(exc, sqlite3.Error) else None
    if isinstance(exc, PermissionError) or result in NOT_ALLOWED:
        advice = "make the file and its folder writable by this user, or pass another path"
    elif result in DAMAGED:
        advice = "the file is damaged: delete it (and its -wal and -shm files), and the cache starts empty"
    else:
        advice = "check the path, the disk and the permissions, or pass another path"
    return CacheError(f"SQLiteCache cannot use {path}: {exc}; {advice}", path=str(path))
