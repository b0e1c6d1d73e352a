"""The protocols users type against: any object with these methods is a client.

Adapters (``OpenAIClient``, ``AzureClient``) implement ``Client``; the layers that wrap clients
(cache, retry, logging) take a ``Client`` and are one. A test double only needs these methods.

``with_options`` is not in ``Client``: SPEC section 4 makes a client of anything with the verbs,
and much that is one has no options to set (a test double, the wrappers around one, the seed
facade's clients, a client registered with the seed's registry). Code that configures a client
types it as ``ClientWithOptions`` (``AsyncClientWithOptions``), which the four SDK clients are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Self, TypeVar, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typed_llm._backoff import Backoff
    from typed_llm._json import JSONValue
    from typed_llm._models.requests import ChatRequest, EmbeddingRequest
    from typed_llm._models.responses import ChatResponse, EmbeddingResponse, ParsedChatResponse
    from typed_llm._models.responses_api import ParsedResponse, Response
    from typed_llm._models.responses_request import ResponsesRequest
    from typed_llm._streaming import AsyncChatStream, AsyncResponseStream, ChatStream, ResponseStream

T = TypeVar("T", bound=BaseModel)

__all__ = [
    "AsyncClient",
    "AsyncClientWithOptions",
    "AsyncResponsesClient",
    "Client",
    "ClientWithOptions",
    "ResponsesClient",
]


@runtime_checkable
class Client(Protocol):
    """A synchronous client of a chat and embeddings API."""

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send a chat request and return the typed completion; raise a ``TypedLLMError`` on failure."""
        ...

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embed the request's inputs; one vector per input, in input order."""
        ...

    def parse(self, request: ChatRequest, output_type: type[T]) -> ParsedChatResponse[T]:
        """Complete the request with ``output_type``'s strict schema and validate the answer into it."""
        ...

    def stream(self, request: ChatRequest) -> ChatStream[ChatResponse]:
        """Stream the completion as typed events; ``final_response()`` is what ``complete`` returns."""
        ...

    def stream_parse(self, request: ChatRequest, output_type: type[T]) -> ChatStream[ParsedChatResponse[T]]:
        """``stream`` with ``output_type``'s strict schema; ``final_response()`` is the parsed answer."""
        ...


@runtime_checkable
class AsyncClient(Protocol):
    """The asynchronous twin of ``Client``."""

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Send a chat request and return the typed completion; raise a ``TypedLLMError`` on failure."""
        ...

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embed the request's inputs; one vector per input, in input order."""
        ...

    async def parse(self, request: ChatRequest, output_type: type[T]) -> ParsedChatResponse[T]:
        """Complete the request with ``output_type``'s strict schema and validate the answer into it."""
        ...

    def stream(self, request: ChatRequest) -> AsyncChatStream[ChatResponse]:
        """Stream the completion as typed events (``async with``, ``async for``)."""
        ...

    def stream_parse(
        self, request: ChatRequest, output_type: type[T]
    ) -> AsyncChatStream[ParsedChatResponse[T]]:
        """``stream`` with ``output_type``'s strict schema."""
        ...


@runtime_checkable
class ClientWithOptions(Client, Protocol):
    """A ``Client`` that makes configured copies of itself: ``OpenAIClient`` and ``AzureClient``.

    ``with_options`` returns ``Self``, so a function generic in a ``ClientWithOptions`` gives back
    the type it was given (an ``AzureClient`` stays one).
    """

    def with_options(
        self,
        *,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, JSONValue] | None = None,
    ) -> Self:
        """A copy of this client whose every call has these options (the others stay as they are)."""
        ...


@runtime_checkable
class AsyncClientWithOptions(AsyncClient, Protocol):
    """The asynchronous twin of ``ClientWithOptions``: ``AsyncOpenAIClient`` and ``AsyncAzureClient``."""

    def with_options(
        self,
        *,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, JSONValue] | None = None,
    ) -> Self:
        """A copy of this client whose every call has these options (the others stay as they are)."""
        ...


@runtime_checkable
class ResponsesClient(Protocol):
    """A synchronous client of the Responses API (every client and layer of this SDK is one).

    A protocol of its own, so a chat-only test double is still a ``Client``.
    """

    def respond(self, request: ResponsesRequest) -> Response:
        """Send a Responses request and return the typed response; raise a ``TypedLLMError`` on failure."""
        ...

    def parse(self, request: ResponsesRequest, output_type: type[T]) -> ParsedResponse[T]:
        """Ask for ``output_type``'s strict schema as ``text.format`` and validate the answer into it."""
        ...

    def stream(self, request: ResponsesRequest) -> ResponseStream[Response]:
        """Stream the response as typed events; ``final_response()`` is what ``respond`` returns."""
        ...


@runtime_checkable
class AsyncResponsesClient(Protocol):
    """The asynchronous twin of ``ResponsesClient``."""

    async def respond(self, request: ResponsesRequest) -> Response:
        """Send a Responses request and return the typed response."""
        ...

    async def parse(self, request: ResponsesRequest, output_type: type[T]) -> ParsedResponse[T]:
        """Ask for ``output_type``'s strict schema and validate the answer into it."""
        ...

    def stream(self, request: ResponsesRequest) -> AsyncResponseStream[Response]:
        """Stream the response as typed events (``async with``, ``async for``)."""
        ...
