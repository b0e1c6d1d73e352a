"""The logging layer: one ``request`` event, then one ``response`` or ``error`` event, per call.

It wraps the retry layer (so one call is one story, however many attempts it took) and is wrapped
by the cache layer (so a hit is a ``cache_hit`` event, not a request). The retry layer adds a
``retry_scheduled`` event per retry, with the same request key: it reads the call's context from
the context variable this layer sets, which works the same for threads and for asyncio tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import attrs

from typed_llm._cache_key import cache_key
from typed_llm._errors import TypedLLMError
from typed_llm._logging import CallContext, current_call, cut, emit, enabled, error_fields
from typed_llm._requests import ChatRequest
from typed_llm._responses import ChatResponse, EmbeddingResponse
from typed_llm._structured import AsyncParseFromComplete, ParseFromComplete

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from typed_llm._requests import EmbeddingRequest
    from typed_llm._typing import AsyncClient, Client

__all__ = ["AsyncLogged", "Logged"]

Request = TypeVar("Request", "ChatRequest", "EmbeddingRequest")
Result = TypeVar("Result", ChatResponse, EmbeddingResponse)


def _contents(request: ChatRequest | EmbeddingRequest) -> list[str]:
    if isinstance(request, ChatRequest):
        texts = []
        for message in request.messages:
            content = getattr(message, "content", None)
            text = (
                content
                if isinstance(content, str)
                else " ".join(getattr(p, "text", "") for p in content or ())
            )
            texts.append(f"{message.role}: {cut(text)}")
        return texts
    return [cut(text) for text in request.input]


def _usage_fields(response: ChatResponse | EmbeddingResponse) -> dict[str, object]:
    if isinstance(response, EmbeddingResponse):
        tokens = response.usage.prompt_tokens if response.usage else None
        return {"prompt_tokens": tokens, "vectors": len(response.vectors)}
    usage = response.usage
    return {
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "cached_tokens": usage.cached_tokens if usage else None,
        "reasoning_tokens": usage.reasoning_tokens if usage else None,
        "finish_reason": response.choices[0].finish_reason,
    }


@attrs.frozen
class _Observer:
    """The decisions of the logging layer, shared by its sync and async shells."""

    provider: str
    namespace_of: Callable[[str], str]
    deployment_of: Callable[[str], str | None]

    def start(self, request: ChatRequest | EmbeddingRequest) -> tuple[CallContext, float]:
        namespace = self.namespace_of(request.model)
        call = CallContext(
            key_of=lambda: cache_key(request, namespace),
            provider=self.provider,
            model=request.model,
            deployment=self.deployment_of(request.model),
        )
        if enabled(logging.DEBUG):
            kind = "chat" if isinstance(request, ChatRequest) else "embeddings"
            emit(logging.DEBUG, "request", kind=kind, contents=_contents(request), **call.fields())
        return call, time.perf_counter()

    @staticmethod
    def succeeded(call: CallContext, started: float, response: ChatResponse | EmbeddingResponse) -> None:
        if not enabled(logging.INFO):  # build nothing for an event nobody reads
            return
        emit(
            logging.INFO,
            "response",
            **call.fields(),
            attempt=call.attempts,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            status_code=200,
            request_id=response.request_id,
            response_model=response.model,
            **_usage_fields(response),
        )

    @staticmethod
    def failed(call: CallContext, started: float, error: TypedLLMError) -> None:
        if not enabled(logging.ERROR):
            return
        emit(
            logging.ERROR,
            "error",
            **call.fields(),
            attempt=call.attempts,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            **error_fields(error),
        )


class Logged(ParseFromComplete):
    """Wraps any ``Client``: logs each call's request, and its response or error."""

    def __init__(
        self,
        inner: Client,
        *,
        provider: str,
        namespace: Callable[[str], str],
        deployment_of: Callable[[str], str | None],
    ) -> None:
        self._inner = inner
        self._observer = _Observer(provider, namespace, deployment_of)

    def complete(self, request: ChatRequest) -> ChatResponse:
        """``inner.complete``, logged."""
        return self._call(self._inner.complete, request)

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """``inner.embed``, logged."""
        return self._call(self._inner.embed, request)

    def _call(self, call: Callable[[Request], Result], request: Request) -> Result:
        context, started = self._observer.start(request)
        token = current_call.set(context)
        try:
            response = call(request)
        except TypedLLMError as error:
            self._observer.failed(context, started, error)
            raise
        finally:
            current_call.reset(token)
        self._observer.succeeded(context, started, response)
        return response


class AsyncLogged(AsyncParseFromComplete):
    """Wraps any ``AsyncClient``; the async twin of ``Logged``."""

    def __init__(
        self,
        inner: AsyncClient,
        *,
        provider: str,
        namespace: Callable[[str], str],
        deployment_of: Callable[[str], str | None],
    ) -> None:
        self._inner = inner
        self._observer = _Observer(provider, namespace, deployment_of)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """``inner.complete``, logged."""
        return await self._call(self._inner.complete, request)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """``inner.embed``, logged."""
        return await self._call(self._inner.embed, request)

    async def _call(self, call: Callable[[Request], Awaitable[Result]], request: Request) -> Result:
        context, started = self._observer.start(request)
        token = current_call.set(context)
        try:
            response = await call(request)
        except TypedLLMError as error:
            self._observer.failed(context, started, error)
            raise
        finally:
            current_call.reset(token)
        self._observer.succeeded(context, started, response)
        return response
