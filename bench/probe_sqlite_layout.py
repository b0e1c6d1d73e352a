"""Which SQLite layout for the cache: bytes per entry and lookup µs of the candidates, side by side.

The probe behind ``SQLiteCache``'s schema 2 (issue 19). Each candidate table is filled with the same
N entries (64-hex keys, ``VALUE_BYTES`` values, random key order), then looked up by plain sqlite3
SELECTs of random existing keys, every candidate per key, in rotating order, with and without
``mmap_size``; ``diskcache.Cache.get`` on the same keys is the baseline. No target: it chose the
layout, ``bench_cache.py`` checks the cache that uses it.

- ``schema1``: ``key TEXT PRIMARY KEY ... WITHOUT ROWID`` (typed-llm 0.2.0);
- ``schema2``: a rowid table with ``key TEXT NOT NULL UNIQUE`` (today's);
- ``hashid``: the key's first 8 bytes as ``INTEGER PRIMARY KEY`` (one B-tree, no index).

Run it from the project root::

    .venv/bin/python bench/probe_sqlite_layout.py [--entries 200000] [--samples 4000]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import diskcache

if TYPE_CHECKING:
    from collections.abc import Callable

VALUE_BYTES = 1126
VALUE = b'{"answer":"' + b"a" * (VALUE_BYTES - 13) + b'"}'
MMAP = 2**28
"""``mmap_size`` of the mapped variants (256 MiB)."""


def key_of(index: int) -> str:
    """A real-shaped key: 64 hex characters."""
    return hashlib.sha256(f"probe {index}".encode()).hexdigest()


SCHEMA_1 = (
    "CREATE TABLE entries (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, created REAL NOT NULL) "
    "WITHOUT ROWID"
)
SCHEMA_2 = (
    "CREATE TABLE entries (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, value BLOB NOT NULL, "
    "created REAL NOT NULL)"
)
HASH_ID = (
    "CREATE TABLE entries (id INTEGER PRIMARY KEY, key TEXT NOT NULL, value BLOB NOT NULL, "
    "created REAL NOT NULL)"
)


def hash_id(key: str) -> int:
    """The key's first 8 bytes as a signed 64-bit integer (a rowid)."""
    return int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)


LAYOUTS: dict[
    str, tuple[str, str, Callable[[str], tuple[object, ...]], str, Callable[[str], tuple[object, ...]]]
] = {
    "schema1": (
        SCHEMA_1,
        "INSERT INTO entries (key, value, created) VALUES (?, ?, 1.0)",
        lambda key: (key, VALUE),
        "SELECT value, created FROM entries WHERE key = ?",
        lambda key: (key,),
    ),
    "schema2": (
        SCHEMA_2,
        "INSERT INTO entries (key, value, created) VALUES (?, ?, 1.0)",
        lambda key: (key, VALUE),
        "SELECT value, created FROM entries WHERE key = ?",
        lambda key: (key,),
    ),
    "hashid": (
        HASH_ID,
        "INSERT OR REPLACE INTO entries (id, key, value, created) VALUES (?, ?, ?, 1.0)",
        lambda key: (hash_id(key), key, VALUE),
        "SELECT value, created, key FROM entries WHERE id = ?",
        lambda key: (hash_id(key),),
    ),
}
"""name: (DDL, insert, its parameters, lookup, its parameters)."""


def connect(path: Path, *, mapped: bool) -> sqlite3.Connection:
    """A connection with ``SQLiteCache``'s pragmas (and ``mmap_size`` when ``mapped``)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    if mapped:
        connection.execute(f"PRAGMA mmap_size = {MMAP}")
    return connection


def lookup(
    connection: sqlite3.Connection, select: str, parameters: Callable[[str], tuple[object, ...]]
) -> Callable[[str], object]:
    """One key's lookup on ``connection``: its row, or None."""
    return lambda key: connection.execute(select, parameters(key)).fetchone()


def main() -> None:
    """Fill each layout and diskcache, print bytes per entry, then the lookup medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=4000)
    args = parser.parse_args()
    keys = [key_of(index) for index in range(args.entries)]
    stored = 64 + VALUE_BYTES
    folder = Path(tempfile.mkdtemp(prefix="probe-layout-"))
    try:
        lookups: dict[str, Callable[[str], object]] = {}
        for name, (ddl, insert, row, select, parameters) in LAYOUTS.items():
            path = folder / f"{name}.sqlite3"
            loader = connect(path, mapped=False)
            loader.execute(ddl)
            loader.execute("PRAGMA cache_size = -1000000")
            started = time.perf_counter()
            loader.execute("BEGIN")
            loader.executemany(insert, (row(key) for key in keys))
            loader.execute("COMMIT")
            loader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            loader.close()
            size = path.stat().st_size / args.entries
            print(
                f"{name:10s} filled in {time.perf_counter() - started:5.1f} s  {size:6.0f} bytes per entry "
                f"({size / stored:.2f}x the {stored} stored)",
                flush=True,
            )
            for mapped in (False, True):
                connection = connect(path, mapped=mapped)
                lookups[f"{name}{' mmap' if mapped else ''}"] = lookup(connection, select, parameters)
        store = diskcache.Cache(str(folder / "diskcache"), size_limit=2**42)
        started = time.perf_counter()
        for block in range(0, args.entries, 10_000):
            with store.transact():
                for key in keys[block : block + 10_000]:
                    store.set(key, VALUE)
        size = sum(path.stat().st_size for path in (folder / "diskcache").rglob("*") if path.is_file())
        size /= args.entries
        print(
            f"{'diskcache':10s} filled in {time.perf_counter() - started:5.1f} s  "
            f"{size:6.0f} bytes per entry ({size / stored:.2f}x)"
        )
        lookups["diskcache.get"] = store.get
        rng = random.Random(0)  # noqa: S311  (picks keys, not secrets)
        timings: dict[str, list[int]] = {name: [] for name in lookups}
        names = list(lookups)
        for turn in range(args.samples + 500):
            key = keys[rng.randrange(args.entries)]
            for step in range(len(names)):
                name = names[(turn + step) % len(names)]
                started_ns = time.perf_counter_ns()
                found = lookups[name](key)
                elapsed = time.perf_counter_ns() - started_ns
                assert found is not None, (name, key)
                if turn >= 500:  # the first 500 keys warm up
                    timings[name].append(elapsed)
        print(f"\nlookup of a random existing key, median µs of {args.samples}, {args.entries:,} entries")
        for name, values in timings.items():
            print(f"  {name:18s} {statistics.median(values) / 1000:7.2f}")
        store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
