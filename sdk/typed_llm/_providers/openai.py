"""OpenAI's API, or any server that speaks it (``base_url``): its settings and its openai client."""

from __future__ import annotations

from typing import Any, Literal

import attrs
import openai

from typed_llm._errors import ConfigurationError
from typed_llm._providers.common import _check_key, _check_url, _env
from typed_llm._providers.registry import Registry, Served
from typed_llm._wire.operation import Routing

__all__ = ["OpenAIProvider"]


@attrs.frozen
class OpenAIProvider:
    """OpenAI's API, or any server that speaks it (``base_url``)."""

    api_key: str = attrs.field(repr=False)
    base_url: str
    organization: str | None
    project: str | None
    timeout: float
    name: Literal["openai"] = "openai"
    registry: Registry = attrs.field(init=False, eq=False, repr=False, factory=lambda: Registry(None))
    """No deployments: every model is itself (the same interface as Azure's)."""

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

    def served(self, model: str) -> Served:
        """A model is itself; there is no deployment."""
        return self.registry.resolve(model)

    def model_of(self, model: str) -> str:
        """A model is itself."""
        return model

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
