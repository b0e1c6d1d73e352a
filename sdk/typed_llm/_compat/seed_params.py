"""``send_message``'s parameters, the seed's way: dedenting, the seed's parameter dict, the request.

TinyTroupe's ``send_message`` gathers its arguments into one dict (``chat_api_params``) that its
``_raw_model_call`` hook receives; a subclass may change that dict before the call. The facade
keeps that dict and its keys, and turns it into a ``ChatRequest`` only in ``request_from_params``,
so a bad value becomes ``InvalidRequestError`` (a ``TypedLLMError``) naming the parameter, before
anything is sent, instead of pydantic's ``ValidationError``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from typed_llm._errors import TypedLLMError
from typed_llm._models.requests import ChatRequest
from typed_llm._wire.chat import is_reasoning_model

if TYPE_CHECKING:
    from typed_llm._compat.settings import Settings

__all__ = ["InvalidRequestError", "chat_api_params", "dedent", "request_from_params", "validated"]

R = TypeVar("R")

_FLOATS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
"""Parameters the seed took as any number (``temperature=0``) and ``ChatRequest`` takes as floats."""

_NOT_SENT = ("timeout",)
"""Keys of the seed's parameter dict that are options of the call, not fields of the request."""


class InvalidRequestError(TypedLLMError, ValueError):
    """A parameter of a facade call is invalid; nothing was sent (the seed's ``InvalidRequestError``).

    Raised instead of pydantic's ``ValidationError`` so that ``except TypedLLMError`` catches every
    failure of the facade, as the README advises.
    """

    def __init__(self, message: str, *, problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems
        """Each invalid parameter and what was expected, in order."""


def validated(what: str, build: Callable[[], R]) -> R:
    """``build()``, with a ``ValidationError`` turned into ``InvalidRequestError`` naming each parameter."""
    try:
        return build()
    except ValidationError as exc:
        problems = tuple(
            (".".join(str(part) for part in error["loc"]) or "value", error["msg"])
            for error in exc.errors(include_url=False)
        )
        listed = "; ".join(f"{name}: {message}" for name, message in problems)
        raise InvalidRequestError(f"invalid {what}: {listed}", problems=problems) from None


def dedent(text: str) -> str:
    """The seed's dedent: common leading whitespace removed, then the text stripped."""
    return textwrap.dedent(text).strip()


def _messages(current_messages: object, *, dedent_messages: bool) -> list[dict[str, Any]]:
    if isinstance(current_messages, str | bytes) or not isinstance(current_messages, Sequence):
        raise InvalidRequestError(
            f"current_messages must be a list of message dicts, got {type(current_messages).__name__}"
        )
    copies: list[dict[str, Any]] = []
    for index, message in enumerate(current_messages):
        if not isinstance(message, Mapping):
            raise InvalidRequestError(
                f"current_messages[{index}] must be a dict, got {type(message).__name__}"
            )
        copy = dict(message)
        if dedent_messages and isinstance(copy.get("content"), str):
            copy["content"] = dedent(copy["content"])
        copies.append(copy)
    return copies


def _response_format(response_format: object) -> object:
    """The seed's ``response_format``: a pydantic model class, or a dict (``{"type": "json_object"}``)."""
    if response_format is None or isinstance(response_format, Mapping):
        return response_format
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        return response_format
    raise InvalidRequestError(
        "response_format must be a pydantic model class or a dict such as "
        f'{{"type": "json_object"}}, got {response_format!r}'
    )


def chat_api_params(
    config: Settings,
    current_messages: Sequence[Mapping[str, Any]],
    *,
    dedent_messages: bool,
    model: str | None,
    temperature: float | None,
    max_tokens: int | None,
    top_p: float | None,
    frequency_penalty: float | None,
    presence_penalty: float | None,
    stop: str | Sequence[str] | None,
    timeout: float | None,
    n: int,
    response_format: object,
) -> dict[str, Any]:
    """The seed's parameter dict: unset values from the settings, None values left out.

    The caller's messages are copied, never changed (the seed dedented them in place). For a
    reasoning model the settings' ``reasoning_effort`` is added, as the seed did.
    """
    chosen: object = model or config.model  # what callers without a type checker pass may be anything
    params: dict[str, Any] = {
        "model": chosen,
        "messages": _messages(current_messages, dedent_messages=dedent_messages),
        "temperature": config.temperature if temperature is None else temperature,
        "max_tokens": max_tokens or config.max_tokens,
        "top_p": config.top_p if top_p is None else top_p,
        "frequency_penalty": config.frequency_penalty if frequency_penalty is None else frequency_penalty,
        "presence_penalty": config.presence_penalty if presence_penalty is None else presence_penalty,
        "stop": ([stop] if isinstance(stop, str) else list(stop)) if stop else None,
        "timeout": timeout,
        "n": n,
        "response_format": _response_format(response_format),
    }
    if isinstance(chosen, str) and is_reasoning_model(chosen) and config.reasoning_effort is not None:
        params["reasoning_effort"] = config.reasoning_effort
    return {key: value for key, value in params.items() if value is not None}


def request_from_params(chat_api_params: Mapping[str, Any]) -> tuple[ChatRequest, type[BaseModel] | None]:
    """The typed request the seed's parameter dict describes, and the output model if one was asked.

    Raises:
        InvalidRequestError: a parameter is not valid (each one named), before anything is sent.
    """
    fields = {key: value for key, value in chat_api_params.items() if key not in _NOT_SENT}
    output_type: type[BaseModel] | None = None
    response_format = fields.get("response_format")
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        output_type = fields.pop("response_format")
    for name in _FLOATS:
        value = fields.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            fields[name] = float(value)
    return validated("send_message parameters", lambda: ChatRequest.model_validate(fields)), output_type
