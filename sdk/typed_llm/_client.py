"""The adapters: OpenAI and Azure OpenAI clients, sync and async, over one description of each call.

What an operation does is written once, as a generator with no I/O (a *flow*): it adapts the
request to its model, yields the ``WireCall`` to make, receives the ``RawResponse``, and returns the
typed result (httpx's auth flows work the same way). A sync transport drives a flow with a blocking
POST, an async one with an awaited POST; that POST, through the openai package with its own retries
off, is the only I/O, and every exception it raises is translated at that one boundary.

Every client is the same stack, whatever the provider: the pre-flight token check, then
``Cached`` (when given a cache), ``Logged``, ``Retrying``, and the transport. ``parse`` is written
once on top of ``complete``. Azure is just another provider: the adapters are the same classes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Self, TypeVar

import httpx2

from typed_llm._caching import AsyncCached, Cached
from typed_llm._errors import APITimeoutError, translate_openai_errors
from typed_llm._logged import AsyncLogged, Logged
from typed_llm._logging import emit
from typed_llm._providers import (
    DEFAULT_TIMEOUT,
    AzureProvider,
    OpenAIProvider,
    Provider,
    TokenProvider,
)
from typed_llm._requests import ChatRequest, EmbeddingRequest
from typed_llm._retry import AsyncRetrying, Backoff, ExponentialBackoff, Retrying, attempt_budget
from typed_llm._structured import AsyncParseFromComplete, ParseFromComplete
from typed_llm._tokens import check_context_window
from typed_llm._wire import (
    RawResponse,
    Routing,
    WireCall,
    adapt_for_model,
    build_chat_call,
    build_embedding_call,
    parse_chat_response,
    parse_embedding_response,
)

if TYPE_CHECKING:
    from types import TracebackType

    import openai

    from typed_llm._cache import Cache
    from typed_llm._responses import ChatResponse, EmbeddingResponse
    from typed_llm._typing import AsyncClient, Client

__all__ = ["AsyncAzureClient", "AsyncOpenAIClient", "AzureClient", "OpenAIClient"]

T = TypeVar("T")
Flow = Generator[WireCall, RawResponse, T]
"""An operation as data: yields the call to make, receives its answer, returns the result."""


DEFAULT_BACKOFF = ExponentialBackoff()
"""The strategy clients use unless given one (see ``ExponentialBackoff`` for why these defaults)."""


def _require(value: object, kind: type[ChatRequest | EmbeddingRequest]) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(value).__name__}")


def chat_flow(request: ChatRequest, routing: Routing) -> Flow[ChatResponse]:
    """A chat completion: the request adapted to its model, one POST, its answer parsed."""
    adapted, dropped = adapt_for_model(request)
    if dropped:
        emit(
            logging.WARNING,
            "parameters_dropped",
            model=request.model,
            parameters=list(dropped),
            reason="reasoning models refuse sampling parameters",
        )
    raw = yield build_chat_call(adapted, routing)
    return parse_chat_response(raw)


def embed_flow(request: EmbeddingRequest, routing: Routing) -> Flow[EmbeddingResponse]:
    """An embeddings call: one POST, one vector per input checked and decoded."""
    raw = yield build_embedding_call(request, routing)
    return parse_embedding_response(raw, expected=len(request.input))


_LEAST_BUDGET = 0.001
"""An attempt with less time than this left is not made (a zero timeout means "do not wait" to httpx)."""


def _options(client: openai.OpenAI | openai.AsyncOpenAI) -> openai.RequestOptions:
    """Per-request options: redirects never followed; the HTTP timeout cut to the retry deadline.

    A redirect is never followed, whatever the HTTP client's own setting: the APIs never redirect
    a POST in normal operation, and following one would send the key (httpx strips only
    ``Authorization`` across origins, not Azure's ``api-key``) and the prompt to wherever the
    ``Location`` points. A 3xx answer is raised as ``RedirectError`` instead.

    Raises:
        APITimeoutError: the deadline leaves no time for this attempt (nothing is sent).
    """
    budget = attempt_budget()
    if budget is None:
        return {"follow_redirects": False}
    if budget < _LEAST_BUDGET:
        raise APITimeoutError("the retry deadline passed before this attempt could be made")
    current = client.timeout
    if isinstance(current, int | float) and current <= budget:
        return {"follow_redirects": False}
    return {"follow_redirects": False, "timeout": budget}


def _raw(response: httpx2.Response) -> RawResponse:
    return RawResponse(status_code=response.status_code, headers=response.headers, content=response.content)


def _finish(flow: Flow[T], raw: RawResponse) -> T:
    try:
        flow.send(raw)
    except StopIteration as done:
        result: T = done.value
        return result
    raise RuntimeError("a flow makes exactly one call")


class _SyncTransport(ParseFromComplete):
    """The translation-only client: each call is one POST, no retry (a ``Client``)."""

    def __init__(self, client: openai.OpenAI, routing: Routing) -> None:
        self._openai = client
        self._routing = routing

    def _run(self, flow: Flow[T]) -> T:
        call = next(flow)
        with translate_openai_errors():
            response = self._openai.post(
                call.path, cast_to=httpx2.Response, content=call.body, options=_options(self._openai)
            )
        return _finish(flow, _raw(response))

    def complete(self, request: ChatRequest) -> ChatResponse:
        return self._run(chat_flow(request, self._routing))

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        return self._run(embed_flow(request, self._routing))


class _AsyncTransport(AsyncParseFromComplete):
    """The async translation-only client (an ``AsyncClient``)."""

    def __init__(self, client: openai.AsyncOpenAI, routing: Routing) -> None:
        self._openai = client
        self._routing = routing

    async def _run(self, flow: Flow[T]) -> T:
        call = next(flow)
        with translate_openai_errors():
            response = await self._openai.post(
                call.path, cast_to=httpx2.Response, content=call.body, options=_options(self._openai)
            )
        return _finish(flow, _raw(response))

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await self._run(chat_flow(request, self._routing))

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        return await self._run(embed_flow(request, self._routing))


L = TypeVar("L")


def _stack(  # noqa: PLR0917  (the layer classes, sync or async)
    transport: L,
    provider: Provider,
    backoff: Backoff,
    cache: Cache | None,
    retrying: Callable[[L, Backoff], L],
    logged: Callable[..., L],
    cached: Callable[..., L],
) -> L:
    """The layers every client has, in their one order: cache, then logging, then retry."""
    layers = logged(
        retrying(transport, backoff),
        provider=provider.name,
        namespace=provider.namespace_of,
        deployment_of=provider.deployment_of,
    )
    if cache is not None:
        layers = cached(layers, cache, provider.namespace_of, provider=provider.name)
    return layers


class _Base:
    _provider: Provider
    _preflight: bool = True

    def _attach(self, provider: Provider, backoff: Backoff, cache: Cache | None) -> None:  # noqa: ARG002  (used by subclasses)
        self._provider = provider

    @property
    def provider(self) -> str:
        """``openai`` or ``azure``."""
        return self._provider.name


class _SyncAdapter(_Base, ParseFromComplete):
    """A provider's transport in the layers every client has: cache, then logging, then retry."""

    _openai: openai.OpenAI
    _layers: Client

    def _attach(self, provider: Provider, backoff: Backoff, cache: Cache | None) -> None:
        super()._attach(provider, backoff, cache)
        self._openai = provider.build_sync()
        transport: Client = _SyncTransport(self._openai, provider.routing)
        self._layers = _stack(transport, provider, backoff, cache, Retrying, Logged, Cached)

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send a chat request and return the typed completion; transient failures are retried.

        Raises:
            TypedLLMError: a subclass that says what failed (see the error tree in the docs).
        """
        _require(request, ChatRequest)
        if self._preflight:
            check_context_window(request)
        return self._layers.complete(request)

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embed the request's inputs; one vector per input, in input order.

        Raises:
            TypedLLMError: a subclass that says what failed.
        """
        _require(request, EmbeddingRequest)
        return self._layers.embed(request)

    def close(self) -> None:
        """Close the connection pool."""
        self._openai.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _AsyncAdapter(_Base, AsyncParseFromComplete):
    _openai: openai.AsyncOpenAI
    _layers: AsyncClient

    def _attach(self, provider: Provider, backoff: Backoff, cache: Cache | None) -> None:
        super()._attach(provider, backoff, cache)
        self._openai = provider.build_async()
        transport: AsyncClient = _AsyncTransport(self._openai, provider.routing)
        self._layers = _stack(transport, provider, backoff, cache, AsyncRetrying, AsyncLogged, AsyncCached)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Send a chat request and return the typed completion; transient failures are retried.

        Raises:
            TypedLLMError: a subclass that says what failed (see the error tree in the docs).
        """
        _require(request, ChatRequest)
        if self._preflight:
            check_context_window(request)
        return await self._layers.complete(request)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embed the request's inputs; one vector per input, in input order.

        Raises:
            TypedLLMError: a subclass that says what failed.
        """
        _require(request, EmbeddingRequest)
        return await self._layers.embed(request)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._openai.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class _OpenAISettings(_Base):
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        backoff: Backoff = DEFAULT_BACKOFF,
        cache: Cache | None = None,
        preflight: bool = True,
    ) -> None:
        """Resolve the settings and build the connection pool.

        Args:
            api_key: the key; None reads ``OPENAI_API_KEY``.
            base_url: the API's base URL; None reads ``OPENAI_BASE_URL``, else OpenAI's.
            organization: None reads ``OPENAI_ORG_ID``.
            project: None reads ``OPENAI_PROJECT_ID``.
            timeout: seconds one attempt may take (default: openai-python's 600).
            backoff: the retry strategy (``NoRetry()`` to switch retries off).
            cache: where to keep responses (``SQLiteCache(path)``, ``MemoryCache()``); None for
                no caching. A hit is answered without a request and without the backoff.
            preflight: count the prompt's tokens before sending and raise
                ``ContextWindowExceededError`` when it cannot fit the model's known window.

        Raises:
            ConfigurationError: no key was given or found, or the base URL is not http(s).
        """
        self._attach(
            OpenAIProvider.resolve(
                api_key=api_key,
                base_url=base_url,
                organization=organization,
                project=project,
                timeout=timeout,
            ),
            backoff,
            cache,
        )
        self._preflight = preflight


