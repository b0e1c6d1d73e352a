"""The retry table, row by row, against injected faults from the loopback fake.

Each row scripts the fake's answers, calls through ``Retrying`` around a real client (whose own
layer is ``NoRetry``), and checks three things: how many attempts reached the fake, which waits
the layer asked its sleeper for, and what the caller got. Time is a fake clock that the recorded
sleeps advance, so nothing here sleeps for real (only the timeout rows wait for a slow answer).
"""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, cast

import attrs
import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import (
    DEFAULT_DEADLINE,
    APIConnectionError,
    APITimeoutError,
    AsyncOpenAIClient,
    AsyncRetrying,
    AuthenticationError,
    AzureClient,
    BadRequestError,
    ChatRequest,
    ContentFilterError,
    MalformedResponseError,
    NotFoundError,
    OpenAIClient,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RetriesExhaustedError,
    Retrying,
    ServerError,
    TypedLLMError,
    UnprocessableEntityError,
    UserMessage,
)
from typed_llm._backoff import Backoff, ExponentialBackoff, NoRetry
from typed_llm._layers.drivers import run_sync
from typed_llm._layers.pipeline import AttemptContext, Call, Flow, Outcome, Pipeline, Terminal
from typed_llm._layers.retry import Retry
from typed_llm._wire.chat import CHAT, parse_chat_response
from typed_llm._wire.operation import RawResponse
from typed_llm.testing._replies import FakeReply

if TYPE_CHECKING:
    from typed_llm import ChatResponse
    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="retry me"),))
BACKOFF = ExponentialBackoff(
    attempts=4, wait_initial=0.5, wait_exp_base=2.0, wait_max=8.0, wait_jitter=0.0, timeout=None
)
OK = "Echo: retry me"
OK_BODY = (
    b'{"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0, '
    b'"message": {"role": "assistant", "content": "Echo: retry me"}, "finish_reason": "stop"}]}'
)
NOT_JSON = FakeReply(status=200, body=b'{"id": "chatcmpl-1", "object": "chat.comp')
WRONG_SHAPE = FakeReply(status=200, body={"id": "x", "object": "chat.completion", "created": 1, "model": "m"})


def err(status: int, code: str | None = None, **headers: str) -> FakeReply:
    return FakeReply.error(status, f"HTTP {status} from the fake", code=code, headers=headers)


@attrs.define
class Clock:
    """A monotonic clock that only the recorded sleeps move."""

    now: float = 1000.0
    waits: list[float] = attrs.field(factory=list)

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def _retrying(
    fake: FakeAPI, clock: Clock, backoff: ExponentialBackoff = BACKOFF, timeout: float = 5.0
) -> Retrying:
    inner = OpenAIClient(
        api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, timeout=timeout, backoff=NoRetry()
    )
    return Retrying(inner, backoff, sleep=clock.sleep, clock=clock)


# (case id, fake's answers, attempts the fake sees, waits asked, outcome: OK or the error class)
ROWS: list[tuple[str, list[FakeReply], int, list[float], str | type[TypedLLMError]]] = [
    ("429 retry-after-ms then ok", [err(429, **{"retry-after-ms": "1500"})], 2, [1.5], OK),
    ("429 Retry-After 1 then 503 then ok", [err(429, **{"retry-after": "1"}), err(503)], 3, [1.0, 1.0], OK),
    ("408 then ok", [err(408)], 2, [0.5], OK),
    ("409 then ok", [err(409)], 2, [0.5], OK),
    ("500 502 503 then ok", [err(500), err(502), err(503)], 4, [0.5, 1.0, 2.0], OK),
    ("504 then ok", [err(504)], 2, [0.5], OK),
    ("dropped connection then ok", [FakeReply(status=200, body={}, fault="drop")], 2, [0.5], OK),
    (
        "body cut short in transit then ok",
        [FakeReply(status=200, body={"a": "b" * 64}, fault="truncate")],
        2,
        [0.5],
        OK,
    ),
    ("200 body not json then ok", [NOT_JSON], 2, [0.5], OK),
    ("503 x-should-retry false", [err(503, **{"x-should-retry": "false"})], 1, [], ServerError),
    ("400 x-should-retry true then ok", [err(400, **{"x-should-retry": "true"})], 2, [0.5], OK),
    ("400", [err(400, "invalid_value")], 1, [], BadRequestError),
    ("401", [err(401, "invalid_api_key")], 1, [], AuthenticationError),
    ("403", [err(403)], 1, [], PermissionDeniedError),
    ("404", [err(404, "model_not_found")], 1, [], NotFoundError),
    ("422", [err(422)], 1, [], UnprocessableEntityError),
    (
        "429 insufficient_quota",
        [err(429, "insufficient_quota", **{"retry-after": "1"})],
        1,
        [],
        QuotaExceededError,
    ),
    (
        "429 insufficient_quota despite x-should-retry true",
        [err(429, "insufficient_quota", **{"x-should-retry": "true"})],
        1,
        [],
        QuotaExceededError,
    ),
    ("200 json of the wrong shape", [WRONG_SHAPE], 1, [], MalformedResponseError),
    ("503 four times: exhausted", [err(503)] * 4, 4, [0.5, 1.0, 2.0], RetriesExhaustedError),
    ("429 Retry-After above the cap", [err(429, **{"retry-after": "300"})], 1, [], RateLimitError),
    ("429 without Retry-After: our own waits", [err(429), err(429)], 3, [0.5, 1.0], OK),
    ("429 Retry-After 0: our own wait", [err(429, **{"retry-after": "0"})], 2, [0.5], OK),
    (
        "503 then 429 above the cap: exhausted",
        [err(503), err(429, **{"retry-after": "300"})],
        2,
        [0.5],
        RetriesExhaustedError,
    ),
]


