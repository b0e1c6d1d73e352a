"""SQLiteCache on a damaged or unusable file: a typed error or a safe recovery, never a crash loop.

A damaged SQLite database (cut short, or with its pages spoiled) is moved aside and the cache starts
empty with a ``cache_file_damaged`` warning, once, even when several processes start on it together.
A file that is not an SQLite database, a symbolic link, and a folder this user cannot write are left
alone, with a ``CacheError`` that names the path and says what to do.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from structlog.testing import capture_logs

from cache_files import aside, healthy
from helpers import FAKE_OPENAI_KEY
from typed_llm import (
    CacheError,
    ChatRequest,
    OpenAIClient,
    SQLiteCache,
    TypedLLMError,
    UserMessage,
)
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="cache me"),))


def _half(path: Path) -> None:
    data = healthy(path)
    path.write_bytes(data[: len(data) // 2])


def _header_only(path: Path) -> None:
    path.write_bytes(healthy(path)[:50])


def _spoiled_header(path: Path) -> None:
    data = bytearray(healthy(path))
    data[20:100] = os.urandom(80)  # SQLite's magic string kept, the rest of the header spoiled
    path.write_bytes(bytes(data))


DAMAGED: list[tuple[str, Callable[[Path], None]]] = [
    ("half truncated", _half),
    ("cut inside the first page", _header_only),
    ("header spoiled", _spoiled_header),
]


@pytest.mark.parametrize(("case", "damage"), DAMAGED, ids=[d[0] for d in DAMAGED])
def test_damaged_database_is_moved_aside_and_the_cache_starts_empty(
    tmp_path: Path, case: str, damage: Callable[[Path], None]
) -> None:
    """The damaged bytes are kept next to the path; the cache works at once; the next start is quiet."""
    path = tmp_path / "cache.sqlite3"
    damage(path)
    original = path.read_bytes()
    with capture_logs() as logs:
        cache = SQLiteCache(path)
    (moved,) = aside(path)
    assert moved.read_bytes() == original, case
    assert [(e["event"], e["log_level"], e["path"], e["moved_to"]) for e in logs] == [
        ("cache_file_damaged", "warning", str(path), str(moved))
    ]
    assert cache.stats().entries == 0
    cache.set("k", b"v")
    assert cache.get("k") == b"v"
    cache.close()
    with capture_logs() as logs:
        again = SQLiteCache(path)
    assert again.get("k") == b"v"
    assert logs == []
    assert aside(path) == [moved]


def test_a_client_with_a_damaged_cache_file_answers(tmp_path: Path) -> None:
    """Through the public API: the client starts on a damaged file and its calls are cached anew."""
    path = tmp_path / "cache.sqlite3"
    _half(path)
    with FakeAPI() as fake:
        with OpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=SQLiteCache(path)
        ) as client:
            first = client.complete(REQUEST)
            assert client.complete(REQUEST) == first
        assert len(fake.received) == 1


def _not_a_database(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _text_file(path: Path) -> None:
    path.write_text("[OpenAI]\nMODEL = gpt-4o\n")


def _link_to_text(path: Path) -> None:
    target = path.with_name("notes.txt")
    target.write_text("my notes\n")
    path.symlink_to(target)


def _link_to_damaged_database(path: Path) -> None:
    target = path.with_name("elsewhere.sqlite3")
    _half(target)
    path.symlink_to(target)


LEFT_ALONE: list[tuple[str, Callable[[Path], None], str]] = [
    ("random bytes", _not_a_database, "it is not an SQLite database"),
    ("a text file", _text_file, "it is not an SQLite database"),
    ("symlink to a text file", _link_to_text, "it is a symbolic link"),
    ("symlink to a damaged database", _link_to_damaged_database, "it is a symbolic link"),
]


@pytest.mark.parametrize(("case", "make", "expected"), LEFT_ALONE, ids=[c[0] for c in LEFT_ALONE])
def test_a_file_that_may_not_be_a_cache_is_left_alone(
    tmp_path: Path, case: str, make: Callable[[Path], None], expected: str
) -> None:
    """Not a database, or a link: CacheError naming the path and what to do; nothing is moved or changed."""
    path = tmp_path / "cache.sqlite3"
    make(path)
    before = {p.name: (p.is_symlink(), p.read_bytes()) for p in tmp_path.iterdir()}
    for _ in range(2):  # the same clear error at every start, not a crash of another kind
        with pytest.raises(CacheError) as caught:
            SQLiteCache(path)
        assert caught.value.path == str(path), case
        assert str(caught.value).startswith(f"SQLiteCache cannot use {path}: {expected}")
        assert "delete or move" in str(caught.value) or "remove it" in str(caught.value)
        assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    after = {
        p.name: (p.is_symlink(), p.read_bytes())
        for p in tmp_path.iterdir()
        if not p.name.endswith(("-wal", "-shm"))
    }
    assert after == before


def test_cache_error_is_typed_and_crosses_processes(tmp_path: Path) -> None:
    """CacheError is a TypedLLMError and survives pickling with its path."""
    path = tmp_path / "cache.sqlite3"
    _not_a_database(path)
    with pytest.raises(TypedLLMError) as caught:
        SQLiteCache(path)
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301  (our own error, just made)
    assert isinstance(copy, CacheError)
    assert isinstance(caught.value, CacheError)
    assert (copy.path, str(copy)) == (caught.value.path, str(caught.value))


@pytest.mark.parametrize(
    ("case", "make"),
    [
        (
            "folder is a file",
            lambda tmp: (tmp / "parent").write_text("x") and tmp / "parent" / "cache.sqlite3",
        ),
        ("path is a folder", lambda tmp: (tmp / "cache.sqlite3").mkdir() or tmp / "cache.sqlite3"),
    ],
    ids=["folder is a file", "path is a folder"],
)
def test_a_path_that_cannot_hold_a_file_is_a_typed_error(
    tmp_path: Path, case: str, make: Callable[[Path], Path]
) -> None:
    """OS errors at the start (a file where the folder should be, a folder at the path): CacheError."""
    path = make(tmp_path)
    with pytest.raises(CacheError) as caught:
        SQLiteCache(path)
    assert caught.value.path == str(path), case
    assert str(caught.value).startswith(f"SQLiteCache cannot use {path}: ")
    assert isinstance(caught.value.__cause__, OSError)


_READ_ONLY_CHILD = """
import sys
from typed_llm import CacheError, SQLiteCache
try:
    SQLiteCache(sys.argv[1])
