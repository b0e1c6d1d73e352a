"""Virtual time for retry tests: a clock that only the retry layers' waits move.

A test that replays 429 → 429 → 200 must not sleep the 3 s the server asked for, and should see
the waits the strategy chose. ``VirtualClock`` is a monotonic clock that stands still until a retry
layer sleeps on it: ``sleep(s)`` records the wait and moves the clock by ``s``, at once. Installed
(``with clock.installed():``, or the pytest plugin's ``llm_clock`` fixture), it is the clock of every
retry layer that was not given one of its own, sync and async: the ledger's ``offset`` and ``wait``
are then exact virtual seconds, and ``waits`` lists every wait asked for. It also notes the
strategy each retry layer followed (``strategies``), which the plugin writes into the cassette's
metadata and compares on replay.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from typed_llm._virtual_time import installed

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from typed_llm._backoff import Backoff

__all__ = ["VirtualClock"]


class VirtualClock:
    """A clock that moves only when a retry layer sleeps on it (or a test calls ``advance``).

    Args:
        start: the clock's first reading, in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)
        self._start = float(start)
        self.waits: list[float] = []
        """Every wait a retry layer asked for, in order (none of them slept for real)."""
        self.strategies: list[Backoff] = []
        """The strategies of the retry layers that ran under this clock, each once, in order."""

    def __call__(self) -> float:
        """The virtual time: ``start`` plus every wait and advance so far."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock by it, without sleeping."""
        with self._lock:
            self.waits.append(seconds)
            self._now += seconds

    def advance(self, seconds: float) -> None:
        """Move the clock by ``seconds`` (time an attempt took, say) without recording a wait."""
        with self._lock:
            self._now += seconds

    def observe(self, backoff: Backoff) -> None:
        """Note the strategy of a retry layer that started a call under this clock."""
        with self._lock:
            if not any(backoff is seen or _same(backoff, seen) for seen in self.strategies):
                self.strategies.append(backoff)

    @property
    def elapsed(self) -> float:
        """Virtual seconds since ``start``."""
        return self._now - self._start

    def installed(self) -> AbstractContextManager[VirtualClock]:
        """Make this the clock of every retry layer without its own, while the block runs."""
        return installed(self)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r}, waits={self.waits!r})"


def _same(one: object, other: object) -> bool:
    try:
        return bool(one == other)
    except Exception:  # noqa: BLE001  (a strategy whose == fails is a different one)
        return False
