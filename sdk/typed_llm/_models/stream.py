"""The typed events of a streamed chat completion: frozen values a caller narrows with ``match``.

Each chunk the API sends becomes, in order: the raw ``ChatChunk`` (for what the events below do not
cover), then one event per thing it says: text or refusal added to a choice, a fragment of a tool
call, Azure filter verdicts, usage. When a choice finishes, each of its tool calls is reported
whole (``ToolCallDone``), then the choice (``ChoiceDone``). Azure's filter-only chunks (empty
``choices``, empty ``id``) give ``ContentFiltered`` events and never an index error.
"""

from __future__ import annotations

import attrs

from typed_llm._models.logprobs import TokenLogprob
from typed_llm._models.messages import CustomToolCall, ToolCall
from typed_llm._models.responses import AnyFinishReason, ContentFilterResult, Usage

__all__ = [
    "ChoiceDone",
    "ContentFiltered",
    "RefusalDelta",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallDone",
    "UsageReported",
]


@attrs.frozen
class TextDelta:
    """Text added to a choice's answer, with its tokens' log probabilities when they were asked for."""

    choice_index: int
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    """The log probabilities of the tokens of ``text`` (``logprobs=True``; empty otherwise)."""


@attrs.frozen
class RefusalDelta:
    """Text added to a choice's refusal, with its tokens' log probabilities when they were asked for."""

    choice_index: int
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    """The log probabilities of the tokens of ``text`` (``logprobs=True``; empty otherwise)."""


@attrs.frozen
class ToolCallDelta:
    """A fragment of a tool call: the first names it (``id``, ``name``), the rest add arguments."""

    choice_index: int
    index: int
    """The call's position among the choice's tool calls."""
    id: str | None
    name: str | None
    arguments_delta: str


@attrs.frozen
class ToolCallDone:
    """A tool call, whole, once its choice has finished."""

    choice_index: int
    call: ToolCall | CustomToolCall


@attrs.frozen
class ChoiceDone:
    """A choice has finished, and why (``stop``, ``length``, ``tool_calls``, ``content_filter``...)."""

    choice_index: int
    finish_reason: AnyFinishReason


@attrs.frozen
class UsageReported:
    """What the whole call used (the last chunk, when usage was asked for: it always is)."""

    usage: Usage


@attrs.frozen
class ContentFiltered:
    """Azure's filter verdicts: on a prompt (``prompt_index``) or on a choice's text so far."""

    results: tuple[ContentFilterResult, ...]
    prompt_index: int | None = None
    choice_index: int | None = None

    @property
    def filtered(self) -> bool:
        """Whether any verdict blocked content."""
        return any(result.filtered for result in self.results)
