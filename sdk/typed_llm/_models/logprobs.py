"""Log probabilities of an answer's tokens (``ChatRequest(logprobs=True, top_logprobs=...)``).

A choice's ``logprobs`` holds one ``TokenLogprob`` per generated token, for the text (``content``)
and for a refusal (``refusal``), each with the token's UTF-8 ``bytes`` (a token may be part of a
character, so the bytes, not the text, are what concatenate exactly) and the most likely
alternatives at that position (``top_logprobs``). A streamed chunk carries the tokens of its delta;
a stream's assembled answer carries them all, concatenated, as the non-streamed call would have.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ChoiceLogprobs", "TokenLogprob", "TopLogprob"]


class _Logprob(BaseModel):
    # As every answer model (``responses._Answer``, not imported: it would make a circle): frozen,
    # and a key newer than this SDK is kept in ``model_extra``, so a cached answer reads back whole.
    model_config = ConfigDict(frozen=True, extra="allow")


class TopLogprob(_Logprob):
    """One of the most likely tokens at a position."""

    token: str
    """The token's text (may be part of a character: see ``bytes``)."""
    logprob: float
    """Its natural log probability; ``-9999.0`` when it is too unlikely to say."""
    bytes: tuple[int, ...] | None = None
    """The token's UTF-8 bytes; None when the token has no bytes form."""

    @property
    def probability(self) -> float:
        """``exp(logprob)``: the probability, 0 to 1."""
        return math.exp(self.logprob)


class TokenLogprob(TopLogprob):
    """A token of the answer, its log probability, and the alternatives the model weighed."""

    top_logprobs: tuple[TopLogprob, ...] = ()
    """The ``top_logprobs`` most likely tokens at this position, most likely first."""


def _joined(parts: Iterable[tuple[TokenLogprob, ...] | None]) -> tuple[TokenLogprob, ...] | None:
    listed = [part for part in parts if part is not None]
    return tuple(token for part in listed for token in part) if listed else None


class ChoiceLogprobs(_Logprob):
    """The log probabilities of a choice's tokens (None lists: the answer had no such text)."""

    content: tuple[TokenLogprob, ...] | None = None
    """The text's tokens, in order."""
    refusal: tuple[TokenLogprob, ...] | None = None
    """The refusal's tokens, in order."""

    @classmethod
    def concatenate(cls, parts: Iterable[ChoiceLogprobs]) -> ChoiceLogprobs:
        """The logprobs of several deltas as one (a stream's chunks, in order)."""
        listed = list(parts)
        return cls(
            content=_joined(part.content for part in listed),
            refusal=_joined(part.refusal for part in listed),
        )
