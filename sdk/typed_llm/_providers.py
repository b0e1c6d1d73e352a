"""Providers: credentials, endpoints, environment fallbacks and the openai client they build.

A provider is everything that differs between OpenAI and Azure OpenAI; the adapter that uses it is
the same for both. Each provider resolves its settings once, at construction, and refuses a
configuration that cannot work with a ``ConfigurationError`` that says what to set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
import httpx2
import openai

from typed_llm._errors import ConfigurationError
from typed_llm._logging import register_secret
from typed_llm._wire import Routing

__all__ = ["DEFAULT_AZURE_API_VERSION", "DEFAULT_TIMEOUT", "AzureProvider", "OpenAIProvider", "Provider"]

DEFAULT_TIMEOUT = 300.0
"""Seconds one attempt may take, connect, headers and body together, before it fails with
``APITimeoutError``: five minutes, half the default deadline of a whole call (openai-python allows
600 s per read, four times over)."""

DEFAULT_AZURE_API_VERSION = "2024-10-21"
"""Azure API version used when none is given: the GA version that every deployment accepts."""

_ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"

TokenProvider = Callable[[], str]
"""Returns a fresh Entra ID bearer token; called on every request."""


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _check_url(url: str, what: str) -> str:
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL as exc:
        raise ConfigurationError(f"{what} is not a valid URL: {url!r} ({exc})") from exc
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ConfigurationError(f"{what} must be an http(s) URL with a host, got {url!r}")
    return url.rstrip("/")


_KEY_SHAPE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: what an HTTP header can carry


def _check_key(key: str, what: str) -> str:
    if not _KEY_SHAPE.fullmatch(key):
        raise ConfigurationError(
            f"{what} has characters an HTTP header cannot carry (spaces, line breaks or non-ASCII "
            "such as a pasted smart quote); copy the key again"
        )
    register_secret(key)  # never in a log line, whatever its shape
    return key


_AZURE_SUFFIX = re.compile(r"/openai(/v1)?/*$")


def _azure_endpoint(url: str) -> str:
    # Accept the resource URL in every form people paste: with /openai or /openai/v1 on the end.
    return _AZURE_SUFFIX.sub("", _check_url(url, "endpoint (AZURE_OPENAI_ENDPOINT)"))


def _checked(provider: TokenProvider) -> TokenProvider:
    """A token provider whose failures are typed: a ConfigurationError naming the cause, chained."""

    def token() -> str:
        try:
            value: object = provider()
        except Exception as exc:
            raise ConfigurationError(f"the Azure token provider failed: {type(exc).__name__}: {exc}") from exc
        return _check_token(value)

    return token


def _check_token(value: object) -> str:
    """``value`` if it is a token an HTTP header can carry; else an error that never quotes it.

    Checked before anything is sent, so a bad token is one ``ConfigurationError`` (not retried),
    not a failed request retried as a connection error with the token in its message.
    """
    if isinstance(value, bytes | bytearray):
        raise ConfigurationError(
            "the Azure token provider returned bytes, not a str token: return token.decode('ascii')"
        )
    if not isinstance(value, str):
        what = "None" if value is None else f"a {type(value).__name__}"
        raise ConfigurationError(f"the Azure token provider returned {what}, not a str token")
    if not value:
        raise ConfigurationError("the Azure token provider returned an empty token")
    register_secret(value)  # before any check that could fail: never in a log line, whatever its shape
    if not _KEY_SHAPE.fullmatch(value):
        raise ConfigurationError(
            "the Azure token provider returned a token with characters an HTTP header cannot carry "
            "(a line break, a space or non-ASCII): strip it before returning it"
        )
    return value


@attrs.frozen
class OpenAIProvider:
    """OpenAI's API, or any server that speaks it (``base_url``)."""

    api_key: str = attrs.field(repr=False)
    base_url: str
    organization: str | None
    project: str | None
    timeout: float
    name: Literal["openai"] = "openai"

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None,
        base_url: str | None,
        organization: str | None,
        project: str | None,
        timeout: float,
    ) -> OpenAIProvider:
        """Fill unset settings from the environment, as the openai package does."""
        # inf, nan or a negative pass a float annotation and then fail every call inside httpx;
        # callers without a type checker may pass anything at all.
        given: object = timeout
        if isinstance(given, bool) or not isinstance(given, int | float) or not 0 < given < float("inf"):
            raise ConfigurationError(f"timeout must be a positive, finite number of seconds, got {given!r}")
        key = api_key or _env("OPENAI_API_KEY")
        if not key:
            raise ConfigurationError(
                "no OpenAI API key: pass api_key=... or set the OPENAI_API_KEY environment variable"
            )
        url = base_url or _env("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        return cls(
            api_key=_check_key(key, "the OpenAI API key"),
            base_url=_check_url(url, "base_url (OPENAI_BASE_URL)"),
            organization=organization or _env("OPENAI_ORG_ID"),
            project=project or _env("OPENAI_PROJECT_ID"),
            timeout=timeout,
        )

    @property
    def routing(self) -> Routing:
        """Model names go in the body; paths are the API's own."""
        return Routing()

    def namespace_of(self, model: str) -> str:  # noqa: ARG002  (the same signature as Azure's)
        """What besides the request decides an answer: the server (cache keys include it)."""
        return f"openai {self.base_url}"

    def deployment_of(self, model: str) -> str | None:  # noqa: ARG002  (the same signature as Azure's)
        """OpenAI has no deployments."""
        return None

    def _options(self) -> dict[str, Any]:
        # What both openai clients are built with; their own retries off (the SDK's backoff decides).
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "organization": self.organization,
            "project": self.project,
            "timeout": self.timeout,
            "max_retries": 0,
        }

    def build_sync(self) -> openai.OpenAI:
        """The openai client, with its own retries off."""
        return openai.OpenAI(**self._options())

    def build_async(self) -> openai.AsyncOpenAI:
        """The async openai client, with its own retries off."""
        return openai.AsyncOpenAI(**self._options())


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

    def deployment_of(self, model: str) -> str:
        """The deployment that serves ``model``."""
        return self.deployments.get(model, model)

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


Provider = OpenAIProvider | AzureProvider
"""Any provider."""
