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

from typed_llm._cost import cost_log_fields
from typed_llm._errors import APIError, APIStatusError, RetriesExhaustedError, TypedLLMError
from typed_llm._layers.preflight import token_drift
from typed_llm._ledger import log_form
from typed_llm._logging import cleaned, emit_with, enabled, info_and_warning
from typed_llm._wire.options import NO_OPTIONS

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

    def fields(self, call: Call[R, S]) -> dict[str, str]:
        """``request_key``, ``provider``, ``model`` (and ``deployment`` on Azure) of ``call``."""
        model = call.operation.model_of(call.request)
        fields = {
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
        # and redacted before the request goes out, while the CPU is busy anyway: the same work
        # right after the answer arrives costs about three times as much (bench/README.md).
        info, warning = info_and_warning()
        shared = cleaned(self.identity.fields(call)) if info else None
        options = None if call.options is NO_OPTIONS else call.options.log_fields()
        if shared is not None and enabled(logging.DEBUG):
            request: dict[str, object] = {
                "kind": call.operation.name,
                "contents": call.operation.contents(call.request),
            }
            if options:
                request.update(options)
            emit_with(logging.DEBUG, "request", shared, request)
        started = time.perf_counter()
        try:
            outcome = yield from inner(attempt)
        except TypedLLMError as error:
            if enabled(logging.ERROR):
                failed: dict[str, object] = {
                    "attempt": error.attempt,
                    "attempts": log_form(error.attempts),
                    "latency_ms": _since(started),
                    **error_fields(error),
                }
                if options:
                    failed.update(options)
                emit_with(logging.ERROR, "error", shared or cleaned(self.identity.fields(call)), failed)
            raise
        estimated = outcome.estimate is not None  # (none for a hit: nothing was counted)
        drift = token_drift(outcome) if estimated and warning else None
        if shared is not None:  # emit checks the level again
            emit_with(
                logging.INFO, "response", shared, _response_fields(call, outcome, started, options, drift)
            )
        if drift is not None and drift.beyond_tolerance and warning:
            emit_with(
                logging.WARNING,
                "token_drift",
                shared or cleaned(self.identity.fields(call)),
                {
                    "prompt_tokens": drift.reported,
                    "prompt_tokens_estimate": drift.estimate,
                    "token_drift": drift.difference,
                    "tolerance": drift.tolerance,
                },
            )
        return outcome


def _response_fields(
    call: Call[R, S],
    outcome: Outcome[S],
    started: float,
    options: dict[str, object] | None,
    drift: TokenDrift | None,
) -> dict[str, object]:
    """What the ``response`` event says of the outcome, after the call's shared fields."""
    fields: dict[str, object] = {
        "attempt": outcome.attempt,
        "attempts": log_form(outcome.attempts),
        "cache_hit": outcome.cached,
        "latency_ms": _since(started),
        "status_code": None if outcome.cached else 200,
    }
    fields.update(call.operation.summary(outcome.value))
    if call.operation.streaming is not None:
        first = outcome.first_event_at
        fields["events"] = outcome.events
        fields["time_to_first_event_ms"] = None if first is None else round((first - started) * 1000, 3)
    cost = cost_log_fields(outcome.value)
    if isinstance(cost, dict):
        fields["cost"] = cost
    elif cost is not None:  # None: not an answer that has a price (another operation's)
        fields["cost"] = None
        fields["cost_unknown"] = cost
    fields["prompt_tokens_estimate"] = None if drift is None else drift.estimate
    fields["token_drift"] = None if drift is None else drift.difference
    if options:
        fields.update(options)
    return fields


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
