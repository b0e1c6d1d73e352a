"""Look into an SQLite cache file without changing it: what ``typed-llm cache stats`` shows.

``SQLiteCache`` creates its table and switches a file to WAL when it opens it: right for a cache,
wrong for a file that may be another application's. This module opens the file read-only
(SQLite's ``mode=ro`` URI), adds nothing and switches nothing, and refuses a file that is not
SQLite, or is SQLite without a typed-llm ``entries`` table, with a ``CacheError`` saying so.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Final

from typed_llm._cache.base import CacheStats
from typed_llm._errors import CacheError

if TYPE_CHECKING:
    import os

__all__ = ["DEFAULT_CACHE_FILE", "read_stats", "seed_cache_path"]

DEFAULT_CACHE_FILE: Final = "openai_api_cache.sqlite3"
"""The cache file of the facade's settings (``CACHE_FILE_NAME``) and of the ``typed-llm cache`` commands."""

_HEADER: Final = b"SQLite format 3\x00"
_COLUMNS: Final = frozenset({"key", "value", "created"})
_MODEL: Final = (
    "CASE WHEN json_valid(CAST(value AS TEXT)) THEN coalesce("
    "json_extract(CAST(value AS TEXT), '$.provenance.model'), "
    "json_extract(CAST(value AS TEXT), '$.model')) END"
)
"""The model snapshot of a stored entry (as ``SQLiteCache.entries_by_model`` reads it)."""


def seed_cache_path(cache_file_name: str | os.PathLike[str]) -> Path:
    """The SQLite file for a seed ``CACHE_FILE_NAME``: a ``.pickle`` name becomes ``.sqlite3``."""
    path = Path(cache_file_name)
    return path.with_suffix(".sqlite3") if path.suffix == ".pickle" else path


def _refuse(path: Path, why: str) -> CacheError:
    return CacheError(f"{path} is not a typed-llm cache: {why}; it was left as it was", path=str(path))


def _open_read_only(path: Path) -> sqlite3.Connection:
    try:
        with path.open("rb") as file:
            header = file.read(len(_HEADER))
    except OSError as exc:
        raise CacheError(f"cannot read {path}: {exc}", path=str(path)) from exc
    if header != _HEADER:
        raise _refuse(path, "it is not an SQLite database" if header else "it is empty")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def read_stats(path: Path) -> tuple[CacheStats, dict[str, int]]:
    """What the cache file at ``path`` holds, and its entries by model, read without writing.

    Raises:
        CacheError: the file is not SQLite, not a typed-llm cache, or cannot be read.
    """
    connection = _open_read_only(path)
    try:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(entries)")}
        if not columns >= _COLUMNS:
            tables = sorted(
                row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
            listed = ", ".join(tables) if tables else "none"
            raise _refuse(path, f"an SQLite database of another application (tables: {listed})")
        (entries,) = connection.execute("SELECT count(*) FROM entries").fetchone()
        by_model_sql = f"SELECT {_MODEL} AS model, count(*) FROM entries GROUP BY model"  # noqa: S608  (fixed SQL)
        rows = connection.execute(by_model_sql).fetchall()
    except sqlite3.Error as exc:
        raise CacheError(f"cannot read the cache {path}: {exc}", path=str(path)) from exc
    finally:
        connection.close()
    size = sum(
        candidate.stat().st_size
        for candidate in (path, path.with_name(path.name + "-wal"))
        if candidate.exists()
    )
    by_model = {str(model) if model is not None else "unknown": int(count) for model, count in rows}
    return CacheStats(int(entries), size, 0, 0, str(path)), by_model
