"""Structured outputs and typed tools: pydantic models in, strict JSON schemas out, typed values back.

``strict_schema`` turns a pydantic model into a JSON schema that meets OpenAI's strict mode: every
property required, ``additionalProperties: false`` on every object, only keywords strict mode
supports. A model that cannot be expressed that way (a free-form dict, a string length bound...)
fails here, before anything is sent, with ``StrictSchemaError`` naming the place.

``parse_completion`` reads a completion back into the requested type: a refusal raises
``RefusalError``, text cut off by the token limit ``OutputTruncatedError``, text that does not
validate ``OutputValidationError`` with the raw text and pydantic's errors.

``TypedTool`` declares a function tool from a pydantic model and parses the arguments of the model's
calls back into that model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from typed_llm._cost import carry_price_tag
from typed_llm._errors import (
    OutputTruncatedError,
    OutputValidationError,
    RefusalError,
    StrictSchemaError,
    TypedLLMError,
)
from typed_llm._models.messages import CustomToolCall, ToolCall
from typed_llm._models.requests import (
    ChatRequest,
    FunctionDefinition,
    FunctionTool,
    JSONSchemaFormat,
    ResponseFormatJSONSchema,
)
from typed_llm._models.responses import ChatResponse, ParsedChatResponse

__all__ = [
    "AsyncParseFromComplete",
    "ParseFromComplete",
    "StrictSchemaError",
    "TypedTool",
    "parse_completion",
    "strict_schema",
    "structured_request",
]

T = TypeVar("T", bound=BaseModel)

_SUPPORTED: Final = frozenset(
    {
        # structure
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "description",
        # constraints strict mode accepts (OpenAI structured outputs guide, 2025)
        "pattern",
        "format",
        "multipleOf",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
    }
)
_DROPPED: Final = frozenset({"title", "default", "examples"})
"""Annotations pydantic writes that strict mode does not take and that change no constraint."""


def _strict(node: object, path: str) -> object:
    if isinstance(node, list):
        return [_strict(item, f"{path}[{index}]") for index, item in enumerate(node)]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, object] = {}
    for key, value in node.items():
        if key in _DROPPED or key == "discriminator":
            continue
        if key == "oneOf":  # a discriminated union is an anyOf in strict mode
            out["anyOf"] = _strict(value, f"{path}.anyOf")
        elif key not in _SUPPORTED:
            raise StrictSchemaError(f"strict mode does not support the keyword {key!r}", path=path)
        elif key in {"properties", "$defs"}:
            out[key] = {name: _strict(sub, f"{path}.{key}.{name}") for name, sub in value.items()}
        elif key == "additionalProperties" and value is not False:
            raise StrictSchemaError(
                "strict mode needs every object closed: a free-form mapping (dict[str, X]) cannot be "
                "expressed",
                path=path,
            )
        else:
            out[key] = _strict(value, f"{path}.{key}")
    return _closed(out)


def _closed(schema: dict[str, object]) -> dict[str, object]:
    # Strict mode: an object lists every property as required and allows no other.
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties")
        schema["required"] = list(properties) if isinstance(properties, Mapping) else []
        schema.setdefault("properties", {})
        schema["additionalProperties"] = False
    return schema


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict-mode JSON schema of ``model`` (every property required, every object closed).

    Raises:
        StrictSchemaError: the model uses something strict mode cannot express.
    """
    schema = _strict(model.model_json_schema(), "$")
    if not isinstance(schema, dict):  # pydantic's schema of a model is always an object
        raise StrictSchemaError("the schema is not a JSON object", path="$")
    return schema


_NAME = re.compile(r"[^A-Za-z0-9_-]")


def structured_request(request: ChatRequest, output_type: type[BaseModel]) -> ChatRequest:
    """``request`` asking for output in ``output_type``'s strict JSON schema."""
    format_ = ResponseFormatJSONSchema(
        json_schema=JSONSchemaFormat(
            name=_NAME.sub("_", output_type.__name__)[:64],
            description=(output_type.__doc__ or "").strip() or None,
            schema_=strict_schema(output_type),
            strict=True,
        )
    )
    return request.model_copy(update={"response_format": format_})


def parse_completion(response: ChatResponse, output_type: type[T]) -> ParsedChatResponse[T]:
    """The first choice of ``response``, validated into ``output_type``.

    Raises:
        ContentFilterError: Azure's filter stopped the completion.
        RefusalError: the model refused (its text is on the error).
        OutputTruncatedError: the token limit cut the JSON off (finish_reason ``length``).
        OutputValidationError: the text is not valid JSON of the type (raw text and errors kept).
    """
    try:
        return _parsed_completion(response, output_type)
    except TypedLLMError as error:  # the call succeeded: the error tells how it went, as the answer would
        error.attempts = response.attempts
        raise


