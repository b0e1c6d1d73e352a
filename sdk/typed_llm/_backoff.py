"""Backoff: which failures are worth another attempt, and how long to wait before it.

Two parts, each in one place:

- ``is_retryable`` is the retry table. Retried: 408, 409, 429 rate limits, 5xx, connection errors,
  timeouts, and a 200 whose body is not even JSON (cut short in transit). Never retried: other 4xx,
  content-filter errors, 429 ``insufficient_quota`` (waiting does not buy credit) and a 200 whose
  JSON has the wrong shape (a retry would get the same). The server's ``x-should-retry`` header
  overrides the status either way, except for quota and content-filter errors. A Responses
  answer that failed (a 200 with ``status: "failed"``, or a stream's ``error`` event) is retried
  when its code is a transient one (``server_error`` as a 5xx, ``rate_limit_exceeded`` as a 429,
  ``vector_store_timeout`` as a timeout), not when it names the input (``invalid_prompt``,
  ``invalid_image``...).
- A backoff strategy answers one question with no I/O: after attempt *k* failed with this error,
  ``elapsed`` seconds after the first attempt began, wait how long, or stop? ``ExponentialBackoff``
  and ``NoRetry`` are two; anything with the same ``wait`` method is a ``Backoff``.
- ``decide`` answers the same question with the reason (a ``Decision``): which header or rule set
  the wait, or what stopped. The retry layer writes it into the call's ledger (``Attempt.wait`` and
  ``wait_source``). A strategy with a ``decide`` method gives its own reasons; for any other the
  reason is read from the error and the wait.

The layer that asks the strategy, sleeps and makes another attempt is ``_layers/retry.py``; the
public ``Retrying`` / ``AsyncRetrying`` wrappers put it around any client.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Protocol, runtime_checkable

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
    ResponseFailedError,
    ServerError,
    TypedLLMError,
)
from typed_llm._ledger import WaitSource

__all__ = [
    "DEFAULT_DEADLINE",
    "RETRY_AFTER_CAP",
    "Backoff",
    "Decision",
    "ExponentialBackoff",
    "NoRetry",
    "decide",
    "describe",
    "is_retryable",
    "timeout_of",
]

DEFAULT_DEADLINE = 600.0
"""Seconds a whole call may take by default, attempts and waits together: ten minutes, so a call
with the default four attempts of up to ``DEFAULT_TIMEOUT`` each cannot hold a caller for 40."""

RETRY_AFTER_CAP = 120.0
"""Longest server-asked wait (``retry-after-ms`` / ``Retry-After``) honoured by default, in seconds.

openai-python honours the same bound. A server that asks for more is not waited for: the error is
raised (with its ``retry_after``) for the caller to decide.
"""


RETRYABLE_FAILURE_CODES = frozenset({"server_error", "rate_limit_exceeded", "vector_store_timeout"})
"""Codes of a failed Responses answer that another attempt may not meet (the rest name the input)."""


def is_retryable(error: TypedLLMError) -> bool:
    """Whether another attempt could succeed where this one failed (the retry table)."""
    if isinstance(error, QuotaExceededError | ContentFilterError):
        return False
    if isinstance(error, ResponseFailedError):
        return error.code in RETRYABLE_FAILURE_CODES
    if isinstance(error, APIStatusError) and error.should_retry is not None:
        return error.should_retry
    return _by_table(error)


def _by_table(error: TypedLLMError) -> bool:
    """The table's verdict on the status or failure alone, before ``x-should-retry``."""
    if isinstance(error, RequestTimeoutError | ConflictError | RateLimitError | ServerError):
        return True
    if isinstance(error, MalformedResponseError):
        return error.incomplete
    return isinstance(error, APIConnectionError)


def _overridden(error: TypedLLMError) -> bool:
    """Whether the server's ``x-should-retry`` turned the table's verdict around."""
    return is_retryable(error) != _by_table(error) and not isinstance(
        error, QuotaExceededError | ContentFilterError
    )


@attrs.frozen
class Decision:
    """What a strategy chose after a failed attempt, and why (the ledger's ``wait`` and ``wait_source``)."""

    wait: float | None
    """Seconds to wait before the next attempt; None: stop."""
    source: WaitSource
    """What set the wait, or what stopped (see ``WaitSource``)."""


def _refused(error: TypedLLMError) -> Decision:
    return Decision(None, "x-should-retry" if _overridden(error) else "not-retryable")


