"""The retry layer: on a failure the strategy says is worth it, wait and make another attempt.

Written once for every operation, sync and async: the wait is a ``Sleep`` effect its driver
performs. The layer tells the layers inside it which attempt this is and the instant by which it
must end (``AttemptContext``); the HTTP terminal cuts the attempt's timeout to that instant, so a deadline
bounds an attempt in flight too. Nested retry layers (a ``Retrying`` around a client, which has its
own) only ever make the deadline earlier.

When the strategy stops: a failure that is not retryable is raised as it is; a retryable failure
after more than one attempt becomes ``RetriesExhaustedError`` (attempts, last error, chained); a
retryable failure on the only attempt (``NoRetry``, or a server wait above the cap) is raised as it
is, so its ``retry_after`` stays in view.

The layer writes the call's ledger (``_ledger.Attempt``, one per attempt: when, how long, how it
ended, the request id, the wait chosen and what chose it) and hands it upwards in the ``Outcome``,
or on the error that ends the call. An attempt whose own result already carries a ledger (a retry
layer inside this one, another client, a cache) contributes those attempts, moved to this call's
time and numbered in order. Time is the layer's ``clock``, else the clock a test installed
(``_virtual_time``), else ``time.monotonic``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import attrs
from pydantic import BaseModel

from typed_llm._backoff import Backoff, Decision, decide, is_retryable, timeout_of
from typed_llm._errors import APIStatusError, MalformedResponseError, RetriesExhaustedError, TypedLLMError
from typed_llm._layers.log import Identity, error_fields
from typed_llm._layers.pipeline import AttemptContext, Sleep
from typed_llm._ledger import Attempt, ledger_of, renumbered
from typed_llm._logging import emit, enabled
from typed_llm._virtual_time import installed_clock

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
        sleep: how to wait (None: the installed test clock's, else ``time.sleep`` or ``asyncio.sleep``).
        clock: seconds on a monotonic clock, for the strategy's ``elapsed`` and the ledger's times
            (None: the installed test clock, else ``time.monotonic``).
        identity: names the call in ``retry_scheduled`` events (the client's own layer has one).
    """

    backoff: Backoff
    sleep: Callable[[float], object] | None = None
    clock: Callable[[], float] | None = None
    identity: Identity | None = None
    timeout: float | None = attrs.field(init=False)
    """The strategy's overall deadline (``timeout_of``), read once, not per attempt."""

    @timeout.default
    def _timeout(self) -> float | None:
        return timeout_of(self.backoff)

    def run(self, call: Call[R, S], attempt: AttemptContext, inner: Next[S]) -> Flow[Outcome[S]]:
        """The rest of the pipeline, retried; the outcome (or the error) carries the ledger."""
        clock, sleep = self._time()
        began = started = clock()
        number = 0
        ledger: list[Attempt] = []
        while True:
            number += 1
            deadline = self._deadline(attempt.deadline, began - started)
            try:
                outcome = yield from inner(AttemptContext(number, deadline))
            except TypedLLMError as error:
                ended = clock()
                decision = self._decide(call, number, error, ended - started, deadline)
                tried = _tried(error, number, began - started, ended - began)
                ledger += [*tried[:-1], _with_wait(tried[-1], decision)]
                if decision.wait is None:
                    final = _final(error, number, renumbered(ledger))
                    if final is error:
                        raise
                    raise final from error
            else:
                duration = clock() - began
                if not ledger and not outcome.attempts and not ledger_of(outcome.value):
                    # Most calls: one HTTP attempt, nothing to renumber or move in time.
                    return outcome.with_attempts((_http_attempt(outcome, duration),))
                tried = _tried(outcome, number, began - started, duration)
                return outcome.with_attempts(renumbered([*ledger, *tried]))
            yield Sleep(decision.wait, sleep)
            began = clock()

    def _time(self) -> tuple[Callable[[], float], Callable[[float], object] | None]:
        """This call's clock and sleeper: the layer's own, else the installed test clock's."""
        virtual = installed_clock()
        if virtual is not None:
            virtual.observe(self.backoff)
        clock = self.clock or virtual or time.monotonic
        sleep = self.sleep or (virtual.sleep if virtual is not None else None)
        return clock, sleep

    def _deadline(self, outer: float | None, elapsed: float) -> float | None:
        """The instant, on the transport's ``time.monotonic`` clock, by which this attempt must end.

        ``elapsed`` is read on this layer's clock (a test's fake one, moved by its sleeps); an outer
        layer's earlier deadline is kept.
        """
        if self.timeout is None:
            return outer
        mine = time.monotonic() + self.timeout - elapsed
        return mine if outer is None else min(outer, mine)

    def _decide(
        self, call: Call[R, S], number: int, error: TypedLLMError, elapsed: float, deadline: float | None
    ) -> Decision:
        """The wait before attempt ``number + 1`` and its reason, or the reason to stop."""
        decision = decide(self.backoff, number, error, elapsed)
        wait = decision.wait
        if wait is not None and deadline is not None and time.monotonic() + wait > deadline:
            return Decision(None, "deadline")  # the next attempt would start after the deadline
        if wait is not None and enabled(logging.WARNING):
            emit(
                logging.WARNING,
                "retry_scheduled",
                **(self.identity.fields(call) if self.identity is not None else {}),
                attempt=number,
                wait_s=round(wait, 3),
                wait_source=decision.source,
                **error_fields(error),
            )
        return decision


