"""The ledger (``attempts``) on responses and errors, rule by rule of the retry table.

Each row scripts the loopback fake's answers, calls a real client whose own retry layer follows
``BACKOFF``, under the plugin's virtual clock (``llm_clock``): nothing sleeps, and the ledger's
offsets and waits are exact. Each row checks every attempt's outcome, wait and what chose it, the
request ids the fake sent, and that the error (when the call fails) carries the same ledger.
"""

from __future__ import annotations

import asyncio
import json
import threading
from email.utils import formatdate
from typing import TYPE_CHECKING, cast

import attrs
import pytest
from pydantic import BaseModel
from structlog.testing import capture_logs

from helpers import FAKE_OPENAI_KEY
from typed_llm import (
    AsyncOpenAIClient,
    Attempt,
    ChatRequest,
    ChatResponse,
    Client,
    EmbeddingRequest,
    ExponentialBackoff,
    MemoryCache,
    NoRetry,
    OpenAIClient,
    OutputValidationError,
    ResponsesRequest,
    RetriesExhaustedError,
    Retrying,
    TypedLLMError,
    UserMessage,
)
from typed_llm._structured import parse_completion
from typed_llm.testing import FakeReply

if TYPE_CHECKING:
    from typed_llm.testing import FakeAPI, VirtualClock

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="count my attempts"),))
BACKOFF = ExponentialBackoff(
    attempts=4, wait_initial=0.5, wait_exp_base=2.0, wait_max=8.0, wait_jitter=0.0, timeout=None
)
NOT_JSON = FakeReply(status=200, body=b'{"id": "chatcmpl-1", "object": "chat.comp')
WRONG_SHAPE = FakeReply(status=200, body={"id": "x", "object": "chat.completion", "created": 1, "model": "m"})
OK = (200, None, None)


class City(BaseModel):
    name: str


def err(status: int, code: str | None = None, **headers: str) -> FakeReply:
    return FakeReply.error(status, f"HTTP {status} from the fake", code=code, headers=headers)


def _client(fake: FakeAPI, backoff: ExponentialBackoff = BACKOFF, **options: object) -> OpenAIClient:
    return OpenAIClient(
        api_key=FAKE_OPENAI_KEY,
        base_url=fake.openai_base_url,
        timeout=5.0,
        backoff=backoff,
        **options,  # type: ignore[arg-type]  # the constructor's own options
    )


Step = tuple[int | str, float | None, str | None]
"""(outcome, wait, wait_source) of one attempt."""

