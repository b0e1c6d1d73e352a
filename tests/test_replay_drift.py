"""Replay that explains itself (issue 21): typed misses, the drift report, rewrite, stable recordings.

The suite-level behaviour runs a user's suite in this process with pytester, as
``tests/test_plugin.py`` does (its ``run`` helper and its module fixture that imports the
libraries first); what a miss says is pinned directly on ``make_vcr`` and the fake.
"""

from __future__ import annotations

import random
import re
import shlex
import sys
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_OPENAI_KEY
from test_plugin import GUARD, _libraries_imported, run
from typed_llm import (
    ChatRequest,
    FunctionDefinition,
    FunctionTool,
    OpenAIClient,
    SystemMessage,
    UnrecordedRequestError,
    UserMessage,
)
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._vcr import make_vcr

if TYPE_CHECKING:
    from pathlib import Path

    from typed_llm._json import JSONValue

__all__ = ["_libraries_imported"]  # the module fixture, shared with test_plugin.py

_DEAD = "http://127.0.0.1:9/v1"


def _cassettes(pytester: pytest.Pytester) -> dict[str, bytes]:
    folder = pytester.path / "cassettes"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.yaml"))}


# --- what a miss says ---------------------------------------------------------------------------

_WEATHER = FunctionTool(
    function=FunctionDefinition(
        name="weather",
        parameters={"type": "object", "properties": {"day": {"type": "string"}}},
    )
)
RECORDED = ChatRequest(
    model="gpt-4o-mini",
    messages=(SystemMessage(content="You are terse."), UserMessage(content="Summarise the report")),
    temperature=0.2,
    tools=(_WEATHER,),
)
_CITY: dict[str, JSONValue] = {
    "type": "object",
    "properties": {"day": {"type": "string"}, "city": {"type": "string"}},
}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        pytest.param(
            RECORDED.model_copy(
                update={"messages": (RECORDED.messages[0], UserMessage(content="Summarize the report"))}
            ),
            "messages[1].content: 'Summarise the report' → 'Summarize the report'",
            id="message",
        ),
        pytest.param(
            RECORDED.model_copy(update={"temperature": 0.3}), "temperature: 0.2 → 0.3", id="parameter"
        ),
        pytest.param(
            RECORDED.model_copy(
                update={
                    "tools": (FunctionTool(function=FunctionDefinition(name="weather", parameters=_CITY)),)
                }
            ),
            'tools[0].function.parameters.properties.city added: {"type": "string"}',
            id="tool-schema",
        ),
    ],
)
def test_a_miss_names_the_nearest_recording_and_the_typed_field_that_changed(
    tmp_path: Path, changed: ChatRequest, expected: str
) -> None:
    """The error lists the nearest recording of the cassette and each changed typed field, one a line."""
    other = RECORDED.model_copy(update={"messages": (UserMessage(content="something else entirely"),)})
    with FakeAPI() as fake, make_vcr(tmp_path, "once").use_cassette("c.yaml"):
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
        client.complete(other)
        client.complete(RECORDED)
    with make_vcr(tmp_path, "none").use_cassette("c.yaml"), pytest.raises(UnrecordedRequestError) as caught:
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=_DEAD).complete(changed)
    lines = str(caught.value).splitlines()
    assert lines[1:4] == [
        "  nearest recording: interaction 2 of 2; ChatRequest fields that changed (recorded → sent):",
        f"    {expected}",
        (
            f"  cassette: {tmp_path / 'c.yaml'}. If the request changed on purpose, record it: "
            "re-record the cassette with record mode 'rewrite' (pytest --llm-record-mode=rewrite)"
        ),
    ]


def test_a_request_sent_more_often_than_recorded_says_so(tmp_path: Path) -> None:
    """A second identical request with one recording is 'already played', not a changed request."""
    with FakeAPI() as fake, make_vcr(tmp_path, "once").use_cassette("c.yaml"):
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url).complete(RECORDED)
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=_DEAD)
    with make_vcr(tmp_path, "none").use_cassette("c.yaml"):
        client.complete(RECORDED)
        with pytest.raises(
            UnrecordedRequestError, match="but was already played: the test sends it more often"
        ):
            client.complete(RECORDED)


