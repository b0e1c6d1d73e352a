"""Responses API failures against the fake: streams cut short, stalled, failed or erroring, sync and async.

The rule is chat's: before the first event a failure is the call's own (and retried when
retryable); once events have reached the caller nothing is retried, and a retryable failure is a
``StreamInterruptedError`` carrying what arrived (a partial ``Response``) with the failure as its
cause. A failed answer's ``code`` decides whether it is retryable: ``server_error`` is, as a 500;
``invalid_prompt`` is not. Warnings are errors in this suite, so a stream left open would fail it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest

from helpers import FAKE_OPENAI_KEY
from typed_llm import (
    APITimeoutError,
    AsyncOpenAIClient,
    ExponentialBackoff,
    MalformedResponseError,
    NoRetry,
    OpenAIClient,
    OutputTextDelta,
    Response,
    ResponseFailed,
    ResponseFailedError,
    ResponsesRequest,
    RetriesExhaustedError,
    StreamError,
    StreamInterruptedError,
    is_retryable,
)
from typed_llm.testing import FakeReply

if TYPE_CHECKING:
    from typed_llm.testing import FakeAPI

QUICK = ExponentialBackoff(wait_initial=0.001, wait_jitter=0.0)
REQUEST = ResponsesRequest(model="gpt-4o-mini", input="say four words please")
WHOLE = "Echo: say four words please"
# The fake's frames: created, in_progress, item added, part added, then a text delta per word.
FIRST_DELTA = 4


def _openai(fake: FakeAPI, **options: Any) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, **options)


def _async(fake: FakeAPI, **options: Any) -> AsyncOpenAIClient:
    return AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, **options)


def _failed_body(fake: FakeAPI, code: str) -> dict[str, Any]:
    """The fake's own answer to REQUEST, as a 200 whose status is failed with ``code``."""
    answer = _openai(fake).respond(REQUEST)
    fake.received.clear()
    body = answer.model_dump(mode="json", exclude={"request_id"})
    body.update(status="failed", error={"code": code, "message": "it broke"})
    return body


def _texts(events: list[object]) -> list[str]:
    return [event.text for event in events if isinstance(event, OutputTextDelta)]


# --- cut short, stalled --------------------------------------------------------------------------


def test_a_drop_after_events_is_interrupted_with_the_partial_response(fake: FakeAPI) -> None:
    """Dropped after two text deltas: StreamInterruptedError, the partial Response, not retried."""
    fake.enqueue(FakeReply.streamed(drop_after=FIRST_DELTA + 2))
    events: list[object] = []
    with (
        pytest.raises(StreamInterruptedError) as caught,
        _openai(fake, backoff=QUICK).stream(REQUEST) as stream,
    ):
        events.extend(stream)
    error = caught.value
    assert _texts(events) == ["Echo: ", "say "]
    cause = error.__cause__
    assert isinstance(cause, MalformedResponseError)  # the body ended before response.completed
    assert cause.incomplete
    assert isinstance(error.partial, Response)
    assert error.partial.status == "in_progress"
    assert error.partial.output_text == "Echo: say "
    assert error.events == len(events)
    assert len(fake.received) == 1


def test_a_drop_before_any_event_is_retried(fake: FakeAPI) -> None:
    """Dropped before the first frame: nothing reached the caller, so the retry layer tries again."""
    fake.enqueue(FakeReply.streamed(drop_after=0))
    with _openai(fake, backoff=QUICK).stream(REQUEST) as stream:
        assert stream.final_response().output_text == WHOLE
    assert len(fake.received) == 2


def test_a_stall_ends_at_the_idle_timeout(fake: FakeAPI) -> None:
    """No byte for stream_idle_timeout: interrupted after events (cause APITimeoutError), else a timeout."""
    client = _openai(fake, backoff=NoRetry(), stream_idle_timeout=0.3)
    fake.enqueue(FakeReply.streamed(stall_after=FIRST_DELTA + 1))
    started = time.monotonic()
    with pytest.raises(StreamInterruptedError) as caught, client.stream(REQUEST) as stream:
        list(stream)
    assert time.monotonic() - started < 3
    assert isinstance(caught.value.__cause__, APITimeoutError)
    assert isinstance(caught.value.partial, Response)
    assert caught.value.partial.output_text == "Echo: "
    fake.enqueue(FakeReply.streamed(stall_after=0))
    with pytest.raises(APITimeoutError), client.stream(REQUEST) as stream:
        list(stream)


# --- failed answers ------------------------------------------------------------------------------


def test_the_retry_rule_of_a_failed_answer_is_its_code() -> None:
    """server_error, rate_limit_exceeded and vector_store_timeout are retryable; the input's own are not."""
    for code, retryable in (
        ("server_error", True),
        ("rate_limit_exceeded", True),
        ("vector_store_timeout", True),
        ("invalid_prompt", False),
        ("invalid_image", False),
        (None, False),
    ):
        assert is_retryable(ResponseFailedError("failed", code=code)) is retryable, code


def test_a_failed_server_error_is_retried_like_a_500(fake: FakeAPI) -> None:
    """respond(): a 200 with status failed / server_error, then the answer: retried, attempt 2."""
    fake.enqueue(FakeReply(status=200, body=_failed_body(fake, "server_error")))
    response = _openai(fake, backoff=QUICK).respond(REQUEST)
    assert response.output_text == WHOLE
    assert len(fake.received) == 2


