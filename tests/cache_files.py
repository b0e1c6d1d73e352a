"""Cache files the damage tests share: a real, healthy one, and the files it was moved aside to.

Imported by the files that damage a cache (``from cache_files import aside, healthy``).
"""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING

from typed_llm import SQLiteCache

if TYPE_CHECKING:
    from pathlib import Path


def healthy(path: Path, entries: int = 2000) -> bytes:
    """A real cache file with ``entries`` entries, checkpointed into the file; its bytes.

    The file is left at ``path`` without its -wal and -shm files, as a cache whose last user closed it.
    """
    cache = SQLiteCache(path)
    for n in range(entries):
        cache.set(f"k{n}", os.urandom(400))
    cache.close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.write_bytes(data)
    return data


def aside(path: Path) -> list[Path]:
    """The files a damaged ``path`` was moved aside to (not their -wal and -shm)."""
    return sorted(path.parent.glob(path.name + ".damaged-*[0-9]"))
