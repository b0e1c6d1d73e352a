"""Where ``configure_logging`` sends its lines: a writer that renders them now, or in batches on a thread.

structlog runs every processor in the thread that logs. Rendering an event (timestamp text, the
redaction scan, JSON) is most of the cost of a log line, and it costs several times more just after a
call's wait for the API (the CPU's caches were lost while the thread slept) than in a loop. So the
pipeline ``configure_logging`` builds is split in two:

- in the thread that logs, only what must be taken there: the application's bound context
  (``merge_contextvars``), the level, the time as a number, and the exception being handled (for
  ``exc_info=True``), all cheap; then the event is handed to this writer;
- in the writer, the rest (``tail``): values computed late (the request key), timestamp text, the
  traceback's text, ``redact``, the renderer; then the line is written.

With ``background=True`` the writer queues events and a daemon thread renders and writes them in
batches, every ``FLUSH_INTERVAL`` seconds, in the order they were logged; stdlib records, rendered in
their own thread, share the queue, so lines keep their order. An event at warning or above wakes the
thread at once. When the queue reaches ``MAX_PENDING`` items, the thread that logs writes them
itself. The queue is drained by ``flush()`` (``typed_llm.flush_logs``), at exit, when
``configure_logging`` is called again, and a forked child starts with an empty queue and its own
thread (the parent writes what was queued before the fork; a fork holds new writes back and waits
for those in progress, for ``FORK_WAIT`` seconds at most, so that the child does not inherit a
stream's lock held); a ``multiprocessing`` child, which ends with
``os._exit``, writes its queue from a multiprocessing finalizer. With
``background=False`` every event is rendered and written in the thread that logs it, before the
logging call returns.

A line that cannot be rendered is replaced by a line saying so, and a line the stream cannot encode
is left out (the others are still written); a stream that cannot be written to is reported on
standard error: logging never raises into the application (as with stdlib ``logging``). A line
logged while a line is being rendered or written in the same thread is queued behind it.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import datetime as dt
import logging
import os
import sys
import threading
import time
import weakref
from typing import IO, TYPE_CHECKING, Final, cast

import structlog

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from multiprocessing.util import Finalize

    from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "FLUSH_INTERVAL",
    "MAX_PENDING",
    "LogWriter",
    "Pending",
    "capture",
    "flush_all",
    "format_time",
]

FLUSH_INTERVAL: Final = 0.1
"""Seconds between the background thread's batches: the longest a queued line waits to be written."""
MAX_PENDING: Final = 10_000
"""Queued events and lines at which the thread that logs writes them itself (memory stays bounded)."""

_URGENT: Final = frozenset({"warning", "warn", "error", "err", "exception", "critical", "fatal", "failure"})
"""structlog method names whose events wake the background thread at once."""

_UTC: Final = dt.UTC

Pending = tuple[str, "EventDict"] | str
"""A structlog event (its method name and event dict) still to render, or a stdlib line already rendered."""


def capture(
    logger: WrappedLogger,  # noqa: ARG001  (structlog's processor signature)
    method_name: str,
    event_dict: EventDict,
) -> tuple[tuple[Pending], dict[str, object]]:
    """The last processor run in the thread that logs: note the time and the exception, hand the event over.

    The time is kept as a number (``format_time`` writes it out later) and ``exc_info=True`` becomes
    the exception being handled now, which the writer could no longer see. The return value is
    structlog's ``(args, kwargs)`` for the wrapped logger, which is the ``LogWriter``.
    """
    event_dict["timestamp"] = time.time()
    exc_info = event_dict.get("exc_info")
    if exc_info and not isinstance(exc_info, BaseException | tuple):
        current = sys.exc_info()
        if current[1] is None:
            del event_dict["exc_info"]
        else:
            event_dict["exc_info"] = current
    return ((method_name, event_dict),), {}


