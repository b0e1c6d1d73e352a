"""The command line, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT
from typed_llm import SQLiteCache
from typed_llm._cli import DEFAULT_CACHE_FILE, main


def test_demo_prints_typed_results_offline(capsys: pytest.CaptureFixture[str]) -> None:
    """`typed-llm demo` replays a tour: plausible results first, then one short line per log event."""
    assert main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # no wall of log lines before the results
    results, logged = out.split("What the SDK logged: ")
    lines = results.splitlines()
    assert lines[0].startswith("typed-llm demo: real SDK calls, answered offline")
    assert [line.split()[0] for line in lines if line[:1].isdigit()] == [
        "1.",
        "2.",
        "3.",
        "4.",
        "5.",
        "6.",
        "7.",
    ]
    assert "'A type checker catches a misspelled parameter or a missing field" in results
    assert "model=gpt-4o-mini-2026-01-01 finish_reason=stop 27 prompt + 19 completion tokens" in results
    assert "the same response from the cache" in results
    assert "0 HTTP requests" in results
    assert "3 vectors, dimension=8, norms 1.000, 1.000, 1.000" in results
    assert "City(name='Paris', country='France', population=2102650)" in results
    assert "'It keeps reasoning items and tool calls as typed output items" in results
    assert "model=gpt-4o-mini-2026-01-01 status=completed output=['message']" in results
    # gpt-4o-mini at OpenAI's published $0.15 / $0.60 per million tokens: 27 in, 19 out.
    assert (
        "cost: $0.00001545 (input $0.00000405, cached $0, output $0.0000114; gpt-4o-mini at genai-prices"
        in results
    )
    assert "cost: $0.00000006 (input $0.00000006" in results  # 3 tokens of text-embedding-3-small at $0.02
    assert (
        "429 rate_limit_exceeded: waited what the server asked (retry-after-ms 300), tried again" in results
    )
    assert "'Bonjour !'" in results
    assert "QuotaExceededError, not retried" in results
    assert "HTTP 429 (insufficient_quota)" in results
    assert "Echo" not in out
    events = [line.split()[1] for line in logged.splitlines() if line.startswith("  ")]
    assert events == [
        "response",
        "cache_hit",
        "response",
        "response",
        "response",  # the json_schema call: the fake reports the SDK's own count, so no token_drift
        "response",  # the Responses call, likewise
        "retry_scheduled",
        "response",
        "error",
    ]
    assert logged.startswith("9 events")
    assert all(len(line) <= 110 for line in logged.splitlines())


def test_scripts_demo_says_what_it_does_before_setting_up() -> None:
    """./scripts/demo announces the set-up before it starts, then how long it took, then the tour."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "demo")], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()[:2]
    assert first.startswith("demo: ")
    assert "scripts/bootstrap" in first
    assert second.startswith("demo: environment ready in ")
    assert "1. chat" in done.stdout


