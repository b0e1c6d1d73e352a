"""The caching layer: written once, it wraps any client, and every adapter wears it outermost.

A hit returns the stored response without touching the network or the backoff (the layer sits
outside the retry layer). A miss calls through and stores the response only when it is whole and
successful: errors are never stored (they are exceptions, and pass straight through), and neither
is a completion Azure's content filter cut short. An entry that no longer parses (bad JSON, an old
or foreign schema) is a miss and a ``cache_damaged`` warning, never a crash and never a wrong answer.
A backend that fails to read or write (a locked or read-only file, a full disk) is a
``cache_error`` warning: the call goes on without the cache, and a paid answer is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from typed_llm._cache_key import cache_key
from typed_llm._logging import emit
from typed_llm._responses import ChatResponse, EmbeddingResponse
from typed_llm._structured import AsyncParseFromComplete, ParseFromComplete

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from typed_llm._cache import Cache
    from typed_llm._requests import ChatRequest, EmbeddingRequest
    from typed_llm._typing import AsyncClient, Client

__all__ = ["AsyncCached", "Cached"]

Request = TypeVar("Request", "ChatRequest", "EmbeddingRequest")
Result = TypeVar("Result", ChatResponse, EmbeddingResponse)


def _load(cache: Cache, key: str, kind: type[Result]) -> Result | None:
    try:
        raw = cache.get(key)
    except Exception as exc:  # noqa: BLE001  (any backend failure: the call goes on without the cache)
        emit(logging.WARNING, "cache_error", request_key=key, operation="get", error=exc)
        return None
    if raw is None:
        return None
    try:
        return kind.model_validate_json(raw)
    except ValidationError as exc:
        emit(logging.WARNING, "cache_damaged", request_key=key, error=str(exc).splitlines()[0], size=len(raw))
        return None


Namespace = str | Callable[[str], str]
"""A namespace, or a function from a request's model to its namespace (Azure: per deployment)."""


def namespace_function(namespace: Namespace) -> Callable[[str], str]:
    """``namespace`` as a function of the model."""
    if callable(namespace):
        return namespace
    return lambda _model: namespace


def _lookup(
    cache: Cache, key: str, kind: type[Result], request: ChatRequest | EmbeddingRequest, provider: str | None
) -> Result | None:
    hit = _load(cache, key, kind)
    event = "cache_miss" if hit is None else "cache_hit"
    emit(
        logging.DEBUG if hit is None else logging.INFO,
        event,
        request_key=key,
        provider=provider,
        model=request.model,
    )
    return hit


def _keep(cache: Cache, key: str, response: ChatResponse | EmbeddingResponse) -> None:
    if isinstance(response, ChatResponse) and any(
        c.finish_reason == "content_filter" for c in response.choices
    ):
        return
    try:
        cache.set(key, response.model_dump_json().encode())
    except Exception as exc:  # noqa: BLE001  (a full disk or a locked file must not lose a paid answer)
        emit(logging.WARNING, "cache_error", request_key=key, operation="set", error=exc)


class Cached(ParseFromComplete):
    """Wraps any ``Client``: identical requests are answered from ``cache``.

    Args:
        inner: the client to call on a miss.
        cache: where responses are kept.
        namespace: what else decides an answer, or a function of the model giving it (the clients
            pass provider, endpoint and the model's deployment); clients with different
            namespaces never share entries.
        provider: named in the cache events.
    """

    def __init__(
        self, inner: Client, cache: Cache, namespace: Namespace, *, provider: str | None = None
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._namespace_of = namespace_function(namespace)
        self._provider = provider

    def complete(self, request: ChatRequest) -> ChatResponse:
        """The stored response for this request, or ``inner.complete``'s, stored."""
        return self._call(self._inner.complete, request, ChatResponse)

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """The stored vectors for this request, or ``inner.embed``'s, stored."""
        return self._call(self._inner.embed, request, EmbeddingResponse)

    def _call(self, call: Callable[[Request], Result], request: Request, kind: type[Result]) -> Result:
        key = cache_key(request, self._namespace_of(request.model))
        hit = _lookup(self._cache, key, kind, request, self._provider)
        if hit is not None:
            return hit
        response = call(request)
        _keep(self._cache, key, response)
        return response


class AsyncCached(AsyncParseFromComplete):
    """Wraps any ``AsyncClient``; the async twin of ``Cached``.

    The cache is read and written in the event loop's thread: an SQLite lookup takes microseconds.
    """

    def __init__(
        self, inner: AsyncClient, cache: Cache, namespace: Namespace, *, provider: str | None = None
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._namespace_of = namespace_function(namespace)
        self._provider = provider

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """The stored response for this request, or ``inner.complete``'s, stored."""
        return await self._call(self._inner.complete, request, ChatResponse)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """The stored vectors for this request, or ``inner.embed``'s, stored."""
        return await self._call(self._inner.embed, request, EmbeddingResponse)

    async def _call(
        self, call: Callable[[Request], Awaitable[Result]], request: Request, kind: type[Result]
    ) -> Result:
        key = cache_key(request, self._namespace_of(request.model))
        hit = _lookup(self._cache, key, kind, request, self._provider)
        if hit is not None:
            return hit
        response = await call(request)
        _keep(self._cache, key, response)
        return response
