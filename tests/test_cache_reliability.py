"""SQLiteCache under four processes at once, one of them killed with SIGKILL part way.

Afterwards the file passes PRAGMA integrity_check, every entry a surviving process wrote reads back
equal, and no read in any process ever returned a wrong or partial value.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from cache_worker import value_for
from typed_llm import SQLiteCache

WORKER = Path(__file__).with_name("cache_worker.py")
PROCESSES = 4
VICTIM = 0


def test_four_processes_and_a_kill(tmp_path: Path) -> None:
    """Concurrent writers and readers, one SIGKILLed mid-run: the cache stays whole and right."""
    database = tmp_path / "shared.sqlite3"
    SQLiteCache(database)  # created once up front, as an application would
    outputs = [tmp_path / f"out{n}.json" for n in range(PROCESSES)]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(database), str(n), str(1000 + n), str(outputs[n])],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    victim = workers[VICTIM]
    assert victim.stdout is not None
    for line in victim.stdout:  # let the victim get part way, then kill it mid-stream
        if line.startswith(f"{VICTIM} wrote 500"):
            victim.send_signal(signal.SIGKILL)
            break
    for worker in workers:
        worker.communicate(timeout=300)
    assert victim.returncode == -signal.SIGKILL
    assert not outputs[VICTIM].exists(), "the victim was killed before it finished"
    for n, worker in enumerate(workers):
        if n != VICTIM:
            assert worker.returncode == 0

    with sqlite3.connect(database) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    cache = SQLiteCache(database)
    survivors = [json.loads(outputs[n].read_text()) for n in range(PROCESSES) if n != VICTIM]
    checked = 0
    for survivor in survivors:
        assert survivor["reads"]["wrong"] == 0, survivor["reads"]
        assert survivor["reads"]["hits"] > 0
        for key in survivor["written"]:
            assert cache.get(key) == value_for(key), key
            checked += 1
    assert checked > 3000
    with sqlite3.connect(database) as raw:
        for key, value in raw.execute("SELECT key, value FROM entries"):
            assert value == value_for(key), key
