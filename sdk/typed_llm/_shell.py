"""Clients as shells around a pipeline: one short method per operation, sync or async.

A shell turns ``client.complete(request)`` into "run the ``CHAT`` operation through this
pipeline", with the sync or the async driver; everything else (cache, logging, retries, the
request and its answer) is in the pipeline's layers and the operation's description. ``parse`` is
written once on top of ``complete``.

The public wrappers (``Retrying``, ``Cached``, ``Logged`` and their async twins) put one layer in
front of any client. Around a client of this SDK they extend its pipeline, so what the layers tell
each other still travels in values (an outer deadline reaches the inner client's HTTP attempts);
around any other object with the ``Client`` methods they call those methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar, overload

from pydantic import BaseModel

from typed_llm._layers.cache import Caching, namespace_function
from typed_llm._layers.drivers import (
    AsyncSender,
    AsyncStreamRun,
    SyncSender,
    SyncStreamRun,
    run_async,
    run_sync,
)
from typed_llm._layers.log import Identity, Logging
from typed_llm._layers.pipeline import Delegate, Pipeline
from typed_llm._layers.retry import Retry
from typed_llm._models.responses_request import ResponsesRequest
from typed_llm._streaming import AsyncChatStream, AsyncResponseStream, ChatStream, ResponseStream
from typed_llm._structured import (
    AsyncParseFromComplete,
    ParseFromComplete,
    parse_completion,
    structured_request,
)
from typed_llm._structured_responses import parse_response_output, structured_responses_request
from typed_llm._wire.chat import CHAT
from typed_llm._wire.chat_stream import CHAT_STREAM
from typed_llm._wire.embeddings import EMBEDDINGS
from typed_llm._wire.responses import RESPOND, RESPOND_STREAM, ResponseAccumulator

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from typed_llm._backoff import Backoff
    from typed_llm._cache.base import Cache
    from typed_llm._layers.cache import Namespace
    from typed_llm._layers.pipeline import Layer
    from typed_llm._models.requests import ChatRequest, EmbeddingRequest
    from typed_llm._models.responses import ChatResponse, EmbeddingResponse, ParsedChatResponse
    from typed_llm._models.responses_api import ParsedResponse, Response
    from typed_llm._typing import AsyncClient, Client
    from typed_llm._wire.operation import Operation

__all__ = [
    "AsyncCached",
    "AsyncLogged",
    "AsyncRetrying",
    "AsyncShell",
    "Cached",
    "Logged",
    "Retrying",
    "SyncShell",
]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)
U = TypeVar("U")


def _whole(answer: ChatResponse) -> ChatResponse:
    return answer


def _as_is(answer: Response) -> Response:
    return answer


def _check(operation: Operation[R, S], request: object) -> None:
    if not isinstance(request, operation.request_type):
        raise TypeError(f"expected a {operation.request_type.__name__}, got {type(request).__name__}")


class SyncShell(ParseFromComplete):
    """A client whose every operation runs through one pipeline with the blocking driver."""

    _pipeline: Pipeline
    _sender: SyncSender | None = None

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send a chat request and return the typed completion.

        Raises:
            TypedLLMError: a subclass that says what failed (see the error tree in the docs).
        """
        return self._call(CHAT, request)

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embed the request's inputs; one vector per input, in input order.

        Raises:
            TypedLLMError: a subclass that says what failed.
        """
        return self._call(EMBEDDINGS, request)

    def respond(self, request: ResponsesRequest) -> Response:
        """Send a Responses API request and return the typed response.

        Raises:
            ResponseFailedError: the response's status is ``failed``.
            TypedLLMError: a subclass that says what failed, as for ``complete``.
        """
        return self._call(RESPOND, request)

    @overload
    def parse(self, request: ChatRequest, output_type: type[T]) -> ParsedChatResponse[T]: ...
    @overload
    def parse(self, request: ResponsesRequest, output_type: type[T]) -> ParsedResponse[T]: ...
    def parse(
        self, request: ChatRequest | ResponsesRequest, output_type: type[T]
    ) -> ParsedChatResponse[T] | ParsedResponse[T]:
        """Ask for ``output_type``'s strict schema (chat or Responses API); the answer validated into it.

        Raises:
            StrictSchemaError: ``output_type`` cannot be expressed in strict mode (nothing is sent).
            RefusalError, OutputTruncatedError, OutputValidationError: the answer is not the type;
                and every error ``complete`` or ``respond`` raises.
        """
        if isinstance(request, ResponsesRequest):
            answer = self.respond(structured_responses_request(request, output_type))
            return parse_response_output(answer, output_type)
        return super().parse(request, output_type)

    @overload
    def stream(self, request: ChatRequest) -> ChatStream[ChatResponse]: ...
    @overload
    def stream(self, request: ResponsesRequest) -> ResponseStream[Response]: ...
    def stream(
        self, request: ChatRequest | ResponsesRequest
    ) -> ChatStream[ChatResponse] | ResponseStream[Response]:
        """Stream a chat completion or a response: ``with client.stream(request) as stream: for ...``.

        Nothing is sent until the first event is asked for; errors before it are those of
        ``complete`` / ``respond`` (and retried alike), after it a ``StreamInterruptedError``.
        """
        if isinstance(request, ResponsesRequest):
            return self._response_stream(request, _as_is)
        _check(CHAT_STREAM, request)
        return ChatStream(SyncStreamRun(self._pipeline.flow(CHAT_STREAM, request), self._sender), _whole)

    @overload
    def stream_parse(
        self, request: ChatRequest, output_type: type[T]
    ) -> ChatStream[ParsedChatResponse[T]]: ...
    @overload
    def stream_parse(
        self, request: ResponsesRequest, output_type: type[T]
    ) -> ResponseStream[ParsedResponse[T]]: ...
    def stream_parse(
        self, request: ChatRequest | ResponsesRequest, output_type: type[T]
    ) -> ChatStream[ParsedChatResponse[T]] | ResponseStream[ParsedResponse[T]]:
        """``stream`` with ``output_type``'s strict schema; ``final_response()`` is the parsed answer."""
        if isinstance(request, ResponsesRequest):
            structured = structured_responses_request(request, output_type)
            return self._response_stream(
                structured, lambda answer: parse_response_output(answer, output_type)
            )
        _check(CHAT_STREAM, request)
        flow = self._pipeline.flow(CHAT_STREAM, structured_request(request, output_type))
        return ChatStream(
            SyncStreamRun(flow, self._sender), lambda answer: parse_completion(answer, output_type)
        )

    def _response_stream(
        self, request: ResponsesRequest, finish: Callable[[Response], U]
    ) -> ResponseStream[U]:
        seen = ResponseAccumulator()  # what the caller saw: final_response() after close()
        run = SyncStreamRun(self._pipeline.flow(RESPOND_STREAM, request), self._sender)
        return ResponseStream(run, finish, seen.partial, seen.absorb)

    def _call(self, operation: Operation[R, S], request: R) -> S:
        _check(operation, request)
        return run_sync(self._pipeline.flow(operation, request), self._sender).value

    def _wrap(self, inner: object, layer: Layer) -> None:
        if isinstance(inner, SyncShell):
            self._pipeline, self._sender = inner._pipeline.around(layer), inner._sender  # noqa: SLF001  (a shell of the same kind)
        else:
            self._pipeline, self._sender = Pipeline((layer,), Delegate(inner)), None