def test_replay_finds_each_of_300_recordings_by_its_body(tmp_path: Path) -> None:
    """The index answers every request with its own recording, in any order; twins play in recorded order."""
    requests = [
        ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=f"question {i}"),)) for i in range(300)
    ]
    with FakeAPI() as fake, make_vcr(tmp_path, "once").use_cassette("big.yaml"):
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
        recorded = [client.complete(request).id for request in [*requests, requests[7]]]
    order = list(range(300))
    random.Random(0).shuffle(order)
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=_DEAD)
    with make_vcr(tmp_path, "none").use_cassette("big.yaml") as cassette:
        for i in order:
            assert client.complete(requests[i]).text == f"Echo: question {i}"
        assert client.complete(requests[7]).id == recorded[300]  # the twin, recorded last
        assert cassette.all_played


# --- the suite: names, stability, unplayed, stale, drift ----------------------------------------

NAMES_SUITE = """
import pytest
from typed_llm import ChatRequest, OpenAIClient, UserMessage


@pytest.mark.parametrize("q", ["a/b", "a b", "a_b", "a:b"])
def test_q(llm_cassette, llm_base_url, q):
    client = OpenAIClient(api_key="sk-test-names", base_url=llm_base_url)
    answer = client.complete(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=q),)))
    assert answer.text == f"Echo: {q}"
"""


def test_ids_differing_only_in_unsafe_characters_get_their_own_cassettes(pytester: pytest.Pytester) -> None:
    """``[a/b]``, ``[a b]``, ``[a_b]``, ``[a:b]``: four files, each replaying its own answer."""
    pytester.makeconftest(GUARD)
    pytester.makepyfile(test_names=NAMES_SUITE)
    run(pytester, "--llm-record-mode=once").assert_outcomes(passed=4)
    names = sorted(_cassettes(pytester))
    assert len(names) == 4
    assert "test_names/test_q[a_b].yaml" in names  # a safe id keeps its plain name
    assert all(re.fullmatch(r"test_names/test_q\[a_b\](-[0-9a-f]{8})?\.yaml", name) for name in names)
    run(pytester).assert_outcomes(passed=4)


CHAT_SUITE = """
import pytest
from typed_llm import ChatRequest, OpenAIClient, SystemMessage, UserMessage

SYSTEM = "You are terse."
OTHER = "You answer in French."


def ask(url, system, question, temperature=0.2):
    client = OpenAIClient(api_key="sk-test-drift", base_url=url)
    messages = (SystemMessage(content=system), UserMessage(content=question))
    return client.complete(ChatRequest(model="gpt-4o-mini", messages=messages, temperature=temperature))


@pytest.mark.parametrize("n", range(12))
def test_shared(llm_cassette, llm_base_url, n):
    assert ask(llm_base_url, SYSTEM, f"question {n}").text == f"Echo: question {n}"


@pytest.mark.parametrize("n", range(7))
def test_other(llm_cassette, llm_base_url, n):
    ask(llm_base_url, OTHER, f"other {n}")


def test_tuned(llm_cassette, llm_base_url):
    ask(llm_base_url, OTHER, "tuned", temperature=0.2)
"""


@pytest.fixture
def chat_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(GUARD)
    pytester.makepyfile(test_chat=CHAT_SUITE)
    return pytester


def test_recording_twice_writes_the_same_bytes(chat_suite: pytest.Pytester) -> None:
    """Two full re-recordings against the fake (a new port each test) leave every cassette byte-identical."""
    run(chat_suite, "--llm-record-mode=all").assert_outcomes(passed=20)
    first = _cassettes(chat_suite)
    run(chat_suite, "--llm-record-mode=all").assert_outcomes(passed=20)
    assert _cassettes(chat_suite) == first
    text = b"".join(first.values()).decode()
    assert not re.search(r"127\.0\.0\.1:\d", text)
    for noise in ("date:", "server:", "user-agent", "x-stainless", "host:", sys.version.split()[0]):
        assert noise not in text
    assert "recorded_by: test_chat.py::test_tuned" in first["test_chat/test_tuned.yaml"].decode()
    run(chat_suite).assert_outcomes(passed=20)