@pytest.mark.parametrize(
    ("case", "script", "attempts", "waits", "outcome"), ROWS, ids=[row[0].replace(" ", "-") for row in ROWS]
)
def test_retry_table(
    fake: FakeAPI,
    case: str,
    script: list[FakeReply],
    attempts: int,
    waits: list[float],
    outcome: str | type[TypedLLMError],
) -> None:
    """Each row: the attempts the fake saw, the waits asked for, the response or typed error."""
    clock = Clock()
    fake.enqueue(*script)
    client = _retrying(fake, clock)
    if isinstance(outcome, str):
        assert client.complete(REQUEST).text == outcome, case
    else:
        with pytest.raises(TypedLLMError) as caught:
            client.complete(REQUEST)
        assert type(caught.value) is outcome, case
    assert len(fake.received) == attempts
    assert clock.waits == waits


def test_exhausted_error_carries_count_and_last_error(fake: FakeAPI) -> None:
    """RetriesExhaustedError says how many attempts were made and holds (and chains) the last error."""
    fake.enqueue(err(500), err(502), err(503, **{"retry-after-ms": "10"}))
    client = _retrying(fake, Clock(), attrs.evolve(BACKOFF, attempts=3))
    with pytest.raises(RetriesExhaustedError) as caught:
        client.complete(REQUEST)
    error = caught.value
    assert len(error.attempts) == 3
    assert isinstance(error.last_error, ServerError)
    assert error.last_error.status_code == 503
    assert error.__cause__ is error.last_error
    assert "3 attempts" in str(error)


def test_retry_after_http_date_is_honoured(fake: FakeAPI) -> None:
    """Retry-After as an HTTP date: the wait is the time left until then."""
    clock = Clock()
    fake.enqueue(err(429, **{"retry-after": formatdate(time.time() + 6, usegmt=True)}))
    assert _retrying(fake, clock).complete(REQUEST).text == OK
    (wait,) = clock.waits
    assert 4.0 < wait <= 6.0


def test_slow_answer_times_out_and_is_retried(fake: FakeAPI) -> None:
    """An attempt slower than the client's timeout is an APITimeoutError, retried."""
    clock = Clock()
    fake.enqueue(FakeReply(status=200, body={}, delay=0.6))
    assert _retrying(fake, clock, timeout=0.2).complete(REQUEST).text == OK
    assert (len(fake.received), clock.waits) == (2, [0.5])


def test_timeouts_exhaust_as_timeouts(fake: FakeAPI) -> None:
    """Every attempt too slow: RetriesExhaustedError whose last error is the timeout."""
    fake.enqueue(*[FakeReply(status=200, body={}, delay=0.4)] * 2)
    client = _retrying(fake, Clock(), attrs.evolve(BACKOFF, attempts=2), timeout=0.15)
    with pytest.raises(RetriesExhaustedError) as caught:
        client.complete(REQUEST)
    assert isinstance(caught.value.last_error, APITimeoutError)
    assert isinstance(caught.value.last_error, APIConnectionError)


def test_deadline_stops_before_a_wait_would_pass_it(fake: FakeAPI) -> None:
    """With timeout=2: waits 0.5 and 1.0 fit, the next (2.0) would end past the deadline, so it stops."""
    clock = Clock()
    fake.enqueue(*[err(503)] * 4)
    client = _retrying(fake, clock, attrs.evolve(BACKOFF, timeout=2.0))
    with pytest.raises(RetriesExhaustedError) as caught:
        client.complete(REQUEST)
    assert (len(caught.value.attempts), clock.waits, len(fake.received)) == (3, [0.5, 1.0], 3)


