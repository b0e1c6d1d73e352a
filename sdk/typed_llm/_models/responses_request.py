"""The Responses API request (``POST /v1/responses``): its input items, tools and settings.

``ResponsesRequest`` is frozen and validated before anything is sent; its field names are the
wire's, so ``ResponsesRequest.model_validate(body)`` takes a recorded request body. An output item of
an earlier answer is an input item as it is (``next_turn`` sends a conversation back, whole when
``store=False``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
)

from typed_llm._errors import ConfigurationError
from typed_llm._json import CheckedJSONObject, Text
from typed_llm._models.messages import _Frozen
from typed_llm._models.request_base import _Request
from typed_llm._models.responses_api import (
    OUTPUT_TAGS,
    OutputMessage,
    ReasoningItem,
    Response,
    ResponseCustomToolCall,
    ResponseFunctionCall,
    UnknownOutputItem,
    WebSearchCall,
    type_of,
)

if TYPE_CHECKING:
    from typing import Unpack

    from typed_llm._models.changes import ResponsesRequestChanges
    from typed_llm._structured import TypedTool

__all__ = [
    "FormatJSONObject",
    "FormatJSONSchema",
    "FormatText",
    "FunctionCallOutput",
    "HostedTool",
    "HostedToolChoice",
    "InputContent",
    "InputFilePart",
    "InputImage",
    "InputItem",
    "InputMessage",
    "InputText",
    "NamedFunctionChoice",
    "PromptReference",
    "ReasoningConfig",
    "ResponseFunctionTool",
    "ResponsesRequest",
    "ResponsesTool",
    "TextConfig",
]

M = TypeVar("M", bound=BaseModel)

_ENCRYPTED: Literal["reasoning.encrypted_content"] = "reasoning.encrypted_content"


# --- input: what a request sends -------------------------------------------------------------------


class InputText(_Frozen):
    """Text in a message."""

    type: Literal["input_text"] = "input_text"
    text: Text


class InputImage(_Frozen):
    """An image in a message: a URL (``data:`` URLs too) or an uploaded file's id."""

    type: Literal["input_image"] = "input_image"
    image_url: Text | None = None
    file_id: Text | None = None
    detail: Literal["auto", "low", "high"] = "auto"


class InputFilePart(_Frozen):
    """A file in a message: uploaded (``file_id``), inline (``file_data``) or at ``file_url``."""

    type: Literal["input_file"] = "input_file"
    file_id: Text | None = None
    file_data: Text | None = None
    file_url: Text | None = None
    filename: Text | None = None


InputContent = Annotated[InputText | InputImage | InputFilePart, Field(discriminator="type")]


class InputMessage(_Frozen):
    """A message of the conversation (``user``, ``system``, ``developer``, or an earlier ``assistant``)."""

    type: Literal["message"] | None = None
    role: Literal["user", "system", "developer", "assistant"]
    content: Text | Annotated[tuple[InputContent, ...], Field(min_length=1)]


class FunctionCallOutput(_Frozen):
    """What a function call returned, answering the call with the same ``call_id``."""

    type: Literal["function_call_output"] = "function_call_output"
    call_id: StrictStr = Field(min_length=1)
    output: Text


def _input_tag(value: object) -> str:
    kind = type_of(value)
    if kind is None:
        return "input_message"
    if kind == "message":
        # An assistant message sent back as the API gave it has an id; one written by hand does not.
        has_id = value.get("id") if isinstance(value, Mapping) else getattr(value, "id", None)
        return "message" if has_id else "input_message"
    return kind if kind in OUTPUT_TAGS or kind == "function_call_output" else "unknown"


InputItem = Annotated[
    Annotated[InputMessage, Tag("input_message")]
    | Annotated[FunctionCallOutput, Tag("function_call_output")]
    | Annotated[OutputMessage, Tag("message")]
    | Annotated[ResponseFunctionCall, Tag("function_call")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[WebSearchCall, Tag("web_search_call")]
    | Annotated[ResponseCustomToolCall, Tag("custom_tool_call")]
    | Annotated[UnknownOutputItem, Tag("unknown")],
    Discriminator(_input_tag),
]
"""A message, a function call's output, or an output item of an earlier answer sent back."""


class ResponseFunctionTool(_Frozen):
    """A function tool, as the Responses API takes it (flat: no ``function`` wrapper)."""

    type: Literal["function"] = "function"
    name: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: Text | None = None
    parameters: CheckedJSONObject | None = None
    strict: StrictBool | None = None

    @classmethod
    def of(cls, tool: TypedTool[M]) -> ResponseFunctionTool:
        """The tool a ``TypedTool`` declares (its strict schema)."""
        function = tool.definition.function
        return cls(
            name=function.name,
            description=function.description,
            parameters=function.parameters,
            strict=function.strict,
        )


class HostedTool(_Frozen):
    """A built-in or custom tool (``web_search``, ``file_search``, ``custom``...), its settings as sent."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: StrictStr = Field(min_length=1)


def _tool_tag(value: object) -> str:
    return "function" if type_of(value) == "function" else "hosted"


ResponsesTool = Annotated[
    Annotated[ResponseFunctionTool, Tag("function")] | Annotated[HostedTool, Tag("hosted")],
    Discriminator(_tool_tag),
]


class NamedFunctionChoice(_Frozen):
    """Force a call of this function (or custom tool)."""

    type: Literal["function", "custom"] = "function"
    name: StrictStr = Field(min_length=1)


class HostedToolChoice(_Frozen):
    """Force a built-in tool (``{"type": "web_search"}``) or a tool set (``allowed_tools``)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: StrictStr = Field(min_length=1)


class FormatText(_Frozen):
    type: Literal["text"] = "text"


class FormatJSONObject(_Frozen):
    type: Literal["json_object"] = "json_object"


class FormatJSONSchema(_Frozen):
    """Structured output: text following ``schema`` (``client.parse`` sends one, strict)."""

    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True, validate_by_name=True)

    type: Literal["json_schema"] = "json_schema"
    name: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    schema_: CheckedJSONObject = Field(alias="schema")
    description: Text | None = None
    strict: StrictBool | None = None


