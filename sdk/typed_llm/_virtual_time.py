"""The testing switch for time: a clock that retry layers use instead of the real one, while installed.

A retry test must not sleep for real, and must see the waits the strategy chose. A retry layer built
with its own ``sleep`` and ``clock`` (``Retrying(..., sleep=, clock=)``) uses those; every other
retry layer (the one each client has) asks ``installed_clock()`` when a call starts, and uses the
clock installed then, if any: its sleeps move only that clock, and it is told which strategy the
layer follows (the pytest plugin writes it into the cassette's metadata). ``typed_llm.testing``'s
``VirtualClock`` and the ``llm_clock`` fixture install one (stamina's ``set_testing`` is the model:
a switch the library ships for its users' tests, not a mock of ``time``).

One clock is installed per process at a time, innermost wins; installing is not thread-local, so
calls made from other threads of a test see the same virtual time.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from typed_llm._backoff import Backoff

__all__ = ["Clock", "installed", "installed_clock"]


@runtime_checkable
class Clock(Protocol):
    """What a retry layer needs of a clock: the time, a way to wait, and to say what it follows."""

    def __call__(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a virtual clock moves itself by them)."""
        ...

    def observe(self, backoff: Backoff) -> None:
        """A retry layer following ``backoff`` started a call under this clock."""
        ...


C = TypeVar("C", bound=Clock)

_LOCK = threading.Lock()
_STACK: list[Clock] = []


def installed_clock() -> Clock | None:
    """The clock installed now, or None (the real ``time.monotonic`` and sleeps)."""
    return _STACK[-1] if _STACK else None


@contextlib.contextmanager
def installed(clock: C) -> Iterator[C]:
    """Install ``clock`` for the retry layers of the process while the block runs."""
    with _LOCK:
        _STACK.append(clock)
    try:
        yield clock
    finally:
        with _LOCK:
            _STACK.remove(clock)
