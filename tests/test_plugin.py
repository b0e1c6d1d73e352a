"""The pytest plugin, as a user's test suite meets it (run with pytest's own pytester).

A small user suite records against the loopback fake (mode once), then replays with the fake not
running and every connection beyond loopback refused; a changed prompt fails with the documented
message; a seeded key never reaches the cassette; the scanner catches a planted key.

The user suite runs in this process (``runpytest_inprocess``: about 0.2 s a run, against 2-3 s for
a fresh interpreter importing openai), each run a new pytest configuration loading the plugin
with ``-p typed_llm.testing``; one test checks the ``pytest11`` entry point that loads it for users.
"""

from __future__ import annotations

import re
import shlex
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import pytest

import typed_llm.testing
from helpers import FAKE_OPENAI_KEY
from typed_llm import ChatRequest, OpenAIClient, UnrecordedRequestError, UserMessage
from typed_llm._cli import main
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._vcr import make_vcr

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


@pytest.fixture(scope="module", autouse=True)
def _libraries_imported(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Record, replay and miss one call here first, so the user suite imports no library itself.

    pytester forgets every module first imported during a test (so that the next run imports the
    user's files afresh). A library the user suite imported first (httpcore2, vcrpy's stubs) would
    be forgotten too and imported again by a later test, beside the copy httpx2 already holds: then
    httpcore2's exceptions would no longer be the ones httpx2 maps. A module fixture runs before any
    pytester, so what this imports stays.
    """
    folder = tmp_path_factory.mktemp("libraries")
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="warm"),))
    with FakeAPI() as fake, make_vcr(folder, "once").use_cassette("warm.yaml"):
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url).complete(request)
    with make_vcr(folder, "none").use_cassette("warm.yaml"):
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url="http://127.0.0.1:9/v1")
        client.complete(request)
        with pytest.raises(UnrecordedRequestError):
            client.complete(request.model_copy(update={"temperature": 0.5}))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the user suite in this process with only the plugin under test (and the cache plugin off).

    Plugin autoloading is off so that what else is installed here (hypothesis, anyio) plays no part;
    ``test_installing_typed_llm_registers_the_plugin`` checks the entry point that loads it for users.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        return pytester.runpytest_inprocess(*args, "-p", "typed_llm.testing", "-p", "no:cacheprovider")


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(GUARD)
    pytester.makepyfile(test_user=USER_SUITE)
    return pytester


def test_record_once_then_replay_offline(suite: pytest.Pytester) -> None:
    """Mode once records from the fake; mode none replays with no fake and no network."""
    recorded = run(suite, "--llm-record-mode=once")
    recorded.assert_outcomes(passed=3)
    cassettes = sorted(
        p.relative_to(suite.path).as_posix() for p in (suite.path / "cassettes").rglob("*.yaml")
    )
    assert cassettes == [
        "cassettes/shared/named.yaml",
        "cassettes/test_user/test_capital[Lima].yaml",
        "cassettes/test_user/test_capital[Paris].yaml",
    ]
    replayed = run(suite)
    replayed.assert_outcomes(passed=3)


ENVIRONMENT_SUITE = """
from typed_llm import ChatRequest, OpenAIClient, UserMessage


def test_summary(llm_cassette, llm_base_url):
    client = OpenAIClient(base_url=llm_base_url)  # the key from the environment, as the README's test
    answer = client.complete(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="Say hello"),)))
    assert answer.text
