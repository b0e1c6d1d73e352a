"""SQLiteCache while another process moves a damaged cache file aside: no answer lands in the old file.

A process that opened the cache before the file was damaged keeps its SQLite connection, and
SQLite's reads and writes go through that connection's open files, whatever name they now have.
When another process finds the file damaged and moves it aside (with its -wal and -shm), the first
one's writes would land in the moved-aside file, "stored" but seen by no one, and it would never see
what the others store in the fresh file. Each connection knows the file it opened: a write checks
after its commit, and a miss before answering, that the path still names that file, and opens the
file now at the path when it does not.

SQLite's part: a connection whose file was moved neither checkpoints nor deletes the -wal and -shm
at the path when it closes (they are the fresh file's now), and a fresh, empty file discards a -wal
it finds beside it. The race test below holds the SDK to that with several processes at once.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import pytest
from structlog.testing import capture_logs

from cache_files import aside, healthy
from typed_llm import CacheError, SQLiteCache

if TYPE_CHECKING:
    from pathlib import Path

ENV = {"PATH": "", "PYTHONPATH": os.pathsep.join(sys.path)}


def _spoil_header_in_place(path: Path) -> None:
    """Damage the file where it is (same file, as a disk would): SQLite's magic kept, the rest spoiled."""
    with path.open("r+b") as file:
        file.seek(20)
        file.write(os.urandom(80))


_REPAIRER = """
import sys
from typed_llm import SQLiteCache
cache = SQLiteCache(sys.argv[1])
cache.set("paid by the repairer", b"1")
print("stored", flush=True)
sys.stdin.readline()  # holds its connection (its entries still in the fresh file's WAL) till told
print(cache.get("paid by the holder"), flush=True)
"""


def _read(path: Path, *keys: str) -> dict[str, bytes | None]:
    """What a fresh process finds under ``keys``."""
    code = (
        "import sys\nfrom typed_llm import SQLiteCache\ncache = SQLiteCache(sys.argv[1])\n"
        "print(repr({key: cache.get(key) for key in sys.argv[2:]}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), *keys],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=ENV,
    )
    found: dict[str, bytes | None] = eval(done.stdout)  # noqa: S307  (our own child's repr of a dict)
    return found


