"""The adapters: OpenAI and Azure OpenAI clients, sync and async, each one pipeline of the same layers.

Every client is the same stack, whatever the provider: logging, the cache (when given one), the
pre-flight check, retries, and the HTTP terminal, whose one POST per attempt goes through the
openai package with its own retries off (``_transport``). What an operation is (how its request is
built, its answer read, its cache key computed) is described once in ``_operation``; the layers
are written once in ``_layers``; the sync and async clients differ only in their driver
(``_shell``). Azure is just another provider: the adapters are the same classes.
"""

from __future__ import annotations

import copy as _copy
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic, Self, TypeVar

import attrs
import httpx2

from typed_llm._backoff import Backoff, ExponentialBackoff
from typed_llm._cache.base import Cache
from typed_llm._cache.policy import DEFAULT_POLICY, CachePolicy
from typed_llm._cache.sqlite import SQLiteCache, claimed_by_client
from typed_llm._cost import ModelPrice
from typed_llm._errors import ConfigurationError
from typed_llm._layers.cache import Caching
from typed_llm._layers.log import Identity, Logging
from typed_llm._layers.pipeline import Pipeline
from typed_llm._layers.preflight import Preflight
from typed_llm._layers.pricing import Pricing
from typed_llm._layers.retry import Retry
from typed_llm._layers.singleflight import SingleFlight
from typed_llm._prices import check_prices
from typed_llm._providers.azure import AzureProvider
from typed_llm._providers.common import DEFAULT_TIMEOUT, TokenProvider
from typed_llm._providers.openai import OpenAIProvider
from typed_llm._providers.transport import DEFAULT_IDLE_TIMEOUT, HTTP, AsyncTransport, SyncTransport
from typed_llm._shell import AsyncShell, SyncShell
from typed_llm._wire.options import NO_OPTIONS, Options, thaw_body

if TYPE_CHECKING:
    from types import TracebackType

    from typed_llm._json import JSONValue
    from typed_llm._layers.pipeline import Layer
    from typed_llm._providers import Provider

__all__ = ["AsyncAzureClient", "AsyncOpenAIClient", "AzureClient", "OpenAIClient"]


H = TypeVar("H", httpx2.Client, httpx2.AsyncClient)
"""The kind of HTTP client a client takes: ``httpx2.Client`` (sync) or ``httpx2.AsyncClient`` (async)."""

DEFAULT_BACKOFF = ExponentialBackoff()
"""The strategy clients use unless given one (see ``ExponentialBackoff`` for why these defaults)."""


CacheArgument = Cache | str | os.PathLike[str] | None
"""A client's ``cache=``: a backend (yours to close), or an SQLite file's path (the client's)."""


def _owned_cache(given: CacheArgument) -> tuple[Cache | None, SQLiteCache | None]:
    """The cache a client uses, and the one it closes with itself (None: the caller closes it).

    The rule httpx and openai follow for an HTTP client: what the client builds, it closes; what it
    is given stays open. A path is built into an ``SQLiteCache`` here, so it is the client's; so is
    one ``SQLiteCache.from_seed`` built for it (the settings' ``build_client`` makes one per client).
    """
    if isinstance(given, str | os.PathLike):
        built = SQLiteCache(given)
        return built, built
    if isinstance(given, SQLiteCache) and claimed_by_client(given):
        return given, given
    return given, None


@attrs.frozen
class _Settings:
    """What a client's constructor says about its cache and its prices, passed whole to ``_pipeline``."""

    cache: Cache | None
    policy: CachePolicy = DEFAULT_POLICY
    single_flight: bool = True
    prices: Mapping[str, ModelPrice] = attrs.field(factory=dict)
    """The client's own prices (``prices=``), by model name."""


def _pipeline(provider: Provider, backoff: Backoff, caching: _Settings, *, preflight: bool) -> Pipeline:
    """The layers every client has, in their one order, in front of the provider's HTTP terminal.

    Every layer that needs to know which model a call is for asks the provider's registry (an Azure
    deployment resolves to the model it serves): the log fields, the price, the pre-flight count and
    check; the cache namespace and the HTTP route ask it through the provider.
    """
    model_of = provider.model_of
    identity = Identity(provider.name, provider.namespace_of, provider.deployment_of, model_of)
    layers: list[Layer] = [
        Logging(identity),
        Pricing(provider.name, model_of, provider.registry.learn, caching.prices),
    ]
    cache = caching.cache
    if cache is not None:
        layers.append(Caching(cache, provider.namespace_of, provider.name, caching.policy))
        if caching.single_flight:
            layers.append(SingleFlight.for_cache(cache, provider.namespace_of, caching.policy, provider.name))
    if preflight:  # inside the cache: a stored answer needs no check, nothing is sent for it
        layers.append(Preflight(model_of))
    layers.append(Retry(backoff, identity=identity))
    return Pipeline(tuple(layers), HTTP(provider.routing, provider.timeout))