except CacheError as exc:
    print(type(exc.__cause__).__name__, exc, sep="|")
"""


@pytest.mark.parametrize("exists", [False, True], ids=["new file", "existing file"])
def test_a_read_only_folder_is_a_typed_error(tmp_path: Path, exists: bool) -> None:
    """A folder this user may not write: CacheError with the path and 'make ... writable'.

    Root may write anywhere, so as root the child process runs without its capabilities (setpriv).
    """
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "cache.sqlite3"
    if exists:
        SQLiteCache(path).close()
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: no way to lose write access")
        prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-all"]
    folder.chmod(0o555)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", _READ_ONLY_CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={"PATH": "", "PYTHONPATH": os.pathsep.join(sys.path)},
        )
    finally:
        folder.chmod(0o755)
    cause, message = done.stdout.strip().split("|")
    assert cause in {"PermissionError", "OperationalError"}
    assert message.startswith(f"SQLiteCache cannot use {path}: ")
    assert "make the file and its folder writable by this user, or pass another path" in message


_STARTER = """
import sys, time
from pathlib import Path
from typed_llm import SQLiteCache
go, path, n = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
Path(path + ".ready-" + n).touch()
while not go.exists():
    time.sleep(0.0005)
cache = SQLiteCache(path)
cache.set("from " + n, n.encode())
print(n)
"""


def test_processes_starting_together_on_a_damaged_file_move_it_once(tmp_path: Path) -> None:
    """Six processes start on one damaged file at once: one moves it aside, all share the fresh file."""
    path = tmp_path / "cache.sqlite3"
    _half(path)
    original = path.read_bytes()
    go = tmp_path / "go"
    env = {"PATH": "", "PYTHONPATH": os.pathsep.join(sys.path)}
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", _STARTER, str(go), str(path), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(6)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("*.ready-*"))) < len(starters):  # all imported: start them at once
        assert time.monotonic() < deadline, "the starters did not get ready"
        time.sleep(0.01)
    go.touch()
    outputs = [starter.communicate(timeout=120) for starter in starters]
    for starter, (out, err) in zip(starters, outputs, strict=True):
        assert starter.returncode == 0, err
        assert out.strip().isdigit()
    (moved,) = aside(path)
    assert moved.read_bytes() == original
    cache = SQLiteCache(path)
    assert {n: cache.get(f"from {n}") for n in range(6)} == {n: str(n).encode() for n in range(6)}
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _busy() -> sqlite3.OperationalError:
    """SQLITE_BUSY as SQLite raises it at once in WAL mode (another process's close or recovery)."""
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = sqlite3.SQLITE_BUSY
    error.sqlite_errorname = "SQLITE_BUSY"
    return error


@pytest.mark.parametrize("busy_opens", [1, 3])
def test_a_passing_busy_file_at_start_up_is_waited_for_not_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy_opens: int
) -> None:
    """SQLite's immediate SQLITE_BUSY while processes start together (one closing its connection
    cleans up the WAL): the cache opens once it passes, with its entries; BUSY is not damage."""
    path = tmp_path / "cache.sqlite3"
    SQLiteCache(path).set("kept", b"1")
    real = SQLiteCache._open_file
    left = [busy_opens]

    def busy_then_real(self: SQLiteCache, *, locked: bool = False) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise _busy()
        real(self, locked=locked)

    monkeypatch.setattr(SQLiteCache, "_open_file", busy_then_real)
    cache = SQLiteCache(path, busy_timeout=5.0)
    assert cache.get("kept") == b"1"
    assert aside(path) == []


def test_a_file_busy_past_the_busy_timeout_is_a_cache_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BUSY that does not pass within busy_timeout: a CacheError saying so; the file is left alone."""
    path = tmp_path / "cache.sqlite3"
    SQLiteCache(path).set("kept", b"1")

    def always_busy(self: SQLiteCache, *, locked: bool = False) -> None:
        del self, locked  # every open is busy, whoever opens
        raise _busy()

    monkeypatch.setattr(SQLiteCache, "_open_file", always_busy)
    started = time.monotonic()
    with pytest.raises(CacheError, match="database is locked"):
        SQLiteCache(path, busy_timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 10
    monkeypatch.undo()
    assert aside(path) == []
    assert SQLiteCache(path).get("kept") == b"1"


def test_cache_command_on_a_file_that_is_not_a_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`typed-llm cache stats` on a file that is not a database: exit 1 and the message, no traceback."""
    from typed_llm._cli import main  # noqa: PLC0415

    path = tmp_path / "cache.sqlite3"
    _not_a_database(path)
    assert main(["cache", "stats", "--file", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"typed-llm: {path} is not a typed-llm cache: it is not an SQLite database")
    assert "Traceback" not in err