def test_a_process_holding_the_cache_while_another_moves_it_aside_stores_in_the_fresh_file(
    tmp_path: Path,
) -> None:
    """The holder's answer is in the fresh file for everyone, and it sees the repairer's answer."""
    path = tmp_path / "cache.sqlite3"
    healthy(path, entries=200)
    holder = SQLiteCache(path)  # a long-running process: its connection opened before the damage
    assert holder.get("k1") is not None
    _spoil_header_in_place(path)
    assert holder.get("k2") is not None  # its SQLite still answers from the header it read
    repairer = subprocess.Popen(
        [sys.executable, "-c", _REPAIRER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert repairer.stdout is not None
        assert repairer.stdin is not None
        assert repairer.stdout.readline() == "stored\n"
        (moved,) = aside(path)

        with capture_logs() as logs:
            holder.set("paid by the holder", b"2")
        assert [(e["event"], e["path"]) for e in logs] == [("cache_file_reopened", str(path))]
        assert holder.get("paid by the repairer") == b"1"
        assert holder.stats().entries == 2  # the fresh file's, not the old one's 200
        holder.close()  # its old connection's close leaves the fresh file's WAL alone

        assert _read(path, "paid by the holder", "paid by the repairer") == {
            "paid by the holder": b"2",
            "paid by the repairer": b"1",
        }
        repairer.stdin.write("\n")
        repairer.stdin.flush()
        assert repairer.stdout.readline() == "b'2'\n"
    finally:
        _, err = repairer.communicate(timeout=60)
    assert repairer.returncode == 0, err
    assert aside(path) == [moved]
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_cache_file_deleted_while_in_use_is_made_again_at_the_next_write(tmp_path: Path) -> None:
    """Someone deletes the file (to clear the cache) under a running process: each of its threads
    stores its next answer in a new file at the path, which another process reads."""
    path = tmp_path / "cache.sqlite3"
    cache = SQLiteCache(path)
    with capture_logs() as logs:  # in use as ever, from two threads: no reopening
        cache.set("before", b"0")
        worker = threading.Thread(target=cache.set, args=("before, from a thread", b"0"))
        worker.start()
        worker.join()
        assert cache.get("absent") is None
        assert cache.stats().entries == 2
    assert logs == []
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink()

    cache.set("after", b"1")
    worker = threading.Thread(target=cache.set, args=("after, from a thread", b"2"))
    worker.start()
    worker.join()
    assert _read(path, "before", "after", "after, from a thread") == {
        "before": None,
        "after": b"1",
        "after, from a thread": b"2",
    }
    assert cache.get("before") is None  # the deleted file's entries went with it
    cache.close()


def test_a_file_replaced_at_every_write_is_a_cache_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path whose file changes again after each write: a CacheError saying so, not a loop."""
    path = tmp_path / "cache.sqlite3"
    cache = SQLiteCache(path)
    monkeypatch.setattr(SQLiteCache, "_moved", lambda _self: True)
    with pytest.raises(CacheError, match="replaced 3 times during one write") as caught:
        cache.set("k", b"v")
    assert caught.value.path == str(path)


_WORKER = """
import sqlite3, sys, time
from pathlib import Path
from typed_llm import SQLiteCache
role, name = sys.argv[1], sys.argv[2]
holders = {}
print("ready", flush=True)
for line in sys.stdin:
    command, folder = line.rstrip().split(" ", 1)
    path = str(Path(folder) / "cache.sqlite3")
    if command == "open":  # a holder, before the damage
        holders[folder] = SQLiteCache(path)
        holders[folder].get("k1")
    elif command == "go" and role == "starter":
        SQLiteCache(path).set(name, name.encode())
    elif command == "go" and role == "opener":  # opens and fails and closes, over and over
        until = time.monotonic() + 0.5
        while time.monotonic() < until:
            raw = sqlite3.connect(path, timeout=0)
            try:
                raw.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error:
                pass
            finally:
                raw.close()
    elif command == "write":  # a holder, after the others started on the fresh file
        cache = holders.pop(folder)
        cache.set(name, name.encode())
        print(repr(sorted(k for k in [name, *sys.argv[3:]] if cache.get(k) is not None)), flush=True)
        cache.close()
        continue
    print("done", flush=True)
"""


def test_processes_racing_a_move_aside_leave_one_whole_fresh_file(tmp_path: Path) -> None:
    """Rounds of a damaged file: starters recover it while raw openers open it (each failed open
    makes a -wal and -shm beside it) and holders opened before the damage write after. Every
    answer is in the fresh file, which is whole and was made once; nothing of the old WAL in it."""
    starters = [f"starter {n}" for n in range(4)]
    holders = [f"holder {n}" for n in range(2)]
    names = starters + holders
    workers = {
        name: subprocess.Popen(
            [sys.executable, "-c", _WORKER, role, name, *starters],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        for role, group in (("starter", starters), ("opener", ["opener 0", "opener 1"]), ("holder", holders))
        for name in group
    }

    def tell(group: list[str], command: str, folder: Path) -> list[str]:
        for name in group:
            stdin = workers[name].stdin
            assert stdin is not None
            stdin.write(f"{command} {folder}\n")
            stdin.flush()
        answers = []
        for name in group:
            stdout = workers[name].stdout
            assert stdout is not None
            answers.append(stdout.readline().strip())
        return answers

    try:
        for worker in workers.values():
            assert worker.stdout is not None
            assert worker.stdout.readline() == "ready\n"
        for round_ in range(4):
            folder = tmp_path / f"round-{round_}"
            folder.mkdir()
            path = folder / "cache.sqlite3"
            healthy(path, entries=200)
            assert tell(holders, "open", folder) == ["done"] * len(holders)
            _spoil_header_in_place(path)
            assert tell([*starters, "opener 0", "opener 1"], "go", folder) == ["done"] * 6
            seen = tell(holders, "write", folder)
            assert seen == [repr(sorted([holder, *starters])) for holder in holders], round_
            assert len(aside(path)) == 1, round_
            cache = SQLiteCache(path)
            assert {name: cache.get(name) for name in names} == {n: n.encode() for n in names}
            assert cache.stats().entries == len(names)  # the old file's 200 entries are not in it
            cache.close()
            with sqlite3.connect(path) as raw:
                assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        for name, worker in workers.items():  # stdin closed: each worker's loop ends
            _, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, (name, err)