# (case, fake's answers, the ledger, the error class or None for a success)
ROWS: list[tuple[str, list[FakeReply], list[Step], str | None]] = [
    (
        "429 retry-after-ms",
        [err(429, **{"retry-after-ms": "1500"})],
        [(429, 1.5, "retry-after-ms"), OK],
        None,
    ),
    ("429 Retry-After seconds", [FakeReply.rate_limited(1)], [(429, 1.0, "retry-after"), OK], None),
    (
        "retry-after-ms wins over Retry-After",
        [err(429, **{"retry-after-ms": "250", "retry-after": "9"})],
        [(429, 0.25, "retry-after-ms"), OK],
        None,
    ),
    (
        "429 without Retry-After",
        [err(429), err(429)],
        [(429, 0.5, "backoff"), (429, 1.0, "backoff"), OK],
        None,
    ),
    ("429 Retry-After 0: our own wait", [FakeReply.rate_limited(0)], [(429, 0.5, "backoff"), OK], None),
    ("408", [err(408)], [(408, 0.5, "backoff"), OK], None),
    ("409", [err(409)], [(409, 0.5, "backoff"), OK], None),
    (
        "500 502 503",
        [err(500), err(502), FakeReply.unavailable()],
        [(500, 0.5, "backoff"), (502, 1.0, "backoff"), (503, 2.0, "backoff"), OK],
        None,
    ),
    ("504", [err(504)], [(504, 0.5, "backoff"), OK], None),
    ("503 Retry-After", [FakeReply.unavailable(retry_after=3)], [(503, 3.0, "retry-after"), OK], None),
    (
        "dropped connection",
        [FakeReply(status=200, body={}, fault="drop")],
        [("APIConnectionError", 0.5, "backoff"), OK],
        None,
    ),
    ("200 body not json", [NOT_JSON], [("MalformedResponseError", 0.5, "backoff"), OK], None),
    (
        "400 x-should-retry true",
        [err(400, **{"x-should-retry": "true"})],
        [(400, 0.5, "x-should-retry"), OK],
        None,
    ),
    (
        "503 x-should-retry true and Retry-After",
        [err(503, **{"x-should-retry": "true", "retry-after": "2"})],
        [(503, 2.0, "retry-after"), OK],
        None,
    ),
    (
        "503 x-should-retry false",
        [err(503, **{"x-should-retry": "false"})],
        [(503, None, "x-should-retry")],
        "ServerError",
    ),
    (
        "400 x-should-retry false",
        [err(400, **{"x-should-retry": "false"})],
        [(400, None, "not-retryable")],
        "BadRequestError",
    ),
    ("400", [err(400, "invalid_value")], [(400, None, "not-retryable")], "BadRequestError"),
    ("401", [err(401, "invalid_api_key")], [(401, None, "not-retryable")], "AuthenticationError"),
    ("403", [err(403)], [(403, None, "not-retryable")], "PermissionDeniedError"),
    ("404", [err(404, "model_not_found")], [(404, None, "not-retryable")], "NotFoundError"),
    ("422", [err(422)], [(422, None, "not-retryable")], "UnprocessableEntityError"),
    (
        "429 insufficient_quota despite x-should-retry true",
        [err(429, "insufficient_quota", **{"x-should-retry": "true", "retry-after": "1"})],
        [(429, None, "not-retryable")],
        "QuotaExceededError",
    ),
    (
        "azure prompt filter",
        [FakeReply.azure_prompt_filter()],
        [(400, None, "not-retryable")],
        "ContentFilterError",
    ),
    (
        "200 json of the wrong shape",
        [WRONG_SHAPE],
        [("MalformedResponseError", None, "not-retryable")],
        "MalformedResponseError",
    ),
    ("429 Retry-After above the cap", [FakeReply.rate_limited(300)], [(429, None, "cap")], "RateLimitError"),
    (
        "503 four times: attempts run out",
        [err(503)] * 4,
        [(503, 0.5, "backoff"), (503, 1.0, "backoff"), (503, 2.0, "backoff"), (503, None, "attempts")],
        "RetriesExhaustedError",
    ),
    (
        "503 then 429 above the cap",
        [err(503), FakeReply.rate_limited(300)],
        [(503, 0.5, "backoff"), (429, None, "cap")],
        "RetriesExhaustedError",
    ),
]


def _steps(attempts: tuple[Attempt, ...]) -> list[Step]:
    return [(a.outcome, a.wait, a.wait_source) for a in attempts]


def _offsets(steps: list[Step]) -> list[float]:
    """Where each attempt starts on the virtual clock: after the waits before it."""
    offsets, at = [], 0.0
    for _, wait, _ in steps:
        offsets.append(at)
        at += wait or 0.0
    return offsets


@pytest.mark.parametrize(
    ("case", "script", "ledger", "failure"), ROWS, ids=[r[0].replace(" ", "-") for r in ROWS]
)
def test_the_ledger_follows_the_retry_table(
    fake: FakeAPI,
    llm_clock: VirtualClock,
    case: str,
    script: list[FakeReply],
    ledger: list[Step],
    failure: str | None,
) -> None:
    """Each rule: every attempt's outcome, wait and source, its request id, its virtual offset."""
    fake.enqueue(*script)
    if failure is None:
        attempts = _client(fake).complete(REQUEST).attempts
    else:
        with pytest.raises(TypedLLMError) as caught:
            _client(fake).complete(REQUEST)
        assert type(caught.value).__name__ == failure, case
        attempts = caught.value.attempts
        if isinstance(caught.value, RetriesExhaustedError):
            assert caught.value.last_error.attempts == attempts
    assert _steps(attempts) == ledger, case
    assert [a.number for a in attempts] == list(range(1, len(ledger) + 1))
    assert {a.kind for a in attempts} == {"http"}
    assert [a.offset for a in attempts] == _offsets(ledger)
    assert all(a.duration == 0.0 for a in attempts)  # virtual time moves only by the waits
    assert llm_clock.waits == [wait for _, wait, _ in ledger if wait is not None]
    answered = [a.request_id for a in attempts if a.outcome != "APIConnectionError"]
    assert all(rid is not None and rid.startswith("req_") for rid in answered)
    assert len(set(answered)) == len(answered) == len(fake.received) - (len(attempts) - len(answered))


