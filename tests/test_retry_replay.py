"""Retry stories recorded into cassettes, replayed under virtual time (the plugin's ``llm_clock``).

The cassettes under ``cassettes/retry_replay/`` were recorded against the loopback fake scripted to
answer 429 → 429 → 200 (``Retry-After: 1``, then ``2``) and 503 → 200 (``Retry-After: 4``), with
``--llm-record-mode=once``. Replayed, the retry layer reads the recorded headers and waits on the
virtual clock: the waits are exact and nothing sleeps. The retry strategy the recording ran with is
in each cassette's metadata; a replay under another one warns (``BackoffChangedWarning``).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_OPENAI_KEY
from typed_llm import (
    AsyncOpenAIClient,
    ChatRequest,
    ExponentialBackoff,
    OpenAIClient,
    UserMessage,
    count_tokens,
)
from typed_llm._backoff import describe
from typed_llm.testing import FakeReply

if TYPE_CHECKING:
    from typed_llm.testing import FakeAPI, VirtualClock
    from typed_llm.testing._cassette import TypedCassette

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="retry me, recorded"),))
BACKOFF = ExponentialBackoff(attempts=4, wait_jitter=0.0)


@pytest.mark.llm_cassette("retry_replay/429_429_200")
def test_a_recorded_429_429_200_replays_its_waits_in_no_time(
    llm_cassette: TypedCassette, llm_fake: FakeAPI, llm_base_url: str, llm_clock: VirtualClock
) -> None:
    """The waits are the recorded Retry-After headers, exactly; virtual time passed, real time did not."""
    llm_fake.enqueue(FakeReply.rate_limited(1), FakeReply.rate_limited(2))  # used only when recording
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=llm_base_url, backoff=BACKOFF)
    count_tokens("warm", REQUEST.model)  # the pre-flight check's encoding loads once (0.4 s): not timed
    began = time.perf_counter()
    response = client.complete(REQUEST)
    wall = time.perf_counter() - began
    assert [a.wait for a in response.attempts] == [1.0, 2.0, None]
    assert [a.wait_source for a in response.attempts] == ["retry-after", "retry-after", None]
    assert [a.outcome for a in response.attempts] == [429, 429, 200]
    assert [a.offset for a in response.attempts] == [0.0, 1.0, 3.0]
    assert llm_clock.waits == [1.0, 2.0]
    assert llm_clock.elapsed == 3.0
    assert wall < 0.5  # generous: the 3 s asked for were waited on the virtual clock
    assert response.attempts[-1].request_id == response.request_id is not None
    assert llm_cassette.recorded_backoff in (None, [describe(BACKOFF)])  # None while recording it


@pytest.mark.llm_cassette("retry_replay/429_429_200")
def test_the_async_client_replays_the_same_recording(
    llm_cassette: TypedCassette, llm_fake: FakeAPI, llm_base_url: str, llm_clock: VirtualClock
) -> None:
    """The sync recording, replayed through the async client: the same waits, on the same clock."""
    llm_fake.enqueue(FakeReply.rate_limited(1), FakeReply.rate_limited(2))

    async def main() -> list[float | None]:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=llm_base_url, backoff=BACKOFF
        ) as client:
            return [a.wait for a in (await client.complete(REQUEST)).attempts]

    assert asyncio.run(main()) == [1.0, 2.0, None]
    assert llm_clock.waits == [1.0, 2.0]
    assert llm_cassette.play_count == 3


@pytest.mark.llm_cassette("retry_replay/503_200")
def test_a_recorded_503_then_200(
    llm_cassette: TypedCassette, llm_fake: FakeAPI, llm_base_url: str, llm_clock: VirtualClock
) -> None:
    """A 503 with Retry-After 4, then the answer: one wait of 4 virtual seconds."""
    llm_fake.enqueue(FakeReply.unavailable(retry_after=4))
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=llm_base_url, backoff=BACKOFF)
    response = client.complete(REQUEST)
    assert [(a.outcome, a.wait, a.wait_source) for a in response.attempts] == [
        (503, 4.0, "retry-after"),
        (200, None, None),
    ]
    assert llm_clock.waits == [4.0]
    assert llm_cassette.recorded_backoff in (None, [describe(BACKOFF)])


USER_SUITE = """
import pytest
from typed_llm import ChatRequest, ExponentialBackoff, OpenAIClient, UserMessage
from typed_llm.testing import FakeReply

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))


def test_retried(llm_cassette, llm_fake, llm_base_url, llm_clock):
    llm_fake.enqueue(FakeReply.rate_limited(1))
    client = OpenAIClient(
        api_key="sk-test-plugin-0123456789abcdefghij",
        base_url=llm_base_url,
        backoff=ExponentialBackoff(attempts=ATTEMPTS, wait_jitter=0.0),
    )
    assert [a.wait for a in client.complete(REQUEST).attempts] == [1.0, None]
"""


def test_the_strategy_is_in_the_metadata_and_a_changed_one_warns(pytester: pytest.Pytester) -> None:
    """Recorded with 4 attempts, the cassette says so; replayed with 5, the replay warns, naming both."""
    pytester.makepyfile(test_user=USER_SUITE.replace("ATTEMPTS", "4"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        args = ("-p", "typed_llm.testing", "-p", "no:cacheprovider")
        pytester.runpytest_inprocess("--llm-record-mode=once", *args).assert_outcomes(passed=1)
        (written,) = (pytester.path / "cassettes").rglob("*.yaml")
        metadata = written.read_text().split("metadata:", 1)[1]
        assert "backoff:" in metadata
        assert "strategy: typed_llm._backoff.ExponentialBackoff" in metadata
        assert "attempts: 4" in metadata
        pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)  # the same strategy: silent
        pytester.makepyfile(test_user=USER_SUITE.replace("ATTEMPTS", "5"))
        changed = pytester.runpytest_inprocess("-W", "error::typed_llm.testing.BackoffChangedWarning", *args)
    changed.assert_outcomes(passed=1, errors=1)
    changed.stdout.fnmatch_lines(["*BackoffChangedWarning*recorded under the retry strategy*'attempts': 4*"])