def test_demo_runs_as_a_command() -> None:
    """The installed entry point runs the demo in a fresh process (no network: it replays)."""
    done = subprocess.run(
        [sys.executable, "-c", "from typed_llm._cli import main; raise SystemExit(main(['demo']))"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "finish_reason=stop" in done.stdout
    assert "What the SDK logged: 9 events" in done.stdout


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown subcommand exits 2 with argparse's usage message."""
    with pytest.raises(SystemExit) as caught:
        main(["fly"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_cache_stats_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`typed-llm cache stats` shows the entries of a file; `cache clear` empties it."""
    path = tmp_path / "c.sqlite3"
    cache = SQLiteCache(path)
    for index in range(3):
        cache.set(f"k{index}", b"{}")
    assert main(["cache", "stats", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"file     {path}" in out
    assert "entries  3" in out
    assert main(["cache", "clear", "--file", str(path)]) == 0
    assert "cleared 3 entries" in capsys.readouterr().out
    assert cache.stats().entries == 0


CACHE_FILE_VARIABLES = ("TYPED_LLM_CACHE_FILE_NAME", "TYPED_LLM_CACHE_FILE")
"""The settings' name for the cache file (TYPED_LLM_<KEY>), and the CLI's older one, its alias."""


@pytest.mark.parametrize("variable", CACHE_FILE_VARIABLES)
def test_cache_commands_read_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """Without --file, the variable names the cache; a missing file is an error, not a new file."""
    path = tmp_path / "env.sqlite3"
    for name in CACHE_FILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(path))
    assert main(["cache", "stats"]) == 1
    assert "no cache file" in capsys.readouterr().err
    assert not path.exists()
    SQLiteCache(path).set("k", b"{}")
    assert main(["cache", "stats"]) == 0
    assert "entries  1" in capsys.readouterr().out


def test_the_command_needs_no_pytest() -> None:
    """``typed-llm demo`` and ``cassettes check`` run where pytest is not installed (it is a test tool)."""
    script = (
        "import sys; sys.modules['pytest'] = None\n"
        "from typed_llm._cli import main\n"
        "assert main(['--log-level', 'warning', 'cassettes', 'check', 'cassettes']) == 0\n"
        "assert main(['--log-level', 'warning', 'demo']) == 0\n"
        "assert sys.modules['pytest'] is None\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _foreign_database(path: Path) -> None:
    import sqlite3  # noqa: PLC0415

    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE invoices (number INTEGER PRIMARY KEY, total REAL)")
    connection.execute("INSERT INTO invoices VALUES (1, 9.5)")
    connection.commit()
    connection.close()


def test_cache_stats_refuses_another_applications_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """stats (and clear) on a foreign SQLite file: exit 1, a clear message, the file untouched."""
    import sqlite3  # noqa: PLC0415

    path = tmp_path / "app.db"
    _foreign_database(path)
    before = path.read_bytes()
    for command in ("stats", "clear"):
        assert main(["cache", command, "--file", str(path)]) == 1
        err = capsys.readouterr().err
        assert f"{path} is not a typed-llm cache" in err
        assert "another application (tables: invoices)" in err
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]  # no -wal, no -shm left
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert connection.execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]
    connection.close()


def test_cache_stats_on_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    """A text file: a one-line message and exit 1 from the real command, no traceback, file unchanged."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "typed-llm"), "cache", "stats", "--file", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        == f"typed-llm: {path} is not a typed-llm cache: it is not an SQLite database; it was left as it was"
    )
    assert path.read_text() == "not a database\n"


def _one_facade_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """One message through the seed facade with its cache on: one entry in its cache file."""
    from helpers import FAKE_OPENAI_KEY  # noqa: PLC0415
    from typed_llm import openai_utils  # noqa: PLC0415
    from typed_llm._compat import registry  # noqa: PLC0415
    from typed_llm.testing._fake import FakeAPI  # noqa: PLC0415

    registry._reset()
    try:
        with FakeAPI() as fake:
            monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
            monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_base_url)
            openai_utils.force_api_cache(True)
            openai_utils.client().send_message([{"role": "user", "content": "hi"}])
    finally:
        registry._reset()


def test_the_cli_and_the_facade_share_the_default_cache_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The facade's cache (CACHE_API_CALLS=True, default file name) is the one `cache stats` reads."""

    monkeypatch.chdir(tmp_path)
    for name in CACHE_FILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    _one_facade_call(monkeypatch)
    assert main(["cache", "stats"]) == 0
    out = capsys.readouterr().out
    assert f"file     {DEFAULT_CACHE_FILE}" in out
    assert "entries  1" in out


@pytest.mark.parametrize("variable", CACHE_FILE_VARIABLES)
def test_the_cli_reads_the_file_the_facade_wrote_where_the_environment_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """Either variable moves the facade's cache file and `cache stats`'s default alike."""

    monkeypatch.chdir(tmp_path)
    for name in CACHE_FILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "elsewhere" / "run.sqlite3"
    path.parent.mkdir()
    monkeypatch.setenv(variable, str(path))
    _one_facade_call(monkeypatch)
    assert path.is_file()
    assert not (tmp_path / DEFAULT_CACHE_FILE).exists()
    assert main(["cache", "stats"]) == 0
    out = capsys.readouterr().out
    assert f"file     {path}" in out
    assert "entries  1" in out


def test_both_cache_file_variables_at_once_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name and its alias together are ambiguous: exit 1 naming both, no file looked at."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TYPED_LLM_CACHE_FILE_NAME", str(tmp_path / "a.sqlite3"))
    monkeypatch.setenv("TYPED_LLM_CACHE_FILE", str(tmp_path / "b.sqlite3"))
    assert main(["cache", "stats"]) == 1
    err = capsys.readouterr().err
    assert "one of TYPED_LLM_CACHE_FILE and TYPED_LLM_CACHE_FILE_NAME, not both" in err