def _with_backoff(pipeline: Pipeline, backoff: Backoff) -> Pipeline:
    """``pipeline`` with the client's own retry layer using ``backoff``; every other layer shared."""
    layers = tuple(
        attrs.evolve(layer, backoff=backoff) if isinstance(layer, Retry) else layer
        for layer in pipeline.layers
    )
    return Pipeline(layers, pipeline.terminal)


def _own_client(given: object, kind: type[httpx2.Client | httpx2.AsyncClient], client: str) -> None:
    """Refuse an HTTP client of the wrong kind at construction, saying which one fits."""
    if given is None or isinstance(given, kind):
        return
    hint = ""
    if isinstance(given, httpx2.AsyncClient):
        hint = f"; an httpx2.AsyncClient goes to Async{client}"
    elif isinstance(given, httpx2.Client):
        hint = f"; an httpx2.Client goes to {client.removeprefix('Async')}"
    raise ConfigurationError(
        f"{client} takes an httpx2.{kind.__name__} as http_client (openai 3 is built on httpx2), "
        f"got {type(given).__module__}.{type(given).__qualname__}{hint}"
    )


def _positive(seconds: object, name: str) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < math.inf:
        raise ConfigurationError(f"{name} must be a positive, finite number of seconds, got {seconds!r}")
    return float(seconds)


class _Base:
    _provider: Provider
    _idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    _pipeline: Pipeline
    _defaults: Options
    _http_client: httpx2.Client | httpx2.AsyncClient | None = None
    """The caller's own HTTP client, if one was given: used, never closed, by this client."""
    _own_cache: SQLiteCache | None = None
    """The cache this client built (from a path, or ``from_seed``'s): closed by ``close()``."""

    def _attach(self, provider: Provider, backoff: Backoff, cache: _Settings, *, preflight: bool) -> None:
        self._provider = provider
        self._pipeline = _pipeline(provider, backoff, cache, preflight=preflight)

    def _build(
        self,
        provider: Provider,
        backoff: Backoff,
        cache: CacheArgument,
        settings: _Settings,
        *,
        preflight: bool,
    ) -> None:
        """Attach the pipeline with the cache ``cache`` names (one the client built is closed on failure)."""
        used, self._own_cache = _owned_cache(cache)
        try:
            self._attach(provider, backoff, attrs.evolve(settings, cache=used), preflight=preflight)
        except BaseException:
            if self._own_cache is not None:
                self._own_cache.close()
            raise

    @property
    def provider(self) -> str:
        """``openai`` or ``azure``."""
        return self._provider.name

    def with_options(
        self,
        *,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, JSONValue] | None = None,
    ) -> Self:
        """A copy of this client whose every call has these options (the ones not given stay as they are).

        The copy shares this client's connection pool, cache and single-flight (nothing is rebuilt;
        options travel with each call), so it is cheap to make per task; closing either closes the
        pool of both, and the cache the client built (from a path) too. A call's own options go on
        top of these (``client.complete(r, timeout=...)``).

        Args:
            timeout: seconds each attempt may take, instead of the client's ``timeout``.
            backoff: the retry strategy instead of the client's (``NoRetry()``: no retries).
            extra_headers: headers added to every call (after the client's own, so they win).
            extra_query: query parameters added to every call (part of the cache key).
            extra_body: keys added to every call's JSON body (part of the cache key).

        Raises:
            pydantic.ValidationError: an option is not valid (a header with a line break, a
                timeout that is not a positive number, a body that is not JSON).
        """
        given: dict[str, object] = {
            "timeout": self._defaults.timeout if timeout is None else timeout,
            "extra_headers": {**self._defaults.extra_headers, **(extra_headers or {})},
            "extra_query": {**self._defaults.extra_query, **(extra_query or {})},
            "extra_body": {**thaw_body(self._defaults.extra_body), **(extra_body or {})},
        }
        copy = _copy.copy(self)
        copy._defaults = Options.model_validate(given)  # noqa: SLF001  (a copy of this very client)
        if backoff is not None:
            copy._pipeline = _with_backoff(self._pipeline, backoff)  # noqa: SLF001  (the same)
        return copy