def format_time(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:  # noqa: ARG001  (structlog's processor signature)
    """The first processor of the tail: the time ``capture`` noted, as ISO 8601 UTC text.

    The same text as structlog's ``TimeStamper(fmt="iso", utc=True)``, for the moment of the
    logging call rather than of the writing.
    """
    stamp = event_dict.get("timestamp")
    if isinstance(stamp, float):
        moment = dt.datetime.fromtimestamp(stamp, tz=_UTC)
        event_dict["timestamp"] = moment.isoformat().replace("+00:00", "Z")
    return event_dict


class LogWriter:
    """Renders handed-over events with ``tail`` and writes the lines to ``stream``, now or in batches.

    It is both structlog's logger factory and the logger it makes (every level's method queues the
    event), and the sink of ``configure_logging``'s stdlib handler (``submit_line``).
    """

    def __init__(
        self,
        stream: IO[str],
        tail: Sequence[Processor],
        *,
        background: bool,
        interval: float = FLUSH_INTERVAL,
        max_pending: int = MAX_PENDING,
    ) -> None:
        """Create a writer (its thread starts with the first queued event).

        Args:
            stream: where lines go.
            tail: the processors that turn a handed-over event into its line (the last returns text).
            background: queue and write in batches on a thread, or write each line at once.
            interval: seconds between batches.
            max_pending: queued items past which the logging thread writes them itself.
        """
        if interval <= 0 or max_pending < 1:
            raise ValueError(f"interval must be > 0 and max_pending >= 1, got {interval}, {max_pending}")
        self._stream = stream
        self._tail = tuple(tail)
        self._background = background
        self._interval = interval
        self._max_pending = max_pending
        self._pending: collections.deque[Pending] = collections.deque()
        self._closed = False
        self._reset_threading()
        _writers.add(self)

    def _reset_threading(self) -> None:
        """Fresh locks and no thread (also in a forked child, where the parent's may be held or gone)."""
        self._lock = threading.Lock()  # one flush at a time, so batches keep their order
        self._here = threading.local()  # ``flushing``: this thread is inside ``flush`` now
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- structlog's side: a logger factory, and the logger -----------------------------------------

    def __call__(self, *args: object) -> LogWriter:  # noqa: ARG002  (structlog passes the logger's name)
        """Be structlog's logger factory: every bound logger writes through this writer."""
        return self

    def msg(self, pending: Pending) -> None:
        """Take one event handed over by ``capture`` (structlog calls the method named after the level)."""
        self._submit(pending, urgent=isinstance(pending, tuple) and pending[0] in _URGENT)

    debug = info = log = msg
    warning = warn = error = err = exception = critical = fatal = failure = msg

    def submit_line(self, line: str, *, urgent: bool) -> None:
        """Take one line already rendered (a stdlib record), to write in its turn."""
        self._submit(line, urgent=urgent)

    def _submit(self, pending: Pending, *, urgent: bool) -> None:
        queue = self._pending
        queue.append(pending)
        if not self._background or self._closed or len(queue) >= self._max_pending:
            self.flush()  # closed: the thread may have drained for the last time already
            return
        if self._thread is None and not self._start():
            self.flush()  # no thread can start (the interpreter is shutting down): write it now
            return
        if urgent:
            self._wake.set()

    # --- the writing side ---------------------------------------------------------------------------

    def _start(self) -> bool:
        """Start the thread; False if none can start. Whoever holds the lock is starting it already.

        The lock is not waited for: its holder may be this very thread, in a signal handler that
        logs while ``Thread.start`` waits for the new thread.
        """
        if not self._start_lock.acquire(blocking=False):
            return True
        try:
            if self._thread is None and not self._closed:
                _flush_when_a_multiprocessing_child_ends()
                thread = threading.Thread(target=self._run, name="typed_llm-log-writer", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # "can't create new thread at interpreter shutdown"
                    return False
                self._thread = thread
            return True
        finally:
            self._start_lock.release()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.flush()
            except BaseException as exc:  # noqa: BLE001  (the thread must outlive anything, a value's ``repr`` calling ``sys.exit`` too, or lines stay queued)
                _report(f"typed_llm: the log writer failed: {type(exc).__name__}")

    def flush(self) -> None:
        """Render and write every queued item, in order, and flush the stream.

        A line logged while this thread renders (a value's ``repr`` that logs, a signal handler)
        is queued and written by this same flush, after the lines before it: no deadlock, no
        reordering.
        """
        here = self._here
        if getattr(here, "flushing", False):
            return
        # Set before the lock is taken: a signal handler that logs while this thread waits for the
        # lock, or holds it, queues its line instead of waiting for itself.
        here.flushing = True
        try:
            queue = self._pending
            with self._lock:
                while queue:
                    lines: list[str] = []
                    try:
                        while queue:
                            lines.append(self._render(queue.popleft()))
                    finally:  # interrupted (Ctrl-C in a value's ``repr``): what was rendered is written
                        self._write(lines)
        finally:
            here.flushing = False

    def _render(self, pending: Pending) -> str:
        if isinstance(pending, str):
            return pending + "\n"
        method_name, event_dict = pending
        try:
            return self._run_tail(method_name, event_dict)
        except structlog.DropEvent:
            return ""
        except Exception as exc:  # noqa: BLE001  (one bad event must not cost the others their lines)
            return self._not_rendered(event_dict, exc)

    def _not_rendered(self, event_dict: EventDict, exc: Exception) -> str:
        """The line written instead of an event that could not be rendered (itself rendered and redacted)."""
        try:
            original = str(event_dict.get("event"))
        except Exception:  # noqa: BLE001  (even the event's name may not turn into text)
            original = "?"
        failure: EventDict = {
            "event": "log_event_not_rendered",
            "original_event": original,
            "error_class": type(exc).__name__,
            "level": "error",
            "timestamp": event_dict.get("timestamp"),
        }
        try:
            return self._run_tail("error", failure)
        except Exception:  # noqa: BLE001  (the renderer itself is broken: plain text, naming nothing)
            return f"typed_llm: a log event could not be rendered ({type(exc).__name__})\n"

    def _run_tail(self, method_name: str, event_dict: EventDict) -> str:
        rendered: object = event_dict
        for processor in self._tail:  # each returns the next one's input; the last, the line
            rendered = processor(self, method_name, cast("EventDict", rendered))
        return f"{rendered}\n"

    def _write(self, lines: list[str]) -> None:
        stream = self._stream
        with _writing():
            try:
                stream.write("".join(lines))
                stream.flush()
            except UnicodeError:  # a line the stream's encoding cannot hold: write the others
                self._write_one_by_one(lines)
            except Exception as exc:  # noqa: BLE001  (logging must not raise into the application)
                _report(
                    f"typed_llm: {len(lines)} log line(s) could not be written: {type(exc).__name__}: {exc}"
                )

    def _write_one_by_one(self, lines: list[str]) -> None:
        failed = 0
        try:
            for line in lines:
                try:
                    self._stream.write(line)
                except UnicodeError:
                    failed += 1
            self._stream.flush()
        except Exception as exc:  # noqa: BLE001  (logging must not raise into the application)
            _report(f"typed_llm: log lines could not be written: {type(exc).__name__}: {exc}")
        if failed:
            _report(f"typed_llm: {failed} log line(s) could not be encoded for the log stream")

    def close(self) -> None:
        """Write what is queued and stop the thread; later events are written as they come."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self.flush()

    def _after_fork_in_child(self) -> None:
        self._pending.clear()  # the parent writes these; the child's own come next
        self._reset_threading()


def _report(message: str) -> None:
    with contextlib.suppress(Exception):  # nowhere left to say it
        sys.stderr.write(message + "\n")


_writers: weakref.WeakSet[LogWriter] = weakref.WeakSet()
"""Every writer alive, to drain at exit and to reset in a forked child."""


def flush_all() -> None:
    """Write every line still queued, in every writer."""
    for writer in list(_writers):
        writer.flush()


FORK_WAIT: Final = 3.0
"""Seconds a fork waits at most for log writes in progress to end."""

_gate = threading.Condition(threading.RLock())
"""Guards the counts below; notified when they fall. Re-entrant: a signal handler that writes or
forks may run in a thread that holds it."""
_writes: dict[int, int] = {}
"""Writes in progress, per thread (one count each, so an interrupt cannot set two apart)."""
_forks_pending = 0
"""While a fork is pending, no write starts (except in a thread holding stdlib logging's lock)."""

_LOGGING_LOCK: Final = getattr(logging, "_lock", None)
"""stdlib logging's module lock: private, but there from 3.11 to 3.14 (and renewed in place in a child)."""


def _holds_logging_lock() -> bool:
    """Whether this thread holds stdlib logging's module lock (``logging.config`` writes holding it)."""
    # RLock._is_owned is what threading.Condition asks too; typeshed leaves it out.
    is_owned: Callable[[], bool] | None = getattr(_LOGGING_LOCK, "_is_owned", None)
    return is_owned is not None and is_owned()


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """Around every write to a stream: counted, and held back while a fork is pending."""
    me = threading.get_ident()
    with _gate:
        # Two threads write anyway: the one forking (from a signal handler, while it waits), and
        # one holding logging's lock, which stdlib's own fork hook waits for, so the fork cannot
        # happen until this write is over (``logging.config`` flushes handlers holding it).
        if _forks_pending and not getattr(_forking, "forking", False) and not _holds_logging_lock():
            _gate.wait_for(lambda: not _forks_pending)
        _writes[me] = _writes.get(me, 0) + 1
    try:
        yield
    finally:
        with _gate:
            left = _writes.get(me, 1) - 1
            if left:
                _writes[me] = left
            else:
                _writes.pop(me, None)
            if _forks_pending:  # only a fork waits for writes to end
                _gate.notify_all()


def _others_writing() -> bool:
    """Whether a thread other than this one is writing (this one's writes cannot end during its fork)."""
    me = threading.get_ident()
    return any(thread != me for thread in _writes)


_forking = threading.local()
"""In the thread that forks, while it does: ``forking``, and ``interrupted`` (whether an interrupt
came while it waited)."""


def _before_fork() -> None:
    """Stop new writes and wait for those in progress, for ``FORK_WAIT`` seconds at most.

    A child forked mid-write would inherit the stream's own lock held (a buffered file holds one
    while it writes) and wait for it forever on its first line. Only writes are waited for, not
    the rendering of batches, and no lock is held across the fork. (stdlib ``logging`` only
    renews its handlers' locks in the child, which leaves the stream's lock to chance.) The wait
    is bounded: a write may wait for something the forking thread holds (a stream that logs
    through stdlib, a fork from a handler's ``emit``), or never end (a pipe nobody reads).

    CPython ignores an exception raised in a fork hook (it prints it) and forks anyway, so an
    interrupt (Ctrl-C) would not stop the fork, only the wait: the wait goes on, and the
    interrupt is reported once the fork is done.
    """
    global _forks_pending  # noqa: PLW0603  (one count for the process)
    here = _forking
    here.forking = True
    with _gate:
        _forks_pending += 1
    deadline = time.monotonic() + FORK_WAIT
    while True:  # for the writes of other threads: this one's (a stream whose write forks) cannot end
        try:
            with _gate:
                _gate.wait_for(lambda: not _others_writing(), timeout=max(0.0, deadline - time.monotonic()))
        except BaseException:  # noqa: BLE001  (an interrupt, from a signal handler)
            here.interrupted = True
        else:
            return


def _after_fork_in_parent() -> None:
    global _forks_pending  # noqa: PLW0603  (one count for the process)
    _forking.__dict__.pop("forking", None)
    with _gate:
        _forks_pending = max(0, _forks_pending - 1)  # never below 0, even if an interrupt cut the count short
        _gate.notify_all()
        quiet = not _others_writing()  # a write still stuck may be to standard error: say nothing
    if _forking.__dict__.pop("interrupted", False) and quiet:  # raised here, it would be ignored again
        _report("typed_llm: an interrupt came while a fork waited for a log write; it was ignored")


def _after_fork_in_child() -> None:
    global _gate, _writes, _forks_pending  # noqa: PLW0603  (renewed in the child)
    _gate = threading.Condition(threading.RLock())  # another thread may have held it at the fork
    me = threading.get_ident()
    _writes = {me: _writes[me]} if me in _writes else {}  # this thread's own, which end in the child
    _forks_pending = 0
    _forking.__dict__.pop("forking", None)
    _forking.__dict__.pop("interrupted", None)
    for writer in list(_writers):
        writer._after_fork_in_child()  # noqa: SLF001  (the module's own hook)


class _Anchor:
    """Something ``multiprocessing.util.register_after_fork`` can hold a weak reference to."""


_ANCHOR: Final = _Anchor()
_finalizer: Finalize | None = None
"""The finalizer that writes the queues when this ``multiprocessing`` child ends."""
_hooked = False
"""Whether ``_register_finalizer`` runs in every ``multiprocessing`` child started from here on."""


def _flush_when_a_multiprocessing_child_ends() -> None:
    """In a ``multiprocessing`` child, have the queued lines written when it ends.

    Such a child ends with ``os._exit``, which skips ``atexit``; it runs multiprocessing's own
    finalizers instead. Called when a writer's thread starts: in a child already running its
    target, the finalizer is registered now; and every child started from here on (this very
    process too, when it is a child still being set up, as forkserver and spawn children are while
    they import the main module) registers one once multiprocessing has cleared the finalizers it
    inherited.
    """
    global _hooked  # noqa: PLW0603  (once per process)
    if "multiprocessing" not in sys.modules:
        return  # neither a multiprocessing child nor a parent of one
    import multiprocessing.process  # noqa: PLC0415  (loaded already, like the module below)
    import multiprocessing.util  # noqa: PLC0415

    if not _hooked:
        multiprocessing.util.register_after_fork(_ANCHOR, _register_finalizer)
        _hooked = True
    if multiprocessing.process.parent_process() is not None:
        _register_finalizer(None)


def _register_finalizer(_: object) -> None:
    global _finalizer  # noqa: PLW0603  (one per process)
    import multiprocessing.util  # noqa: PLC0415  (loaded already: this runs only where it is in use)

    if _finalizer is None or not _finalizer.still_active():  # none yet, or cleared for a new child
        _finalizer = multiprocessing.util.Finalize(None, flush_all, exitpriority=-100)  # the last to run


atexit.register(flush_all)
os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)
