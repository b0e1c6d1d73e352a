"""Request models: what a user asks of the API, validated before anything is sent.

``ChatRequest`` and ``EmbeddingRequest`` are frozen pydantic models whose field names are the wire
names of the Chat Completions and Embeddings APIs, so ``ChatRequest.model_validate(body)`` accepts a
request body and ``wire_body(request)`` (``model_dump`` without unset fields) gives it back. Every range
the API enforces is enforced here too, so a bad value fails with ``pydantic.ValidationError`` naming
the field, on this machine, before a request is made. Unknown keys are refused, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from typed_llm._json import CheckedJSONObject, Text
from typed_llm._models.messages import Message, TextPart, _Frozen
from typed_llm._models.request_base import _Request

if TYPE_CHECKING:
    from typing import Unpack

    from typed_llm._models.changes import ChatRequestChanges, EmbeddingRequestChanges

__all__ = [
    "AllowedTools",
    "AllowedToolsChoice",
    "ApproximateLocation",
    "AudioOutput",
    "AudioVoice",
    "ChatRequest",
    "CustomTool",
    "CustomToolDefinition",
    "CustomToolFormat",
    "CustomToolGrammar",
    "CustomToolGrammarFormat",
    "CustomToolTextFormat",
    "EmbeddingRequest",
    "FunctionDefinition",
    "FunctionTool",
    "JSONSchemaFormat",
    "LegacyFunction",
    "Moderation",
    "ModerationMode",
    "ModerationPolicy",
    "NamedCustomToolChoice",
    "NamedToolChoice",
    "PredictedOutput",
    "PromptCacheOptions",
    "ReasoningEffort",
    "ResponseFormat",
    "ResponseFormatJSONObject",
    "ResponseFormatJSONSchema",
    "ResponseFormatText",
    "StreamOptions",
    "Tool",
    "ToolChoice",
    "UserLocation",
    "WebSearchOptions",
]


class ResponseFormatText(_Frozen):
    """Plain text output (the API's default)."""

    type: Literal["text"] = "text"


class ResponseFormatJSONObject(_Frozen):
    """JSON mode: the output is a JSON object, with no schema enforced."""

    type: Literal["json_object"] = "json_object"


class JSONSchemaFormat(_Frozen):
    """The schema of a ``json_schema`` response format."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", serialize_by_alias=True, validate_by_name=True, validate_by_alias=True
    )

    name: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    """Name of the schema: letters, digits, underscores and dashes, at most 64."""
    description: Text | None = None
    """What the output is for; the model reads it."""
    schema_: CheckedJSONObject | None = Field(default=None, alias="schema")
    """The JSON Schema (wire name ``schema``)."""
    strict: StrictBool | None = None
    """Whether the API enforces the schema exactly (strict mode)."""


class ResponseFormatJSONSchema(_Frozen):
    """Structured output: the output follows the given JSON Schema."""

    type: Literal["json_schema"] = "json_schema"
    json_schema: JSONSchemaFormat
    """The schema and its name."""


ResponseFormat = Annotated[
    ResponseFormatText | ResponseFormatJSONObject | ResponseFormatJSONSchema,
    Field(discriminator="type"),
]
"""The ``response_format`` of a chat request, discriminated by ``type``."""


class FunctionDefinition(_Frozen):
    """A function the model may call."""

    name: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    """Name the model calls it by."""
    description: Text | None = None
    """What it does; the model reads it to decide when to call."""
    parameters: CheckedJSONObject | None = None
    """JSON Schema of its arguments."""
    strict: StrictBool | None = None
    """Whether the arguments must follow the schema exactly."""


class FunctionTool(_Frozen):
    """A function tool."""

    type: Literal["function"] = "function"
    function: FunctionDefinition
    """The function."""


class CustomToolTextFormat(_Frozen):
    """A custom tool's input is free text."""

    type: Literal["text"] = "text"


class CustomToolGrammar(_Frozen):
    """The grammar a custom tool's input must follow."""

    syntax: Literal["lark", "regex"]
    """The grammar's language: a Lark grammar or a regular expression."""
    definition: Text
    """The grammar itself."""


class CustomToolGrammarFormat(_Frozen):
    """A custom tool's input follows a grammar."""

    type: Literal["grammar"] = "grammar"
    grammar: CustomToolGrammar
    """The grammar."""


CustomToolFormat = Annotated[CustomToolTextFormat | CustomToolGrammarFormat, Field(discriminator="type")]
"""How a custom tool's input is constrained: free text or a grammar."""


class CustomToolDefinition(_Frozen):
    """A custom tool: the model calls it with free-form input instead of JSON arguments (gpt-5 family)."""

    name: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    """Name the model calls it by."""
    description: Text | None = None
    """What it does; the model reads it to decide when to call."""
    format: CustomToolFormat | None = None
    """Free text (the API's default) or a grammar."""


class CustomTool(_Frozen):
    """A custom tool."""

    type: Literal["custom"] = "custom"
    custom: CustomToolDefinition
    """The tool."""


Tool = Annotated[FunctionTool | CustomTool, Field(discriminator="type")]
"""A tool the model may call: a function (JSON arguments) or a custom tool (free-form input)."""


class _FunctionName(_Frozen):
    name: StrictStr = Field(min_length=1)


class NamedToolChoice(_Frozen):
    """Force the model to call one named function."""

    type: Literal["function"] = "function"
    function: _FunctionName
    """The function to call (``{"name": ...}``)."""


class NamedCustomToolChoice(_Frozen):
    """Force the model to call one named custom tool."""

    type: Literal["custom"] = "custom"
    custom: _FunctionName
    """The custom tool to call (``{"name": ...}``)."""


class AllowedTools(_Frozen):
    """A subset of the declared tools the model may use this turn."""

    mode: Literal["auto", "required"]
    """``auto``: the model may call one of them; ``required``: it must."""
    tools: Annotated[tuple[CheckedJSONObject, ...], Field(min_length=1)]
    """The allowed tools, each as the API names it (``{"type": "function", "function": {"name": ...}}``)."""


class AllowedToolsChoice(_Frozen):
    """Restrict the model to some of the declared tools."""

    type: Literal["allowed_tools"] = "allowed_tools"
    allowed_tools: AllowedTools
    """Which tools, and whether one must be called."""


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[NamedToolChoice | NamedCustomToolChoice | AllowedToolsChoice, Field(discriminator="type")]
)
"""How the model chooses tools: ``none``, ``auto``, ``required``, a named function or custom tool, or a
subset of the tools (``allowed_tools``)."""

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
"""How hard a reasoning model thinks before answering."""