class _SyncAdapter(_Base, SyncShell):
    """A provider's pipeline, driven with blocking I/O."""

    _transport: SyncTransport

    def _attach(self, provider: Provider, backoff: Backoff, cache: _Settings, *, preflight: bool) -> None:
        super()._attach(provider, backoff, cache, preflight=preflight)
        given = self._http_client
        _own_client(given, httpx2.Client, type(self).__name__)
        http_client = given if isinstance(given, httpx2.Client) else None
        transport = SyncTransport(provider.build_sync(http_client), provider.timeout, self._idle_timeout)
        self._sender = self._transport = transport

    def close(self) -> None:
        """Close the connection pool and a cache the client built (not what the caller gave: theirs).

        Safe to call again. A cache the caller passed (``cache=SQLiteCache(path)``) stays open, as
        an ``http_client`` the caller passed does.
        """
        try:
            if self._http_client is None:
                self._transport.openai.close()
        finally:
            if self._own_cache is not None:
                self._own_cache.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _AsyncAdapter(_Base, AsyncShell):
    """A provider's pipeline, driven with awaited I/O."""

    _transport: AsyncTransport

    def _attach(self, provider: Provider, backoff: Backoff, cache: _Settings, *, preflight: bool) -> None:
        super()._attach(provider, backoff, cache, preflight=preflight)
        given = self._http_client
        _own_client(given, httpx2.AsyncClient, type(self).__name__)
        http_client = given if isinstance(given, httpx2.AsyncClient) else None
        transport = AsyncTransport(provider.build_async(http_client), provider.timeout, self._idle_timeout)
        self._sender = self._transport = transport

    async def close(self) -> None:
        """Close the connection pool and a cache the client built (not what the caller gave: theirs).

        Safe to call again. A cache the caller passed (``cache=SQLiteCache(path)``) stays open, as
        an ``http_client`` the caller passed does.
        """
        try:
            if self._http_client is None:
                await self._transport.openai.close()
        finally:
            if self._own_cache is not None:
                self._own_cache.close()  # quick: SQLite's close, as the cache is read in the loop

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class _OpenAISettings(_Base, Generic[H]):
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        backoff: Backoff = DEFAULT_BACKOFF,
        cache: CacheArgument = None,
        cache_policy: CachePolicy = DEFAULT_POLICY,
        single_flight: bool = True,
        preflight: bool = True,
        stream_idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        prices: Mapping[str, ModelPrice] | None = None,
        http_client: H | None = None,
    ) -> None:
        """Resolve the settings and build the connection pool.

        Args:
            api_key: the key; None reads ``OPENAI_API_KEY``.
            base_url: the API's base URL; None reads ``OPENAI_BASE_URL``, else OpenAI's.
            organization: None reads ``OPENAI_ORG_ID``.
            project: None reads ``OPENAI_PROJECT_ID``.
            timeout: seconds one attempt may take, connect, headers and body together (default 300);
                the backoff's ``timeout`` bounds the whole call (default 600).
            backoff: the retry strategy (``NoRetry()`` to switch retries off).
            cache: where to keep responses: a backend (``SQLiteCache(path)``, ``MemoryCache()``),
                yours to close; or a path, for an ``SQLiteCache`` the client builds and closes in
                ``close()``. None for no caching. A hit is answered without a request or backoff.
            stream_idle_timeout: seconds a stream may go silent before it ends as
                ``APITimeoutError`` (default 120).
            cache_policy: which calls the cache may answer; by default stochastic calls too
                (``CachePolicy(stochastic="bypass")`` sends those to the API every time).
            single_flight: with a cache, identical calls in flight at once make one API call
                (across processes too with a ``RedisCache``); False: each makes its own.
            preflight: count the prompt's tokens before sending and raise
                ``ContextWindowExceededError`` when it cannot fit the model's known window; the
                count is set against the reported usage (a ``token_drift`` warning when far off).
            prices: model name -> ``ModelPrice``, for ``response.cost`` of models the bundled
                price data does not know or prices otherwise (fine-tunes, negotiated rates).
                ``ContextWindowExceededError`` when it cannot fit the model's known window.
            http_client: your own ``httpx2.Client`` (``httpx2.AsyncClient`` for the async clients),
                for proxies, certificates, event hooks or limits. It is used as given (its
                ``follow_redirects`` and ``timeout`` aside: every request goes out with the SDK's);
                ``close()`` leaves it open, you close it. None: the openai package's own.

        Raises:
            ConfigurationError: no key was given or found, or the base URL is not http(s).
        """
        self._idle_timeout = _positive(stream_idle_timeout, "stream_idle_timeout")
        self._defaults = NO_OPTIONS
        self._http_client = http_client
        provider = OpenAIProvider.resolve(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            timeout=timeout,
        )
        self._build(
            provider,
            backoff,
            cache,
            _Settings(None, cache_policy, single_flight, check_prices(prices)),
            preflight=preflight,
        )