def decide(backoff: Backoff, attempt: int, error: TypedLLMError, elapsed: float) -> Decision:
    """``backoff.wait(...)`` with its reason: the strategy's own ``decide`` if it has one."""
    own = getattr(backoff, "decide", None)
    if callable(own):
        decision = own(attempt, error, elapsed)
        if isinstance(decision, Decision):
            return decision
    wait = backoff.wait(attempt, error, elapsed)
    if wait is None:
        return _refused(error) if not is_retryable(error) else Decision(None, "strategy")
    asked = error.retry_after if isinstance(error, APIStatusError) else None
    if asked is not None and asked > 0 and wait == asked and isinstance(error, APIStatusError):
        return Decision(wait, error.retry_after_header or "retry-after")
    return Decision(wait, "x-should-retry" if _overridden(error) else "backoff")


def describe(backoff: Backoff) -> dict[str, object]:
    """The strategy as plain data, for a cassette's metadata: its class and compared parameters.

    An attrs strategy (``ExponentialBackoff``, ``NoRetry``) gives each field that takes part in
    equality (not the jitter's random source); any other strategy its ``repr``.
    """
    kind = type(backoff)
    described: dict[str, object] = {"strategy": f"{kind.__module__}.{kind.__qualname__}"}
    if attrs.has(kind):
        for field in attrs.fields(kind):
            if field.eq:
                value = getattr(backoff, field.name)
                described[field.name] = value if isinstance(value, int | float | str | None) else repr(value)
    else:
        described["repr"] = repr(backoff)
    return described


def timeout_of(backoff: Backoff) -> float | None:
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


def _seconds(attribute: attrs.Attribute[float], value: object) -> float:
    """``value`` if it is a finite number (not a bool), else a ValueError naming the attribute."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be a finite number, got {value!r}")
    return value


def _not_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if _seconds(attribute, value) < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


def _at_least_one(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if _seconds(attribute, value) < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value}")


def _positive_or_none(_: object, attribute: attrs.Attribute[float], value: float | None) -> None:
    if value is not None and _seconds(attribute, value) <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


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
    taken off (up to 0.5 s), so that clients that failed together do not retry together; and an
    overall deadline of ten minutes, waits and attempts together, long enough for a reasoning
    model's slow answer and short enough that four slow attempts cannot hold a caller for 40
    minutes (``timeout=None`` removes it; TinyTroupe's ``from_seed`` settings have none).
    """

    attempts: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    """Total tries, the first included."""
    wait_initial: float = attrs.field(default=0.5, validator=_not_negative)
    """Wait before the first retry, jitter aside."""
    wait_exp_base: float = attrs.field(default=2.0, validator=_at_least_one)
    """Growth factor of the wait from one retry to the next."""
    wait_max: float = attrs.field(default=8.0, validator=_not_negative)
    """Longest computed wait (a server-asked wait may be longer, up to ``retry_after_cap``)."""
    wait_jitter: float = attrs.field(default=0.5, validator=_not_negative)
    """Up to this many seconds, uniformly drawn, added to each computed wait."""
    timeout: float | None = attrs.field(default=DEFAULT_DEADLINE, validator=_positive_or_none)
    """Deadline in seconds from the first attempt (default 600; None for none): no retry is
    scheduled to end its wait after it, and each attempt is cut to the time left, connect, headers
    and body together (an attempt cut short is an ``APITimeoutError``, the last error of
    ``RetriesExhaustedError``)."""
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
            timeout=None,
        )

    def wait(self, attempt: int, error: TypedLLMError, elapsed: float) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to stop."""
        return self.decide(attempt, error, elapsed).wait

    def decide(self, attempt: int, error: TypedLLMError, elapsed: float) -> Decision:
        """``wait``, with what set the wait or stopped the call (the ledger's ``wait_source``)."""
        if not is_retryable(error):
            return _refused(error)
        if attempt >= self.attempts:
            return Decision(None, "attempts")
        asked = error.retry_after if isinstance(error, APIStatusError) else None
        source: WaitSource
        if asked is not None and asked > 0 and isinstance(error, APIStatusError):
            if asked > self.retry_after_cap:
                return Decision(None, "cap")
            delay, source = asked, error.retry_after_header or "retry-after"
        else:  # no wait asked, or 0 / a date already past (clock skew): our own backoff
            try:
                grown = self.wait_initial * self.wait_exp_base ** (attempt - 1)
            except OverflowError:
                grown = self.wait_max
            delay = min(self.wait_max, grown + self.random() * self.wait_jitter)
            source = "x-should-retry" if _overridden(error) else "backoff"
        if self.timeout is not None and elapsed + delay > self.timeout:
            return Decision(None, "deadline")
        return Decision(delay, source)
