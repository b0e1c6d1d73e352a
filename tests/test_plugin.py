"""The pytest plugin, as a user's test suite meets it (run with pytest's own pytester).

A small user suite records against the loopback fake (mode once), then replays with the fake not
running and every connection beyond loopback refused; a changed prompt fails with the documented
message; a seeded key never reaches the cassette; the scanner catches a planted key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from typed_llm._cli import main

if TYPE_CHECKING:
    from pathlib import Path

USER_SUITE = """
import pytest
from typed_llm import ChatRequest, OpenAIClient, UserMessage

KEY = "sk-test-plugin-0123456789abcdefghij"


@pytest.mark.parametrize("city", ["Paris", "Lima"])
def test_capital(llm_cassette, llm_base_url, city):
    client = OpenAIClient(api_key=KEY, base_url=llm_base_url)
    question = f"PROMPT {city} and my key is {KEY}"
    answer = client.complete(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=question),)))
    assert city in answer.text


@pytest.mark.llm_cassette("shared/named")
def test_named(llm_cassette, llm_base_url):
    client = OpenAIClient(api_key=KEY, base_url=llm_base_url)
    client.complete(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="named"),)))
"""

GUARD = """
import socket
import pytest

_real = socket.socket.connect


def _loopback_only(sock, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        raise ConnectionRefusedError(f"not loopback: {host}")
    return _real(sock, address)


@pytest.fixture(autouse=True)
def _refuse_beyond_loopback(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(GUARD)
    pytester.makepyfile(test_user=USER_SUITE)
    return pytester


def test_record_once_then_replay_offline(suite: pytest.Pytester) -> None:
    """Mode once records from the fake; mode none replays with no fake and no network."""
    recorded = suite.runpytest_subprocess("--llm-record-mode=once", "-p", "no:cacheprovider")
    recorded.assert_outcomes(passed=3)
    cassettes = sorted(
        p.relative_to(suite.path).as_posix() for p in (suite.path / "cassettes").rglob("*.yaml")
    )
    assert cassettes == [
        "cassettes/shared/named.yaml",
        "cassettes/test_user/test_capital[Lima].yaml",
        "cassettes/test_user/test_capital[Paris].yaml",
    ]
    replayed = suite.runpytest_subprocess("-p", "no:cacheprovider")
    replayed.assert_outcomes(passed=3)


def test_seeded_key_never_reaches_the_cassette(suite: pytest.Pytester) -> None:
    """The key in the Authorization header and the key pasted into the prompt are both scrubbed."""
    suite.runpytest_subprocess("--llm-record-mode=once", "-p", "no:cacheprovider").assert_outcomes(passed=3)
    written = "".join(p.read_text() for p in (suite.path / "cassettes").rglob("*.yaml"))
    assert "sk-test-plugin-0123456789abcdefghij" not in written
    assert "sk-REDACTED" in written
    assert "authorization" not in written.lower()


def test_changed_prompt_fails_with_the_request_and_the_command(suite: pytest.Pytester) -> None:
    """In mode none, a request with no recording fails naming the request and how to record it."""
    suite.runpytest_subprocess("--llm-record-mode=once", "-p", "no:cacheprovider").assert_outcomes(passed=3)
    (suite.path / "test_user.py").write_text(USER_SUITE.replace("PROMPT", "CHANGED PROMPT"))
    replayed = suite.runpytest_subprocess("-p", "no:cacheprovider")
    replayed.assert_outcomes(passed=1, failed=2)
    expected = (
        "*UnrecordedRequestError: no recording of this request in the cassette: "
        "POST /v1/chat/completions model='gpt-4o-mini' "
        'last message="CHANGED PROMPT Lima and my key is sk-REDACTED". '
        "If the request changed on purpose, record it: "
        "pytest --llm-record-mode=once 'test_user.py::test_capital[[]Lima[]]'*"
    )
    replayed.stdout.fnmatch_lines([expected])
    assert "sk-test-plugin-0123456789abcdefghij" not in replayed.stdout.str().split("short test summary")[-1]


def test_scanner_catches_a_planted_key_and_passes_clean_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`typed-llm cassettes check` exits 1 listing file:line for a planted key, 0 for clean files."""
    clean = tmp_path / "clean.yaml"
    clean.write_text(
        "interactions:\n- request:\n    body: '{}'\n"
        "    headers:\n      openai-organization:\n      - REDACTED\n"
    )
    assert main(["cassettes", "check", str(tmp_path)]) == 0
    assert "nothing that looks like a secret" in capsys.readouterr().out
    planted = tmp_path / "planted.yaml"
    planted.write_text(
        "interactions:\n- request:\n    headers:\n"
        "      authorization:\n      - Bearer sk-proj-abcdefghijklmnopqrstuvwx\n"
    )
    assert main(["cassettes", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{planted}:4: a credential header or token" in out
    assert f"{planted}:5: an OpenAI-shaped key sk-proj…" in out
