"""The seed's cost statistics (``get_cost_stats``): tokens and calls, counted safely across threads.

Apart from ``seed_client`` because it is bookkeeping with its own lock and no part of a call: the
seed's client classes hold one ``CostStats`` each and give its figures under the seed's names.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from typed_llm._ledger import ledger_of

if TYPE_CHECKING:
    from typed_llm._models.responses import ChatResponse

__all__ = ["CostStats"]

_KEYS = ("input_tokens", "output_tokens", "total_tokens", "model_calls", "cached_calls")
"""The seed's keys, in the seed's order (``pretty_print_cost_stats`` prints them so)."""


class CostStats:
    """Tokens and calls so far, under the seed's keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(_KEYS, 0)

    def count(self, response: ChatResponse) -> None:
        """Count one call, as the seed did: ``cached_calls`` when no request was sent, else ``model_calls``.

        The typed client answers hits itself, so the answer's ledger says which it was: its last
        attempt is of kind ``cache`` (a hit) or ``single-flight`` (an identical call in flight
        answered it), or ``http``. Tokens are added either way, as the seed added them.
        """
        attempts = ledger_of(response)
        answered_without_request = bool(attempts) and attempts[-1].kind != "http"
        with self._lock:
            self._counts["cached_calls" if answered_without_request else "model_calls"] += 1
            if response.usage is not None:
                self._counts["input_tokens"] += response.usage.prompt_tokens
                self._counts["output_tokens"] += response.usage.completion_tokens
                self._counts["total_tokens"] += response.usage.total_tokens

    def snapshot(self) -> dict[str, int]:
        """A copy of the figures (the caller may change it)."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Back to zero."""
        with self._lock:
            for key in self._counts:
                self._counts[key] = 0
