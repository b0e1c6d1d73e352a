"""The keyword arguments of each request model's ``replace``, typed for mypy (``Unpack[...]``).

One ``TypedDict`` per request model, every key optional, each value the type its field takes (the
range checks are the model's, at run time). ``tests/test_request_replace.py`` checks that each
lists exactly its model's fields with the same types, so a field added to a model and not here
fails the suite instead of going untyped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

from typed_llm._models.messages import Message
from typed_llm._models.requests import (
    AudioOutput,
    LegacyFunction,
    Moderation,
    PredictedOutput,
    PromptCacheOptions,
    ReasoningEffort,
    ResponseFormat,
    StreamOptions,
    Tool,
    ToolChoice,
    WebSearchOptions,
    _FunctionName,
)
from typed_llm._models.responses_request import (
    HostedToolChoice,
    InputItem,
    NamedFunctionChoice,
    PromptReference,
    ReasoningConfig,
    ResponsesTool,
    TextConfig,
)

__all__ = ["ChatRequestChanges", "EmbeddingRequestChanges", "ResponsesRequestChanges"]


class ChatRequestChanges(TypedDict, total=False):
    """What ``ChatRequest.replace`` may change: any of its fields (see ``ChatRequest`` for each)."""

    model: str
    messages: tuple[Message, ...]
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    max_completion_tokens: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    stop: tuple[str, ...] | None
    n: int | None
    seed: int | None
    response_format: ResponseFormat | None
    tools: tuple[Tool, ...] | None
    tool_choice: ToolChoice | None
    parallel_tool_calls: bool | None
    reasoning_effort: ReasoningEffort | None
    verbosity: Literal["low", "medium", "high"] | None
    logprobs: bool | None
    top_logprobs: int | None
    logit_bias: Mapping[str, int] | None
    service_tier: Literal["auto", "default", "flex", "scale", "priority", "fast"] | None
    store: bool | None
    user: str | None
    stream: bool | None
    stream_options: StreamOptions | None
    metadata: Mapping[str, str] | None
    modalities: tuple[Literal["text", "audio"], ...] | None
    audio: AudioOutput | None
    prediction: PredictedOutput | None
    web_search_options: WebSearchOptions | None
    moderation: Moderation | None
    safety_identifier: str | None
    prompt_cache_key: str | None
    prompt_cache_options: PromptCacheOptions | None
    prompt_cache_retention: Literal["in_memory", "24h"] | None
    functions: tuple[LegacyFunction, ...] | None
    function_call: Literal["none", "auto"] | _FunctionName | None


class EmbeddingRequestChanges(TypedDict, total=False):
    """What ``EmbeddingRequest.replace`` may change."""

    model: str
    input: tuple[str, ...]
    dimensions: int | None
    user: str | None


class ResponsesRequestChanges(TypedDict, total=False):
    """What ``ResponsesRequest.replace`` may change: any of its fields."""

    model: str
    input: str | tuple[InputItem, ...]
    instructions: str | None
    tools: tuple[ResponsesTool, ...] | None
    tool_choice: Literal["auto", "none", "required"] | NamedFunctionChoice | HostedToolChoice | None
    parallel_tool_calls: bool | None
    max_tool_calls: int | None
    text: TextConfig | None
    reasoning: ReasoningConfig | None
    max_output_tokens: int | None
    temperature: float | None
    top_p: float | None
    top_logprobs: int | None
    store: bool | None
    previous_response_id: str | None
    conversation: str | None
    include: tuple[str, ...] | None
    metadata: Mapping[str, str] | None
    truncation: Literal["auto", "disabled"] | None
    service_tier: Literal["auto", "default", "flex", "priority", "scale"] | None
    safety_identifier: str | None
    prompt_cache_key: str | None
    prompt_cache_retention: Literal["in_memory", "24h"] | None
    prompt: PromptReference | None
    background: bool | None
    user: str | None
    stream: bool | None