def test_retry_after_http_date_is_the_retry_after_source(fake: FakeAPI, llm_clock: VirtualClock) -> None:
    """A Retry-After given as an HTTP date: the wait is the time until it, its source ``retry-after``."""
    fake.enqueue(FakeReply.rate_limited(formatdate(timeval=__import__("time").time() + 30, usegmt=True)))
    (first, second) = _client(fake).complete(REQUEST).attempts
    assert (first.outcome, first.wait_source, second.outcome) == (429, "retry-after", 200)
    assert first.wait is not None
    assert 28.0 <= first.wait <= 30.0
    assert second.offset == first.wait == llm_clock.waits[0]


def test_the_deadline_cut_is_in_the_ledger(fake: FakeAPI, llm_clock: VirtualClock) -> None:
    """A wait that would end past the strategy's deadline is not taken: the ledger says ``deadline``."""
    fake.enqueue(err(503), err(503), err(503))
    with pytest.raises(RetriesExhaustedError) as caught:
        _client(fake, attrs.evolve(BACKOFF, timeout=2.0)).complete(REQUEST)
    assert _steps(caught.value.attempts) == [
        (503, 0.5, "backoff"),
        (503, 1.0, "backoff"),
        (503, None, "deadline"),
    ]
    assert llm_clock.waits == [0.5, 1.0]


def test_a_strategy_that_never_retries(fake: FakeAPI) -> None:
    """``NoRetry`` stops at the first failure; the ledger says the strategy stopped it."""
    fake.enqueue(err(503))
    with pytest.raises(TypedLLMError) as caught:
        _client(fake, NoRetry()).complete(REQUEST)  # type: ignore[arg-type]  # any Backoff
    assert _steps(caught.value.attempts) == [(503, None, "strategy")]


