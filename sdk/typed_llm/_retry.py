"""Retrying: which failures are worth another attempt, how long to wait, and the one layer that does it.

Three parts, each in one place:

- ``is_retryable`` is the retry table. Retried: 408, 409, 429 rate limits, 5xx, connection errors,
  timeouts, and a 200 whose body is not even JSON (cut short in transit). Never retried: other 4xx,
  content-filter errors, 429 ``insufficient_quota`` (waiting does not buy credit) and a 200 whose
  JSON has the wrong shape (a retry would get the same). The server's ``x-should-retry`` header
  overrides the status either way, except for quota and content-filter errors.
- A backoff strategy answers one question with no I/O: after attempt *k* failed with this error,
  ``elapsed`` seconds after the first attempt began, wait how long, or stop? ``ExponentialBackoff``
  and ``NoRetry`` are two; anything with the same ``wait`` method is a ``Backoff``.
- ``Retrying`` / ``AsyncRetrying`` wrap any ``Client`` / ``AsyncClient``: call, and on a
  ``TypedLLMError`` ask the strategy, sleep (through an injectable sleeper) and call again.

When the strategy stops: a failure that is not retryable is raised as it is; a retryable failure
after more than one attempt becomes ``RetriesExhaustedError`` (attempts, last error, chained); a
retryable failure on the only attempt (``NoRetry``, or a server wait above the cap) is raised as
it is, so its ``retry_after`` stays in view.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import attrs

from typed_llm._errors import (
    APIConnectionError,
    APIStatusError,
    ConflictError,
    ContentFilterError,
    MalformedResponseError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    RetriesExhaustedError,
    ServerError,
    TypedLLMError,
)
from typed_llm._logging import current_call, emit, enabled, error_fields
from typed_llm._structured import AsyncParseFromComplete, ParseFromComplete

if TYPE_CHECKING:
    from typed_llm._requests import ChatRequest, EmbeddingRequest
    from typed_llm._responses import ChatResponse, EmbeddingResponse
    from typed_llm._typing import AsyncClient, Client

__all__ = [
    "RETRY_AFTER_CAP",
    "AsyncRetrying",
    "Backoff",
    "ExponentialBackoff",
    "NoRetry",
    "Retrying",
    "attempt_budget",
    "is_retryable",
]

RETRY_AFTER_CAP = 120.0
"""Longest server-asked wait (``retry-after-ms`` / ``Retry-After``) honoured by default, in seconds.

openai-python honours the same bound. A server that asks for more is not waited for: the error is
raised (with its ``retry_after``) for the caller to decide.
"""


def is_retryable(error: TypedLLMError) -> bool:
    """Whether another attempt could succeed where this one failed (the retry table)."""
    if isinstance(error, QuotaExceededError | ContentFilterError):
        return False
    if isinstance(error, APIStatusError) and error.should_retry is not None:
        return error.should_retry
    if isinstance(error, RequestTimeoutError | ConflictError | RateLimitError | ServerError):
        return True
    if isinstance(error, MalformedResponseError):
        return error.incomplete
    return isinstance(error, APIConnectionError)


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("typed_llm_deadline", default=None)
"""The instant (``time.monotonic``) by which the attempt now being made must end, or None."""


def attempt_budget() -> float | None:
    """Seconds the attempt now being made may still take before the retry deadline, or None.

    Set by ``Retrying`` for the duration of each attempt when its strategy has a deadline; the
    transports cut their HTTP timeout to it, so the deadline bounds an attempt in flight too.
    Retry layers nest (a ``Retrying`` around a client, which has its own): the earliest deadline
    of all of them holds.
    """
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def _timeout_of(backoff: Backoff) -> float | None:
    """The strategy's overall deadline in seconds, if it declares one (a ``timeout`` attribute)."""
    timeout = getattr(backoff, "timeout", None)
    return float(timeout) if isinstance(timeout, int | float) and not isinstance(timeout, bool) else None


@runtime_checkable
class Backoff(Protocol):
    """A retry strategy: how long to wait after a failed attempt, or whether to stop.

    A strategy that also has a ``timeout`` attribute (seconds, or None) declares an overall
    deadline: ``Retrying`` then cuts each attempt's HTTP timeout to the time left before it, as it
    does for ``ExponentialBackoff``.
    """

    def wait(self, attempt: int, error: TypedLLMError, elapsed: float) -> float | None:
        """Seconds to wait before the next attempt, or None to stop.

        Args:
            attempt: how many attempts have been made (1 after the first failed).
            error: how the last attempt failed.
            elapsed: seconds since the first attempt began.
        """
        ...


