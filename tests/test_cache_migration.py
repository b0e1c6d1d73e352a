"""SQLiteCache's schema 2 (a rowid table, a unique key index) and the migration of schema-1 files.

The old files are made here with schema 1's own DDL, as typed-llm 0.2.0 wrote them, not by code of
today's: what a user's existing cache file holds is what these tests open.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from structlog.testing import capture_logs

from helpers import FAKE_OPENAI_KEY
from typed_llm import CacheError, ChatRequest, OpenAIClient, SQLiteCache, UserMessage

if TYPE_CHECKING:
    from pathlib import Path

    from typed_llm.testing._fake import FakeAPI

SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_created ON entries (created);
"""
"""The DDL of schema 1 (``_cache/sqlite.py`` before schema 2), verbatim."""

VALUE = b'{"payload": "' + b"x" * 1100 + b'"}'
"""A value over 1 KB, the size at which schema 1 spilled each row into an overflow page."""


def _old_file(path: Path, entries: int) -> dict[str, bytes]:
    """A schema-1 file with ``entries`` rows, written by plain sqlite3 in WAL mode as 0.2.0 did."""
    rows = {f"key-{index:05d}": VALUE.replace(b"x", bytes([97 + index % 26]), 1) for index in range(entries)}
    with sqlite3.connect(path, isolation_level=None) as raw:
        raw.execute("PRAGMA journal_mode = WAL")
        raw.executescript(SCHEMA_1)
        raw.executemany(
            "INSERT INTO entries (key, value, created) VALUES (?, ?, ?)",
            [(key, value, 1_700_000_000.0 + number) for number, (key, value) in enumerate(rows.items())],
        )
    return rows


def _size(path: Path) -> int:
    """The file and its WAL, as ``stats().size_bytes`` counts them."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _table_sql(path: Path) -> tuple[str, int]:
    with sqlite3.connect(path) as raw:
        (sql,) = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'entries'").fetchone()
        (version,) = raw.execute("PRAGMA user_version").fetchone()
    return str(sql), int(version)


def test_a_new_file_is_a_rowid_table_with_a_unique_key(tmp_path: Path) -> None:
    """A fresh cache is schema 2: a rowid table (values sit inline in its pages) and version 2."""
    cache = SQLiteCache(tmp_path / "c.sqlite3")
    cache.set("k", VALUE)
    sql, version = _table_sql(cache.path)
    assert "WITHOUT ROWID" not in sql.upper()
    assert "UNIQUE" in sql.upper()
    assert version == 2
    assert cache.get("k") == VALUE


def test_an_old_file_is_migrated_in_place_with_every_entry(tmp_path: Path) -> None:
    """Opening a schema-1 file moves its entries into schema 2, keeps them all, and shrinks the file."""
    path = tmp_path / "old.sqlite3"
    rows = _old_file(path, 600)
    before = _size(path)
    with capture_logs() as logs:
        cache = SQLiteCache(path)
    migrated = [event for event in logs if event["event"] == "cache_migrated"]
    assert [(e["log_level"], e["path"], e["entries"], e["schema"]) for e in migrated] == [
        ("info", str(path), 600, 2)
    ]
    sql, version = _table_sql(path)
    assert ("WITHOUT ROWID" not in sql.upper(), version) == (True, 2)
    assert all(cache.get(key) == value for key, value in rows.items())
    assert cache.stats().entries == 600
    # Schema 1 gave each 1.1 KB row an overflow page (about 4.7 KB per entry); the vacuumed
    # schema-2 file holds three rows a page.
    assert _size(path) < before / 2
    assert _size(path) < 1.6 * sum(len(key) + len(value) for key, value in rows.items())


def test_a_migrated_file_keeps_write_order_for_eviction(tmp_path: Path) -> None:
    """max_entries still drops the oldest entries of a migrated file first."""
    path = tmp_path / "old.sqlite3"
    _old_file(path, 100)
    cache = SQLiteCache(path, max_entries=10)
    cache.set("new", VALUE)  # the first write of an instance runs the eviction pass
    assert cache.stats().entries == 10
    assert cache.get("key-00000") is None
    assert cache.get("key-00099") == VALUE.replace(b"x", bytes([97 + 99 % 26]), 1)
    assert cache.get("new") == VALUE


def test_a_migration_runs_once(tmp_path: Path) -> None:
    """A second open of a migrated file migrates nothing (and logs no migration)."""
    path = tmp_path / "old.sqlite3"
    _old_file(path, 10)
    SQLiteCache(path).close()
    with capture_logs() as logs:
        SQLiteCache(path).close()
    assert not [event for event in logs if event["event"] == "cache_migrated"]


def test_an_older_sdk_still_reads_and_writes_a_migrated_file(tmp_path: Path) -> None:
    """The columns kept their names: 0.2.0's own SELECT and INSERT OR REPLACE work on schema 2."""
    path = tmp_path / "old.sqlite3"
    _old_file(path, 3)
    cache = SQLiteCache(path)
    with sqlite3.connect(path, isolation_level=None) as old_sdk:
        old_sdk.execute(
            "INSERT OR REPLACE INTO entries (key, value, created) VALUES (?, ?, ?)", ("key-00001", b"{}", 1.0)
        )
        (value,) = old_sdk.execute("SELECT value FROM entries WHERE key = ?", ("key-00002",)).fetchone()
    assert value == VALUE.replace(b"x", b"c", 1)
    assert cache.get("key-00001") == b"{}"
    assert cache.stats().entries == 3


