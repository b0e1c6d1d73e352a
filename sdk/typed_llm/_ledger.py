"""The ledger: what each attempt of a call was, on every response and every error.

A slow or surprising call raises three questions: how many attempts did it take, how long did each
last, and why did it wait before the next? ``response.attempts`` (and ``error.attempts``) answers
them with one frozen ``Attempt`` per attempt: its number, when it started (seconds since the call
began) and how long it took, its outcome (the HTTP status, or the class of the exception), the
server's request id, and the wait chosen before the next attempt with what decided it.

An answer that made no HTTP attempt says so: a cache hit is one attempt of kind ``cache``, a call
that got the answer of an identical call in flight (single-flight) one of kind ``single-flight``.

The retry layer writes the ledger (``_layers/retry.py``); it travels upwards in the pipeline's
``Outcome`` or on the error, and ``stamp`` puts it on the answer as the call leaves the pipeline.
It is a fact of one call, not of the answer: it is never stored in a cache (a hit gets its own
ledger) and two answers that differ only in their ledgers compare equal (``CallFacts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from typed_llm._redaction import scrub

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Attempt",
    "AttemptKind",
    "CallFacts",
    "WaitSource",
    "ledger_of",
    "log_form",
    "renumbered",
    "stamp",
]

T = TypeVar("T")

AttemptKind = Literal["http", "cache", "single-flight"]
"""``http``: a request was sent. ``cache``: the cache answered. ``single-flight``: an identical call
in flight at the same time (its leader) made the request, and this call got its answer."""

WaitSource = Literal[
    "retry-after-ms",
    "retry-after",
    "x-should-retry",
    "backoff",
    "deadline",
    "cap",
    "attempts",
    "not-retryable",
    "strategy",
]
"""What decided ``Attempt.wait``.

When there was a next attempt: ``retry-after-ms`` / ``retry-after`` (the server's header set the
wait, a date included), ``backoff`` (the strategy computed it), ``x-should-retry`` (the server's
``x-should-retry: true`` made a status the table does not retry worth another attempt; the wait is
the strategy's). When there was none, what stopped the call: ``deadline`` (the wait would have
ended past the overall deadline), ``cap`` (the server asked for a wait above
``retry_after_cap``), ``attempts`` (every allowed attempt was made), ``not-retryable`` (the retry
table never retries this failure), ``x-should-retry`` (the server's ``x-should-retry: false``
overrode a status the table retries), ``strategy`` (a strategy that says no more, ``NoRetry`` or
your own). None on an attempt that succeeded."""


class Attempt(BaseModel):
    """One attempt of a call: when, how long, how it ended, and what came next."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int
    """1 for the first attempt of the call."""
    kind: AttemptKind = "http"
    """Whether a request was sent, or the cache or a single-flight leader answered."""
    offset: float
    """Seconds from the start of the call to the start of this attempt (on the retry layer's clock,
    which a test's virtual clock replaces)."""
    duration: float
    """Seconds the attempt took."""
    outcome: int | str
    """The HTTP status (200, 429, 503...), or the class of the exception when there was no status
    to speak of (``APIConnectionError``, ``APITimeoutError``, ``MalformedResponseError``);
    ``hit`` for a cache attempt, ``shared`` for a single-flight one (or the class of the leader's error)."""
    request_id: str | None = None
    """The server's ``x-request-id`` (or Azure's ``apim-request-id``) for this attempt: for a cache
    or single-flight attempt, that of the call that paid for the answer."""
    wait: float | None = None
    """Seconds waited after this attempt before the next one; None when there was no next one."""
    wait_source: WaitSource | None = None
    """What decided ``wait`` (or, when it is None after a failure, what stopped the call)."""


class CallFacts(BaseModel):
    """A response whose per-call fields (``attempts``) are not part of the answer it compares by.

    A cache hit, a streamed answer and the unstreamed call give equal responses for the same
    answer, though their ledgers differ; so equality and the hash leave those fields out.
    """

    _per_call: ClassVar[frozenset[str]] = frozenset({"attempts"})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseModel):
            return NotImplemented
        return BaseModel.__eq__(_answer_only(self), _answer_only(other))

    def __hash__(self) -> int:
        origin = self.__pydantic_generic_metadata__["origin"] or type(self)
        skip = self._per_call
        return hash((origin, *(value for name, value in self.__dict__.items() if name not in skip)))


def _answer_only(value: BaseModel) -> BaseModel:
    skip: frozenset[str] = getattr(value, "_per_call", frozenset())
    present = {name: () for name in skip if name in value.__dict__}
    return value.model_copy(update=present) if present else value


def ledger_of(value: object) -> tuple[Attempt, ...]:
    """The ledger ``value`` carries (a response of this SDK), else ``()``."""
    attempts = getattr(value, "attempts", ())
    return attempts if isinstance(attempts, tuple) else ()


def stamp(value: object, attempts: tuple[Attempt, ...]) -> None:
    """Write the ledger on ``value``, when it is a response with an ``attempts`` field.

    In place, as ``model_copy(update=...)`` writes it on a copy: ``value`` must be the call's own,
    an answer no one else holds yet (the pipeline hands up only such answers).
    """
    if attempts and isinstance(value, BaseModel) and "attempts" in type(value).__pydantic_fields__:
        vars(value)["attempts"] = attempts
        value.__pydantic_fields_set__.add("attempts")


def renumbered(attempts: Iterable[Attempt]) -> tuple[Attempt, ...]:
    """The attempts numbered 1, 2, 3... in order (nested retry layers each count from 1)."""
    return tuple(
        attempt if attempt.number == number else attempt.model_copy(update={"number": number})
        for number, attempt in enumerate(attempts, start=1)
    )


_DIGITS: Final = 3


def log_form(attempts: tuple[Attempt, ...]) -> list[dict[str, object]]:
    """The ledger as log events carry it: one flat dict per attempt, seconds to the millisecond.

    Already redacted: its one text from outside, the server's request id, is scrubbed here (the
    rest are numbers and the SDK's own names), so ``emit`` need not walk it again.
    """
    return [
        {
            "number": a.number,
            "kind": a.kind,
            "offset": round(a.offset, _DIGITS),
            "duration": round(a.duration, _DIGITS),
            "outcome": a.outcome,
            "request_id": None if a.request_id is None else scrub(a.request_id),
            "wait": None if a.wait is None else round(a.wait, _DIGITS),
            "wait_source": a.wait_source,
        }
        for a in attempts
    ]
