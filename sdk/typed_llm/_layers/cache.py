"""The caching layer: identical requests are answered from a ``Cache``, for every operation.

A hit returns the stored answer without touching the network or the backoff (the layer sits outside
the retry layer). A miss calls through and stores the answer only when it is whole and successful:
errors are never stored (they pass straight through), and neither is an answer the operation says
may not be (a completion Azure's content filter cut short). An entry that no longer parses (bad JSON,
an old or foreign schema) is a miss and a ``cache_damaged`` warning, never a crash and never a wrong
answer. A backend that fails to read or write (a locked or read-only file, a full disk) is a
``cache_error`` warning: the call goes on without the cache, and a paid answer is never lost.

Each entry is stored with its provenance (``_cache/entry.py``). The ``CachePolicy`` decides which
calls the cache may answer at all (stochastic ones, by default, too), and whether a miss may call
the API at all (``replay_only``: it raises ``CacheMissError`` naming the nearest stored request).
A backend with an async face (``RedisCache``: ``aget`` / ``aset``) is awaited when an async client
drives the call: ``either`` yields a ``Perform`` effect, which the sync driver does with the
blocking call and the async one with the awaited one, since a layer cannot await by itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar, cast, runtime_checkable

import attrs
from pydantic import BaseModel, ValidationError

from typed_llm._cache.base import Cache
from typed_llm._cache.entry import decode_answer, encode_entry
from typed_llm._cache.policy import DEFAULT_POLICY, CachePolicy
from typed_llm._cache.replay import miss_error, request_record
from typed_llm._layers.pipeline import Emit, Outcome, Perform
from typed_llm._ledger import Attempt
from typed_llm._logging import emit

if TYPE_CHECKING:
    from typed_llm._layers.pipeline import AttemptContext, Call, Effect, Flow, Next
    from typed_llm._wire.operation import Streaming

__all__ = ["AsyncBackend", "Caching", "Namespace", "answered_without_http", "either", "namespace_function"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)
T = TypeVar("T")


@runtime_checkable
class AsyncBackend(Protocol):
    """A backend with an async face, awaited under the async driver (``RedisCache``)."""

    async def aget(self, key: str) -> bytes | None:
        """The async ``get``."""
        ...

    async def aset(self, key: str, value: bytes) -> None:
        """The async ``set``."""
        ...


def either(blocking: Callable[[], T], awaiting: Callable[[], Awaitable[T]]) -> Generator[Effect, object, T]:
    """Do ``blocking()`` under the sync driver, ``await awaiting()`` under the async one."""
    result = yield Perform(blocking, awaiting)
    return cast("T", result)


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
        policy: which calls the cache may answer (stochastic ones too, by default).
    """

    cache: Cache
    namespace_of: Callable[[str], str]
    provider: str | None = None
    policy: CachePolicy = DEFAULT_POLICY
    _async: bool = attrs.field(init=False)

    @_async.default
    def _has_async_face(self) -> bool:
        return isinstance(self.cache, AsyncBackend)

    def run(self, call: Call[R, S], attempt: AttemptContext, inner: Next[S]) -> Flow[Outcome[S]]:
        """The stored answer, or the rest of the pipeline's, stored."""
        operation = call.operation
        model = operation.model_of(call.request)
        namespace = self.namespace_of(model)
        key = call.key(namespace)
        if not self.policy.caches(call.request):
            emit(logging.DEBUG, "cache_bypassed", request_key=key, provider=self.provider, model=model)
            return (yield from inner(attempt))
        began = time.perf_counter()
        raw = yield from self._get(key)
        hit = self._decode(key, raw, operation.response_type)
        emit(
            logging.DEBUG if hit is None else logging.INFO,
            "cache_miss" if hit is None else "cache_hit",
            request_key=key,
            provider=self.provider,
            model=model,
        )
        if hit is not None:
            ledger = (answered_without_http("cache", hit, time.perf_counter() - began),)
            if operation.streaming is None:
                return Outcome(hit, attempt=0, cached=True, attempts=ledger)
            return (yield from _replay(hit, operation.streaming, ledger))
        if self.policy.replay_only:
            raise miss_error(self.cache, request_record(call.request, namespace), key)
        outcome = yield from inner(attempt)
        # An answer shared by an identical call in flight (single-flight) was stored by its leader.
        if not outcome.cached and operation.storable(outcome.value):
            record = request_record(call.request, namespace)
            yield from self._keep(key, outcome.value, replace=raw is not None, request=record)
        return outcome

    def _get(self, key: str) -> Generator[Effect, object, bytes | None]:
        cache = self.cache
        try:
            if self._async:
                return (
                    yield from either(lambda: cache.get(key), lambda: cast("AsyncBackend", cache).aget(key))
                )
            return cache.get(key)
        except Exception as exc:  # noqa: BLE001  (any backend failure: the call goes on without the cache)
            emit(logging.WARNING, "cache_error", request_key=key, operation="get", error=exc)
            return None

    def _decode(self, key: str, raw: bytes | None, kind: type[S]) -> S | None:
        if raw is None:
            return None
        try:
            value = decode_answer(raw, kind)
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

    def _keep(
        self, key: str, value: S, *, replace: bool, request: dict[str, object]
    ) -> Generator[Effect, object, None]:
        cache = self.cache
        entry = encode_entry(value, request=request)
        try:
            discard = getattr(cache, "discard", None)
            if replace and callable(discard):
                # A damaged entry was found: a backend whose writes keep what is there (Redis's
                # SET NX) must drop it first, or the next good answer could never take its place.
                discard(key)
            if self._async:
                yield from either(
                    lambda: cache.set(key, entry), lambda: cast("AsyncBackend", cache).aset(key, entry)
                )
            else:
                cache.set(key, entry)
        except Exception as exc:  # noqa: BLE001  (a full disk or a locked file must not lose a paid answer)
            emit(logging.WARNING, "cache_error", request_key=key, operation="set", error=exc)


def _replay(hit: S, streaming: Streaming[S], ledger: tuple[Attempt, ...]) -> Flow[Outcome[S]]:
    """A stored answer handed to a stream's caller as the events of a stream."""
    events, first = 0, None
    for event in streaming.replay(hit):
        first = first or time.perf_counter()
        yield Emit(event)
        events += 1
    return Outcome(hit, attempt=0, cached=True, events=events, first_event_at=first, attempts=ledger)


def answered_without_http(kind: Literal["cache", "single-flight"], value: object, took: float) -> Attempt:
    """The one attempt of a call the cache (``hit``) or a single-flight leader (``shared``) answered.

    Its request id is the answer's own: that of the call that paid for it.
    """
    request_id = getattr(value, "request_id", None)
    return Attempt(
        number=1,
        kind=kind,
        offset=0.0,
        duration=took,
        outcome="hit" if kind == "cache" else "shared",
        request_id=request_id if isinstance(request_id, str) else None,
    )
