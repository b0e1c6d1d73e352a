"""Streamed chat completions: server-sent events parsed into typed chunks and assembled into one response.

Pure functions over the bytes of an SSE body, so a replayed stream (vcrpy keeps it as one body) and
a live one are read the same way. The assembled ``ChatResponse`` is what the non-streamed call would
have returned: text and its logprobs concatenated per choice, tool-call fragments merged, the last
finish reason, the usage of the final chunk (``stream_options.include_usage``) and Azure's filter
verdicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from pydantic import BaseModel, ConfigDict, ValidationError

from typed_llm._models.logprobs import ChoiceLogprobs
from typed_llm._models.messages import FunctionCall, ToolCall
from typed_llm._models.responses import (
    AnyFinishReason,
    ChatResponse,
    Choice,
    PromptFilterResult,
    ResponseMessage,
    Usage,
    _FilterResults,
)
from typed_llm._wire.chat import report_unknown_values
from typed_llm._wire.status import malformed, request_id_from

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from typed_llm._wire.operation import RawResponse

__all__ = [
    "ChatChunk",
    "ChunkToolCall",
    "FunctionDelta",
    "ParsedStream",
    "StreamIncompleteError",
    "assemble",
    "iter_sse_data",
    "parse_chat_stream",
]


class _Chunked(BaseModel):
    # As for whole answers: a key newer than the SDK (``obfuscation``...) is kept in ``model_extra``.
    model_config = ConfigDict(frozen=True, extra="allow")


class FunctionDelta(_Chunked):
    name: str | None = None
    arguments: str | None = None


class ChunkToolCall(_Chunked):
    """A fragment of a tool call; fragments with the same ``index`` make one call."""

    index: int
    id: str | None = None
    function: FunctionDelta | None = None


class Delta(_Chunked):
    """What one chunk adds to a choice."""

    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: tuple[ChunkToolCall, ...] | None = None


class ChunkChoice(_Chunked):
    """One choice's part of a chunk."""

    index: int
    delta: Delta = Delta()
    logprobs: ChoiceLogprobs | None = None
    """The log probabilities of this delta's tokens (``logprobs=True``)."""
    finish_reason: AnyFinishReason | None = None
    content_filter_results: _FilterResults = ()


class ChatChunk(_Chunked):
    """One ``chat.completion.chunk`` event."""

    id: str
    """The completion's id; empty in Azure's first, filter-only event."""
    created: int
    model: str
    choices: tuple[ChunkChoice, ...] = ()
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    prompt_filter_results: tuple[PromptFilterResult, ...] = ()


@attrs.frozen
class ParsedStream:
    """A parsed stream: its chunks, whether it ended with ``[DONE]``, and the assembled response."""

    chunks: tuple[ChatChunk, ...]
    done: bool
    response: ChatResponse


def iter_sse_data(content: bytes) -> Iterator[str]:
    """The ``data`` of each server-sent event in ``content``, multi-line data joined by newlines."""
    for event in content.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        lines = [line[5:].removeprefix(" ") for line in event.split("\n") if line.startswith("data:")]
        if lines:
            yield "\n".join(lines)


@attrs.define
class _Building:
    content: list[str] = attrs.field(factory=list)
    refusal: list[str] = attrs.field(factory=list)
    calls: dict[int, list[str]] = attrs.field(factory=dict)  # index -> [id, name, arguments]
    finish_reason: AnyFinishReason | None = None
    filters: _FilterResults = ()
    logprobs: list[ChoiceLogprobs] = attrs.field(factory=list)

    def add(self, choice: ChunkChoice) -> None:
        delta = choice.delta
        if choice.logprobs is not None:
            self.logprobs.append(choice.logprobs)
        if delta.content:
            self.content.append(delta.content)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        for call in delta.tool_calls or ():
            parts = self.calls.setdefault(call.index, ["", "", ""])
            parts[0] = call.id or parts[0]
            if call.function is not None:
                parts[1] += call.function.name or ""
                parts[2] += call.function.arguments or ""
        self.finish_reason = choice.finish_reason or self.finish_reason
        self.filters = choice.content_filter_results or self.filters

    def choice(self, index: int, finish_reason: AnyFinishReason | None) -> Choice:
        calls = tuple(
            ToolCall(id=parts[0], function=FunctionCall(name=parts[1], arguments=parts[2]))
            for _, parts in sorted(self.calls.items())
        )
        message = ResponseMessage(
            content="".join(self.content) if self.content else None,
            refusal="".join(self.refusal) if self.refusal else None,
            tool_calls=calls or None,
        )
        return Choice(
            index=index,
            message=message,
            finish_reason=finish_reason,
            content_filter_results=self.filters,
            logprobs=ChoiceLogprobs.concatenate(self.logprobs) if self.logprobs else None,
        )


class StreamIncompleteError(ValueError):
    """What a stream lacks to add up to a whole answer (no completion chunk, no finish reason)."""


def assemble(chunks: Sequence[ChatChunk], request_id: str | None, *, whole: bool = True) -> ChatResponse:
    """The response ``chunks`` add up to: what the non-streamed call would have returned.

    Args:
        chunks: the stream's chunks so far, in order.
        request_id: the HTTP answer's request id.
        whole: require a whole answer (every choice finished); False assembles what arrived, a
            choice that had not finished having no ``finish_reason``.

    Raises:
        StreamIncompleteError: ``whole`` and the chunks do not make a whole answer.
    """
    named = [chunk for chunk in chunks if chunk.id]
    if not named and whole:
        raise StreamIncompleteError("the stream has no completion chunk")
    building: dict[int, _Building] = {}
    usage: Usage | None = None
    prompt_filters: tuple[PromptFilterResult, ...] = ()
    for chunk in chunks:
        for choice in chunk.choices:
            building.setdefault(choice.index, _Building()).add(choice)
        usage = chunk.usage or usage
        prompt_filters = chunk.prompt_filter_results or prompt_filters
    choices: list[Choice] = []
    for index in sorted(building):
        finish_reason = building[index].finish_reason
        if finish_reason is None and whole:
            raise StreamIncompleteError(f"the stream ended before choice {index} had a finish_reason")
        choices.append(building[index].choice(index, finish_reason))
    if not choices and whole:
        raise StreamIncompleteError("the stream has no choices")
    first = named[0] if named else None
    return ChatResponse(
        id=first.id if first else "",
        created=first.created if first else 0,
        model=first.model if first else "",
        choices=tuple(choices),
        usage=usage,
        system_fingerprint=next((c.system_fingerprint for c in named if c.system_fingerprint), None),
        service_tier=first.service_tier if first else None,
        prompt_filter_results=prompt_filters,
        request_id=request_id,
    )


def parse_chat_stream(raw: RawResponse) -> ParsedStream:
    """Parse a streamed chat completion body and assemble the response it adds up to.

    Raises:
        MalformedResponseError: an event is not a valid chunk, or the stream never says why it
            stopped (a stream cut short).
    """
    chunks: list[ChatChunk] = []
    done = False
    try:
        for data in iter_sse_data(raw.content):
            if data.strip() == "[DONE]":
                done = True
                break
            chunks.append(ChatChunk.model_validate_json(data))
    except (ValidationError, UnicodeDecodeError) as exc:
        raise malformed(raw, f"an event is not a chat completion chunk ({exc})") from exc
    try:
        response = assemble(chunks, request_id_from(raw.headers))
    except StreamIncompleteError as exc:
        raise malformed(raw, str(exc)) from exc
    report_unknown_values(response)
    return ParsedStream(chunks=tuple(chunks), done=done, response=response)
