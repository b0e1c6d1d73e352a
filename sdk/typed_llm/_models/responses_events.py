"""The typed events of a streamed Responses API answer: frozen values a caller narrows with ``match``.

The server sends one SSE frame per event, each JSON with a ``type``. The events a caller acts on
are typed here: text, refusal, function-call argument and reasoning-summary deltas, items added
and done, the terminal ``ResponseCompleted`` / ``ResponseIncomplete`` / ``ResponseFailed``, and
``StreamError``. Every other frame (``response.created``, ``response.content_part.added``, a type
newer than this SDK...) is a ``RawResponseEvent`` holding its JSON whole, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from typed_llm._models.responses_api import OutputItem, Response

__all__ = [
    "FunctionCallArgumentsDelta",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputTextDelta",
    "RawResponseEvent",
    "ReasoningSummaryDelta",
    "RefusalTextDelta",
    "ResponseCompleted",
    "ResponseFailed",
    "ResponseIncomplete",
    "StreamError",
]


@attrs.frozen
class OutputTextDelta:
    """Text added to an output message's ``output_text`` part."""

    output_index: int
    content_index: int
    item_id: str
    text: str


@attrs.frozen
class RefusalTextDelta:
    """Text added to an output message's refusal."""

    output_index: int
    content_index: int
    item_id: str
    text: str


@attrs.frozen
class FunctionCallArgumentsDelta:
    """A fragment of a function call's arguments (the call itself arrives in ``OutputItemAdded``)."""

    output_index: int
    item_id: str
    delta: str


@attrs.frozen
class ReasoningSummaryDelta:
    """Text added to a reasoning item's summary."""

    output_index: int
    summary_index: int
    item_id: str
    text: str


@attrs.frozen
class OutputItemAdded:
    """An output item has started (a message with no text yet, a function call with no arguments)."""

    output_index: int
    item: OutputItem


@attrs.frozen
class OutputItemDone:
    """An output item, whole."""

    output_index: int
    item: OutputItem


@attrs.frozen
class ResponseCompleted:
    """The answer is complete; ``response`` is what ``respond()`` would have returned."""

    response: Response


@attrs.frozen
class ResponseIncomplete:
    """The answer stopped early (``response.incomplete_details.reason`` says why)."""

    response: Response


@attrs.frozen
class ResponseFailed:
    """The answer failed (``response.error`` says why); ``final_response()`` raises."""

    response: Response


@attrs.frozen
class StreamError:
    """The server's ``error`` event; ``final_response()`` raises ``ResponseFailedError``."""

    code: str | None
    message: str
    param: str | None = None


@attrs.frozen
class RawResponseEvent:
    """Any other event, its JSON whole (``type`` is the event's, such as ``response.created``)."""

    type: str
    data: Mapping[str, object]