def test_deadline_cuts_an_attempt_in_flight(fake: FakeAPI) -> None:
    """timeout=1.5 with a 503 then an answer that would take 30 s: the second attempt's HTTP
    timeout is cut to what is left, so the whole call ends near 1.5 s, not after the client's 600.
    """
    fake.enqueue(err(503), FakeReply(status=200, body={}, delay=30.0))
    backoff = ExponentialBackoff(wait_initial=0.1, wait_jitter=0.0, timeout=1.5)
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=backoff)
    started = time.monotonic()
    with pytest.raises(RetriesExhaustedError) as caught:
        client.complete(REQUEST)
    took = time.monotonic() - started
    assert isinstance(caught.value.last_error, APITimeoutError)
    assert (len(caught.value.attempts), len(fake.received)) == (2, 2)
    assert 1.3 < took < 10, f"the call took {took:.2f} s against a 1.5 s deadline"


def test_async_deadline_cuts_an_attempt_in_flight(fake: FakeAPI) -> None:
    """The async stack cuts the attempt the same way (a single attempt: its timeout, as it is)."""
    fake.enqueue(FakeReply(status=200, body={}, delay=30.0))

    async def call() -> None:
        backoff = ExponentialBackoff(wait_jitter=0.0, timeout=0.5)
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=backoff
        ) as client:
            await client.complete(REQUEST)

    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        asyncio.run(call())
    assert time.monotonic() - started < 10
    assert len(fake.received) == 1


@attrs.define
class _Recorder:
    """A terminal that records the deadline each attempt is given; each attempt takes 0.25 s and
    all but the last fail with a 503."""

    clock: Clock
    attempts: int
    budgets: list[float | None] = attrs.field(factory=list)

    def run(
        self, call: Call[ChatRequest, ChatResponse], attempt: AttemptContext
    ) -> Flow[Outcome[ChatResponse]]:
        deadline = attempt.deadline
        self.budgets.append(None if deadline is None else deadline - time.monotonic())
        self.clock.now += 0.25
        if len(self.budgets) < self.attempts:
            raise ServerError("down", status_code=503)
        yield from ()
        return Outcome(parse_chat_response(RawResponse(200, {}, OK_BODY)), attempt=attempt.number)


@pytest.mark.parametrize(
    ("backoff", "budgets"),
    [
        (attrs.evolve(BACKOFF, timeout=3.0), [3.0, 2.25, 1.0]),  # waits 0.5 and 1.0, attempts 0.25
        (BACKOFF, [None, None, None]),  # no deadline: the client's own timeout
        (attrs.evolve(BACKOFF, timeout=DEFAULT_DEADLINE), [600.0, 599.25, 598.0]),  # the default
        (NoRetry(), [None]),
    ],
    ids=["deadline", "no deadline", "default deadline", "NoRetry"],
)
def test_each_attempt_is_given_the_time_left(backoff: Backoff, budgets: list[float | None]) -> None:
    """The deadline the retry layer passes each attempt is the deadline minus waits and earlier attempts."""
    clock = Clock()
    recorder = _Recorder(clock, attempts=len(budgets))
    # The recorder answers chat only; the Terminal protocol is generic over every operation.
    pipeline = Pipeline((Retry(backoff, clock.sleep, clock),), cast("Terminal", recorder))
    outcome = run_sync(pipeline.flow(CHAT, REQUEST), None)
    assert (outcome.value.text, outcome.attempt) == (OK, len(budgets))
    # The fake clock moves only with the recorded sleeps; the real one a little, between them.
    assert recorder.budgets == [None if b is None else pytest.approx(b, abs=0.2) for b in budgets]


def test_an_outer_deadline_holds_over_the_clients_own_retry_layer(fake: FakeAPI) -> None:
    """``Retrying(client, deadline)`` around a client whose own layer has none: the outer
    deadline still cuts the attempt (an inner layer never lifts an outer deadline)."""
    fake.enqueue(FakeReply(status=200, body={}, delay=30.0))
    inner = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, timeout=20.0)
    outer = Retrying(inner, ExponentialBackoff(timeout=0.5))
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        outer.complete(REQUEST)
    assert time.monotonic() - started < 10
    assert len(fake.received) == 1


@attrs.frozen
class _OneQuickRetry:
    """A strategy of a user's own, with a deadline: one retry after 10 ms."""

    timeout: float = 0.5

    def wait(self, attempt: int, error: TypedLLMError, elapsed: float) -> float | None:
        return 0.01 if attempt == 1 else None


def test_a_users_own_strategy_with_a_timeout_cuts_the_attempt_too(fake: FakeAPI) -> None:
    """Any ``Backoff`` with a ``timeout`` attribute gets its attempts cut to the time left."""
    fake.enqueue(err(503), FakeReply(status=200, body={}, delay=30.0))
    inner = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry())
    started = time.monotonic()
    with pytest.raises(RetriesExhaustedError) as caught:
        Retrying(inner, _OneQuickRetry()).complete(REQUEST)
    assert time.monotonic() - started < 10
    assert isinstance(caught.value.last_error, APITimeoutError)
    assert (len(caught.value.attempts), len(fake.received)) == (2, 2)


