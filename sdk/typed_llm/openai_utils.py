"""TinyTroupe's ``openai_utils``, typed: its names, its return values, this SDK underneath.

Code written for the seed runs with one change, its import line::

    from typed_llm import openai_utils

    client = openai_utils.client()
    message = client.send_message(current_messages=[{"role": "user", "content": "Hi"}], max_tokens=50)
    message["content"]                      # the seed returned the message as a dict
    openai_utils.get_embedding("some text")  # a list of floats

One deliberate difference: where the seed returned ``None`` after a failure (a bad request, or
retries running out), the facade raises the SDK's typed error (``BadRequestError``,
``RetriesExhaustedError``...). A ``None`` hides why a call failed and is easy to pass on unnoticed;
code that tested for ``None`` should catch ``typed_llm.TypedLLMError`` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter

from typed_llm._compat import registry as _registry
from typed_llm._compat.llmcall import LLMCall
from typed_llm._errors import UnknownAPITypeError
from typed_llm._models.messages import Message
from typed_llm._models.requests import ChatRequest, EmbeddingRequest

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from typed_llm._typing import Client

__all__ = [
    "LLMCall",
    "SeedClient",
    "UnknownAPITypeError",
    "client",
    "force_api_cache",
    "force_api_type",
    "get_embedding",
    "register_client",
    "typed_client",
]

_MESSAGES: TypeAdapter[tuple[Message, ...]] = TypeAdapter(tuple[Message, ...])

force_api_type = _registry.force_api_type
force_api_cache = _registry.force_api_cache
register_client = _registry.register_client
typed_client = _registry.client
"""The typed ``Client`` of the configured API type (``client()`` wraps it in the seed's shape)."""


class SeedClient:
    """The seed's client interface (``send_message``, ``get_embedding``) over a typed client."""

    def __init__(self, typed: Client) -> None:
        self.typed = typed
        """The typed client underneath (``complete``, ``parse``, ``embed``)."""

    def send_message(  # noqa: PLR0917  (the seed's parameters, positional as in the seed)
        self,
        current_messages: Sequence[Mapping[str, Any]],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: Sequence[str] | None = None,
        n: int = 1,
        response_format: type[BaseModel] | None = None,
        **_ignored: object,
    ) -> dict[str, Any]:
        """Send the conversation; return the first choice's message as a dict (the seed's shape).

        Unset parameters come from the settings (config.ini), as in the seed. Parameters the seed
        took for its own retry loop (``max_attempts``, ``waiting_time``, ``timeout``...) are
        accepted and ignored: the client's backoff decides. With ``response_format`` (a pydantic
        model) the answer is parsed, and the dict holds ``parsed`` as well.

        Raises:
            TypedLLMError: the call failed (the seed returned None).
        """
        config = _registry.settings()
        request = ChatRequest(
            model=model or config.model,
            messages=_MESSAGES.validate_python(list(current_messages)),
            temperature=config.temperature if temperature is None else temperature,
            max_tokens=max_tokens or config.max_tokens,
            top_p=config.top_p if top_p is None else top_p,
            frequency_penalty=config.frequency_penalty if frequency_penalty is None else frequency_penalty,
            presence_penalty=config.presence_penalty if presence_penalty is None else presence_penalty,
            stop=tuple(stop) if stop else None,
            n=n,
        )
        if response_format is not None:
            parsed = self.typed.parse(request, response_format)
            message = parsed.choices[0].message.model_dump(exclude_none=False)
            return {**message, "parsed": parsed.parsed}
        return self.typed.complete(request).choices[0].message.model_dump(exclude_none=False)

    def get_embedding(self, text: str, model: str | None = None) -> list[float]:
        """The embedding of ``text`` as a list of floats (the seed's shape)."""
        request = EmbeddingRequest(model=model or _registry.settings().embedding_model, input=(text,))
        return list(self.typed.embed(request).vectors[0])


def client() -> SeedClient:
    """The client for the configured API type, with the seed's methods."""
    typed = _registry.client()
    return typed if isinstance(typed, SeedClient) else SeedClient(typed)


def get_embedding(text: str, model: str | None = None) -> list[float]:
    """The embedding of ``text`` from the configured client, as a list of floats."""
    return client().get_embedding(text, model)