def _parsed_completion(response: ChatResponse, output_type: type[T]) -> ParsedChatResponse[T]:
    choice = response.choices[0]
    if choice.message.refusal is not None:
        raise RefusalError(choice.message.refusal, response=response)
    text = response.text  # raises ContentFilterError / NoTextError with the response attached
    if choice.finish_reason == "length":
        raise OutputTruncatedError(
            f"the output was cut off at the token limit before {output_type.__name__} was complete",
            raw_text=text,
            response=response,
        )
    try:
        parsed = output_type.model_validate_json(text)
    except ValidationError as exc:
        raise OutputValidationError(
            f"the output is not a valid {output_type.__name__}: {exc.error_count()} error(s)",
            raw_text=text,
            errors=tuple(exc.errors(include_url=False)),
            response=response,
        ) from exc
    fields = {name: getattr(response, name) for name in type(response).model_fields}
    result = ParsedChatResponse[output_type].model_construct(**fields, parsed=parsed)  # type: ignore[valid-type]  # a runtime parametrization
    carry_price_tag(response, result)
    return result


class TypedTool(Generic[T]):
    """A function tool declared by a pydantic model, whose calls parse back into that model.

    ``TypedTool(GetWeather, description="...")``: the tool's name is the model's (or ``name``), its
    parameters the model's strict schema. ``tool.parse(call)`` gives a ``GetWeather``.
    """

    def __init__(
        self, arguments: type[T], *, name: str | None = None, description: str | None = None
    ) -> None:
        self.arguments = arguments
        self.name = name or _NAME.sub("_", arguments.__name__)[:64]
        self.definition = FunctionTool(
            function=FunctionDefinition(
                name=self.name,
                description=description or (arguments.__doc__ or "").strip() or None,
                parameters=strict_schema(arguments),
                strict=True,
            )
        )

    def parse(self, call: ToolCall | CustomToolCall) -> T:
        """The call's arguments as the model.

        Raises:
            ValueError: the call is for another tool (or is a custom tool call, which has no JSON arguments).
            OutputValidationError: the arguments are not valid JSON of the model.
        """
        if not isinstance(call, ToolCall):
            # ValueError, as for a call of another function: the caller picked the wrong call, not type.
            raise ValueError(  # noqa: TRY004
                f"the call is for custom tool {call.custom.name!r}, not function {self.name!r}"
            )
        if call.function.name != self.name:
            raise ValueError(f"the call is for {call.function.name!r}, not {self.name!r}")
        try:
            return self.arguments.model_validate_json(call.function.arguments)
        except ValidationError as exc:
            raise OutputValidationError(
                f"the arguments of {self.name} are not a valid {self.arguments.__name__}",
                raw_text=call.function.arguments,
                errors=tuple(exc.errors(include_url=False)),
            ) from exc


class _Completes(Protocol):
    def complete(self, request: ChatRequest) -> ChatResponse: ...


class _CompletesAsync(Protocol):
    async def complete(self, request: ChatRequest) -> ChatResponse: ...


class ParseFromComplete:
    """``parse`` for any class with ``complete``: ask for the schema, then validate the answer.

    Every client and layer gets ``parse`` this one way, so a structured call is cached, retried
    and logged exactly as a plain one (it is one).
    """

    def parse(self: _Completes, request: ChatRequest, output_type: type[T]) -> ParsedChatResponse[T]:
        """Complete ``request`` with ``output_type``'s strict schema; return the answer validated into it.

        Raises:
            StrictSchemaError: ``output_type`` cannot be expressed in strict mode (nothing is sent).
            RefusalError, OutputTruncatedError, OutputValidationError, ContentFilterError: see
                ``parse_completion``; and every error ``complete`` raises.
        """
        return parse_completion(self.complete(structured_request(request, output_type)), output_type)


class AsyncParseFromComplete:
    """The async twin of ``ParseFromComplete``."""

    async def parse(
        self: _CompletesAsync, request: ChatRequest, output_type: type[T]
    ) -> ParsedChatResponse[T]:
        """Complete ``request`` with ``output_type``'s strict schema; return the answer validated into it."""
        return parse_completion(await self.complete(structured_request(request, output_type)), output_type)
