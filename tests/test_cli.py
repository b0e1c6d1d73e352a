"""The command line, as a user runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from typed_llm._cli import main


def test_demo_prints_typed_results_offline(capsys: pytest.CaptureFixture[str]) -> None:
    """`typed-llm demo` replays: a chat, an embedding summary, a retried 429 and a typed quota error."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "model=gpt-4o-mini-2026-01-01 finish_reason=stop" in out
    assert "text='Echo: Name one reason to type-check LLM calls.'" in out
    assert "usage: prompt=21 completion=8 total=29" in out
    assert "vectors=3 dimension=8" in out
    assert "norms 1.000, 1.000, 1.000" in out
    assert "429 rate_limit_exceeded, waited 0.30s as the server asked" in out
    assert "text='Echo: One call too many'" in out
    assert "QuotaExceededError: HTTP 429 (insufficient_quota)" in out


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