def _with_wait(attempt: Attempt, decision: Decision) -> Attempt:
    """``attempt`` with the wait chosen after it, and what chose it."""
    return attempt.model_copy(update={"wait": decision.wait, "wait_source": decision.source})


def _tried(result: object, number: int, offset: float, duration: float) -> list[Attempt]:
    """What one attempt of this layer was: the ledger its result carries, moved to this call's
    time, or one HTTP attempt built from the result (an ``Outcome`` or a ``TypedLLMError``).
    """  # noqa: D205  (the summary needs both cases)
    own = result.attempts if isinstance(result, TypedLLMError) else getattr(result, "attempts", ())
    inner = own if isinstance(own, tuple) and own else ledger_of(getattr(result, "value", None))
    if inner:
        return [a.model_copy(update={"offset": a.offset + offset}) for a in inner]
    if isinstance(result, TypedLLMError):
        status = result.status_code if isinstance(result, APIStatusError) else None
        outcome: int | str = status if status is not None else type(result).__name__
        request_id = getattr(result, "request_id", None)
    else:
        outcome = getattr(result, "status", 200)
        request_id = getattr(getattr(result, "value", None), "request_id", None)
    if isinstance(result, MalformedResponseError):
        outcome = type(result).__name__  # a 200 whose body was not an answer is not a success
    return [
        Attempt(
            number=number,
            offset=offset,
            duration=duration,
            outcome=outcome,
            request_id=request_id if isinstance(request_id, str) else None,
        )
    ]


def _http_attempt(outcome: Outcome[S], duration: float) -> Attempt:
    """The ledger of a call whose first attempt, an HTTP request, answered (``_tried``'s common case)."""
    request_id = getattr(outcome.value, "request_id", None)
    return Attempt(
        number=1,
        offset=0.0,
        duration=duration,
        outcome=outcome.status,
        request_id=request_id if isinstance(request_id, str) else None,
    )


def _final(error: TypedLLMError, number: int, ledger: tuple[Attempt, ...]) -> TypedLLMError:
    """The error that ends the call, with its ledger: ``error`` itself, or ``RetriesExhaustedError``."""
    error.attempts = ledger
    if number > 1 and is_retryable(error):
        exhausted = RetriesExhaustedError(
            f"gave up after {len(ledger)} attempts; the last failed with {type(error).__name__}: {error}",
            attempts=ledger,
            last_error=error,
        )
        exhausted.attempt = number
        return exhausted
    return error