class TextConfig(_Frozen):
    """The output text's format and verbosity."""

    format: (
        Annotated[FormatText | FormatJSONObject | FormatJSONSchema, Field(discriminator="type")] | None
    ) = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(_Frozen):
    """How much a reasoning model thinks, and whether it summarises its reasoning."""

    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


class PromptReference(_Frozen):
    """A stored prompt template and its variables."""

    id: StrictStr = Field(min_length=1)
    version: Text | None = None
    variables: Mapping[Text, Text] | None = None


_Metadata = Annotated[
    Mapping[Annotated[Text, Field(max_length=64)], Annotated[Text, Field(max_length=512)]],
    Field(max_length=16),
    AfterValidator(MappingProxyType),
    PlainSerializer(dict),
]


class ResponsesRequest(_Request):
    """A Responses API request; fields left ``None`` are not sent (the API's defaults apply).

    ``stream`` is the verb's business (``respond`` or ``stream``), whatever this field says.
    """

    model: StrictStr = Field(min_length=1)
    input: Annotated[Text, Field(min_length=1)] | Annotated[tuple[InputItem, ...], Field(min_length=1)]
    instructions: Text | None = None
    tools: Annotated[tuple[ResponsesTool, ...], Field(max_length=128)] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedFunctionChoice | HostedToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    max_tool_calls: StrictInt | None = Field(default=None, gt=0)
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    max_output_tokens: StrictInt | None = Field(default=None, gt=0)
    temperature: StrictFloat | None = Field(default=None, ge=0.0, le=2.0)
    top_p: StrictFloat | None = Field(default=None, ge=0.0, le=1.0)
    top_logprobs: StrictInt | None = Field(default=None, ge=0, le=20)
    store: StrictBool | None = None
    previous_response_id: StrictStr | None = Field(default=None, min_length=1)
    conversation: StrictStr | None = Field(default=None, min_length=1)
    include: tuple[Text, ...] | None = None
    metadata: _Metadata | None = None
    truncation: Literal["auto", "disabled"] | None = None
    service_tier: Literal["auto", "default", "flex", "priority", "scale"] | None = None
    safety_identifier: Text | None = Field(default=None, max_length=64)
    prompt_cache_key: Text | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    prompt: PromptReference | None = None
    background: StrictBool | None = None
    user: Text | None = None
    stream: StrictBool | None = None
    """Ignored: ``client.stream`` streams, ``client.respond`` does not (``stream=True`` given to the
    constructor fails with a ``stream_is_the_verb`` error saying so; a recorded body validates)."""

    def replace(self, **changes: Unpack[ResponsesRequestChanges]) -> ResponsesRequest:
        """A copy with ``changes``, validated as the constructor validates (``model_copy`` is not).

        Raises:
            pydantic.ValidationError: a changed value is out of range or of the wrong type, or a
                name is not a field; ``stream=True`` (call ``client.stream(request)``).
        """
        return self._replaced(changes)

    def next_turn(self, response: Response, *new_items: InputItem | str) -> ResponsesRequest:
        """The request of the next turn: this input, ``response``'s output, then ``new_items``.

        A string is a user message. With ``store=False`` the server keeps nothing, so every item
        goes back whole: reasoning items with their ``encrypted_content`` (and
        ``include=["reasoning.encrypted_content"]`` is added, so the next answer's have it too).
        With ``store`` left on and a ``previous_response_id`` given, use that instead.

        Raises:
            ConfigurationError: ``store=False`` and a reasoning item has no ``encrypted_content``
                (sending it would fail with "Item 'rs_...' not found"): ask for
                ``include=["reasoning.encrypted_content"]`` on the first request.
        """
        earlier: tuple[InputItem, ...] = (
            (InputMessage(role="user", content=self.input),) if isinstance(self.input, str) else self.input
        )
        update: dict[str, object] = {}
        if self.store is False:
            for item in response.reasoning:
                if item.encrypted_content is None:
                    raise ConfigurationError(
                        f"reasoning item {item.id!r} has no encrypted_content, and with store=False the "
                        f"server cannot find it by id: ask for include=[{_ENCRYPTED!r}] on the first request"
                    )
            if _ENCRYPTED not in (self.include or ()):
                update["include"] = (*(self.include or ()), _ENCRYPTED)
        added = tuple(
            InputMessage(role="user", content=item) if isinstance(item, str) else item for item in new_items
        )
        update["input"] = (*earlier, *response.output, *added)
        return self.model_copy(update=update)