class AsyncShell(AsyncParseFromComplete):
    """A client whose every operation runs through one pipeline with the async driver."""

    _pipeline: Pipeline
    _sender: AsyncSender | None = None

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Send a chat request and return the typed completion.

        Raises:
            TypedLLMError: a subclass that says what failed (see the error tree in the docs).
        """
        return await self._call(CHAT, request)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embed the request's inputs; one vector per input, in input order.

        Raises:
            TypedLLMError: a subclass that says what failed.
        """
        return await self._call(EMBEDDINGS, request)

    async def respond(self, request: ResponsesRequest) -> Response:
        """Send a Responses API request and return the typed response (errors as ``SyncShell.respond``)."""
        return await self._call(RESPOND, request)

    @overload
    async def parse(self, request: ChatRequest, output_type: type[T]) -> ParsedChatResponse[T]: ...
    @overload
    async def parse(self, request: ResponsesRequest, output_type: type[T]) -> ParsedResponse[T]: ...
    async def parse(
        self, request: ChatRequest | ResponsesRequest, output_type: type[T]
    ) -> ParsedChatResponse[T] | ParsedResponse[T]:
        """Ask for ``output_type``'s strict schema (chat or Responses API); the answer validated into it."""
        if isinstance(request, ResponsesRequest):
            answer = await self.respond(structured_responses_request(request, output_type))
            return parse_response_output(answer, output_type)
        return await super().parse(request, output_type)

    @overload
    def stream(self, request: ChatRequest) -> AsyncChatStream[ChatResponse]: ...
    @overload
    def stream(self, request: ResponsesRequest) -> AsyncResponseStream[Response]: ...
    def stream(
        self, request: ChatRequest | ResponsesRequest
    ) -> AsyncChatStream[ChatResponse] | AsyncResponseStream[Response]:
        """Stream a chat completion or a response: ``async with client.stream(request) as s: async for``."""
        if isinstance(request, ResponsesRequest):
            return self._response_stream(request, _as_is)
        _check(CHAT_STREAM, request)
        return AsyncChatStream(
            AsyncStreamRun(self._pipeline.flow(CHAT_STREAM, request), self._sender), _whole
        )

    @overload
    def stream_parse(
        self, request: ChatRequest, output_type: type[T]
    ) -> AsyncChatStream[ParsedChatResponse[T]]: ...
    @overload
    def stream_parse(
        self, request: ResponsesRequest, output_type: type[T]
    ) -> AsyncResponseStream[ParsedResponse[T]]: ...
    def stream_parse(
        self, request: ChatRequest | ResponsesRequest, output_type: type[T]
    ) -> AsyncChatStream[ParsedChatResponse[T]] | AsyncResponseStream[ParsedResponse[T]]:
        """``stream`` with ``output_type``'s strict schema; ``await final_response()`` parses."""
        if isinstance(request, ResponsesRequest):
            structured = structured_responses_request(request, output_type)
            return self._response_stream(
                structured, lambda answer: parse_response_output(answer, output_type)
            )
        _check(CHAT_STREAM, request)
        flow = self._pipeline.flow(CHAT_STREAM, structured_request(request, output_type))
        return AsyncChatStream(
            AsyncStreamRun(flow, self._sender), lambda answer: parse_completion(answer, output_type)
        )

    def _response_stream(
        self, request: ResponsesRequest, finish: Callable[[Response], U]
    ) -> AsyncResponseStream[U]:
        seen = ResponseAccumulator()  # what the caller saw: final_response() after close()
        run = AsyncStreamRun(self._pipeline.flow(RESPOND_STREAM, request), self._sender)
        return AsyncResponseStream(run, finish, seen.partial, seen.absorb)

    async def _call(self, operation: Operation[R, S], request: R) -> S:
        _check(operation, request)
        return (await run_async(self._pipeline.flow(operation, request), self._sender)).value

    def _wrap(self, inner: object, layer: Layer) -> None:
        if isinstance(inner, AsyncShell):
            self._pipeline, self._sender = inner._pipeline.around(layer), inner._sender  # noqa: SLF001  (a shell of the same kind)
        else:
            self._pipeline, self._sender = Pipeline((layer,), Delegate(inner)), None


