"""A worker process for the SQLiteCache reliability test (run by test_cache_reliability.py).

Usage: python cache_worker.py DB WORKER SEED OUT

Writes 2,000 entries with keys drawn from a pool shared with the other workers, reading a random key
after each write. Every value is a function of its key alone, so any reader can tell a right value
from a wrong or partial one. Prints a progress line every 100 writes; at the end writes OUT (JSON):
the keys it wrote and what its reads found.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

from typed_llm import SQLiteCache

KEYS = 3000
WRITES = 2000


def value_for(key: str) -> bytes:
    """The only right value of ``key``: JSON naming the key, with a payload long enough to tear."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return json.dumps({"key": key, "payload": digest * 40}).encode()


def main() -> None:
    database, worker, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    cache = SQLiteCache(database)
    rng = random.Random(seed)
    written: set[str] = set()
    reads = {"hits": 0, "misses": 0, "wrong": 0}
    for index in range(WRITES):
        key = f"k{rng.randrange(KEYS)}"
        cache.set(key, value_for(key))
        written.add(key)
        probe = f"k{rng.randrange(KEYS)}"
        found = cache.get(probe)
        if found is None:
            reads["misses"] += 1
        elif found == value_for(probe):
            reads["hits"] += 1
        else:
            reads["wrong"] += 1
        if index % 100 == 0:
            print(f"{worker} wrote {index}", flush=True)  # noqa: T201  (progress for the parent)
    out.write_text(json.dumps({"worker": worker, "written": sorted(written), "reads": reads}))


if __name__ == "__main__":
    main()