class AudioVoice(_Frozen):
    """A custom voice, by id."""

    id: StrictStr = Field(min_length=1)


class AudioOutput(_Frozen):
    """How the model speaks its answer (``modalities: ["text", "audio"]``)."""

    format: Literal["wav", "aac", "mp3", "flac", "opus", "pcm16"]
    """The audio encoding."""
    voice: Text | AudioVoice
    """A built-in voice (``alloy``, ``coral``, ``marin``...) or a custom voice by id."""


class PredictedOutput(_Frozen):
    """Content the answer will largely repeat (Predicted Outputs): makes regeneration faster."""

    type: Literal["content"] = "content"
    content: Text | Annotated[tuple[TextPart, ...], Field(min_length=1)]
    """The predicted text."""


class StreamOptions(_Frozen):
    """Options of a streamed answer."""

    include_usage: StrictBool | None = None
    """Send a last chunk with the usage."""
    include_obfuscation: StrictBool | None = None
    """Pad chunks with random ``obfuscation`` text against side channels."""


class ApproximateLocation(_Frozen):
    """Where the user roughly is, for web search."""

    city: Text | None = None
    country: StrictStr | None = Field(default=None, min_length=2, max_length=2)
    """Two-letter ISO country code."""
    region: Text | None = None
    timezone: Text | None = None
    """IANA time zone, such as ``Europe/Paris``."""


class UserLocation(_Frozen):
    """The user's location for web search (approximate only)."""

    type: Literal["approximate"] = "approximate"
    approximate: ApproximateLocation