class _AzureSettings(_Base):
    def __init__(
        self,
        endpoint: str | None = None,
        api_version: str | None = None,
        api_key: str | None = None,
        token_provider: TokenProvider | None = None,
        deployments: Mapping[str, str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        backoff: Backoff = DEFAULT_BACKOFF,
        cache: Cache | None = None,
        preflight: bool = True,
    ) -> None:
        """Resolve the settings and build the connection pool.

        Args:
            endpoint: ``https://RESOURCE.openai.azure.com``; None reads ``AZURE_OPENAI_ENDPOINT``.
            api_version: an Azure API version, or ``"v1"`` for the v1 API (``/openai/v1/``);
                None reads ``AZURE_OPENAI_API_VERSION`` (then ``OPENAI_API_VERSION``), else
                ``DEFAULT_AZURE_API_VERSION``.
            api_key: None reads ``AZURE_OPENAI_API_KEY`` (then the older ``AZURE_OPENAI_KEY``).
            token_provider: a callable returning an Entra ID token, instead of a key. With neither,
                Entra ID's ``DefaultAzureCredential`` is used when the ``azure`` extra is installed.
            deployments: model name -> deployment name; a model not listed is its own deployment.
            timeout: seconds one attempt may take.
            backoff: the retry strategy (``NoRetry()`` to switch retries off).
            cache: where to keep responses (``SQLiteCache(path)``, ``MemoryCache()``); None for
                no caching. A hit is answered without a request and without the backoff.
            preflight: count the prompt's tokens before sending and raise
                ``ContextWindowExceededError`` when it cannot fit the model's known window.

        Raises:
            ConfigurationError: no endpoint, or no credential, or both a key and a token provider.
        """
        self._attach(
            AzureProvider.resolve(
                endpoint=endpoint,
                api_version=api_version,
                api_key=api_key,
                token_provider=token_provider,
                deployments=deployments or {},
                timeout=timeout,
            ),
            backoff,
            cache,
        )
        self._preflight = preflight


class OpenAIClient(_OpenAISettings, _SyncAdapter):
    """A client of OpenAI's API, or of any server that speaks it (``base_url``).

    Build it once and reuse it (it holds a connection pool); close it, or use it in ``with``.
    """


class AsyncOpenAIClient(_OpenAISettings, _AsyncAdapter):
    """The async twin of ``OpenAIClient``: ``await client.complete(request)``; ``async with``."""


class AzureClient(_AzureSettings, _SyncAdapter):
    """A client of an Azure OpenAI resource: classic deployment paths, or the v1 API."""


class AsyncAzureClient(_AzureSettings, _AsyncAdapter):
    """The async twin of ``AzureClient``."""