def test_a_pre_flight_error_made_no_attempt() -> None:
    """An error raised before anything is sent carries an empty ledger."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url="http://127.0.0.1:9/v1")
    huge = ChatRequest(model="gpt-4", messages=(UserMessage(content="word " * 9000),))
    with pytest.raises(TypedLLMError) as caught:
        client.complete(huge)
    assert caught.value.attempts == ()


def test_a_cache_hit_is_one_attempt_of_kind_cache(fake: FakeAPI, llm_clock: VirtualClock) -> None:
    """The second identical call is answered by the cache: one ``cache`` attempt, not a fake HTTP one."""
    cache = MemoryCache()
    fake.enqueue(FakeReply.rate_limited(1))
    client = _client(fake, cache=cache)
    first = client.complete(REQUEST)
    assert _steps(first.attempts) == [(429, 1.0, "retry-after"), OK]
    hit = client.complete(REQUEST)
    (attempt,) = hit.attempts
    assert (attempt.kind, attempt.outcome, attempt.number, attempt.offset, attempt.wait) == (
        "cache",
        "hit",
        1,
        0.0,
        None,
    )
    assert attempt.request_id == first.request_id is not None  # the call that paid for the answer
    assert hit == first  # the same answer: the ledger is not part of it
    stored = b"".join(value for value in cache._entries.values())
    assert b'"attempts"' not in stored  # (the echoed prompt says "attempts" too)
    assert len(fake.received) == 2
    assert llm_clock.waits == [1.0]
    with client.stream(REQUEST) as stream:
        streamed = stream.final_response()
    assert [a.kind for a in streamed.attempts] == ["cache"]


def test_a_single_flight_follower_says_it_got_the_leaders_answer(fake: FakeAPI) -> None:
    """Two identical calls at once: the leader's ledger is HTTP, the follower's one ``single-flight``."""
    fake.enqueue(FakeReply(status=200, body=json.loads(_chat_body()), delay=0.5))
    client = _client(fake, cache=MemoryCache())
    results: list[ChatResponse | None] = [None, None]
    barrier = threading.Barrier(2)

    def call(index: int) -> None:
        barrier.wait()
        results[index] = client.complete(REQUEST)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answers = [r for r in results if r is not None]
    assert sorted(a.kind for r in answers for a in r.attempts) == ["http", "single-flight"]
    (follower,) = [r for r in answers if r.attempts[0].kind == "single-flight"]
    (leader,) = [r for r in answers if r is not follower]
    (shared,) = follower.attempts
    assert shared.outcome == "shared"
    assert shared.request_id == leader.request_id is not None
    assert follower == leader
    assert len(fake.received) == 1


def _chat_body() -> str:
    return json.dumps(
        {
            "id": "chatcmpl-one",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "one"}, "finish_reason": "stop"}
            ],
        }
    )


def test_async_calls_write_the_same_ledger(fake: FakeAPI, llm_clock: VirtualClock) -> None:
    """The async client's ledger is the sync one's: the same layer wrote it."""
    fake.enqueue(FakeReply.rate_limited(retry_after_ms=1500), FakeReply.unavailable())

    async def main() -> tuple[Attempt, ...]:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=BACKOFF
        ) as client:
            return (await client.complete(REQUEST)).attempts

    attempts = asyncio.run(main())
    assert _steps(attempts) == [(429, 1.5, "retry-after-ms"), (503, 1.0, "backoff"), OK]
    assert [a.offset for a in attempts] == [0.0, 1.5, 2.5]
    assert llm_clock.waits == [1.5, 1.0]


def test_every_operation_carries_a_ledger(fake: FakeAPI, llm_clock: VirtualClock) -> None:
    """Embeddings, the Responses API and streams (``final_response()``) carry one too."""
    client = _client(fake)
    fake.enqueue(FakeReply.unavailable())
    embedded = client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("a",)))
    assert _steps(embedded.attempts) == [(503, 0.5, "backoff"), OK]
    fake.enqueue(FakeReply.rate_limited(2))
    responded = client.respond(ResponsesRequest(model="gpt-4o-mini", input="hi"))
    assert _steps(responded.attempts) == [(429, 2.0, "retry-after"), OK]
    fake.enqueue(FakeReply.rate_limited(1))
    with client.stream(REQUEST) as stream:
        streamed = stream.final_response()
    assert _steps(streamed.attempts) == [(429, 1.0, "retry-after"), OK]
    assert streamed.attempts[1].request_id == streamed.request_id
    assert llm_clock.waits == [0.5, 2.0, 1.0]


def test_nested_retry_layers_give_one_ledger(fake: FakeAPI, llm_clock: VirtualClock) -> None:
    """``Retrying`` around a client: one ledger of every HTTP attempt, numbered in order."""
    fake.enqueue(FakeReply.rate_limited(1), err(503))
    inner = _client(fake, NoRetry())  # type: ignore[arg-type]  # any Backoff
    attempts = Retrying(inner, BACKOFF).complete(REQUEST).attempts
    assert _steps(attempts) == [(429, 1.0, "retry-after"), (503, 1.0, "backoff"), OK]
    assert [(a.number, a.offset) for a in attempts] == [(1, 0.0), (2, 1.0), (3, 2.0)]
    assert llm_clock.waits == [1.0, 1.0]


def test_the_log_event_carries_the_ledger(fake: FakeAPI, llm_clock: VirtualClock) -> None:
    """The ``response`` and ``error`` events hold the same list, as plain JSON-able dicts."""
    fake.enqueue(FakeReply.rate_limited(1))
    client = _client(fake)
    with capture_logs() as logs:
        response = client.complete(REQUEST)
    (event,) = [log for log in logs if log["event"] == "response"]
    assert event["attempts"] == [
        {
            "number": a.number,
            "kind": "http",
            "offset": a.offset,
            "duration": 0.0,
            "outcome": a.outcome,
            "request_id": a.request_id,
            "wait": a.wait,
            "wait_source": a.wait_source,
        }
        for a in response.attempts
    ]
    json.dumps(event["attempts"])
    fake.enqueue(err(404, "model_not_found"))
    with capture_logs() as logs, pytest.raises(TypedLLMError) as caught:
        client.complete(REQUEST)
    (error,) = [log for log in logs if log["event"] == "error"]
    assert [(a["outcome"], a["wait_source"]) for a in error["attempts"]] == [(404, "not-retryable")]
    assert len(caught.value.attempts) == 1
    assert llm_clock.waits == [1.0]


def test_structured_answers_and_their_errors_carry_the_ledger(fake: FakeAPI, llm_clock: VirtualClock) -> None:
    """``parse`` keeps the call's ledger; an answer that does not validate raises with it."""
    fake.enqueue(FakeReply.rate_limited(1))
    parsed = _client(fake).parse(REQUEST, City)
    assert _steps(parsed.attempts) == [(429, 1.0, "retry-after"), OK]
    answer = ChatResponse.model_validate_json(_chat_body()).model_copy(update={"attempts": parsed.attempts})
    with pytest.raises(OutputValidationError) as caught:
        parse_completion(answer, City)  # its text, "one", is not a City
    assert caught.value.attempts == parsed.attempts
    assert llm_clock.waits == [1.0]