class WebSearchOptions(_Frozen):
    """Web search (``gpt-4o-search-preview`` and the like)."""

    search_context_size: Literal["low", "medium", "high"] | None = None
    """How much of the context window search results may use."""
    user_location: UserLocation | None = None
    """Where the user is, to localise results."""


class ModerationMode(_Frozen):
    mode: Literal["score", "block"]
    """``score``: report only; ``block``: stop flagged content."""


class ModerationPolicy(_Frozen):
    """What moderation does with the input and the output."""

    input: ModerationMode | None = None
    output: ModerationMode | None = None


class Moderation(_Frozen):
    """Moderation of the request's input and the generated output."""

    model: StrictStr = Field(min_length=1)
    """The moderation model, such as ``omni-moderation-latest``."""
    policy: ModerationPolicy | None = None


class PromptCacheOptions(_Frozen):
    """Prompt caching (gpt-5.6 and later)."""

    mode: Literal["implicit", "explicit"] | None = None
    """``explicit``: only the breakpoints marked on content parts."""
    ttl: Literal["30m"] | None = None
    """The least time a cached prefix is kept."""


class LegacyFunction(_Frozen):
    """Deprecated ``functions`` entry (``tools`` replaced it)."""

    name: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: Text | None = None
    parameters: CheckedJSONObject | None = None


_Metadata = Annotated[
    Mapping[Annotated[Text, Field(max_length=64)], Annotated[Text, Field(max_length=512)]],
    Field(max_length=16),
    AfterValidator(MappingProxyType),
    PlainSerializer(dict),
]


