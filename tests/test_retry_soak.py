"""Soak: 2,000 calls against the fake with 30% of answers faulty, a seeded mix of every fault kind.

The 2,000-call soak is marked ``slow``: the default run (``./scripts/test``) leaves it out and CI
runs it after (``pytest -m slow`` in ``.ci/run``). The default run makes the first 300 of the same
seeded calls, which still meet every fault kind at least three times and end in every outcome.

Each call has its own prompt and its own fault script (the fake matches scripts to requests by
prompt), so the outcome of every call is known in advance: its own answer, a typed error of the
documented class, or RetriesExhaustedError. Anything else (another exception class, a call that
took more attempts than allowed, an answer meant for another call, an answer lost) fails the test.
"""

from __future__ import annotations

import random
from collections import Counter

import attrs
import pytest

from helpers import FAKE_OPENAI_KEY
from typed_llm import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ChatRequest,
    ConflictError,
    ExponentialBackoff,
    MalformedResponseError,
    NoRetry,
    OpenAIClient,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    RetriesExhaustedError,
    Retrying,
    ServerError,
    TypedLLMError,
    UserMessage,
)
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._replies import FakeReply

SOAK_CALLS = 2000
QUICK_CALLS = 300
FAULT_RATE = 0.3
ATTEMPTS = 4
TIMEOUT = 0.25


@attrs.frozen
class Fault:
    """A kind of faulty answer, the error class it must give, and whether the issue's table retries it."""

    name: str
    reply: FakeReply
    error: type[TypedLLMError]
    retried: bool
    weight: int = 10


def _error(status: int, code: str | None = None, **headers: str) -> FakeReply:
    return FakeReply.error(status, "injected", code=code, headers=headers)


FAULTS = (
    Fault(
        "429 retry-after-ms",
        _error(429, "rate_limit_exceeded", **{"retry-after-ms": "20"}),
        RateLimitError,
        True,
    ),
    Fault(
        "429 Retry-After", _error(429, "rate_limit_exceeded", **{"retry-after": "1"}), RateLimitError, True
    ),
    Fault("500", _error(500), ServerError, True),
    Fault("502 html", FakeReply(status=502, body=b"<html>Bad Gateway</html>"), ServerError, True),
    Fault("503", _error(503), ServerError, True),
    Fault("408", _error(408), RequestTimeoutError, True),
    Fault("409", _error(409), ConflictError, True),
    Fault("dropped connection", FakeReply(status=200, body={}, fault="drop"), APIConnectionError, True),
    Fault(
        "cut short in transit",
        FakeReply(status=200, body={"x": "y" * 200}, fault="truncate"),
        APIConnectionError,
        True,
    ),
    Fault("200 not json", FakeReply(status=200, body=b'{"id": "chatcmpl-'), MalformedResponseError, True),
    Fault("slow", FakeReply(status=200, body={}, delay=TIMEOUT + 0.15), APITimeoutError, True, weight=2),
    Fault("400", _error(400, "invalid_value"), BadRequestError, False, weight=4),
    Fault("429 insufficient_quota", _error(429, "insufficient_quota"), QuotaExceededError, False, weight=4),
    Fault(
        "200 wrong shape", FakeReply(status=200, body={"id": "x"}), MalformedResponseError, False, weight=4
    ),
)


@attrs.frozen
class Plan:
    """One call: its prompt, the faults its attempts meet, and what the caller must get."""

    prompt: str
    faults: tuple[Fault, ...]

    @property
    def attempts(self) -> int:
        for number, fault in enumerate(self.faults, start=1):
            if not fault.retried:
                return number
        return min(len(self.faults) + 1, ATTEMPTS)

    @property
    def outcome(self) -> str | type[TypedLLMError]:
        for number, fault in enumerate(self.faults, start=1):
            if not fault.retried:
                return fault.error
            if number == ATTEMPTS:
                return RetriesExhaustedError
        return f"Echo: {self.prompt}"


def _plans(seed: int, calls: int) -> list[Plan]:
    """The first ``calls`` plans of the seed's sequence (a shorter run is a prefix of a longer one)."""
    rng = random.Random(seed)
    weights = [fault.weight for fault in FAULTS]
    plans = []
    for index in range(calls):
        faults: list[Fault] = []
        while len(faults) < ATTEMPTS and rng.random() < FAULT_RATE:
            faults.append(rng.choices(FAULTS, weights)[0])
        plans.append(Plan(prompt=f"call-{index:05d}#", faults=tuple(faults)))
    return plans


@pytest.mark.parametrize(
    "calls",
    [pytest.param(QUICK_CALLS, id="quick"), pytest.param(SOAK_CALLS, id="soak", marks=pytest.mark.slow)],
)
def test_soak_every_call_ends_in_its_answer_or_a_documented_error(calls: int) -> None:
    """30% faulty answers: each call its right answer or documented error, attempts within the limit."""
    plans = _plans(seed=20261124, calls=calls)
    assert {fault.name for plan in plans for fault in plan.faults} == {fault.name for fault in FAULTS}
    outcomes: Counter[str] = Counter()
    with FakeAPI() as fake:
        for plan in plans:
            if plan.faults:
                fake.enqueue(*(fault.reply for fault in plan.faults), when=plan.prompt)
        inner = OpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, timeout=TIMEOUT, backoff=NoRetry()
        )
        waits: list[float] = []
        client = Retrying(
            inner,
            ExponentialBackoff(attempts=ATTEMPTS, wait_jitter=0.1, random=random.Random(7).random),
            sleep=waits.append,
        )
        answers: list[str] = []
        for plan in plans:
            request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=plan.prompt),))
            expected = plan.outcome
            try:
                answer = client.complete(request).text
            except TypedLLMError as error:
                assert not isinstance(expected, str), f"{plan.prompt}: expected an answer, got {error!r}"
                assert type(error) is expected, f"{plan.prompt}: {plan.faults} gave {error!r}"
                if isinstance(error, RetriesExhaustedError):
                    assert len(error.attempts) == ATTEMPTS
                    assert type(error.last_error) is plan.faults[-1].error
                outcomes[expected.__name__] += 1
            else:
                assert answer == expected, f"{plan.prompt}: got {answer!r}"
                answers.append(answer)
                outcomes["answered"] += 1
        seen = Counter(
            request.body.split(b'"content":"')[1].split(b'"')[0].decode() for request in fake.received
        )
    for plan in plans:
        assert seen[plan.prompt] == plan.attempts, plan
        assert seen[plan.prompt] <= ATTEMPTS
    assert len(answers) == len(set(answers)) == outcomes["answered"]
    assert sum(outcomes.values()) == calls
    faulty = sum(len(plan.faults) for plan in plans)
    assert 0.25 < faulty / sum(plan.attempts for plan in plans) < 0.35
    assert outcomes["answered"] > 0.9 * calls
    assert {
        "RetriesExhaustedError",
        "QuotaExceededError",
        "BadRequestError",
        "MalformedResponseError",
    } <= outcomes.keys()
    assert all(wait >= 0 for wait in waits)