class _AzureSettings(_Base, Generic[H]):
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
        cache: CacheArgument = None,
        cache_policy: CachePolicy = DEFAULT_POLICY,
        single_flight: bool = True,
        preflight: bool = True,
        stream_idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        prices: Mapping[str, ModelPrice] | None = None,
        http_client: H | None = None,
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
                The client's registry resolves a request's ``model`` through it, either way round
                (``model="chat-prod"`` is the model configured for it), and learns the model of a
                deployment not listed from its first answer: tokens, context window, price, cache
                namespace and log fields all use that one answer.
            timeout: seconds one attempt may take, connect, headers and body together (default 300);
                the backoff's ``timeout`` bounds the whole call (default 600).
            backoff: the retry strategy (``NoRetry()`` to switch retries off).
            cache: where to keep responses: a backend (``SQLiteCache(path)``, ``MemoryCache()``),
                yours to close; or a path, for an ``SQLiteCache`` the client builds and closes in
                ``close()``. None for no caching. A hit is answered without a request or backoff.
            stream_idle_timeout: seconds a stream may go silent before it ends as
                ``APITimeoutError`` (default 120).
            cache_policy: which calls the cache may answer; by default stochastic calls too
                (``CachePolicy(stochastic="bypass")`` sends those to the API every time).
            single_flight: with a cache, identical calls in flight at once make one API call
                (across processes too with a ``RedisCache``); False: each makes its own.
            preflight: count the prompt's tokens before sending and raise
                ``ContextWindowExceededError`` when it cannot fit the model's known window; the
                count is set against the reported usage (a ``token_drift`` warning when far off).
            prices: model name -> ``ModelPrice``, for ``response.cost`` of models the bundled
                price data does not know or prices otherwise (fine-tunes, negotiated rates).
                ``ContextWindowExceededError`` when it cannot fit the model's known window.
            http_client: your own ``httpx2.Client`` (``httpx2.AsyncClient`` for the async clients),
                for proxies, certificates, event hooks or limits. It is used as given (its
                ``follow_redirects`` and ``timeout`` aside: every request goes out with the SDK's);
                ``close()`` leaves it open, you close it. None: the openai package's own.

        Raises:
            ConfigurationError: no endpoint, or no credential, or both a key and a token provider.
        """
        self._idle_timeout = _positive(stream_idle_timeout, "stream_idle_timeout")
        self._defaults = NO_OPTIONS
        self._http_client = http_client
        provider = AzureProvider.resolve(
            endpoint=endpoint,
            api_version=api_version,
            api_key=api_key,
            token_provider=token_provider,
            deployments=deployments or {},
            timeout=timeout,
        )
        self._build(
            provider,
            backoff,
            cache,
            _Settings(None, cache_policy, single_flight, check_prices(prices)),
            preflight=preflight,
        )


class OpenAIClient(_OpenAISettings[httpx2.Client], _SyncAdapter):
    """A client of OpenAI's API, or of any server that speaks it (``base_url``).

    Build it once and reuse it (it holds a connection pool); close it, or use it in ``with``.
    """


class AsyncOpenAIClient(_OpenAISettings[httpx2.AsyncClient], _AsyncAdapter):
    """The async twin of ``OpenAIClient``: ``await client.complete(request)``; ``async with``."""


class AzureClient(_AzureSettings[httpx2.Client], _SyncAdapter):
    """A client of an Azure OpenAI resource: classic deployment paths, or the v1 API."""


class AsyncAzureClient(_AzureSettings[httpx2.AsyncClient], _AsyncAdapter):
    """The async twin of ``AzureClient``."""