def test_a_responses_stream_carries_the_ledger(fake: FakeAPI, llm_clock: VirtualClock) -> None:
    """A Responses API stream's ``final_response()`` has the ledger of the call that streamed it."""
    fake.enqueue(FakeReply.unavailable(retry_after=2))
    with _client(fake).stream(ResponsesRequest(model="gpt-4o-mini", input="hi")) as stream:
        final = stream.final_response()
    assert _steps(final.attempts) == [(503, 2.0, "retry-after"), OK]
    assert llm_clock.waits == [2.0]


def test_a_single_flight_follower_of_a_failed_call(fake: FakeAPI) -> None:
    """The leader's error reaches the follower with a ledger that says it was shared, not sent."""
    fake.enqueue(attrs.evolve(err(404, "model_not_found"), delay=0.5))
    client = _client(fake, cache=MemoryCache())
    errors: list[TypedLLMError | None] = [None, None]
    barrier = threading.Barrier(2)

    def call(index: int) -> None:
        barrier.wait()
        try:
            client.complete(REQUEST)
        except TypedLLMError as error:
            errors[index] = error

    threads = [threading.Thread(target=call, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledgers = sorted(
        ((a.kind, a.outcome) for e in errors if e is not None for a in e.attempts), key=lambda step: step[0]
    )
    assert ledgers == [("http", 404), ("single-flight", 404)]
    assert len(fake.received) == 1


def test_a_wrapped_double_that_returns_one_answer_keeps_it_as_it_was() -> None:
    """A test double may hand the same answer object to every call: each call gets its own copy,
    with its own ledger, and the double's object is never written on."""
    canned = ChatResponse.model_validate_json(_chat_body())

    class Double:
        def complete(self, request: ChatRequest, **options: object) -> ChatResponse:
            return canned

    wrapped = Retrying(cast("Client", Double()), BACKOFF)
    first, second = wrapped.complete(REQUEST), wrapped.complete(REQUEST)
    assert canned.attempts == ()
    assert first is not canned
    assert second is not first
    assert [(a.number, a.outcome) for a in first.attempts] == [(1, 200)]
    assert [(a.number, a.outcome) for a in second.attempts] == [(1, 200)]
    assert first == second == canned