@attrs.frozen
class NoRetry:
    """Never retry: every failure is raised as it is."""

    def wait(self, attempt: int, error: TypedLLMError, elapsed: float) -> float | None:  # noqa: ARG002
        """Always stop."""
        return None


def _not_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


@attrs.frozen
class ExponentialBackoff:
    """Exponential backoff with additive jitter, stamina's parameters, and the server's word first.

    The k-th retry waits ``min(wait_max, wait_initial * wait_exp_base ** (k - 1) + U(0, wait_jitter))``
    seconds, unless the server asked for a wait (``retry-after-ms``, then ``Retry-After``): that is
    honoured exactly, even above ``wait_max``, up to ``retry_after_cap``; above the cap it stops.
    It never schedules a wait that would end past ``timeout`` seconds after the first attempt.

    Defaults, against openai-python's (3 attempts, 0.5 s doubling to an 8 s cap, minus 0-25%
    jitter, Retry-After up to 120 s): one attempt more, because the commonest failure is a rate
    limit that clears within seconds; the same 0.5 s start and 8 s cap; jitter added rather than
    taken off (up to 0.5 s), so that clients that failed together do not retry together; no overall
    deadline, because one call to a reasoning model may itself take minutes: set ``timeout`` to
    bound the whole call, waits and attempts together, at about that many seconds.
    """

    attempts: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    """Total tries, the first included."""
    wait_initial: float = attrs.field(default=0.5, validator=_not_negative)
    """Wait before the first retry, jitter aside."""
    wait_exp_base: float = attrs.field(default=2.0, validator=attrs.validators.ge(1.0))
    """Growth factor of the wait from one retry to the next."""
    wait_max: float = attrs.field(default=8.0, validator=_not_negative)
    """Longest computed wait (a server-asked wait may be longer, up to ``retry_after_cap``)."""
    wait_jitter: float = attrs.field(default=0.5, validator=_not_negative)
    """Up to this many seconds, uniformly drawn, added to each computed wait."""
    timeout: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.gt(0))
    )
    """Deadline in seconds from the first attempt: no retry is scheduled to end its wait after it,
    and each attempt's HTTP timeout is cut to the time left (an attempt cut short is an
    ``APITimeoutError``, the last error of ``RetriesExhaustedError``). httpx applies that timeout
    to connecting, writing and each read separately, so a server that trickles its answer can
    stretch an attempt past the deadline; a silent one cannot."""
    retry_after_cap: float = attrs.field(default=RETRY_AFTER_CAP, validator=_not_negative)
    """Longest server-asked wait honoured; a longer one stops the retries."""
    random: Callable[[], float] = attrs.field(default=random.random, eq=False, repr=False)
    """Source of jitter in [0, 1); seed it in tests."""

    @classmethod
    def from_seed(
        cls, *, max_attempts: int, waiting_time: float, exponential_backoff_factor: float
    ) -> ExponentialBackoff:
        """The strategy TinyTroupe's settings describe (``MAX_ATTEMPTS``, ``WAITING_TIME``,
        ``EXPONENTIAL_BACKOFF_FACTOR``): waits of ``waiting_time * factor ** (k - 1)``, no cap
        below 10 minutes, no jitter.
        """  # noqa: D205  (the summary names three settings)
        return cls(
            attempts=max_attempts,
            wait_initial=waiting_time,
            wait_exp_base=exponential_backoff_factor,
            wait_max=600.0,
            wait_jitter=0.0,
        )

    def wait(self, attempt: int, error: TypedLLMError, elapsed: float) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to stop."""
        if attempt >= self.attempts or not is_retryable(error):
            return None
        asked = error.retry_after if isinstance(error, APIStatusError) else None
        if asked is not None and asked > 0:
            if asked > self.retry_after_cap:
                return None
            delay = asked
        else:  # no wait asked, or 0 / a date already past (clock skew): our own backoff
            try:
                grown = self.wait_initial * self.wait_exp_base ** (attempt - 1)
            except OverflowError:
                grown = self.wait_max
            delay = min(self.wait_max, grown + self.random() * self.wait_jitter)
        if self.timeout is not None and elapsed + delay > self.timeout:
            return None
        return delay


@attrs.define
class _Attempts:
    """The state of one call's attempts; ``failed`` returns the wait or raises the final error."""

    backoff: Backoff
    timeout: float | None
    """The strategy's deadline (``_timeout_of``), read once per layer, not per attempt."""
    clock: Callable[[], float]
    started: float
    count: int = 0

    def begin(self) -> contextvars.Token[float | None]:
        """Count an attempt and set its deadline (``attempt_budget``); reset the token after.

        The deadline is kept as a ``time.monotonic`` instant (this layer's clock may be a test's
        fake), and an enclosing layer's earlier deadline is kept.
        """
        self.count += 1
        call = current_call.get()
        if call is not None:
            call.attempts = self.count
        deadline = _deadline.get()
        if self.timeout is not None:
            mine = time.monotonic() + self.timeout - (self.clock() - self.started)
            deadline = mine if deadline is None else min(deadline, mine)
        return _deadline.set(deadline)

    def failed(self, error: TypedLLMError) -> float:
        wait = self.backoff.wait(self.count, error, self.clock() - self.started)
        deadline = _deadline.get()  # this layer's, or an enclosing layer's earlier one
        if wait is not None and deadline is not None and time.monotonic() + wait > deadline:
            wait = None  # the next attempt would start after the deadline
        if wait is not None:
            call = current_call.get()
            if not enabled(logging.WARNING):
                return wait
            emit(
                logging.WARNING,
                "retry_scheduled",
                **(call.fields() if call is not None else {}),
                attempt=self.count,
                wait_s=round(wait, 3),
                **error_fields(error),
            )
            return wait
        if self.count > 1 and is_retryable(error):
            raise RetriesExhaustedError(
                f"gave up after {self.count} attempts; the last failed with {type(error).__name__}: {error}",
                attempts=self.count,
                last_error=error,
            ) from error
        raise error


