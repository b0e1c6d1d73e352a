"""Token counts of texts already counted, per encoding: the pre-flight check counts each text once.

Every chat call resends its whole conversation: the same system prompt, the same earlier turns,
the same role names. The pre-flight check counts the request before it is sent, so without a memo a
conversation of n turns tokenizes the first message n times. Counting a text tokenizes it in
tiktoken's Rust core, which releases the GIL for every text however short: in a process with other
busy threads (a web server's, an in-process test server's) each release is a chance for another
thread to take the interpreter, and a call made of a handful of short texts then waits its turn a
handful of times. A count found here costs one dictionary lookup and releases nothing.

The memo is bounded: at most ``ENTRIES`` texts (the oldest forgotten first) of at most ``LONGEST``
characters each (a longer text costs far more to tokenize than to look up, and is rarely resent
unchanged), so it holds a few megabytes at the very most. A count is a pure function of the text
and the encoding, so a remembered count is always the count.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    import tiktoken

__all__ = ["ENTRIES", "LONGEST", "counter", "forget"]

ENTRIES: Final = 4096
"""Texts remembered, per process (all encodings together)."""
LONGEST: Final = 16_384
"""Characters of the longest text remembered."""

_counts: dict[tuple[str, str], int] = {}
_lock = threading.Lock()
"""Held to add (and evict); lookups need none (a dict lookup is atomic)."""


def counter(encoding: tiktoken.Encoding) -> Callable[[str], int]:
    """A function giving the number of tokens of a text in ``encoding`` (special tokens as text)."""
    name = encoding.name

    def count(text: str) -> int:
        key = (name, text)
        found = _counts.get(key)
        if found is not None:
            return found
        # encode_ordinary: encode(text, disallowed_special=()) without its checks; looked up here,
        # not once, since the counter is kept per model (_tokens.plan_for) for the process.
        tokens = len(encoding.encode_ordinary(text))
        if len(text) <= LONGEST:
            with _lock:
                if len(_counts) >= ENTRIES:
                    del _counts[next(iter(_counts))]  # the oldest (dicts keep insertion order)
                _counts[key] = tokens
        return tokens

    return count


def forget() -> None:
    """Forget every remembered count (tests; a process that wants the memory back)."""
    with _lock:
        _counts.clear()
