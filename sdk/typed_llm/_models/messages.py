"""Chat messages: the typed form of the Chat Completions ``messages`` array.

Every message is a frozen pydantic model tagged by ``role``; ``Message`` is their union, discriminated
on that tag, so ``TypeAdapter(Message).validate_python({"role": "user", "content": "hi"})`` picks
``UserMessage`` and a wrong role is refused with an error that names it. Content given as a list on the
wire becomes a tuple here, so a message can never change after it is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictStr,
    Tag,
    ValidationError,
    model_validator,
)

from typed_llm._json import CheckedJSONObject, Text, readable

if TYPE_CHECKING:
    from pydantic.config import ExtraValues

__all__ = [
    "AnyToolCall",
    "AssistantAudio",
    "AssistantMessage",
    "AudioPart",
    "CacheBreakpoint",
    "ContentPart",
    "CustomCall",
    "CustomToolCall",
    "DeveloperMessage",
    "FilePart",
    "FunctionCall",
    "ImagePart",
    "ImageURL",
    "InputAudio",
    "InputFile",
    "Message",
    "RefusalPart",
    "SystemMessage",
    "TextPart",
    "ToolCall",
    "ToolMessage",
    "UserMessage",
]


class _Frozen(BaseModel):
    """Base of every request-side model: immutable, and unknown keys are refused, not dropped.

    Every text it holds must be encodable as UTF-8 (no lone surrogate), so a request that validates
    can always be sent, cached and logged: its strings are ``Text`` (checked by pydantic's core as
    they validate) and its free-form JSON ``CheckedJSONObject``. Built or validated here, a refused
    text is a ``ValidationError`` saying where and at which position (``readable``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    if not TYPE_CHECKING:  # hidden from mypy, so pydantic's plugin still types the constructor

        def __init__(self, /, **data: object) -> None:
            # BaseModel.__init__'s one line, with the surrogate errors said readably.
            try:
                self.__pydantic_validator__.validate_python(data, self_instance=self)
            except ValidationError as exc:
                raise readable(exc) from None

        # pydantic's mark: validation need not call this __init__ (a nested dict is validated whole).
        __init__.__pydantic_base_init__ = True

    @classmethod
    def model_validate(
        cls,
        obj: object,
        *,
        strict: bool | None = None,
        extra: ExtraValues | None = None,
        from_attributes: bool | None = None,
        context: object | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """``BaseModel.model_validate``, with the surrogate errors said readably."""
        try:
            return super().model_validate(
                obj,
                strict=strict,
                extra=extra,
                from_attributes=from_attributes,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except ValidationError as exc:
            raise readable(exc) from None

    @classmethod
    def model_validate_json(
        cls,
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: ExtraValues | None = None,
        context: object | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """``BaseModel.model_validate_json``, with the surrogate errors said readably."""
        try:
            return super().model_validate_json(
                json_data, strict=strict, extra=extra, context=context, by_alias=by_alias, by_name=by_name
            )
        except ValidationError as exc:
            raise readable(exc) from None


class CacheBreakpoint(_Frozen):
    """An explicit prompt-cache breakpoint after a content part (gpt-5.6 and later)."""

    mode: Literal["explicit"] = "explicit"
    ttl: Literal["30m", "12h"] | None = None
    """The least time the cached prefix is kept."""


class TextPart(_Frozen):
    """A text content part."""

    type: Literal["text"] = "text"
    text: Text
    """The text."""
    prompt_cache_breakpoint: CacheBreakpoint | None = None
    """Cache the prompt up to and including this part."""


class ImageURL(_Frozen):
    """Where an image is, and how closely the model should look at it."""

    url: StrictStr = Field(min_length=1)
    """An https URL or a ``data:`` URL with base64 image bytes."""
    detail: Literal["auto", "low", "high", "original"] | None = None
    """Resolution the model uses; the API's default is ``auto``."""


class ImagePart(_Frozen):
    """An image content part (user messages only)."""

    type: Literal["image_url"] = "image_url"
    image_url: ImageURL
    """The image."""
    prompt_cache_breakpoint: CacheBreakpoint | None = None
    """Cache the prompt up to and including this part."""


class InputAudio(_Frozen):
    """Audio the user sends, base64 encoded."""

    data: StrictStr = Field(min_length=1)
    """Base64 audio bytes."""
    format: Literal["wav", "mp3"]
    """The audio's encoding."""


class AudioPart(_Frozen):
    """An audio content part (user messages only, audio-capable models)."""

    type: Literal["input_audio"] = "input_audio"
    input_audio: InputAudio
    """The audio."""
    prompt_cache_breakpoint: CacheBreakpoint | None = None
    """Cache the prompt up to and including this part."""


class InputFile(_Frozen):
    """A file the user sends: its bytes (``file_data``, a data URL) or the id of an uploaded file."""

    file_data: Text | None = None
    """Base64 file bytes (as a ``data:`` URL)."""
    file_id: Text | None = None
    """Id of a file uploaded to the Files API."""
    filename: Text | None = None
    """The file's name, used with ``file_data``."""

    @model_validator(mode="after")
    def _names_a_file(self) -> InputFile:
        if self.file_data is None and self.file_id is None:
            raise ValueError("a file part needs file_data or file_id")
        return self


class FilePart(_Frozen):
    """A file content part (PDFs and the like, user messages only)."""

    type: Literal["file"] = "file"
    file: InputFile
    """The file."""
    prompt_cache_breakpoint: CacheBreakpoint | None = None
    """Cache the prompt up to and including this part."""


class RefusalPart(_Frozen):
    """A refusal content part (assistant messages only)."""

    type: Literal["refusal"] = "refusal"
    refusal: Text
    """The refusal text the model produced."""


ContentPart = Annotated[TextPart | ImagePart | AudioPart | FilePart, Field(discriminator="type")]
"""A part of a user message's content."""

_AssistantPart = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


class FunctionCall(_Frozen):
    """The function a tool call invokes, with its arguments as the model wrote them (a JSON string)."""

    name: Text
    """Name of the function."""
    arguments: Text
    """Arguments as JSON text. The model may write invalid JSON; parse it, do not trust it."""


class ToolCall(_Frozen):
    """A function tool call made by the assistant."""

    id: Text
    """The call's id, which the answering ``ToolMessage`` repeats in ``tool_call_id``."""
    type: Literal["function"] = "function"
    function: FunctionCall
    """The function called."""


class CustomCall(_Frozen):
    """The custom tool a call invokes, with the free-form input the model wrote for it."""

    name: Text
    """Name of the custom tool."""
    input: Text
    """The input, as the model wrote it (plain text, or text of the tool's grammar)."""


class CustomToolCall(_Frozen):
    """A call of a custom tool (gpt-5 family): free-form input instead of JSON arguments."""

    id: Text
    """The call's id, which the answering ``ToolMessage`` repeats in ``tool_call_id``."""
    type: Literal["custom"] = "custom"
    custom: CustomCall
    """The custom tool called, and its input."""


def _tool_call_kind(value: object) -> str:
    # "function" when absent: older bodies and hand-written dicts leave the type out.
    if isinstance(value, Mapping):
        return str(value.get("type", "function"))
    return str(getattr(value, "type", "function"))


AnyToolCall = Annotated[
    Annotated[ToolCall, Tag("function")] | Annotated[CustomToolCall, Tag("custom")],
    Discriminator(_tool_call_kind),
]
"""A function or a custom tool call, discriminated by ``type`` (``function`` when absent)."""


class SystemMessage(_Frozen):
    """Instructions from the application (``developer`` replaces it for reasoning models)."""

    role: Literal["system"] = "system"
    content: Text | tuple[TextPart, ...]
    """The instructions."""
    name: Text | None = None
    """Optional participant name."""


class DeveloperMessage(_Frozen):
    """Instructions from the developer, for models that take them (o1 and later)."""

    role: Literal["developer"] = "developer"
    content: Text | tuple[TextPart, ...]
    """The instructions."""
    name: Text | None = None
    """Optional participant name."""


class UserMessage(_Frozen):
    """A message from the user: text, or content parts (text and images)."""

    role: Literal["user"] = "user"
    content: Text | Annotated[tuple[ContentPart, ...], Field(min_length=1)]
    """Text, or a non-empty tuple of content parts."""
    name: Text | None = None
    """Optional participant name."""


class AssistantAudio(_Frozen):
    """A reference to audio the assistant produced earlier."""

    id: StrictStr = Field(min_length=1)
    """The id of the answer's audio."""


class AssistantMessage(_Frozen):
    """A message the assistant sent earlier in the conversation (content, refusal or tool calls)."""

    role: Literal["assistant"] = "assistant"
    content: Text | tuple[_AssistantPart, ...] | None = None
    """What the assistant said; may be absent when it only called tools."""
    refusal: Text | None = None
    """The assistant's refusal, if it refused."""
    tool_calls: Annotated[tuple[AnyToolCall, ...], Field(min_length=1)] | None = None
    """Tool calls the assistant made; each must be answered by a ``ToolMessage``."""
    name: Text | None = None
    """Optional participant name."""
    audio: AssistantAudio | None = None
    """Audio the assistant spoke earlier, by id (the answer's ``message.audio.id``)."""
    annotations: tuple[CheckedJSONObject, ...] | None = None
    """The answer's annotations (``url_citation``...), as a response message sent back carries them."""
    function_call: FunctionCall | None = None
    """Deprecated: the legacy single function call (``tool_calls`` replaced it)."""

    @model_validator(mode="after")
    def _says_something(self) -> AssistantMessage:
        said = (self.content, self.tool_calls, self.refusal, self.audio, self.function_call)
        if all(part is None for part in said):
            raise ValueError("an assistant message needs content, refusal or tool_calls (or audio)")
        return self


class ToolMessage(_Frozen):
    """The result of a tool call, sent back to the model."""

    role: Literal["tool"] = "tool"
    content: Text | tuple[TextPart, ...]
    """The tool's output."""
    tool_call_id: StrictStr = Field(min_length=1)
    """The ``id`` of the ``ToolCall`` this answers."""


Message = Annotated[
    SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage,
    Field(discriminator="role"),
]
"""Any chat message, discriminated by ``role``."""