Request = TypeVar("Request", "ChatRequest", "EmbeddingRequest")
Result = TypeVar("Result", "ChatResponse", "EmbeddingResponse")


class Retrying(ParseFromComplete):
    """Wraps any ``Client`` so that transient failures are retried as its ``backoff`` says.

    Args:
        inner: the client to call.
        backoff: the strategy.
        sleep: how to wait (``time.sleep``; a recorder in tests).
        clock: seconds on a monotonic clock (``time.monotonic``).
    """

    def __init__(
        self,
        inner: Client,
        backoff: Backoff,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._backoff = backoff
        self._timeout = _timeout_of(backoff)
        self._sleep = sleep
        self._clock = clock

    def complete(self, request: ChatRequest) -> ChatResponse:
        """``inner.complete``, retried."""
        return self._call(self._inner.complete, request)

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """``inner.embed``, retried."""
        return self._call(self._inner.embed, request)

    def _call(self, call: Callable[[Request], Result], request: Request) -> Result:
        attempts = _Attempts(self._backoff, self._timeout, self._clock, self._clock())
        while True:
            deadline = attempts.begin()
            try:
                return call(request)
            except TypedLLMError as error:
                wait = attempts.failed(error)
            finally:
                _deadline.reset(deadline)
            self._sleep(wait)


class AsyncRetrying(AsyncParseFromComplete):
    """Wraps any ``AsyncClient``; the async twin of ``Retrying`` (same strategy, same table)."""

    def __init__(
        self,
        inner: AsyncClient,
        backoff: Backoff,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._backoff = backoff
        self._timeout = _timeout_of(backoff)
        self._sleep = sleep
        self._clock = clock

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """``inner.complete``, retried."""
        return await self._call(self._inner.complete, request)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """``inner.embed``, retried."""
        return await self._call(self._inner.embed, request)

    async def _call(self, call: Callable[[Request], Awaitable[Result]], request: Request) -> Result:
        attempts = _Attempts(self._backoff, self._timeout, self._clock, self._clock())
        while True:
            deadline = attempts.begin()
            try:
                return await call(request)
            except TypedLLMError as error:
                wait = attempts.failed(error)
            finally:
                _deadline.reset(deadline)
            await self._sleep(wait)