def test_a_failed_answer_on_the_input_is_not_retried(fake: FakeAPI) -> None:
    """invalid_prompt: ResponseFailedError at once, with the failed Response attached."""
    fake.enqueue(FakeReply(status=200, body=_failed_body(fake, "invalid_prompt")))
    with pytest.raises(ResponseFailedError) as caught:
        _openai(fake, backoff=QUICK).respond(REQUEST)
    assert caught.value.code == "invalid_prompt"
    assert caught.value.response is not None
    assert caught.value.response.status == "failed"
    assert len(fake.received) == 1


def test_server_errors_every_time_exhaust_the_retries(fake: FakeAPI) -> None:
    """A server failing every attempt: RetriesExhaustedError whose last error is the failed answer."""
    body = _failed_body(fake, "server_error")
    for _ in range(4):
        fake.enqueue(FakeReply(status=200, body=body))
    with pytest.raises(RetriesExhaustedError) as caught:
        _openai(fake, backoff=QUICK).respond(REQUEST)
    assert isinstance(caught.value.last_error, ResponseFailedError)
    assert len(fake.received) == len(caught.value.attempts)


def test_a_streamed_response_failed_event(fake: FakeAPI) -> None:
    """response.failed ends the stream: the typed ResponseFailed event, then the code decides the error."""
    fake.enqueue(FakeReply(status=200, body=_failed_body(fake, "invalid_prompt")))
    events: list[object] = []
    with pytest.raises(ResponseFailedError) as caught, _openai(fake).stream(REQUEST) as stream:
        events.extend(stream)
    assert isinstance(events[-1], ResponseFailed)
    assert caught.value.code == "invalid_prompt"
    assert caught.value.response == events[-1].response
    fake.enqueue(FakeReply(status=200, body=_failed_body(fake, "server_error")))
    with pytest.raises(StreamInterruptedError) as interrupted, _openai(fake).stream(REQUEST) as stream:
        list(stream)
    cause = interrupted.value.__cause__
    assert isinstance(cause, ResponseFailedError)
    assert cause.code == "server_error"


def test_a_streamed_error_event(fake: FakeAPI) -> None:
    """The server's error event after two deltas: a StreamError event, then interrupted (server_error)."""
    fake.enqueue(FakeReply.streamed(error_after=FIRST_DELTA + 2))
    events: list[object] = []
    with pytest.raises(StreamInterruptedError) as caught, _openai(fake).stream(REQUEST) as stream:
        events.extend(stream)
    assert isinstance(events[-1], StreamError)
    assert (events[-1].code, _texts(events)) == ("server_error", ["Echo: ", "say "])
    cause = caught.value.__cause__
    assert isinstance(cause, ResponseFailedError)
    assert cause.code == "server_error"
    assert isinstance(caught.value.partial, Response)
    assert caught.value.partial.output_text == "Echo: say "
    assert len(fake.received) == 1


# --- closing early -------------------------------------------------------------------------------


def test_leaving_the_block_early_closes_the_stream(fake: FakeAPI) -> None:
    """A break out of ``with`` closes the connection (no ResourceWarning); final_response() has what came."""
    fake.enqueue(FakeReply.streamed(frame_delay=0.05))
    client = _openai(fake)
    with client.stream(REQUEST) as stream:
        for event in stream:
            if isinstance(event, OutputTextDelta):
                break
    partial = stream.final_response()
    assert partial.status == "in_progress"
    assert partial.output_text == "Echo: "
    assert client.respond(REQUEST).output_text == WHOLE


# --- async ---------------------------------------------------------------------------------------


def test_the_async_stream_fails_and_closes_alike(fake: FakeAPI) -> None:
    """Async: a drop, a stall, an error event and a failed answer end as in sync; a break closes."""
    failed = _failed_body(fake, "invalid_prompt")  # asks the fake first: the script below is for run()
    fake.enqueue(FakeReply.streamed(drop_after=FIRST_DELTA + 2))
    fake.enqueue(FakeReply.streamed(stall_after=FIRST_DELTA + 1))
    fake.enqueue(FakeReply.streamed(error_after=FIRST_DELTA + 1))

    async def run() -> list[str]:
        outcomes: list[str] = []
        async with _async(fake, backoff=NoRetry(), stream_idle_timeout=0.3) as client:
            for _ in range(3):
                async with client.stream(REQUEST) as stream:
                    with pytest.raises(StreamInterruptedError) as caught:
                        await stream.final_response()
                    assert isinstance(caught.value.partial, Response)
                    outcomes.append(type(caught.value.__cause__).__name__)
            fake.enqueue(FakeReply(status=200, body=failed))
            async with client.stream(REQUEST) as stream:
                with pytest.raises(ResponseFailedError):
                    await stream.final_response()
            fake.enqueue(FakeReply.streamed(frame_delay=0.05))
            async with client.stream(REQUEST) as stream:
                async for event in stream:
                    if isinstance(event, OutputTextDelta):
                        break
            assert (await stream.final_response()).output_text == "Echo: "
            outcomes.append((await client.respond(REQUEST)).output_text)
        return outcomes

    assert asyncio.run(run()) == ["MalformedResponseError", "APITimeoutError", "ResponseFailedError", WHOLE]
