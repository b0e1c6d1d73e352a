"""An Azure OpenAI resource: classic deployment paths with ``api-version``, or the v1 API.

Credentials are a key, a token provider, or Entra ID through azure-identity (the ``azure`` extra).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import openai

from typed_llm._errors import ConfigurationError
from typed_llm._providers.common import TokenProvider, _check_key, _check_url, _checked, _env
from typed_llm._providers.registry import Registry, Served
from typed_llm._wire.operation import Routing

__all__ = ["DEFAULT_AZURE_API_VERSION", "AzureProvider"]


DEFAULT_AZURE_API_VERSION = "2024-10-21"
"""Azure API version used when none is given: the GA version that every deployment accepts."""

_ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"


_AZURE_SUFFIX = re.compile(r"/openai(/v1)?/*$")


def _azure_endpoint(url: str) -> str:
    # Accept the resource URL in every form people paste: with /openai or /openai/v1 on the end.
    return _AZURE_SUFFIX.sub("", _check_url(url, "endpoint (AZURE_OPENAI_ENDPOINT)"))


def _entra_token_provider() -> TokenProvider:
    try:
        from azure.identity import (  # type: ignore[import-not-found,unused-ignore]  # optional extra  # noqa: PLC0415
            DefaultAzureCredential,
            get_bearer_token_provider,
        )
    except ImportError as exc:
        raise ConfigurationError(
            "no Azure OpenAI credential: pass api_key=... or token_provider=..., set "
            "AZURE_OPENAI_API_KEY, or install the 'azure' extra (pip install 'typed-llm[azure]') "
            "to sign in with Entra ID"
        ) from exc
    provider: TokenProvider = get_bearer_token_provider(DefaultAzureCredential(), _ENTRA_SCOPE)
    return provider


@attrs.frozen
class AzureProvider:
    """An Azure OpenAI resource: classic deployment paths with ``api-version``, or the v1 API."""

    endpoint: str
    api_version: str
    api_key: str | None = attrs.field(repr=False)
    token_provider: TokenProvider | None = attrs.field(repr=False)
    deployments: Mapping[str, str]
    timeout: float
    name: Literal["azure"] = "azure"
    registry: Registry = attrs.field(init=False, eq=False, repr=False)
    """The deployment -> model registry: what every use of a request's ``model`` asks."""

    @registry.default
    def _registry(self) -> Registry:
        return Registry(self.deployments)

    @classmethod
    def resolve(
        cls,
        *,
        endpoint: str | None,
        api_version: str | None,
        api_key: str | None,
        token_provider: TokenProvider | None,
        deployments: Mapping[str, str],
        timeout: float,
    ) -> AzureProvider:
        """Fill unset settings from the environment; fall back to Entra ID when no key is given."""
        # inf, nan or a negative pass a float annotation and then fail every call inside httpx;
        # callers without a type checker may pass anything at all.
        given: object = timeout
        if isinstance(given, bool) or not isinstance(given, int | float) or not 0 < given < float("inf"):
            raise ConfigurationError(f"timeout must be a positive, finite number of seconds, got {given!r}")
        url = endpoint or _env("AZURE_OPENAI_ENDPOINT")
        if not url:
            raise ConfigurationError(
                "no Azure OpenAI endpoint: pass endpoint='https://RESOURCE.openai.azure.com' "
                "or set the AZURE_OPENAI_ENDPOINT environment variable"
            )
        if api_key and token_provider:
            raise ConfigurationError("pass api_key or token_provider, not both")
        key = api_key or (None if token_provider else _env("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY"))
        if key is None and token_provider is None:
            token_provider = _entra_token_provider()
        version = api_version or _env("AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION")
        return cls(
            endpoint=_azure_endpoint(url),
            api_version=version or DEFAULT_AZURE_API_VERSION,
            api_key=None if key is None else _check_key(key, "the Azure OpenAI API key"),
            token_provider=None if token_provider is None else _checked(token_provider),
            deployments=dict(deployments),
            timeout=timeout,
        )

    @property
    def is_v1(self) -> bool:
        """Whether this uses the v1 API (``/openai/v1/``, deployment in the body): ``v1`` or ``preview``."""
        return self.api_version in {"v1", "preview"}

    @property
    def _v1_query(self) -> dict[str, object] | None:
        # The v1 API takes no api-version, except "preview" for its preview features.
        return {"api-version": "preview"} if self.api_version == "preview" else None

    @property
    def _no_openai_org(self) -> dict[str, str | openai.Omit]:
        # openai reads OPENAI_ORG_ID / OPENAI_PROJECT_ID from the environment when given None;
        # those are OpenAI's, and must not go to an Azure resource.
        return {"OpenAI-Organization": openai.Omit(), "OpenAI-Project": openai.Omit()}

    def served(self, model: str) -> Served:
        """The model and deployment a request's ``model`` resolves to (the registry's one answer)."""
        return self.registry.resolve(model)

    def model_of(self, model: str) -> str:
        """The model a request's ``model`` resolves to (its deployment's model, configured or learned)."""
        return self.registry.resolve(model).model

    def deployment_of(self, model: str) -> str:
        """The deployment that serves ``model`` (on Azure the registry always names one)."""
        return self.registry.resolve(model).deployment or model

    def namespace_of(self, model: str) -> str:
        """What besides the request decides an answer: the resource and the model's deployment."""
        return f"azure {self.endpoint} {self.deployment_of(model)}"

    @property
    def routing(self) -> Routing:
        """Models map to deployments: in the path (classic) or in the body (v1)."""
        return Routing(deployments=self.deployments, deployment_in_path=not self.is_v1)

    def _shared(self) -> dict[str, Any]:
        # What every openai client of this resource is built with (private: openai's own kwargs).
        return {
            # openai accepts Omit in headers and strips it; its stubs say str.
            "default_headers": {**self._no_openai_org, **({"api-key": self.api_key} if self.api_key else {})},
            "timeout": self.timeout,
            "max_retries": 0,
        }

    def _classic(self) -> dict[str, Any]:
        return {
            **self._shared(),
            "azure_endpoint": self.endpoint,
            "api_version": self.api_version,
            "api_key": self.api_key,
            "azure_ad_token_provider": self.token_provider,
        }

    def _v1(self) -> dict[str, Any]:
        # AzureOpenAI does not know the v1 path: it is the plain OpenAI client on another URL, with
        # the key in Azure's api-key header (and as the bearer), or an Entra token as the bearer.
        return {**self._shared(), "base_url": f"{self.endpoint}/openai/v1", "default_query": self._v1_query}

    def build_sync(self) -> openai.OpenAI:
        """The openai client for this resource, with its own retries off."""
        if self.is_v1:
            return openai.OpenAI(api_key=self.api_key or self.token_provider or "", **self._v1())
        return openai.AzureOpenAI(**self._classic())

    def build_async(self) -> openai.AsyncOpenAI:
        """The async openai client for this resource, with its own retries off."""
        if not self.is_v1:
            return openai.AsyncAzureOpenAI(**self._classic())
        token_provider = self.token_provider
        if token_provider is None:
            return openai.AsyncOpenAI(api_key=self.api_key or "", **self._v1())

        async def credential() -> str:  # the async client wants an awaitable provider
            return token_provider()

        return openai.AsyncOpenAI(api_key=credential, **self._v1())