def test_no_attempt_is_made_when_the_deadline_has_passed(fake: FakeAPI) -> None:
    """A wait that overran (a sleep that took longer than asked, a suspended machine) leaves no
    time: the attempt is not sent (a zero timeout would make httpx fail to connect), and the call
    ends as a timeout."""
    fake.enqueue(err(503))
    inner = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry())
    backoff = ExponentialBackoff(wait_initial=0.05, wait_jitter=0.0, timeout=0.3)
    with pytest.raises(RetriesExhaustedError) as caught:
        Retrying(inner, backoff, sleep=lambda seconds: time.sleep(seconds + 0.3)).complete(REQUEST)
    assert isinstance(caught.value.last_error, APITimeoutError)
    assert "deadline passed" in str(caught.value.last_error)
    assert (len(caught.value.attempts), len(fake.received)) == (2, 1)


def test_wait_max_caps_the_growth(fake: FakeAPI) -> None:
    """Computed waits grow by wait_exp_base and stop at wait_max."""
    clock = Clock()
    fake.enqueue(*[err(500)] * 5)
    client = _retrying(fake, clock, attrs.evolve(BACKOFF, attempts=6, wait_max=3.0))
    assert client.complete(REQUEST).text == OK
    assert clock.waits == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_content_filter_is_never_retried(fake: FakeAPI) -> None:
    """Azure's prompt filter: ContentFilterError at once, one attempt."""
    clock = Clock()
    fake.enqueue(FakeReply.azure_prompt_filter())
    inner = AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, backoff=NoRetry())
    with pytest.raises(ContentFilterError):
        Retrying(inner, BACKOFF, sleep=clock.sleep, clock=clock).complete(REQUEST)
    assert (len(fake.received), clock.waits) == (1, [])


def test_clients_retry_by_default(fake: FakeAPI) -> None:
    """The adapters carry the retry layer: OpenAIClient(backoff=...) retries a 503 on its own."""
    fake.enqueue(err(503), err(429, **{"retry-after-ms": "5"}))
    backoff = ExponentialBackoff(wait_initial=0.01, wait_jitter=0.0)
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=backoff)
    assert client.complete(REQUEST).text == OK
    assert len(fake.received) == 3


def test_async_retry_layer_follows_the_same_table(fake: FakeAPI) -> None:
    """AsyncRetrying asks the same strategy and awaits the same waits."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def calls() -> tuple[str, type[TypedLLMError]]:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry()
        ) as inner:
            retrying = AsyncRetrying(inner, BACKOFF, sleep=sleep)
            fake.enqueue(err(429, **{"retry-after-ms": "250"}), err(502))
            text = (await retrying.complete(REQUEST)).text
            fake.enqueue(err(401))
            try:
                await retrying.complete(REQUEST)
            except TypedLLMError as error:
                return text, type(error)
        raise AssertionError("the second call fails")

    assert asyncio.run(calls()) == (OK, AuthenticationError)
    assert waits == [0.25, 1.0]
    assert len(fake.received) == 4


def test_seed_settings_map_onto_the_strategy() -> None:
    """TinyTroupe's MAX_ATTEMPTS / WAITING_TIME / EXPONENTIAL_BACKOFF_FACTOR give its waits."""
    backoff = ExponentialBackoff.from_seed(max_attempts=5, waiting_time=2.0, exponential_backoff_factor=5.0)
    error = ServerError("boom", status_code=500)
    assert [backoff.wait(k, error, 0.0) for k in range(1, 6)] == [2.0, 10.0, 50.0, 250.0, None]


def test_bad_strategy_parameters_are_refused() -> None:
    """attempts below 1, negative waits and a shrinking base are refused at construction."""
    for bad in ({"attempts": 0}, {"wait_initial": -1.0}, {"wait_max": -0.1}, {"wait_exp_base": 0.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ExponentialBackoff(**bad)


def test_huge_attempt_numbers_do_not_overflow() -> None:
    """A strategy allowing thousands of attempts caps its wait instead of overflowing."""
    backoff = ExponentialBackoff(attempts=5000, wait_jitter=0.0, wait_max=30.0)
    assert backoff.wait(4000, ServerError("down", status_code=500), 0.0) == 30.0
    seed = ExponentialBackoff.from_seed(max_attempts=1000, waiting_time=1.0, exponential_backoff_factor=5.0)
    assert seed.wait(900, ServerError("down", status_code=500), 0.0) == 600.0
