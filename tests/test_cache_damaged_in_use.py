"""An SQLite cache file damaged in place while in use: moved aside once, a fresh file, no failing calls.

The file opens well (its first page is whole) but its other pages are spoiled where it lies, as a
disk or a stray writer would: SQLite answers "database disk image is malformed" at the first write.
The first operation that meets it confirms it on a connection of its own, moves the file aside (one
``cache_file_damaged`` warning naming where) and goes on in a fresh file; another process holding
the same file follows to the fresh one. If the file cannot be moved, the ``CacheError`` stays, and
the check is not paid again at every call.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import pytest
from structlog.testing import capture_logs

from cache_files import aside, healthy
from helpers import FAKE_OPENAI_KEY
from typed_llm import CacheError, ChatRequest, OpenAIClient, SQLiteCache, UserMessage
from typed_llm._cache.sqlite_files import confirm_damage
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    from pathlib import Path

ENV = {"PATH": "", "PYTHONPATH": os.pathsep.join(sys.path)}
REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="cache me"),))


def _spoil_pages_in_place(path: Path) -> None:
    """Overwrite every page but the first where the file lies (same inode)."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(4096)
        file.write(os.urandom(size - 4096))


def test_a_write_on_a_file_damaged_in_place_moves_it_aside_once(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    healthy(path)
    _spoil_pages_in_place(path)
    spoiled = path.read_bytes()
    with capture_logs() as logs:
        cache = SQLiteCache(path)  # the first page is whole: nothing to see at the start
        assert logs == []
        for n in range(3):
            cache.set(f"new {n}", b"v")
            assert cache.get(f"new {n}") == b"v"
    (moved,) = aside(path)
    assert moved.read_bytes() == spoiled
    assert [(e["event"], e["log_level"], e["moved_to"]) for e in logs] == [
        ("cache_file_damaged", "warning", str(moved))
    ]
    assert cache.stats().entries == 3


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("get", lambda cache: cache.get("k1999") is None),
        ("stats", lambda cache: cache.stats().entries == 0),
        ("stored_values", lambda cache: cache.stored_values() == []),
    ],
)
def test_a_read_on_a_file_damaged_in_place_moves_it_aside_once(
    tmp_path: Path, name: str, first: object
) -> None:
    """A lookup or a maintenance statement meets the damage first: a miss (an empty file), one warning."""
    path = tmp_path / "cache.sqlite3"
    healthy(path)
    _spoil_pages_in_place(path)
    assert callable(first)
    with capture_logs() as logs:
        cache = SQLiteCache(path)
        assert first(cache), name
        cache.set("after", b"v")
        assert cache.get("after") == b"v"
    assert [e["event"] for e in logs] == ["cache_file_damaged"]
    assert len(aside(path)) == 1
    cache.close()


def test_threads_meeting_the_damage_together_move_it_aside_once(tmp_path: Path) -> None:
    """Threads with connections of their own on the file: one moves it aside, the others follow."""
    path = tmp_path / "cache.sqlite3"
    healthy(path)
    cache = SQLiteCache(path)
    start = threading.Barrier(4, timeout=30)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        assert cache.get(f"k{n}") is not None  # this thread's connection, on the healthy file
        start.wait()
        start.wait()  # the file is spoiled in between
        try:
            cache.set(f"new {n}", b"v")
            assert cache.get(f"new {n}") == b"v"
        except BaseException as exc:  # noqa: BLE001  (asserted below)
            errors.append(exc)

    runners = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    with capture_logs() as logs:
        for runner in runners:
            runner.start()
        start.wait()
        _spoil_pages_in_place(path)
        start.wait()
        for runner in runners:
            runner.join(timeout=30)
    assert errors == []
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["cache_file_damaged"]
    assert len(aside(path)) == 1
    assert cache.stats().entries == 3
    cache.close()


def test_a_client_on_a_file_damaged_in_place_caches_again(tmp_path: Path) -> None:
    """The call never fails, one warning, and the second identical call is a hit (no request)."""
    path = tmp_path / "cache.sqlite3"
    healthy(path)
    _spoil_pages_in_place(path)
    with FakeAPI() as fake, capture_logs() as logs:
        with OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=path) as client:
            first = client.complete(REQUEST)
            assert client.complete(REQUEST) == first
        assert len(fake.received) == 1
    warnings = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert warnings == ["cache_file_damaged"]
    assert len(aside(path)) == 1


def test_a_file_that_cannot_be_moved_keeps_its_cache_error_without_a_check_per_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache.sqlite3"
    healthy(path)
    _spoil_pages_in_place(path)
    checks: list[Path] = []

    def counted(where: Path) -> object:
        checks.append(where)
        return confirm_damage(where)

    def refuse(where: Path) -> Path:
        raise PermissionError(13, "Permission denied", str(where))

    monkeypatch.setattr("typed_llm._cache.sqlite.confirm_damage", counted)
    monkeypatch.setattr("typed_llm._cache.sqlite.move_aside", refuse)
    cache = SQLiteCache(path)
    for n in range(3):
        with pytest.raises(CacheError, match="malformed"):
            cache.set(f"k{n}", b"v")
    assert checks == [path]
    assert aside(path) == []


_HOLDER = """
import sys
from typed_llm import SQLiteCache
from structlog.testing import capture_logs
cache = SQLiteCache(sys.argv[1])
print("open", flush=True)
sys.stdin.readline()
with capture_logs() as logs:
    cache.set("from the holder", b"2")
    print(cache.get("from the repairer"), [e["event"] for e in logs], flush=True)
"""


def test_another_process_holding_the_damaged_file_follows_to_the_fresh_one(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    healthy(path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    assert holder.stdout.readline().strip() == "open"
    _spoil_pages_in_place(path)
    with capture_logs() as logs:
        cache = SQLiteCache(path)
        cache.set("from the repairer", b"1")
    assert [e["event"] for e in logs] == ["cache_file_damaged"]
    out, err = holder.communicate("go\n", timeout=60)
    assert holder.returncode == 0, err
    assert out.strip() == "b'1' ['cache_file_reopened']"
    assert cache.get("from the holder") == b"2"
    assert len(aside(path)) == 1
