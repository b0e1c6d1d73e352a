"""The seed's client classes (``OpenAIClient``, ``AzureClient``) over this SDK's typed clients.

TinyTroupe code subclasses its ``OpenAIClient`` and overrides the hooks its ``send_message`` calls
(``_setup_from_config``, ``_raw_model_call``, ``_raw_model_response_extractor``,
``_raw_embedding_model_call``...). These classes keep those names and that order, so such a
subclass runs unchanged; underneath, ``self.client`` is a typed client (``typed_llm.OpenAIClient``)
that caches, retries and logs. They are typed clients too (``complete``, ``parse``, ``embed``), so
``LLMCall`` and the registry take them like any other.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, overload

from pydantic import BaseModel, TypeAdapter, ValidationError

from typed_llm._compat import registry as _registry
from typed_llm._compat.seed_params import InvalidRequestError, chat_api_params, request_from_params, validated
from typed_llm._compat.seed_stats import CostStats
from typed_llm._compat.settings import Settings
from typed_llm._errors import ConfigurationError
from typed_llm._models.messages import Message
from typed_llm._models.requests import EmbeddingRequest
from typed_llm._models.responses import ParsedChatResponse
from typed_llm._tokens import count_message_tokens

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from typed_llm._models.requests import ChatRequest
    from typed_llm._models.responses import ChatResponse, EmbeddingResponse
    from typed_llm._streaming import ChatStream
    from typed_llm._typing import Client

__all__ = ["AzureClient", "OpenAIClient", "SeedClient"]

T = TypeVar("T", bound=BaseModel)

_MESSAGES: TypeAdapter[tuple[Message, ...]] = TypeAdapter(tuple[Message, ...])

_CALL_CLIENT: ContextVar[Client | None] = ContextVar("typed_llm_seed_call_client", default=None)
"""The typed client of the ``send_message`` under way, when its per-call options asked for another."""


class SeedClient:
    """The seed's client interface (``send_message``, ``get_embedding``) over a typed client.

    Args:
        client: the typed client underneath; None builds the configured one on first use
            (``_setup_from_config``).
        max_concurrent_model_calls: at most this many calls in flight at once (None or 0: no limit).
    """

    _api_type: ClassVar[Literal["openai", "azure"]] = "openai"

    def __init__(
        self, client: Client | None = None, *, max_concurrent_model_calls: int | None = None
    ) -> None:
        self.client: Client | None = client
        """The typed client underneath (``complete``, ``parse``, ``embed``); built on first use."""
        self._own = client is None
        self._lock = threading.RLock()
        self._variants: dict[tuple[tuple[str, float], ...], Client] = {}
        self._built: Client | None = None  # self.client when this object built it (closed by close())
        # Clients set_api_cache replaced, held weakly: freed (their pools closed) once no call uses
        # them, closed by close() if one still does. Held strongly, they piled up with each toggle.
        self._retired: list[weakref.ref[Client]] = []
        limit = max_concurrent_model_calls or None
        self._slots = threading.BoundedSemaphore(limit) if limit else None
        self._cache: tuple[bool, str | None] | None = None
        # (the registry's settings, _cache, the two combined): validated once, not on every call
        self._derived: tuple[Settings, tuple[bool, str | None], Settings] | None = None
        self._costs = CostStats()

    # -- the seed's hooks, in the order send_message calls them ---------------------------------

    def _settings(self) -> Settings:
        """The settings in force, with this client's own cache choice (``set_api_cache``) applied."""
        config = _registry.settings()
        cache = self._cache
        if cache is None:
            return config
        derived = self._derived  # one read: another thread may replace it
        if derived is not None and derived[0] is config and derived[1] is cache:
            return derived[2]
        cache_api_calls, cache_file_name = cache
        update: dict[str, object] = {"cache_api_calls": cache_api_calls}
        if cache_file_name is not None:
            update["cache_file_name"] = cache_file_name
        mine = validated("cache settings", lambda: Settings.model_validate({**config.model_dump(), **update}))
        self._derived = (config, cache, mine)
        return mine

    def _setup_from_config(self) -> None:
        """Build ``self.client``, the typed client, from the settings (a subclass may build its own)."""
        self.client = self._settings().build_client(self._api_type)

    def _typed(self) -> Client:
        with self._lock:
            if self.client is None:
                self._setup_from_config()
                self._built = self.client
            client = self.client
        if client is None or not all(
            callable(getattr(client, name, None)) for name in ("complete", "parse", "embed")
        ):
            raise ConfigurationError(
                f"{type(self).__name__}.client must be a typed_llm client (complete, parse, embed), "
                f"got {type(client).__name__}: build it in _setup_from_config with "
                "typed_llm.OpenAIClient(...) or typed_llm.AzureClient(...), not the openai package's client"
            )
        return client

    def _raw_model_call(self, model: str, chat_api_params: dict[str, Any]) -> ChatResponse:
        """Send the seed's parameter dict (a subclass may change it first); the typed response."""
        del model  # in the dict too; the seed passed it apart
        request, output_type = request_from_params(chat_api_params)
        client = _CALL_CLIENT.get() or self._typed()
        if output_type is None:
            return client.complete(request)
        return client.parse(request, output_type)

    def _raw_model_response_extractor(self, response: ChatResponse) -> dict[str, Any]:
        """The first choice's message as a dict (the seed's shape); with structured output, ``parsed`` too."""
        message = response.choices[0].message.model_dump(exclude_none=False)
        if isinstance(response, ParsedChatResponse):
            message["parsed"] = response.parsed
        return message

    def _is_reasoning_model(self, model: str) -> bool:
        from typed_llm._wire.chat import is_reasoning_model  # noqa: PLC0415  (the one place that decides)

        return is_reasoning_model(model)

    def _count_tokens(self, messages: Sequence[Mapping[str, Any]], model: str) -> int | None:
        """Prompt tokens of ``messages`` (None when they are not valid messages, as in the seed)."""
        try:
            typed = _MESSAGES.validate_python(list(messages))
        except ValidationError:
            return None
        return count_message_tokens(typed, model)

    # -- the seed's public methods ----------------------------------------------------------------

    @overload
    def send_message(  # type: ignore[overload-overlap]  # the narrower case (a model back) listed first
        self,
        current_messages: Sequence[Mapping[str, Any]],
        dedent_messages: bool = True,  # noqa: FBT001, FBT002
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: str | Sequence[str] | None = None,
        timeout: float | None = None,
        max_attempts: int | None = None,
        waiting_time: float | None = None,
        exponential_backoff_factor: float | None = None,
        n: int = 1,
        *,
        response_format: type[T],
        enable_pydantic_model_return: Literal[True],
        echo: bool = False,
        max_completion_tokens: int | None = None,
    ) -> T: ...

    @overload
    def send_message(
        self,
        current_messages: Sequence[Mapping[str, Any]],
        dedent_messages: bool = True,  # noqa: FBT001, FBT002
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: str | Sequence[str] | None = None,
        timeout: float | None = None,
        max_attempts: int | None = None,
        waiting_time: float | None = None,
        exponential_backoff_factor: float | None = None,
        n: int = 1,
        response_format: type[BaseModel] | Mapping[str, Any] | None = None,
        enable_pydantic_model_return: bool = False,  # noqa: FBT001, FBT002
        echo: bool = False,  # noqa: FBT001, FBT002
        *,
        max_completion_tokens: int | None = None,
    ) -> dict[str, Any]: ...

    def send_message(  # noqa: PLR0917  (the seed's parameters, positional as in the seed)
        self,
        current_messages: Sequence[Mapping[str, Any]],
        dedent_messages: bool = True,  # noqa: FBT001, FBT002
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: str | Sequence[str] | None = None,
        timeout: float | None = None,
        max_attempts: int | None = None,
        waiting_time: float | None = None,
        exponential_backoff_factor: float | None = None,
        n: int = 1,
        response_format: type[BaseModel] | Mapping[str, Any] | None = None,
        enable_pydantic_model_return: bool = False,  # noqa: FBT001, FBT002
        echo: bool = False,  # noqa: FBT001, FBT002
        *,
        max_completion_tokens: int | None = None,
    ) -> dict[str, Any] | BaseModel:
        """Send the conversation; the first choice's message as a dict (the seed's shape).

        The seed's parameters, in the seed's order. Unset ones come from the settings (config.ini).
        ``dedent_messages`` dedents and strips each message's text (copies: the caller's dicts are
        not changed, unlike the seed). The fifth parameter is the output token limit, by either
        of the seed's names (``max_tokens``, or the newer ``max_completion_tokens``). ``timeout``,
        ``max_attempts``, ``waiting_time`` and ``exponential_backoff_factor`` apply to this call
        only. ``response_format`` is a pydantic model (the answer is parsed; the dict holds
        ``parsed``) or an API dict such as ``{"type": "json_object"}``; with
        ``enable_pydantic_model_return=True`` and a model, the parsed model itself is returned.
        ``echo`` is accepted and ignored, as the seed did.

        Raises:
            InvalidRequestError: a parameter is invalid (nothing was sent).
            TypedLLMError: the call failed (where the seed returned None).
        """
        del echo  # the seed never used it either
        if (
            max_tokens is not None
            and max_completion_tokens is not None
            and max_tokens != max_completion_tokens
        ):
            raise InvalidRequestError("give max_tokens or max_completion_tokens, not both")
        config = self._settings()
        params = chat_api_params(
            config,
            current_messages,
            dedent_messages=dedent_messages,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens or max_completion_tokens or config.output_limit,
            top_p=top_p,
            frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty,
            stop=stop,
            timeout=timeout,
            n=n,
            response_format=response_format,
        )
        if max_completion_tokens is not None or (config.max_completion_tokens and max_tokens is None):
            params["max_completion_tokens"] = params.pop("max_tokens")  # the newer seed's name, sent as such
        variant = self._variant(
            config,
            timeout=timeout,
            max_attempts=max_attempts,
            waiting_time=waiting_time,
            exponential_backoff_factor=exponential_backoff_factor,
        )
        token = _CALL_CLIENT.set(variant)
        try:
            with self._slot():
                response = self._raw_model_call(params["model"], params)
        finally:
            _CALL_CLIENT.reset(token)
        self._update_cost_stats(response)
        if enable_pydantic_model_return and isinstance(response, ParsedChatResponse):
            parsed: BaseModel = response.parsed
            return parsed
        return self._raw_model_response_extractor(response)

    def get_embedding(self, text: str, model: str | None = None) -> list[float]:
        """The embedding of ``text`` as a list of floats (the seed's shape).

        Raises:
            InvalidRequestError: ``text`` or ``model`` is invalid (nothing was sent).
        """
        response = self._raw_embedding_model_call(
            text, self._settings().embedding_model if model is None else model
        )
        return self._raw_embedding_model_response_extractor(response)

    def _raw_embedding_model_call(self, text: str, model: str) -> EmbeddingResponse:
        request = validated(
            "get_embedding parameters",
            lambda: EmbeddingRequest.model_validate({"model": model, "input": (text,)}),
        )
        with self._slot():
            return self._embedding_client().embed(request)

    def _raw_embedding_model_response_extractor(self, response: EmbeddingResponse) -> list[float]:
        return list(response.vectors[0])

    def set_api_cache(self, cache_api_calls: bool, cache_file_name: str | None = None) -> None:  # noqa: FBT001  (the seed's signature)
        """Turn this client's response cache on or off (its typed client is rebuilt on next use).

        The typed clients it replaces are not closed now (a call in another thread may be using
        one): each is freed, its connections closed, once no call holds it; ``close()`` closes
        those still held.

        Raises:
            ConfigurationError: this client wraps a typed client built elsewhere (give that one a cache).
        """
        if not self._own:
            raise ConfigurationError(
                f"this {type(self).__name__} wraps a typed client built elsewhere: give that client its cache"
            )
        with self._lock:
            self._cache = (cache_api_calls, cache_file_name)
            # Replaced, not closed: a call in another thread may be using them (close() closes them).
            self._retired = [held for held in self._retired if held() is not None]
            self._retired.extend(weakref.ref(client) for client in self._owned())
            self.client = self._built = None
            self._variants.clear()

    def close(self) -> None:
        """Close the typed clients this object built (its own, per-call variants, replaced ones).

        A typed client given to it (``SeedClient(client)``, or set on ``self.client``) is the
        giver's to close. The object stays usable: the next call builds what it needs again.
        """
        with self._lock:
            owned = [*self._owned(), *(client for held in self._retired if (client := held()) is not None)]
            if self._built is not None and self.client is self._built:
                self.client = None
            self._built = None
            self._variants.clear()
            self._retired.clear()
        for client in owned:
            close = getattr(client, "close", None)
            if callable(close):
                close()

    def _owned(self) -> list[Client]:
        """The clients in use that this object built (its own typed client, per-call variants)."""
        built = [self._built] if self._built is not None and self.client is self._built else []
        return [*built, *self._variants.values()]

    # -- the seed's cost statistics ---------------------------------------------------------------

    def _update_cost_stats(self, response: ChatResponse) -> None:
        """Count one call (the seed's hook): ``cached_calls`` if the cache answered, else ``model_calls``."""
        self._costs.count(response)

    def get_cost_stats(self) -> dict[str, int]:
        """Tokens and calls so far, under the seed's keys.

        ``model_calls`` counts the calls that sent a request, ``cached_calls`` those the cache
        answered (their tokens are counted too, as in the seed).
        """
        return self._costs.snapshot()

    def reset_cost_stats(self) -> None:
        """Back to zero."""
        self._costs.reset()

    def pretty_print_cost_stats(self) -> None:
        """Print the statistics, one per line."""
        for key, value in self.get_cost_stats().items():
            print(f"{key.replace('_', ' '):<16} {value:,}")  # noqa: T201  (the seed printed them)

    # -- a typed client as well -------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> ChatResponse:
        """``self.client.complete``: the typed call, without the seed's dict."""
        return self._typed().complete(request)

    def parse(self, request: ChatRequest, output_type: type[T]) -> ParsedChatResponse[T]:
        """``self.client.parse``."""
        return self._typed().parse(request, output_type)

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """``self.client.embed``."""
        return self._typed().embed(request)

    def stream(self, request: ChatRequest) -> ChatStream[ChatResponse]:
        """``self.client.stream``."""
        return self._typed().stream(request)

    def stream_parse(self, request: ChatRequest, output_type: type[T]) -> ChatStream[ParsedChatResponse[T]]:
        """``self.client.stream_parse``."""
        return self._typed().stream_parse(request, output_type)

    # -- per-call options -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if self._slots is None:
            yield
            return
        with self._slots:
            yield

    def _variant(self, config: Settings, **options: float | None) -> Client | None:
        """The typed client for per-call options that differ from the settings (None: the usual one)."""
        changed = tuple(
            sorted(
                (name, float(value))
                for name, value in options.items()
                if value is not None and value != getattr(config, name)
            )
        )
        if not changed:
            return None
        custom = type(self)._setup_from_config is not SeedClient._setup_from_config  # noqa: SLF001  (a hook)
        if not self._own or custom:
            names = ", ".join(name for name, _ in changed)
            raise InvalidRequestError(
                f"per-call {names} needs a client the facade builds; this {type(self).__name__} builds "
                "its own typed client: set them on that client (timeout=, backoff=)"
            )
        with self._lock:
            if changed not in self._variants:
                # The settings now, under the lock set_api_cache takes: a cache change since this
                # call read them must not be kept in a per-call client built after it.
                current = self._settings()
                settings = validated(
                    "send_message parameters",
                    lambda: Settings.model_validate({**current.model_dump(), **dict(changed)}),
                )
                self._variants[changed] = settings.build_client(self._api_type)
            return self._variants[changed]

    def _embedding_client(self) -> Client:
        config = self._settings()
        version = config.azure_embedding_model_api_version
        if (
            self._api_type != "azure"
            or version is None
            or version == config.azure_api_version
            or not self._own
        ):
            return self._typed()
        key = (("azure_api_version", 0.0),)
        with self._lock:
            if key not in self._variants:  # the settings now (see _variant)
                current = self._settings().model_copy(update={"azure_api_version": version})
                self._variants[key] = current.build_client("azure")
            return self._variants[key]