def test_a_file_from_a_newer_sdk_is_refused(tmp_path: Path) -> None:
    """A schema this release does not know is a CacheError naming the path, and is left alone."""
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE entries (key TEXT, stuff BLOB)")
        raw.execute("PRAGMA user_version = 3")
    with pytest.raises(CacheError, match=r"schema 3, newer than this typed-llm's 2") as caught:
        SQLiteCache(path)
    assert caught.value.path == str(path)
    assert _table_sql(path) == ("CREATE TABLE entries (key TEXT, stuff BLOB)", 3)


OPEN_AND_COUNT = (
    "import sys; from typed_llm import SQLiteCache; print(SQLiteCache(sys.argv[1]).stats().entries)"
)


def test_processes_opening_an_old_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    """Four processes starting on one schema-1 file: each sees every entry, none fails."""
    path = tmp_path / "old.sqlite3"
    rows = _old_file(path, 2000)
    workers = [
        subprocess.Popen([sys.executable, "-c", OPEN_AND_COUNT, str(path)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    counts = [worker.communicate(timeout=120)[0].strip() for worker in workers]
    assert counts == ["2000"] * 4
    assert [worker.returncode for worker in workers] == [0] * 4
    cache = SQLiteCache(path)
    assert _table_sql(path)[1] == 2
    assert all(cache.get(key) == value for key, value in list(rows.items())[::97])


def test_a_client_answers_from_a_migrated_file(tmp_path: Path, fake: FakeAPI) -> None:
    """An answer stored under schema 1 is a hit after the migration: nothing is sent again."""
    path = tmp_path / "c.sqlite3"
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="kept across the migration"),))
    first = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=SQLiteCache(path))
    answer = first.complete(request)
    first.close()
    # Rewrite the file in schema 1 with the same rows, as a 0.2.0 cache holding that answer.
    with sqlite3.connect(path, isolation_level=None) as raw:
        stored = raw.execute("SELECT key, value, created FROM entries").fetchall()
        raw.execute("DROP TABLE entries")
        raw.execute("PRAGMA user_version = 0")
        raw.executescript(SCHEMA_1)
        raw.executemany("INSERT INTO entries (key, value, created) VALUES (?, ?, ?)", stored)
    again = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=SQLiteCache(path))
    assert again.complete(request) == answer
    assert len(fake.received) == 1
    again.close()


def test_a_migration_killed_half_way_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL while the entries move (the WAL growing): the file is still whole, and migrates later."""
    path = tmp_path / "old.sqlite3"
    rows = _old_file(path, 12_000)
    wal = path.with_name(path.name + "-wal")
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    worker = subprocess.Popen([sys.executable, "-c", OPEN_AND_COUNT, str(path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (wal.exists() and wal.stat().st_size > 1_500_000) and worker.poll() is None:
            assert time.monotonic() < deadline, "the migration never started writing"
            time.sleep(0.001)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=60)
    with sqlite3.connect(path) as raw:
        (version,) = raw.execute("PRAGMA user_version").fetchone()
        found = dict(raw.execute("SELECT key, value FROM entries").fetchall())
    assert found == rows  # schema 1 untouched (killed in the transaction) or schema 2 complete
    assert version in {0, 2}
    cache = SQLiteCache(path)
    assert _table_sql(path)[1] == 2
    assert cache.stats().entries == 12_000
    assert all(cache.get(key) == value for key, value in list(rows.items())[::499])
