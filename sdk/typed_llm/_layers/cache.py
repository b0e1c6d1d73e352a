"""The caching layer: identical requests are answered from a ``Cache``, for every operation.

A hit returns the stored answer without touching the network or the backoff (the layer sits outside
the retry layer). A miss calls through and stores the answer only when it is whole and successful:
errors are never stored (they pass straight through), and neither is an answer the operation says
may not be (a completion Azure's content filter cut short). An entry that no longer parses (bad JSON,
an old or foreign schema) is a miss and a ``cache_damaged`` warning, never a crash and never a wrong
answer. A backend that fails to read or write (a locked or read-only file, a full disk) is a
``cache_error`` warning: the call goes on without the cache, and a paid answer is never lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import attrs
from pydantic import BaseModel, ValidationError

from typed_llm._cache.base import Cache
from typed_llm._layers.pipeline import Emit, Outcome
from typed_llm._logging import emit

if TYPE_CHECKING:
    from typed_llm._layers.pipeline import Attempt, Call, Flow, Next
    from typed_llm._wire.operation import Streaming

__all__ = ["Caching", "Namespace", "namespace_function"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)

Namespace = str | Callable[[str], str]
"""A namespace, or a function from a request's model to its namespace (Azure: per deployment)."""


def namespace_function(namespace: Namespace) -> Callable[[str], str]:
    """``namespace`` as a function of the model."""
    if callable(namespace):
        return namespace
    return lambda _model: namespace


@attrs.frozen
class Caching:
    """Answers from ``cache`` when it holds the request's key; stores what the rest answers.

    Attributes:
        cache: where answers are kept.
        namespace_of: what else decides an answer, as a function of the model (clients pass
            provider, endpoint and the model's deployment); different namespaces never share entries.
        provider: named in the cache events.
    """

    cache: Cache
    namespace_of: Callable[[str], str]
    provider: str | None = None

    def run(self, call: Call[R, S], attempt: Attempt, inner: Next[S]) -> Flow[Outcome[S]]:
        """The stored answer, or the rest of the pipeline's, stored."""
        operation = call.operation
        model = operation.model_of(call.request)
        key = call.key(self.namespace_of(model))
        hit = self._load(key, operation.response_type)
        emit(
            logging.DEBUG if hit is None else logging.INFO,
            "cache_miss" if hit is None else "cache_hit",
            request_key=key,
            provider=self.provider,
            model=model,
        )
        if hit is not None:
            if operation.streaming is None:
                return Outcome(hit, attempt=0, cached=True)
            return (yield from _replay(hit, operation.streaming))
        outcome = yield from inner(attempt)
        if operation.storable(outcome.value):
            self._keep(key, outcome.value)
        return outcome

    def _load(self, key: str, kind: type[S]) -> S | None:
        try:
            raw = self.cache.get(key)
        except Exception as exc:  # noqa: BLE001  (any backend failure: the call goes on without the cache)
            emit(logging.WARNING, "cache_error", request_key=key, operation="get", error=exc)
            return None
        if raw is None:
            return None
        try:
            value = kind.model_validate_json(raw)
        except ValidationError as exc:
            emit(
                logging.WARNING,
                "cache_damaged",
                request_key=key,
                error=str(exc).splitlines()[0],
                size=len(raw),
            )
            return None
        return value

    def _keep(self, key: str, value: S) -> None:
        try:
            self.cache.set(key, value.model_dump_json().encode())
        except Exception as exc:  # noqa: BLE001  (a full disk or a locked file must not lose a paid answer)
            emit(logging.WARNING, "cache_error", request_key=key, operation="set", error=exc)


def _replay(hit: S, streaming: Streaming[S]) -> Flow[Outcome[S]]:
    """A stored answer handed to a stream's caller as the events of a stream."""
    events, first = 0, None
    for event in streaming.replay(hit):
        first = first or time.perf_counter()
        yield Emit(event)
        events += 1
    return Outcome(hit, attempt=0, cached=True, events=events, first_event_at=first)
