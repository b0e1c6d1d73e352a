"""The fake's log probabilities: what a chat answer carries when the request asks ``logprobs: true``.

Deterministic and shaped like the real service's: one entry per token (the fake's tokens are the
words its stream sends a frame each, so a streamed answer's frames carry exactly the non-streamed
answer's entries, sliced), each with its UTF-8 ``bytes``, a log probability at most 0 and, when
``top_logprobs`` asks for them, that many alternatives, most likely first, the chosen token among
them (as a temperature-0 model answers: it picks the most likely).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["chat_logprobs", "fake_tokens"]

_WORDS: Final = re.compile(r"\S+\s*|\s+")
_ALTERNATIVES: Final = (
    "The", " the", " a", ",", ".", " and", " of", " to", " is", " in", " it", " that", ":", " I",
    " you", " for", " on", " with", " as", " be", "\n",
)  # fmt: skip


def fake_tokens(text: str) -> list[str]:
    """The fake's tokens of ``text``: each word with the space after it (a stream frame each)."""
    return _WORDS.findall(text)


def _entry(token: str, logprob: float) -> dict[str, object]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}


def _token_logprob(token: str, position: int, top: int) -> dict[str, object]:
    digest = hashlib.sha256(f"{position}:{token}".encode()).digest()
    logprob = -round(digest[0] / 255 * 0.8, 6)  # the chosen token is likely: p between 0.45 and 1
    others = [alt for alt in _ALTERNATIVES if alt != token]
    start = digest[1] % len(others)
    alternatives = [
        _entry(others[(start + i) % len(others)], round(logprob - 1.5 - i * (0.5 + digest[2 + i] / 255), 6))
        for i in range(max(0, top - 1))
    ]
    return {**_entry(token, logprob), "top_logprobs": [_entry(token, logprob), *alternatives][:top]}


def chat_logprobs(request: Mapping[str, object], content: object) -> dict[str, object] | None:
    """The choice's ``logprobs`` for an answer with ``content``: None unless the request asked."""
    if request.get("logprobs") is not True:
        return None
    top = request.get("top_logprobs")
    top = top if isinstance(top, int) else 0
    tokens = fake_tokens(content) if isinstance(content, str) else None
    entries = None if tokens is None else [_token_logprob(t, i, top) for i, t in enumerate(tokens)]
    return {"content": entries, "refusal": None}
