"""The adapters: ``OpenAIClient`` and ``AzureClient`` turn typed requests into API calls and back.

An adapter is a thin shell: a provider (credentials, endpoint, the openai client) plus the pure
translation of ``_wire``. The only I/O is ``_send``, one POST through the openai package with its own
retries off; every exception it raises is translated at that one boundary. Both adapters share this
code: Azure is just another provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

import httpx2

from typed_llm._errors import translate_openai_errors
from typed_llm._providers import (
    DEFAULT_TIMEOUT,
    AzureProvider,
    OpenAIProvider,
    Provider,
    TokenProvider,
)
from typed_llm._requests import ChatRequest, EmbeddingRequest
from typed_llm._wire import (
    RawResponse,
    WireCall,
    build_chat_call,
    build_embedding_call,
    parse_chat_response,
    parse_embedding_response,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    import openai

    from typed_llm._responses import ChatResponse, EmbeddingResponse

__all__ = ["AzureClient", "OpenAIClient"]


def _require(value: object, kind: type[ChatRequest | EmbeddingRequest]) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(value).__name__}")


class _Adapter:
    """What both adapters share: translate, send once, translate back."""

    _provider: Provider
    _openai: openai.OpenAI

    def __init__(self, provider: Provider) -> None:
        self._provider = provider
        self._routing = provider.routing
        self._openai = provider.build_sync()

    @property
    def provider(self) -> str:
        """``openai`` or ``azure``."""
        return self._provider.name

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send a chat request and return the typed completion.

        Raises:
            TypedLLMError: a subclass that says what failed (see the error tree in the docs).
        """
        _require(request, ChatRequest)
        return parse_chat_response(self._send(build_chat_call(request, self._routing)))

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embed the request's inputs; one vector per input, in input order.

        Raises:
            TypedLLMError: a subclass that says what failed.
        """
        _require(request, EmbeddingRequest)
        raw = self._send(build_embedding_call(request, self._routing))
        return parse_embedding_response(raw, expected=len(request.input))

    def _send(self, call: WireCall) -> RawResponse:
        with translate_openai_errors():
            response = self._openai.post(call.path, cast_to=httpx2.Response, content=call.body)
        return RawResponse(
            status_code=response.status_code, headers=response.headers, content=response.content
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._openai.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class OpenAIClient(_Adapter):
    """A client of OpenAI's API, or of any server that speaks it (``base_url``).

    Build it once and reuse it: it holds a connection pool.

    Args:
        api_key: the key; None reads ``OPENAI_API_KEY``.
        base_url: the API's base URL; None reads ``OPENAI_BASE_URL``, else OpenAI's.
        organization: None reads ``OPENAI_ORG_ID``.
        project: None reads ``OPENAI_PROJECT_ID``.
        timeout: seconds a call may take.

    Raises:
        ConfigurationError: no key was given or found.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(
            OpenAIProvider.resolve(
                api_key=api_key,
                base_url=base_url,
                organization=organization,
                project=project,
                timeout=timeout,
            )
        )


class AzureClient(_Adapter):
    """A client of an Azure OpenAI resource.

    Args:
        endpoint: ``https://RESOURCE.openai.azure.com``; None reads ``AZURE_OPENAI_ENDPOINT``.
        api_version: an Azure API version, or ``"v1"`` for the v1 API (``/openai/v1/``);
            None reads ``AZURE_OPENAI_API_VERSION`` (then ``OPENAI_API_VERSION``), else
            ``DEFAULT_AZURE_API_VERSION``.
        api_key: None reads ``AZURE_OPENAI_API_KEY`` (then the older ``AZURE_OPENAI_KEY``).
        token_provider: a callable returning an Entra ID token, instead of a key. With neither,
            Entra ID's ``DefaultAzureCredential`` is used when the ``azure`` extra is installed.
        deployments: model name -> deployment name; a model not listed is its own deployment.
        timeout: seconds a call may take.

    Raises:
        ConfigurationError: no endpoint, or no credential, or both a key and a token provider.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        api_version: str | None = None,
        api_key: str | None = None,
        token_provider: TokenProvider | None = None,
        deployments: Mapping[str, str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(
            AzureProvider.resolve(
                endpoint=endpoint,
                api_version=api_version,
                api_key=api_key,
                token_provider=token_provider,
                deployments=deployments or {},
                timeout=timeout,
            )
        )