class ChatRequest(_Request):
    """A Chat Completions request.

    Field names and JSON shape are the API's. Fields left as ``None`` are not sent, so the API's own
    defaults apply. Lists become tuples and ``stop`` given as one string becomes a one-item tuple.
    """

    model: StrictStr = Field(min_length=1)
    """Model name (OpenAI) or model name mapped to a deployment (Azure)."""
    messages: Annotated[tuple[Message, ...], Field(min_length=1)]
    """The conversation so far; at least one message."""
    temperature: StrictFloat | None = Field(default=None, ge=0.0, le=2.0)
    """Sampling temperature, 0 to 2."""
    top_p: StrictFloat | None = Field(default=None, ge=0.0, le=1.0)
    """Nucleus sampling mass, 0 to 1."""
    max_tokens: StrictInt | None = Field(default=None, gt=0)
    """Most tokens to generate (sent as ``max_completion_tokens`` to reasoning models)."""
    max_completion_tokens: StrictInt | None = Field(default=None, gt=0)
    """Most tokens to generate, reasoning tokens included (the newer name of ``max_tokens``)."""
    frequency_penalty: StrictFloat | None = Field(default=None, ge=-2.0, le=2.0)
    """Penalty on tokens by how often they appeared, -2 to 2."""
    presence_penalty: StrictFloat | None = Field(default=None, ge=-2.0, le=2.0)
    """Penalty on tokens that appeared at all, -2 to 2."""
    stop: Annotated[tuple[Text, ...], Field(min_length=1, max_length=4)] | None = None
    """Up to four stop sequences (one string is taken as a one-item tuple)."""
    n: StrictInt | None = Field(default=None, ge=1, le=128)
    """How many choices to generate."""
    seed: StrictInt | None = None
    """Seed for best-effort deterministic sampling."""
    response_format: ResponseFormat | None = None
    """Text, JSON mode or a JSON Schema."""
    tools: Annotated[tuple[Tool, ...], Field(min_length=1, max_length=128)] | None = None
    """Tools the model may call: functions and custom tools."""
    tool_choice: ToolChoice | None = None
    """Whether and which tool the model must call."""
    parallel_tool_calls: StrictBool | None = None
    """Whether the model may call several tools in one turn."""
    reasoning_effort: ReasoningEffort | None = None
    """Reasoning models only: how much to think."""
    verbosity: Literal["low", "medium", "high"] | None = None
    """gpt-5 family: how long the answer should be."""
    logprobs: StrictBool | None = None
    """Whether to return log probabilities of the output tokens."""
    top_logprobs: StrictInt | None = Field(default=None, ge=0, le=20)
    """How many most likely tokens to return at each position (needs ``logprobs``)."""
    logit_bias: (
        Annotated[
            Mapping[Text, Annotated[StrictInt, Field(ge=-100, le=100)]],
            AfterValidator(MappingProxyType),
            PlainSerializer(dict),
        ]
        | None
    ) = None
    """Bias per token id, -100 to 100. Stored read-only."""
    service_tier: Literal["auto", "default", "flex", "scale", "priority", "fast"] | None = None
    """Processing tier."""
    store: StrictBool | None = None
    """Whether OpenAI stores the completion."""
    user: Text | None = None
    """A stable id of the end user, for abuse monitoring."""
    stream: StrictBool | None = None
    """Accepted for wire compatibility (``model_validate`` of a recorded body); the verb decides:
    ``complete`` never streams, ``stream`` always does. ``ChatRequest(stream=True)`` fails with a
    ``stream_is_the_verb`` error saying to call ``client.stream(request)``. Not part of the cache key."""
    stream_options: StreamOptions | None = None
    """Options of a streamed answer."""
    metadata: _Metadata | None = None
    """Up to 16 string pairs stored with the completion (keys 64, values 512 characters at most)."""
    modalities: Annotated[tuple[Literal["text", "audio"], ...], Field(min_length=1)] | None = None
    """Output kinds: ``("text",)`` (the default) or ``("text", "audio")``."""
    audio: AudioOutput | None = None
    """Voice and format of audio output (with ``"audio"`` in ``modalities``)."""
    prediction: PredictedOutput | None = None
    """Predicted Output: content the answer will largely repeat."""
    web_search_options: WebSearchOptions | None = None
    """Web search settings (search models)."""
    moderation: Moderation | None = None
    """Moderation of the input and output."""
    safety_identifier: Text | None = Field(default=None, max_length=64)
    """A stable, hashed id of the end user, for abuse detection (replaces ``user``)."""
    prompt_cache_key: Text | None = None
    """Groups requests that share a prefix, for prompt-cache hits (replaces ``user``)."""
    prompt_cache_options: PromptCacheOptions | None = None
    """Prompt caching options."""
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    """Deprecated: how long cached prefixes are kept (``prompt_cache_options.ttl`` replaced it)."""
    functions: Annotated[tuple[LegacyFunction, ...], Field(min_length=1, max_length=128)] | None = None
    """Deprecated: functions the model may call (``tools`` replaced it)."""
    function_call: Literal["none", "auto"] | _FunctionName | None = None
    """Deprecated: whether and which function to call (``tool_choice`` replaced it)."""

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop_string(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    def replace(self, **changes: Unpack[ChatRequestChanges]) -> ChatRequest:
        """A copy with ``changes``, validated as the constructor validates (``model_copy`` is not).

        Raises:
            pydantic.ValidationError: a changed value is out of range or of the wrong type, or a
                name is not a field; ``stream=True`` (call ``client.stream(request)``).
        """
        return self._replaced(changes)


class EmbeddingRequest(_Request):
    """An Embeddings request: one vector per input string, in input order."""

    model: StrictStr = Field(min_length=1)
    """Embedding model name (OpenAI) or model mapped to a deployment (Azure)."""
    input: Annotated[tuple[Annotated[Text, Field(min_length=1)], ...], Field(min_length=1, max_length=2048)]
    """One or more non-empty strings (one string is taken as a one-item tuple)."""
    dimensions: StrictInt | None = Field(default=None, gt=0)
    """Length of the vectors, for models that can shorten them (text-embedding-3)."""
    user: Text | None = None
    """A stable id of the end user, for abuse monitoring."""

    @field_validator("input", mode="before")
    @classmethod
    def _one_input_string(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    def replace(self, **changes: Unpack[EmbeddingRequestChanges]) -> EmbeddingRequest:
        """A copy with ``changes``, validated as the constructor validates (``model_copy`` is not).

        Raises:
            pydantic.ValidationError: a changed value is out of range or of the wrong type, or a
                name is not a field.
        """
        return self._replaced(changes)
