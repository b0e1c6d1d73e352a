"""The logging layer: one ``request`` event, then one ``response`` or ``error`` event, per call.

It is the outermost layer (after the pre-flight check), so one call is one story however it was
answered: ``response`` says how many attempts it took (0 for a cache hit), whether the cache
answered, how long it took and what it used. The layers inside it add their own events
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

from typed_llm._errors import APIError, APIStatusError, RetriesExhaustedError, TypedLLMError
from typed_llm._logging import emit, enabled

if TYPE_CHECKING:
    from typed_llm._layers.pipeline import Attempt, Call, Flow, Next, Outcome

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
    """

    provider: str
    namespace_of: Callable[[str], str]
    deployment_of: Callable[[str], str | None] = lambda _model: None

    def fields(self, call: Call[R, S]) -> dict[str, object]:
        """``request_key``, ``provider``, ``model`` (and ``deployment`` on Azure) of ``call``."""
        model = call.operation.model_of(call.request)
        fields: dict[str, object] = {
            "request_key": call.key(self.namespace_of(model)),
            "provider": self.provider,
            "model": model,
        }
        deployment = self.deployment_of(model)
        if deployment is not None:
            fields["deployment"] = deployment
        return fields


@attrs.frozen
class Logging:
    """Logs each call's request, and its response or error, naming the call by ``identity``."""

    identity: Identity

    def run(self, call: Call[R, S], attempt: Attempt, inner: Next[S]) -> Flow[Outcome[S]]:
        """The rest of the pipeline, logged."""
        fields = self.identity.fields
        if enabled(logging.DEBUG):
            emit(
                logging.DEBUG,
                "request",
                kind=call.operation.name,
                contents=call.operation.contents(call.request),
                **fields(call),
                **call.options.log_fields(),
            )
        started = time.perf_counter()
        try:
            outcome = yield from inner(attempt)
        except TypedLLMError as error:
            if enabled(logging.ERROR):
                emit(
                    logging.ERROR,
                    "error",
                    **fields(call),
                    attempt=error.attempt,
                    latency_ms=_since(started),
                    **error_fields(error),
                    **call.options.log_fields(),
                )
            raise
        if enabled(logging.INFO):
            emit(
                logging.INFO,
                "response",
                **fields(call),
                attempt=outcome.attempt,
                cache_hit=outcome.cached,
                latency_ms=_since(started),
                status_code=None if outcome.cached else 200,
                **call.operation.summary(outcome.value),
                **(_stream_fields(outcome, started) if call.operation.streaming is not None else {}),
                **call.options.log_fields(),
            )
        return outcome


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
