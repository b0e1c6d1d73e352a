"""The logging layer: one ``request`` event, then one ``response`` or ``error`` event, per call.

It is the outermost layer (after the pre-flight check), so one call is one story however it was
answered: ``response`` says how many attempts it took (0 for a cache hit), whether the cache
answered, how long it took, what it used and what that cost (``cost``, or ``cost_unknown`` saying
why there is none), and the pre-flight token estimate beside the reported count (a ``token_drift``
warning follows when they are further apart than the tolerance). The layers inside it add their own events
(``cache_hit``, ``retry_scheduled``) with the same request key. What each event says of the
operation comes from the ``Operation`` (its ``contents`` and ``summary``); nothing here is specific
to chat or embeddings. Events nobody reads are not built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import attrs
from pydantic import BaseModel

from typed_llm._cost import Cost, explain_cost
from typed_llm._errors import APIError, APIStatusError, RetriesExhaustedError, TypedLLMError
from typed_llm._ledger import log_form
from typed_llm._logging import emit, enabled

if TYPE_CHECKING:
    from typed_llm._layers.pipeline import AttemptContext, Call, Flow, Next, Outcome, TokenDrift

__all__ = ["Identity", "Logging", "error_fields"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)


@attrs.frozen
class Identity:
    """Who a call goes to, as its events name it: the fields every event of one call shares.

    Attributes:
        provider: ``openai`` or ``azure`` (or what a wrapper names).
        namespace_of: the cache namespace of a model (the request key is the cache key).
        deployment_of: the Azure deployment of a model, or None.
        model_of: the model a request's ``model`` resolves to (the client's registry: an Azure
            deployment's model); the events name that one.
    """

    provider: str
    namespace_of: Callable[[str], str]
    deployment_of: Callable[[str], str | None] = lambda _model: None
    model_of: Callable[[str], str] = lambda model: model

    def fields(self, call: Call[R, S]) -> dict[str, object]:
        """``request_key``, ``provider``, ``model`` (and ``deployment`` on Azure) of ``call``."""
        model = call.operation.model_of(call.request)
        fields: dict[str, object] = {
            "request_key": call.key(self.namespace_of(model)),
            "provider": self.provider,
            "model": self.model_of(model),
        }
        deployment = self.deployment_of(model)
        if deployment is not None:
            fields["deployment"] = deployment
        return fields


@attrs.frozen
class Logging:
    """Logs each call's request, and its response or error, naming the call by ``identity``."""

    identity: Identity

    def run(self, call: Call[R, S], attempt: AttemptContext, inner: Next[S]) -> Flow[Outcome[S]]:
        """The rest of the pipeline, logged."""
        # The fields every event of the call shares (the request key among them) are worked out
        # before the request goes out, while the CPU is busy anyway: the same work right after the
        # answer arrives costs about three times as much (bench/README.md).
        fields = self.identity.fields(call) if enabled(logging.INFO) else None
        if fields is not None and enabled(logging.DEBUG):
            emit(
                logging.DEBUG,
                "request",
                kind=call.operation.name,
                contents=call.operation.contents(call.request),
                **fields,
            )
        started = time.perf_counter()
        try:
            outcome = yield from inner(attempt)
        except TypedLLMError as error:
            if enabled(logging.ERROR):
                emit(
                    logging.ERROR,
                    "error",
                    **(fields or self.identity.fields(call)),
                    attempt=error.attempt,
                    attempts=log_form(error.attempts),
                    latency_ms=_since(started),
                    **error_fields(error),
                )
            raise
        drift = outcome.drift
        if fields is not None:  # emit checks the level again
            emit(
                logging.INFO,
                "response",
                **fields,
                attempt=outcome.attempt,
                attempts=log_form(outcome.attempts),
                cache_hit=outcome.cached,
                latency_ms=_since(started),
                status_code=None if outcome.cached else 200,
                **call.operation.summary(outcome.value),
                **(_stream_fields(outcome, started) if call.operation.streaming is not None else {}),
                **_cost_fields(outcome.value),
                **_drift_fields(drift),
            )
        if drift is not None and drift.beyond_tolerance and enabled(logging.WARNING):
            emit(
                logging.WARNING,
                "token_drift",
                **(fields or self.identity.fields(call)),
                prompt_tokens=drift.reported,
                prompt_tokens_estimate=drift.estimate,
                token_drift=drift.difference,
                tolerance=drift.tolerance,
            )
        return outcome


def _cost_fields(value: object) -> dict[str, object]:
    """``cost`` (its parts as numbers), or ``cost: None`` and ``cost_unknown`` saying why."""
    cost = explain_cost(value)
    if cost is None:  # not an answer that has a price (another operation's)
        return {}
    if isinstance(cost, Cost):
        return {"cost": cost.log_fields()}
    return {"cost": None, "cost_unknown": cost}


def _drift_fields(drift: TokenDrift | None) -> dict[str, object]:
    """The pre-flight estimate beside the reported ``prompt_tokens``, and their difference."""
    if drift is None:
        return {"prompt_tokens_estimate": None, "token_drift": None}
    return {"prompt_tokens_estimate": drift.estimate, "token_drift": drift.difference}


def _stream_fields(outcome: Outcome[S], started: float) -> dict[str, object]:
    first = outcome.first_event_at
    return {
        "events": outcome.events,
        "time_to_first_event_ms": None if first is None else round((first - started) * 1000, 3),
    }


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def error_fields(error: TypedLLMError) -> dict[str, object]:
    """What an event says of an error: its class, and the status, code and request id it carries."""
    cause = error.last_error if isinstance(error, RetriesExhaustedError) else error
    fields: dict[str, object] = {"error_class": type(error).__name__}
    if cause is not error:
        fields["last_error_class"] = type(cause).__name__
    if isinstance(cause, APIStatusError):
        fields["status_code"] = cause.status_code
        fields["code"] = cause.code
    if isinstance(cause, APIError):
        fields["request_id"] = cause.request_id
    return fields