class OpenAIClient(SeedClient):
    """The seed's ``OpenAIClient``: its methods and hooks, over ``typed_llm.OpenAIClient``.

    Args:
        cache_api_calls: keep responses in the SQLite cache (None: the settings' ``CACHE_API_CALLS``).
        cache_file_name: the cache file (None: the settings' ``CACHE_FILE_NAME``).
        max_concurrent_model_calls: at most this many calls at once (None: the settings').
    """

    _api_type: ClassVar[Literal["openai", "azure"]] = "openai"

    def __init__(
        self,
        cache_api_calls: bool | None = None,  # noqa: FBT001  (the seed's signature)
        cache_file_name: str | None = None,
        max_concurrent_model_calls: int | None = None,
    ) -> None:
        config = _registry.settings()
        limit = (
            config.max_concurrent_model_calls
            if max_concurrent_model_calls is None
            else max_concurrent_model_calls
        )
        super().__init__(max_concurrent_model_calls=limit)
        if cache_api_calls is not None or cache_file_name is not None:
            self._cache = (
                config.cache_api_calls if cache_api_calls is None else cache_api_calls,
                cache_file_name,
            )


class AzureClient(OpenAIClient):
    """The seed's ``AzureClient``: the same methods over ``typed_llm.AzureClient``."""

    _api_type: ClassVar[Literal["openai", "azure"]] = "azure"
