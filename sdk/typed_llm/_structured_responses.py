"""Structured outputs on the Responses API: a pydantic type's strict schema as ``text.format``, and back.

The schema is ``_structured.strict_schema``'s, so a type behaves the same on both APIs; the answer
is read back with the same errors as chat's ``parse``: a refusal is a ``RefusalError``, an answer the
token limit cut off an ``OutputTruncatedError``, text that does not validate an
``OutputValidationError`` (raw text and pydantic's errors kept).
"""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from typed_llm._cost import carry_price_tag
from typed_llm._errors import OutputTruncatedError, OutputValidationError, RefusalError, TypedLLMError
from typed_llm._models.responses_api import (
    OutputMessage,
    OutputRefusal,
    OutputText,
    ParsedResponse,
    Response,
)
from typed_llm._models.responses_request import (
    FormatJSONSchema,
    ResponsesRequest,
    TextConfig,
)
from typed_llm._structured import strict_schema

__all__ = ["parse_response_output", "structured_responses_request"]

T = TypeVar("T", bound=BaseModel)
_NAME = re.compile(r"[^A-Za-z0-9_-]")


def structured_responses_request(request: ResponsesRequest, output_type: type[BaseModel]) -> ResponsesRequest:
    """``request`` asking for output in ``output_type``'s strict JSON schema (``text.format``).

    Raises:
        StrictSchemaError: the type cannot be expressed in strict mode (nothing is sent).
    """
    format_ = FormatJSONSchema(
        name=_NAME.sub("_", output_type.__name__)[:64],
        schema_=strict_schema(output_type),
        description=(output_type.__doc__ or "").strip() or None,
        strict=True,
    )
    verbosity = request.text.verbosity if request.text is not None else None
    return request.model_copy(update={"text": TextConfig(format=format_, verbosity=verbosity)})


def parse_response_output(response: Response, output_type: type[T]) -> ParsedResponse[T]:
    """``response``'s output text, validated into ``output_type``.

    Raises:
        RefusalError: the model refused (its text is on the error).
        OutputTruncatedError: the answer is ``incomplete`` (the token limit cut the JSON off).
        OutputValidationError: the text is not valid JSON of the type.
        NoTextError: the answer has no text at all (it only called tools).
    """
    try:
        return _parsed_output(response, output_type)
    except TypedLLMError as error:  # the call succeeded: the error tells how it went, as the answer would
        error.attempts = response.attempts
        raise


def _parsed_output(response: Response, output_type: type[T]) -> ParsedResponse[T]:
    for item in response.output:
        if isinstance(item, OutputMessage):
            for part in item.content:
                if isinstance(part, OutputRefusal):
                    raise RefusalError(part.refusal, response=response)
    if response.status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        texts = [
            part.text
            for item in response.output
            if isinstance(item, OutputMessage)
            for part in item.content
            if isinstance(part, OutputText)
        ]
        raise OutputTruncatedError(
            f"the response is incomplete ({reason or 'no reason given'}) before "
            f"{output_type.__name__} was complete",
            raw_text="".join(texts),
        )
    text = response.output_text
    try:
        parsed = output_type.model_validate_json(text)
    except ValidationError as exc:
        raise OutputValidationError(
            f"the output is not a valid {output_type.__name__}: {exc.error_count()} error(s)",
            raw_text=text,
            errors=tuple(exc.errors(include_url=False)),
        ) from exc
    fields = {name: getattr(response, name) for name in type(response).model_fields}
    result = ParsedResponse[output_type].model_construct(  # type: ignore[valid-type]  # a runtime parametrization
        **fields, **(response.model_extra or {}), parsed=parsed
    )
    carry_price_tag(response, result)
    return result