"""


def test_replay_needs_no_openai_api_key(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded with a key in the environment, replayed with none: the client builds and the test passes."""
    pytester.makeconftest(GUARD)
    pytester.makepyfile(test_env=ENVIRONMENT_SUITE)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    run(pytester, "--llm-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.delenv("OPENAI_API_KEY")
    run(pytester).assert_outcomes(passed=1)
    rerecord = run(pytester, "--llm-record-mode=rewrite")  # recording still needs the real key
    rerecord.assert_outcomes(failed=1)
    assert "OPENAI_API_KEY" in rerecord.stdout.str()


def test_seeded_key_never_reaches_the_cassette(suite: pytest.Pytester) -> None:
    """The key in the Authorization header and the key pasted into the prompt are both scrubbed."""
    run(suite, "--llm-record-mode=once").assert_outcomes(passed=3)
    written = "".join(p.read_text() for p in (suite.path / "cassettes").rglob("*.yaml"))
    assert "sk-test-plugin-0123456789abcdefghij" not in written
    assert "sk-REDACTED" in written
    assert "authorization" not in written.lower()


def test_changed_prompt_fails_with_the_request_the_change_and_the_command(suite: pytest.Pytester) -> None:
    """In mode none, a request with no recording fails naming it, the typed field changed, and the fix."""
    run(suite, "--llm-record-mode=once").assert_outcomes(passed=3)
    (suite.path / "test_user.py").write_text(USER_SUITE.replace("PROMPT", "CHANGED PROMPT"))
    replayed = run(suite)
    replayed.assert_outcomes(passed=1, failed=2)
    replayed.stdout.fnmatch_lines(
        [
            (
                "*UnrecordedRequestError: no recording of this request in the cassette: "
                "POST /v1/chat/completions model='gpt-4o-mini' "
                'last message="CHANGED PROMPT Lima and my key is sk-REDACTED"'
            ),
            "*nearest recording: interaction 1 of 1; ChatRequest fields that changed (recorded → sent):",
            (
                "*messages[[]0[]].content: 'PROMPT Lima and my key is sk-REDACTED' "
                "→ 'CHANGED PROMPT Lima and my key is sk-RED…'"
            ),
            (
                "*cassette: cassettes/test_user/test_capital[[]Lima[]].yaml. "
                "If the request changed on purpose, "
                "record it: pytest --llm-record-mode=rewrite 'test_user.py::test_capital[[]Lima[]]'"
            ),
        ]
    )
    assert "record it: pytest --llm-record-mode=once" not in replayed.stdout.str()
    assert "sk-test-plugin-0123456789abcdefghij" not in replayed.stdout.str().split("short test summary")[-1]


def test_the_hinted_command_rerecords_and_the_suite_is_green(suite: pytest.Pytester) -> None:
    """The command in the error re-records the test (``once``, the old hint, did not); then replay passes."""
    run(suite, "--llm-record-mode=once").assert_outcomes(passed=3)
    (suite.path / "test_user.py").write_text(USER_SUITE.replace("PROMPT", "CHANGED PROMPT"))
    failed = run(suite, "test_user.py::test_capital[Lima]")
    failed.assert_outcomes(failed=1)
    hint = re.search(r"record it: pytest (.+)$", failed.stdout.str(), re.MULTILINE)
    assert hint is not None
    # The old hint: mode once writes nothing into an existing cassette, so the test still fails.
    run(suite, "--llm-record-mode=once", "test_user.py::test_capital[Lima]").assert_outcomes(failed=1)
    run(suite, *shlex.split(hint.group(1))).assert_outcomes(passed=1)
    run(suite, "test_user.py::test_capital[Lima]").assert_outcomes(passed=1)
    written = (suite.path / "cassettes/test_user/test_capital[Lima].yaml").read_text()
    assert written.count("- request:") == 1
    assert "CHANGED PROMPT Lima" in written


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


@pytest.mark.parametrize("what", ["missing", "file"])
def test_scanner_refuses_a_folder_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    """`typed-llm cassettes check` on a missing folder (or a file) exits 2 saying so, not "nothing found"."""
    target = tmp_path / "no_such_dir"
    if what == "file":
        target.write_text("interactions: []\n")
    assert main(["cassettes", "check", str(tmp_path), str(target)]) == 2
    captured = capsys.readouterr()
    expected = "is not a folder" if what == "file" else "does not exist"
    assert f"typed-llm: {target} {expected}: nothing was checked there" in captured.err
    assert "nothing that looks like a secret" not in captured.out


def test_installing_typed_llm_registers_the_plugin() -> None:
    """The ``pytest11`` entry point pytest autoloads names ``typed_llm.testing`` and loads it."""
    points = [point for point in entry_points(group="pytest11") if point.name == "typed_llm"]
    assert [point.value for point in points] == ["typed_llm.testing"]
    assert points[0].load() is typed_llm.testing