# --- the public wrappers: one layer in front of any client ---------------------------------------


class Retrying(SyncShell):
    """Wraps any ``Client`` so that transient failures are retried as ``backoff`` says.

    Args:
        inner: the client to call.
        backoff: the strategy.
        sleep: how to wait (None: ``time.sleep``, or the test clock ``llm_clock`` installed).
        clock: seconds on a monotonic clock (None: ``time.monotonic``, or the installed test clock).
    """

    def __init__(
        self,
        inner: Client,
        backoff: Backoff,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._wrap(inner, Retry(backoff, sleep, clock))


class AsyncRetrying(AsyncShell):
    """Wraps any ``AsyncClient``; the async form of ``Retrying`` (same strategy, same table)."""

    def __init__(
        self,
        inner: AsyncClient,
        backoff: Backoff,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._wrap(inner, Retry(backoff, sleep, clock))


class Cached(SyncShell):
    """Wraps any ``Client``: identical requests are answered from ``cache``.

    Args:
        inner: the client to call on a miss.
        cache: where answers are kept.
        namespace: what else decides an answer, or a function of the model giving it (the clients
            pass provider, endpoint and the model's deployment); clients with different
            namespaces never share entries.
        provider: named in the cache events.
    """

    def __init__(
        self, inner: Client, cache: Cache, namespace: Namespace, *, provider: str | None = None
    ) -> None:
        self._wrap(inner, Caching(cache, namespace_function(namespace), provider))


class AsyncCached(AsyncShell):
    """Wraps any ``AsyncClient``; the async form of ``Cached`` (the cache is read in the loop's thread)."""

    def __init__(
        self, inner: AsyncClient, cache: Cache, namespace: Namespace, *, provider: str | None = None
    ) -> None:
        self._wrap(inner, Caching(cache, namespace_function(namespace), provider))


class Logged(SyncShell):
    """Wraps any ``Client``: logs each call's request, and its response or error.

    Args:
        inner: the client to call.
        provider: named in the events.
        namespace: the cache namespace (the request key of the events is the cache key).
        deployment_of: the deployment of a model, named in the events (None: none).
    """

    def __init__(
        self,
        inner: Client,
        *,
        provider: str,
        namespace: Namespace,
        deployment_of: Callable[[str], str | None] | None = None,
    ) -> None:
        self._wrap(inner, Logging(_identity(provider, namespace, deployment_of)))


class AsyncLogged(AsyncShell):
    """Wraps any ``AsyncClient``; the async form of ``Logged``."""

    def __init__(
        self,
        inner: AsyncClient,
        *,
        provider: str,
        namespace: Namespace,
        deployment_of: Callable[[str], str | None] | None = None,
    ) -> None:
        self._wrap(inner, Logging(_identity(provider, namespace, deployment_of)))


def _identity(
    provider: str, namespace: Namespace, deployment_of: Callable[[str], str | None] | None
) -> Identity:
    if deployment_of is None:
        return Identity(provider, namespace_function(namespace))
    return Identity(provider, namespace_function(namespace), deployment_of)