def test_drift_report_groups_a_prompt_change_shared_by_12_of_20_tests(chat_suite: pytest.Pytester) -> None:
    """One system prompt edit in 12 tests and one parameter in another: two lines, one command, then green."""
    run(chat_suite, "--llm-record-mode=once").assert_outcomes(passed=20)
    edited = CHAT_SUITE.replace('"You are terse."', '"You are brief."').replace(
        '"tuned", temperature=0.2', '"tuned", temperature=0.3'
    )
    (chat_suite.path / "test_chat.py").write_text(edited)
    replayed = run(chat_suite, "--llm-drift-report")
    replayed.assert_outcomes(passed=7, failed=13)
    replayed.stdout.fnmatch_lines(
        [
            "*typed-llm drift report*",
            "13 request(s) missed in 13 cassette(s); 13 test(s) concerned",
            (
                "- messages[[]0[]].content changed in 12 test(s): messages[[]0[]].content: "
                "'You are terse.' → 'You are brief.'"
            ),
            "    test_chat.py::test_shared[[]0[]]",
            "*… and 7 more",
            "- temperature changed in 1 test(s): temperature: 0.2 → 0.3",
            "    test_chat.py::test_tuned",
            "re-record them all: pytest --llm-record-mode=rewrite *",
        ]
    )
    before = _cassettes(chat_suite)
    command = re.search(r"^re-record them all: pytest (.+)$", replayed.stdout.str(), re.MULTILINE)
    assert command is not None
    run(chat_suite, *shlex.split(command.group(1))).assert_outcomes(passed=13)
    after = _cassettes(chat_suite)
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {f"test_chat/test_shared[{n}].yaml" for n in range(12)} | {"test_chat/test_tuned.yaml"}
    run(chat_suite, "--llm-drift-report").stdout.fnmatch_lines(["*20 passed*"])
    run(chat_suite, "--llm-drift-report").stdout.fnmatch_lines(
        ["every request matched its recording: no drift"]
    )
    # Re-recording once more against the fake changes nothing.
    run(chat_suite, "--llm-record-mode=rewrite").assert_outcomes(passed=20)
    assert _cassettes(chat_suite) == after


TWO_CALLS = """
import pytest
from typed_llm import ChatRequest, OpenAIClient, UserMessage

CALLS = ["first", "second"]


def test_calls(llm_cassette, llm_base_url):
    client = OpenAIClient(api_key="sk-test-unplayed", base_url=llm_base_url)
    for text in CALLS:
        client.complete(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=text),)))
"""


def test_a_replayed_test_that_leaves_interactions_unplayed_fails(pytester: pytest.Pytester) -> None:
    """The shipped fixture fails such a test (the default), unless the marker or the ini option allows it."""
    pytester.makeconftest(GUARD)
    pytester.makepyfile(test_two=TWO_CALLS)
    run(pytester, "--llm-record-mode=once").assert_outcomes(passed=1)
    (pytester.path / "test_two.py").write_text(TWO_CALLS.replace('["first", "second"]', '["first"]'))
    failed = run(pytester)
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        [
            (
                "*cassette cassettes/test_two/test_calls.yaml has 1 recorded interaction(s) "
                "this test did not play "
                "(interaction 2 of 2)*pytest --llm-record-mode=rewrite test_two.py::test_calls*"
            )
        ]
    )
    run(pytester, "-o", "llm_fail_on_unplayed=false").assert_outcomes(passed=1)
    marked = TWO_CALLS.replace('["first", "second"]', '["first"]').replace(
        "def test_calls", "@pytest.mark.llm_cassette(allow_unplayed=True)\ndef test_calls"
    )
    (pytester.path / "test_two.py").write_text(marked)
    run(pytester).assert_outcomes(passed=1)


@pytest.mark.parametrize("mode", ["new_episodes", "all"])
def test_rerecording_in_new_episodes_or_all_flags_what_it_keeps(pytester: pytest.Pytester, mode: str) -> None:
    """A stale interaction kept by new_episodes or all is flagged; rewrite drops it and replay is green."""
    pytester.makeconftest(GUARD)
    pytester.makepyfile(test_two=TWO_CALLS)
    run(pytester, "--llm-record-mode=once").assert_outcomes(passed=1)
    (pytester.path / "test_two.py").write_text(TWO_CALLS.replace('"second"', '"changed"'))
    kept = run(pytester, f"--llm-record-mode={mode}", "--llm-drift-report", "-W", "default")
    kept.assert_outcomes(passed=1, warnings=1)
    kept.stdout.fnmatch_lines(
        [
            (
                "*StaleRecordingWarning: *test_calls.yaml: 1 recorded interaction(s) were neither played nor "
                "re-recorded and are kept (interactions 1)*rewrite*"
            ),
            "- 1 stale interaction(s) kept by re-recording: test_two.py::test_calls*",
        ]
    )
    assert _cassettes(pytester)["test_two/test_calls.yaml"].count(b"- request:") == 3
    run(pytester, "--llm-record-mode=rewrite").assert_outcomes(passed=1)
    assert _cassettes(pytester)["test_two/test_calls.yaml"].count(b"- request:") == 2
    run(pytester).assert_outcomes(passed=1)
