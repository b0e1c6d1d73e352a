"""The retry layer: on a failure the strategy says is worth it, wait and make another attempt.

Written once for every operation, sync and async: the wait is a ``Sleep`` effect its driver
performs. The layer tells the layers inside it which attempt this is and the instant by which it
must end (``Attempt``); the HTTP terminal cuts the attempt's timeout to that instant, so a deadline
bounds an attempt in flight too. Nested retry layers (a ``Retrying`` around a client, which has its
own) only ever make the deadline earlier.

When the strategy stops: a failure that is not retryable is raised as it is; a retryable failure
after more than one attempt becomes ``RetriesExhaustedError`` (attempts, last error, chained); a
retryable failure on the only attempt (``NoRetry``, or a server wait above the cap) is raised as it
is, so its ``retry_after`` stays in view.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import attrs
from pydantic import BaseModel

from typed_llm._backoff import Backoff, is_retryable, timeout_of
from typed_llm._errors import RetriesExhaustedError, TypedLLMError
from typed_llm._layers.log import Identity, error_fields
from typed_llm._layers.pipeline import Attempt, Sleep
from typed_llm._logging import emit, enabled

if TYPE_CHECKING:
    from typed_llm._layers.pipeline import Call, Flow, Next, Outcome

__all__ = ["Retry"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)


@attrs.frozen
class Retry:
    """Retries transient failures as ``backoff`` says.

    Attributes:
        backoff: the strategy.
        sleep: how to wait (None: ``time.sleep`` or ``asyncio.sleep``; a recorder in tests).
        clock: seconds on a monotonic clock, for the strategy's ``elapsed`` (a test's fake).
        identity: names the call in ``retry_scheduled`` events (the client's own layer has one).
    """

    backoff: Backoff
    sleep: Callable[[float], object] | None = None
    clock: Callable[[], float] = time.monotonic
    identity: Identity | None = None
    timeout: float | None = attrs.field(init=False)
    """The strategy's overall deadline (``timeout_of``), read once, not per attempt."""

    @timeout.default
    def _timeout(self) -> float | None:
        return timeout_of(self.backoff)

    def run(self, call: Call[R, S], attempt: Attempt, inner: Next[S]) -> Flow[Outcome[S]]:
        """The rest of the pipeline, retried."""
        started = self.clock()
        number = 0
        while True:
            number += 1
            deadline = self._deadline(attempt.deadline, self.clock() - started)
            try:
                return (yield from inner(Attempt(number=number, deadline=deadline)))
            except TypedLLMError as error:
                wait = self._wait(call, number, error, self.clock() - started, deadline)
            yield Sleep(wait, self.sleep)

    def _deadline(self, outer: float | None, elapsed: float) -> float | None:
        """The instant, on the transport's ``time.monotonic`` clock, by which this attempt must end.

        ``elapsed`` is read on this layer's clock (a test's fake one, moved by its sleeps); an outer
        layer's earlier deadline is kept.
        """
        if self.timeout is None:
            return outer
        mine = time.monotonic() + self.timeout - elapsed
        return mine if outer is None else min(outer, mine)

    def _wait(
        self, call: Call[R, S], number: int, error: TypedLLMError, elapsed: float, deadline: float | None
    ) -> float:
        """The wait before attempt ``number + 1``; else the error that ends the call, raised."""
        wait = self.backoff.wait(number, error, elapsed)
        if wait is not None and deadline is not None and time.monotonic() + wait > deadline:
            wait = None  # the next attempt would start after the deadline
        if wait is not None:
            if enabled(logging.WARNING):
                emit(
                    logging.WARNING,
                    "retry_scheduled",
                    **(self.identity.fields(call) if self.identity is not None else {}),
                    attempt=number,
                    wait_s=round(wait, 3),
                    **error_fields(error),
                )
            return wait
        if number > 1 and is_retryable(error):
            exhausted = RetriesExhaustedError(
                f"gave up after {number} attempts; the last failed with {type(error).__name__}: {error}",
                attempts=number,
                last_error=error,
            )
            exhausted.attempt = number
            raise exhausted from error
        raise error
