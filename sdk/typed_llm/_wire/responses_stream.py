"""A streamed Responses API answer on the wire: SSE frames in, typed events out, the answer at the end.

Pure translation, no I/O. ``ResponseAccumulator`` reads the frames of a stream (an ``event:`` line
and JSON ``data`` with a ``type``): the typed events of ``_models.responses_events`` for what a
caller acts on, a ``RawResponseEvent`` for every other frame; a type this SDK does not know is kept
the same way and logged once, never fatal. The answer is the terminal event's response
(``response.completed``, ``response.incomplete`` or ``response.failed``); a stream that sends an
``error`` event instead ends in ``ResponseFailedError``. ``replay_events`` plays a stored answer
(a cache hit) as the events of a stream.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

import attrs
from pydantic import TypeAdapter, ValidationError

from typed_llm._errors import MalformedResponseError, ResponseFailedError
from typed_llm._models.responses_api import (
    OutputItem,
    OutputMessage,
    OutputRefusal,
    OutputText,
    ReasoningItem,
    Response,
    ResponseFunctionCall,
)
from typed_llm._models.responses_events import (
    FunctionCallArgumentsDelta,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    RawResponseEvent,
    ReasoningSummaryDelta,
    RefusalTextDelta,
    ResponseCompleted,
    ResponseFailed,
    ResponseIncomplete,
    StreamError,
)
from typed_llm._wire.chat_stream import SSEDecoder
from typed_llm._wire.responses_answer import failed_error, report_once, report_unknown_items
from typed_llm._wire.status import malformed_stream

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["ResponseAccumulator", "ResponseStreamEvent", "replay_events", "start_accumulator"]

ResponseStreamEvent = (
    OutputTextDelta
    | RefusalTextDelta
    | FunctionCallArgumentsDelta
    | ReasoningSummaryDelta
    | OutputItemAdded
    | OutputItemDone
    | ResponseCompleted
    | ResponseIncomplete
    | ResponseFailed
    | StreamError
    | RawResponseEvent
)
"""Every event a Responses stream yields; narrow it with ``match``."""

_ITEM: Final = TypeAdapter[OutputItem](OutputItem)


_KNOWN: Final = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.done",
        "response.output_text.annotation.added",
        "response.refusal.done",
        "response.function_call_arguments.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.done",
    }
)
_KNOWN_PREFIXES: Final = (
    "response.reasoning_text.",
    "response.web_search_call.",
    "response.file_search_call.",
    "response.code_interpreter_call",
    "response.image_generation_call.",
    "response.custom_tool_call_input.",
    "response.mcp_",
    "response.audio",
)
"""Documented events the typed ones do not cover: handed on raw, not reported as new."""


@attrs.define
class ResponseAccumulator:
    """The state of one Responses stream: the last snapshot, the items, the text so far."""

    request_id: str | None = None
    _decoder: SSEDecoder = attrs.field(factory=SSEDecoder)
    _snapshot: dict[str, object] | None = None
    _added: dict[int, dict[str, object]] = attrs.field(factory=dict)
    _done: dict[int, OutputItem] = attrs.field(factory=dict)
    _texts: dict[tuple[int, int], list[str]] = attrs.field(factory=dict)
    _arguments: dict[int, list[str]] = attrs.field(factory=dict)
    _final: Response | None = None
    _error: StreamError | None = None

    def feed(self, data: bytes) -> list[ResponseStreamEvent]:
        """The events of the frames ``data`` completes.

        Raises:
            MalformedResponseError: a frame is not JSON, or a typed event lacks its fields.
        """
        return self._events(self._decoder.feed(data))

    def finish(self) -> Response:
        """The answer of the terminal event.

        Raises:
            ResponseFailedError: the response failed, or the server sent an ``error`` event.
            MalformedResponseError: the stream ended without a terminal event (``incomplete``).
        """
        self._events(self._decoder.flush())
        if self._final is not None:
            report_unknown_items(self._final)
            if self._final.status == "failed":
                raise failed_error(self._final)
            return self._final
        if self._error is not None:
            raise ResponseFailedError(
                f"the stream sent an error: {self._error.message}",
                code=self._error.code,
                request_id=self.request_id,
            )
        raise self._malformed("the stream ended before response.completed", incomplete=True)

    def partial(self) -> Response:
        """What arrived so far: finished items whole, items under way with their text so far."""
        if self._final is not None:
            return self._final
        output: list[object] = []
        for index in sorted(self._added.keys() | self._done.keys()):
            done = self._done.get(index)
            output.append(done if done is not None else self._building(index, self._added[index]))
        base = self._snapshot or {"id": "", "created_at": 0, "model": ""}
        return Response.model_validate(
            {**base, "status": "in_progress", "output": output, "request_id": self.request_id}
        )

    def _building(self, index: int, item: dict[str, object]) -> dict[str, object]:
        if item.get("type") == "message":
            parts = sorted((c, "".join(t)) for (o, c), t in self._texts.items() if o == index)
            return {**item, "content": [{"type": "output_text", "text": text} for _, text in parts]}
        if item.get("type") == "function_call":
            return {**item, "arguments": "".join(self._arguments.get(index, ()))}
        return item

    def _events(self, payloads: Iterable[str]) -> list[ResponseStreamEvent]:
        events: list[ResponseStreamEvent] = []
        for payload in payloads:
            try:
                frame = json.loads(payload)
            except ValueError as exc:
                raise self._malformed(f"an event is not JSON ({exc})", payload=payload) from exc
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise self._malformed("an event has no type", payload=payload)
            try:
                events.append(self._event(frame))
            except (KeyError, TypeError, ValidationError) as exc:
                raise self._malformed(
                    f"a {frame['type']} event lacks what it carries ({exc})", payload=payload
                ) from exc
        return events

    def _event(self, frame: dict[str, object]) -> ResponseStreamEvent:
        event = _typed(frame, self.request_id)
        known = isinstance(event, RawResponseEvent) and (
            event.type in _KNOWN or event.type.startswith(_KNOWN_PREFIXES)
        )
        if isinstance(event, RawResponseEvent) and not known:
            report_once("unknown_event", "stream.type", event.type, request_id=self.request_id)
        self.absorb(event)
        return event

    def absorb(self, event: ResponseStreamEvent) -> None:
        """Add what ``event`` says to the answer so far (a stream's caller can keep its own)."""
        if isinstance(event, OutputTextDelta):
            self._texts.setdefault((event.output_index, event.content_index), []).append(event.text)
        elif isinstance(event, FunctionCallArgumentsDelta):
            self._arguments.setdefault(event.output_index, []).append(event.delta)
        elif isinstance(event, OutputItemAdded):
            self._added[event.output_index] = event.item.model_dump(mode="json")
        elif isinstance(event, OutputItemDone):
            self._done[event.output_index] = event.item
        elif isinstance(event, ResponseCompleted | ResponseIncomplete | ResponseFailed):
            self._final = event.response
        elif isinstance(event, StreamError):
            self._error = event
        elif isinstance(event, RawResponseEvent) and event.type in {
            "response.created",
            "response.in_progress",
        }:
            snapshot = event.data.get("response")
            if isinstance(snapshot, dict):
                self._snapshot = dict(snapshot)

    def _malformed(
        self, problem: str, *, incomplete: bool = False, payload: str = ""
    ) -> MalformedResponseError:
        return malformed_stream(problem, request_id=self.request_id, incomplete=incomplete, payload=payload)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _int(frame: Mapping[str, object], name: str) -> int:
    value = frame[name]
    if not isinstance(value, int):
        raise TypeError(f"{name} is not an integer")
    return value


def _str(frame: Mapping[str, object], name: str) -> str:
    value = frame[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    return value


def _typed(frame: Mapping[str, object], request_id: str | None) -> ResponseStreamEvent:  # noqa: C901, PLR0911  (one branch per event type)
    """The typed event of one frame (its JSON), or the frame whole as a ``RawResponseEvent``."""
    kind = str(frame["type"])
    if kind == "response.output_text.delta":
        return OutputTextDelta(
            _int(frame, "output_index"),
            _int(frame, "content_index"),
            _str(frame, "item_id"),
            _str(frame, "delta"),
        )
    if kind == "response.refusal.delta":
        return RefusalTextDelta(
            _int(frame, "output_index"),
            _int(frame, "content_index"),
            _str(frame, "item_id"),
            _str(frame, "delta"),
        )
    if kind == "response.function_call_arguments.delta":
        return FunctionCallArgumentsDelta(
            _int(frame, "output_index"), _str(frame, "item_id"), _str(frame, "delta")
        )
    if kind == "response.reasoning_summary_text.delta":
        return ReasoningSummaryDelta(
            _int(frame, "output_index"),
            _int(frame, "summary_index"),
            _str(frame, "item_id"),
            _str(frame, "delta"),
        )
    if kind == "response.output_item.added":
        return OutputItemAdded(_int(frame, "output_index"), _ITEM.validate_python(frame["item"]))
    if kind == "response.output_item.done":
        return OutputItemDone(_int(frame, "output_index"), _ITEM.validate_python(frame["item"]))
    if kind in {"response.completed", "response.incomplete", "response.failed"}:
        body = frame["response"]
        if not isinstance(body, dict):
            raise TypeError("response is not an object")
        response = Response.model_validate({**body, "request_id": request_id})
        if kind == "response.completed":
            return ResponseCompleted(response)
        return ResponseIncomplete(response) if kind == "response.incomplete" else ResponseFailed(response)
    if kind == "error":
        return StreamError(
            code=_text(frame.get("code")),
            message=str(frame.get("message", "")),
            param=_text(frame.get("param")),
        )
    return RawResponseEvent(kind, frame)


def replay_events(response: Response) -> list[ResponseStreamEvent]:
    """A stored answer as a stream: each item added (whole), its text in one delta, done; then the end.

    The events are those of a stream whose every part arrived in one delta; ``OutputItemAdded``
    carries the whole item (a live stream's carries it empty).
    """
    events: list[ResponseStreamEvent] = []
    for index, item in enumerate(response.output):
        events.append(OutputItemAdded(index, item))
        events.extend(_deltas(index, item))
        events.append(OutputItemDone(index, item))
    if response.status == "incomplete":
        events.append(ResponseIncomplete(response))
    else:
        events.append(ResponseCompleted(response))
    return events


def _deltas(index: int, item: OutputItem) -> list[ResponseStreamEvent]:
    if isinstance(item, OutputMessage):
        return [
            OutputTextDelta(index, position, item.id, part.text)
            if isinstance(part, OutputText)
            else RefusalTextDelta(index, position, item.id, part.refusal)
            for position, part in enumerate(item.content)
            if isinstance(part, OutputText | OutputRefusal)
        ]
    if isinstance(item, ResponseFunctionCall):
        return [FunctionCallArgumentsDelta(index, item.id or item.call_id, item.arguments)]
    if isinstance(item, ReasoningItem):
        return [ReasoningSummaryDelta(index, n, item.id, part.text) for n, part in enumerate(item.summary)]
    return []


def start_accumulator(headers: Mapping[str, str], request_id: str | None) -> ResponseAccumulator:  # noqa: ARG001  (the Streaming signature)
    """A fresh accumulator for one streamed answer."""
    return ResponseAccumulator(request_id=request_id)
