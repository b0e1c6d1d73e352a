"""The command line, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from helpers import ROOT
from typed_llm import SQLiteCache
from typed_llm._cli import main

if TYPE_CHECKING:
    from pathlib import Path


def test_demo_prints_typed_results_offline(capsys: pytest.CaptureFixture[str]) -> None:
    """`typed-llm demo` replays: chat, embedding, parse, a Responses call, a retried 429, a quota error."""
    assert main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert "model=gpt-4o-mini-2026-01-01 finish_reason=stop" in out
    assert "text='Echo: Name one reason to type-check LLM calls.'" in out
    assert "usage: prompt=21 completion=8 total=29" in out
    # gpt-4o-mini at OpenAI's published $0.15 / $0.60 per million tokens: 21 in, 8 out.
    assert (
        "cost: $0.00000795 (input $0.00000315, cached $0, output $0.0000048; gpt-4o-mini at genai-prices"
        in out
    )
    assert "cost: $0.00000006 (input $0.00000006" in out  # 3 tokens of text-embedding-3-small at $0.02
    assert "the same call again: the same response from the cache" in out
    assert "0 HTTP requests" in out
    assert "vectors=3 dimension=8" in out
    assert "City: City(name='Paris', country='Paris', population=3) (strict json_schema, validated)" in out
    assert "norms 1.000, 1.000, 1.000" in out
    assert "respond model=gpt-4o-mini-2026-01-01 status=completed output=['message']" in out
    assert "output_text='Echo: Name one reason to use the Responses API.'" in out
    assert "429 rate_limit_exceeded, retried after the wait the server asked for" in out
    assert "text='Echo: One call too many'" in out
    assert "QuotaExceededError: HTTP 429 (insufficient_quota)" in out
    events = [line.split("]", 1)[1].split()[0] for line in err.splitlines() if "[typed_llm]" in line]
    assert events == [
        "response",
        "cache_hit",
        "response",
        "response",
        "response",
        "token_drift",  # the fake counts words: its prompt_tokens for a json_schema call is far off
        "response",
        "token_drift",  # and for the Responses call's instructions and input
        "retry_scheduled",
        "response",
        "error",
    ]


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


def test_cache_commands_read_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --file, TYPED_LLM_CACHE_FILE names the cache; a missing file is an error, not a new file."""
    path = tmp_path / "env.sqlite3"
    monkeypatch.setenv("TYPED_LLM_CACHE_FILE", str(path))
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
