"""Properties of ExponentialBackoff, for any parameters, attempt, error and elapsed time (hypothesis)."""

from __future__ import annotations

import attrs
from hypothesis import example, given
from hypothesis import strategies as st

from typed_llm import (
    APITimeoutError,
    BadRequestError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    TypedLLMError,
)
from typed_llm._backoff import ExponentialBackoff, is_retryable

seconds = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
unit = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@st.composite
def backoffs(draw: st.DrawFn) -> ExponentialBackoff:
    draw_jitter = draw(unit)
    return ExponentialBackoff(
        attempts=draw(st.integers(min_value=1, max_value=12)),
        wait_initial=draw(seconds),
        wait_exp_base=draw(st.floats(min_value=1.0, max_value=4.0)),
        wait_max=draw(seconds),
        wait_jitter=draw(st.floats(min_value=0.0, max_value=5.0)),
        timeout=draw(st.none() | st.floats(min_value=0.001, max_value=300.0)),
        retry_after_cap=draw(st.floats(min_value=0.0, max_value=200.0)),
        random=lambda: draw_jitter,
    )


errors = st.one_of(
    st.builds(lambda: ServerError("down", status_code=503)),
    st.builds(lambda: APITimeoutError("late")),
    st.builds(lambda: BadRequestError("bad", status_code=400)),
    st.builds(lambda: QuotaExceededError("broke", status_code=429)),
    st.builds(
        lambda after: RateLimitError("slow", status_code=429, retry_after=after),
        st.none() | st.floats(min_value=0.0, max_value=400.0),
    ),
)


@example(  # a Retry-After of 0 asks for nothing: the backoff's own wait, which can exceed a 0 cap
    backoff=ExponentialBackoff(
        attempts=2, wait_initial=1.0, wait_max=1.0, wait_jitter=0.0, retry_after_cap=0.0
    ),
    attempt=1,
    error=RateLimitError("slow", status_code=429, retry_after=0.0),
    elapsed=0.0,
)
@given(backoffs(), st.integers(min_value=1, max_value=15), errors, seconds)
def test_waits_are_bounded(
    backoff: ExponentialBackoff, attempt: int, error: TypedLLMError, elapsed: float
) -> None:
    """Never negative; not above wait_max unless a Retry-After within its cap; not past the deadline.

    A Retry-After of 0 (or a date already past) asks for no wait, so the backoff's own applies.
    """
    wait = backoff.wait(attempt, error, elapsed)
    if wait is None:
        return
    assert wait >= 0.0
    asked = error.retry_after if isinstance(error, RateLimitError) else None
    if asked is None or asked == 0:
        assert wait <= backoff.wait_max
    else:
        assert wait == asked
        assert wait <= backoff.retry_after_cap
    if backoff.timeout is not None:
        assert elapsed + wait <= backoff.timeout


@given(backoffs(), st.integers(min_value=1, max_value=15), errors, seconds)
def test_stops_exactly_when_it_must(
    backoff: ExponentialBackoff, attempt: int, error: TypedLLMError, elapsed: float
) -> None:
    """It stops for a failure that is not retryable and once the attempts are used up."""
    wait = backoff.wait(attempt, error, elapsed)
    if not is_retryable(error) or attempt >= backoff.attempts:
        assert wait is None


@given(
    st.integers(min_value=1, max_value=10),
    st.floats(min_value=0.0, max_value=2.0),
    st.floats(min_value=1.0, max_value=3.0),
    st.floats(min_value=0.0, max_value=3.0),
    unit,
)
def test_jitter_within_its_bounds(
    attempt: int, initial: float, base: float, jitter: float, drawn: float
) -> None:
    """Below wait_max, a computed wait is the exponential term plus a jitter in [0, wait_jitter)."""
    backoff = ExponentialBackoff(
        attempts=attempt + 1,
        wait_initial=initial,
        wait_exp_base=base,
        wait_max=1e9,
        wait_jitter=jitter,
        timeout=None,  # this property is about the waits, not the deadline
        random=lambda: drawn,
    )
    wait = backoff.wait(attempt, ServerError("down", status_code=500), 0.0)
    assert wait is not None
    grown = initial * base ** (attempt - 1)
    assert grown <= wait <= grown + jitter
    unjittered = attrs.evolve(backoff, wait_jitter=0.0).wait(
        attempt, ServerError("down", status_code=500), 0.0
    )
    assert unjittered == grown
