"""``typed-llm cache`` and the settings: it needs one of them, the cache file's name.

A config.ini that cannot be read, or a bad value in it, stops the command only when the file could
decide that name; when the environment (or ``--file``) gives it, the command runs and says, on one
line of standard error, what it ignored.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from typed_llm import SQLiteCache
from typed_llm._cli import DEFAULT_CACHE_FILE, main

CACHE_FILE_VARIABLES = ("TYPED_LLM_CACHE_FILE_NAME", "TYPED_LLM_CACHE_FILE")
BROKEN = {
    "unparseable": (
        b"garbage\n[OpenAI\nMODEL = x\n",
        "a readable config.ini (File contains no section headers.",
    ),
    "not UTF-8": ("[OpenAI]\nMODEL = gpt-4o\n; café\n".encode("latin-1"), "byte 0xe9 on line 3 is not UTF-8"),
}


@pytest.fixture(autouse=True)
def _no_cache_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test runs in an empty folder with neither cache file variable set."""
    monkeypatch.chdir(tmp_path)
    for name in (*CACHE_FILE_VARIABLES, "TYPED_LLM_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def _cache_with_one_entry(path: Path) -> Path:
    SQLiteCache(path).set("k", b"{}")
    return path


@pytest.mark.parametrize("variable", CACHE_FILE_VARIABLES)
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_config_ini_is_a_warning_when_the_environment_names_the_cache(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    case: str,
) -> None:
    """The environment beats config.ini for the file name, so the file is not needed: exit 0, one warning."""
    content, reason = BROKEN[case]
    (tmp_path / "config.ini").write_bytes(content)
    path = _cache_with_one_entry(tmp_path / "env.sqlite3")
    monkeypatch.setenv(variable, str(path))
    assert main(["cache", "stats"]) == 0
    captured = capsys.readouterr()
    assert f"file     {path}" in captured.out
    assert "entries  1" in captured.out
    (line,) = captured.err.splitlines()
    assert line.startswith("typed-llm: warning: config_file (from config.ini): ")
    assert reason in line
    assert line.endswith("ignored: the cache file's name does not depend on it")


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_config_ini_that_could_name_the_cache_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """No variable: config.ini could hold CACHE_FILE_NAME, so exit 1 naming the file, why, and the way out."""
    content, reason = BROKEN[case]
    (tmp_path / "config.ini").write_bytes(content)
    _cache_with_one_entry(tmp_path / DEFAULT_CACHE_FILE)  # the default is there: still not used
    assert main(["cache", "stats"]) == 1
    err = capsys.readouterr().err
    first, *rest = err.splitlines()
    assert first == (
        "typed-llm: cannot tell which cache file to read (give --file, or set TYPED_LLM_CACHE_FILE_NAME): "
        "1 invalid setting(s):"
    )
    (problem,) = rest
    assert problem.startswith("  config_file (from config.ini): ")
    assert reason in problem


def test_file_given_reads_no_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--file`` names the cache: config.ini is not read at all, so nothing is said about it."""
    (tmp_path / "config.ini").write_bytes(BROKEN["unparseable"][0])
    path = _cache_with_one_entry(tmp_path / "given.sqlite3")
    assert main(["cache", "stats", "--file", str(path)]) == 0
    captured = capsys.readouterr()
    assert "entries  1" in captured.out
    assert captured.err == ""


def test_a_redis_cache_reads_no_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--redis`` names the cache: a broken config.ini is not read (here the server is absent)."""
    (tmp_path / "config.ini").write_bytes(BROKEN["unparseable"][0])
    assert main(["cache", "stats", "--redis", "redis://127.0.0.1:1/0"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("typed-llm: RedisCache at redis://127.0.0.1:1/0 failed to stats: ")
    assert "config" not in line


def test_a_bad_value_of_another_key_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """config.ini gives CACHE_FILE_NAME and a bad TEMPERATURE: the name is read, the temperature reported."""
    path = _cache_with_one_entry(tmp_path / "from-ini.sqlite3")
    (tmp_path / "config.ini").write_text(f"[OpenAI]\nCACHE_FILE_NAME = {path}\nTEMPERATURE = hot\n")
    assert main(["cache", "stats"]) == 0
    captured = capsys.readouterr()
    assert f"file     {path}" in captured.out
    (line,) = captured.err.splitlines()
    assert line.startswith("typed-llm: warning: temperature (from config.ini [OpenAI] TEMPERATURE): ")
    assert "valid number" in line


def test_a_bad_cache_file_name_in_config_ini_is_still_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The setting the command needs is itself bad: exit 1, naming where it came from."""
    (tmp_path / "config.ini").write_text("[OpenAI]\nCACHE_FILE_NAME =\n")
    assert main(["cache", "stats"]) == 1
    err = capsys.readouterr().err
    assert "cache_file_name (from config.ini [OpenAI] CACHE_FILE_NAME): " in err


def test_the_real_command_exits_0_with_one_warning_line(tmp_path: Path) -> None:
    """The installed ``typed-llm``, run as a user would: exit status 0 and one line on standard error."""
    (tmp_path / "config.ini").write_bytes(BROKEN["unparseable"][0])
    path = _cache_with_one_entry(tmp_path / "env.sqlite3")
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {*CACHE_FILE_VARIABLES, "TYPED_LLM_CONFIG"}
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "typed-llm"), "cache", "stats"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
        env={**environ, "TYPED_LLM_CACHE_FILE_NAME": str(path)},
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("typed-llm: warning: config_file (from config.ini): a readable config.ini")
    assert "entries  1" in done.stdout
