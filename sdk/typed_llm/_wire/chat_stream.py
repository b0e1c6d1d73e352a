"""Streamed chat completions on the wire: SSE frames in, typed events out, one answer assembled.

No I/O: ``ChatAccumulator.feed`` takes whatever bytes the connection delivered (a frame may be split
anywhere, even inside a UTF-8 character) and returns the events of the frames it completed;
``finish`` assembles the answer ``complete()`` would have returned. ``replay`` turns a stored answer
(a cache hit) back into events. ``CHAT_STREAM`` is the operation: the same request, key and cache
entry as ``CHAT``, asked for with ``stream: true`` and usage always included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs
from pydantic import ValidationError

from typed_llm._errors import ContentFilterError, MalformedResponseError
from typed_llm._models.messages import CustomToolCall, ToolCall
from typed_llm._models.requests import ChatRequest, StreamOptions
from typed_llm._models.stream import (
    ChoiceDone,
    ContentFiltered,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    UsageReported,
)
from typed_llm._wire.chat import CHAT, build_for_model, report_unknown_values
from typed_llm._wire.operation import Operation, Routing, Streaming, WireCall
from typed_llm._wire.sse import (
    ChatChunk,
    ChunkChoice,
    ChunkToolCall,
    Delta,
    StreamIncompleteError,
    assemble,
)
from typed_llm._wire.status import malformed_stream

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from typed_llm._models.responses import ChatResponse

__all__ = ["CHAT_STREAM", "ChatAccumulator", "ChatStreamEvent", "SSEDecoder", "replay_events"]

ChatStreamEvent = (
    ChatChunk
    | TextDelta
    | RefusalDelta
    | ToolCallDelta
    | ToolCallDone
    | ChoiceDone
    | UsageReported
    | ContentFiltered
)
"""Every event a chat stream yields; narrow it with ``match``."""

_DONE: Final = "[DONE]"
_WITH_USAGE: Final = StreamOptions(include_usage=True)


@attrs.define
class SSEDecoder:
    """Server-sent events from bytes as they arrive: the ``data`` of each whole event."""

    _buffer: bytes = b""

    def feed(self, data: bytes) -> list[str]:
        """The data of every event ``data`` completes (multi-line data joined by newlines)."""
        self._buffer += data
        if b"\r" in self._buffer:
            self._buffer = self._buffer.replace(b"\r\n", b"\n")
        *events, self._buffer = self._buffer.split(b"\n\n")
        return [payload for payload in map(_data_of, events) if payload is not None]

    def flush(self) -> list[str]:
        """The data of a last event that the stream ended without a blank line after."""
        rest, self._buffer = self._buffer, b""
        payload = _data_of(rest)
        return [] if payload is None else [payload]


def _data_of(event: bytes) -> str | None:
    lines = [
        line[5:].removeprefix(" ") for line in event.decode("utf-8").split("\n") if line.startswith("data:")
    ]
    return "\n".join(lines) if lines else None


@attrs.define
class ChatAccumulator:
    """The state of one chat stream: its chunks, and the tool calls of each choice so far."""

    request_id: str | None = None
    chunks: list[ChatChunk] = attrs.field(factory=list)
    done: bool = False
    """Whether the server said ``[DONE]``."""
    _decoder: SSEDecoder = attrs.field(factory=SSEDecoder)
    _calls: dict[tuple[int, int], list[str]] = attrs.field(factory=dict)  # (choice, index) -> id, name, args

    def feed(self, data: bytes) -> list[ChatStreamEvent]:
        """The events of the frames ``data`` completes.

        Raises:
            MalformedResponseError: a frame is not a chat completion chunk.
        """
        return self._events(self._decoder.feed(data))

    def finish(self) -> ChatResponse:
        """The whole answer the stream added up to.

        Raises:
            MalformedResponseError: the stream ended before every choice had finished (cut short:
                ``incomplete``, so retryable if nothing reached the caller yet).
        """
        self._events(self._decoder.flush())
        try:
            response = assemble(self.chunks, self.request_id)
        except StreamIncompleteError as exc:
            raise self._malformed(str(exc), incomplete=True) from exc
        report_unknown_values(response)
        for choice in response.choices:
            if choice.finish_reason == "content_filter":
                raise ContentFilterError(
                    "the completion was stopped by the content filter",
                    stage="completion",
                    results=choice.content_filter_results,
                    response=response,
                    status_code=200,
                    request_id=response.request_id,
                )
        return response

    def partial(self) -> ChatResponse:
        """What arrived so far, assembled (choices still under way have no ``finish_reason``)."""
        return assemble(self.chunks, self.request_id, whole=False)

    def _events(self, payloads: Iterable[str]) -> list[ChatStreamEvent]:
        events: list[ChatStreamEvent] = []
        for payload in payloads:
            if payload.strip() == _DONE:
                self.done = True
                continue
            try:
                chunk = ChatChunk.model_validate_json(payload)
            except ValidationError as exc:
                raise self._malformed(
                    f"an event is not a chat completion chunk ({exc})", payload=payload
                ) from exc
            self.chunks.append(chunk)
            events.extend(self.events_of(chunk))
        return events

    def events_of(self, chunk: ChatChunk) -> list[ChatStreamEvent]:
        """The events one chunk gives, in the order the module docstring describes."""
        events: list[ChatStreamEvent] = [chunk]
        events.extend(
            ContentFiltered(verdicts.content_filter_results, prompt_index=verdicts.prompt_index)
            for verdicts in chunk.prompt_filter_results
        )
        for choice in chunk.choices:
            events.extend(self._choice_events(choice))
        if chunk.usage is not None:
            events.append(UsageReported(chunk.usage))
        return events

    def _choice_events(self, choice: ChunkChoice) -> list[ChatStreamEvent]:
        index, delta = choice.index, choice.delta
        events: list[ChatStreamEvent] = []
        logprobs = choice.logprobs
        text_logprobs = (logprobs.content if logprobs else None) or ()
        refusal_logprobs = (logprobs.refusal if logprobs else None) or ()
        if delta.content or text_logprobs:
            events.append(TextDelta(index, delta.content or "", text_logprobs))
        if delta.refusal or refusal_logprobs:
            events.append(RefusalDelta(index, delta.refusal or "", refusal_logprobs))
        for call in delta.tool_calls or ():
            name = call.function.name if call.function else None
            arguments = (call.function.arguments if call.function else None) or ""
            parts = self._calls.setdefault((index, call.index), ["", "", ""])
            parts[0] = call.id or parts[0]
            parts[1] += name or ""
            parts[2] += arguments
            events.append(ToolCallDelta(index, call.index, call.id, name, arguments))
        if choice.content_filter_results:
            events.append(ContentFiltered(choice.content_filter_results, choice_index=index))
        if choice.finish_reason is not None:
            for (owner, _), (call_id, name, arguments) in sorted(self._calls.items()):
                if owner == index:
                    whole = ToolCall.model_validate(
                        {"id": call_id, "function": {"name": name, "arguments": arguments}}
                    )
                    events.append(ToolCallDone(index, whole))
            events.append(ChoiceDone(index, choice.finish_reason))
        return events

    def _malformed(
        self, problem: str, *, incomplete: bool = False, payload: str = ""
    ) -> MalformedResponseError:
        return malformed_stream(problem, request_id=self.request_id, incomplete=incomplete, payload=payload)


def _chunk_of_choice(response: ChatResponse, index: int) -> ChatChunk:
    choice = response.choices[index]
    message = choice.message
    calls = tuple(
        ChunkToolCall.model_validate(
            {
                "index": position,
                "id": call.id,
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
        )
        for position, call in enumerate(message.tool_calls or ())
        if isinstance(call, ToolCall)
    )
    return ChatChunk(
        id=response.id,
        created=response.created,
        model=response.model,
        choices=(
            ChunkChoice(
                index=choice.index,
                delta=Delta(
                    role="assistant",
                    content=message.content,
                    refusal=message.refusal,
                    tool_calls=calls or None,
                ),
                logprobs=choice.logprobs,
                finish_reason=choice.finish_reason,
                content_filter_results=choice.content_filter_results,
            ),
        ),
        system_fingerprint=response.system_fingerprint,
        service_tier=response.service_tier,
        prompt_filter_results=response.prompt_filter_results if index == 0 else (),
    )


def replay_events(response: ChatResponse) -> list[ChatStreamEvent]:
    """A stored answer as a stream: one chunk per choice, whole, then the usage.

    The events are those of a stream whose every choice arrived in one chunk: the same text, tool
    calls, finish reasons, usage and verdicts as the stream that was stored, in fewer deltas.
    Custom tool calls, which no stream delta carries, come as ``ToolCallDone`` only.
    """
    accumulator = ChatAccumulator(request_id=response.request_id)
    events: list[ChatStreamEvent] = []
    for index in range(len(response.choices)):
        chunk = _chunk_of_choice(response, index)
        custom = [
            c for c in response.choices[index].message.tool_calls or () if isinstance(c, CustomToolCall)
        ]
        produced = accumulator.events_of(chunk)
        if custom:
            done_at = next(i for i, event in enumerate(produced) if isinstance(event, ChoiceDone))
            produced[done_at:done_at] = [ToolCallDone(response.choices[index].index, call) for call in custom]
        events.extend(produced)
    if response.usage is not None:
        usage_chunk = ChatChunk(
            id=response.id, created=response.created, model=response.model, usage=response.usage
        )
        events.extend(accumulator.events_of(usage_chunk))
    return events


def _build_stream(request: ChatRequest, routing: Routing) -> WireCall:
    streaming = request.model_copy(update={"stream": True, "stream_options": _WITH_USAGE})
    return build_for_model(streaming, routing)


def _start(headers: Mapping[str, str], request_id: str | None) -> ChatAccumulator:  # noqa: ARG001  (the Streaming signature)
    return ChatAccumulator(request_id=request_id)


CHAT_STREAM: Operation[ChatRequest, ChatResponse] = attrs.evolve(
    CHAT,
    name="chat_stream",
    method="stream",
    build=_build_stream,
    streaming=Streaming(start=_start, replay=replay_events),
)
"""``POST /chat/completions`` with ``stream: true`` and ``stream_options.include_usage``: the same
request, cache key and cache entry as ``CHAT`` (the verb decides streaming, not the request)."""
