"""``configure_logging``: the set-up an application (or the CLI) may ask for; the library never calls it.

structlog's processors and one stdlib handler: every line, a structlog event's or a stdlib record's,
is rendered and written in the thread that logs it, before the logging call returns, under that
handler's lock. There is no thread and no queue of our own. The library's own events take a short
cut through the same steps (``_logging._Direct``), installed here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json as json_module
import logging
import os
import sys
import threading
import time
import warnings
import weakref
from typing import IO, TYPE_CHECKING, Final, Literal

import orjson
import structlog

from typed_llm._logging import _Direct, install, resolve_later
from typed_llm._redaction import redact

if TYPE_CHECKING:
    from collections.abc import Sequence

    from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["FORK_WAIT", "configure_logging", "flush_logs"]


class _Rendering:
    """The last processor of ``configure_logging``'s structlog events: its ``steps``, then the line.

    An event that cannot be rendered (a value whose ``repr`` raises, a ``Later`` that fails)
    becomes a ``log_event_not_rendered`` line, itself redacted and rendered: logging never raises
    into the application, as with stdlib ``logging``.
    """

    __slots__ = ("steps",)

    def __init__(self, steps: Sequence[Processor]) -> None:
        """Run ``steps`` in turn; the last returns the line."""
        self.steps = tuple(steps)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        """The event's line, or the line saying it could not be rendered."""
        try:
            return _run(self.steps, logger, method_name, event_dict)
        except structlog.DropEvent:
            raise
        except Exception as exc:  # noqa: BLE001  (one bad event must not raise into the application)
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
            return _failure_line(self.steps, failure, exc)


def _run(steps: Sequence[Processor], logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
    rendered: object = event_dict
    for step in steps:  # each returns the next one's input; the last, the line
        rendered = step(logger, method_name, rendered)  # type: ignore[arg-type]  # a processor's output is the next one's input
    return str(rendered)


def _failure_line(steps: Sequence[Processor], failure: EventDict, exc: BaseException) -> str:
    """``failure`` rendered by ``steps``; if even that fails, plain text naming nothing of the event."""
    try:
        return _run(steps, None, "error", failure)
    except Exception:  # noqa: BLE001  (the renderer itself is broken)
        return f"typed_llm: a log event could not be rendered ({type(exc).__name__})"


class _Handler(logging.StreamHandler[IO[str]]):
    """configure_logging's one stdlib handler: it writes every line, structlog's and stdlib's.

    Both kinds of line are written under this handler's lock, in the thread that logs, so they come
    out whole and in the order they were logged. It is told apart from the application's own
    handlers on the root logger (a second ``configure_logging`` replaces it).
    """

    def __init__(self, stream: IO[str], steps: Sequence[Processor]) -> None:
        super().__init__(stream)
        self._steps = tuple(steps)
        _handlers.add(self)

    def write_line(self, line: str) -> None:
        """Write one rendered line and flush it, under the handler's lock."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__, never None after it
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except Exception as exc:  # noqa: BLE001  (logging must not raise into the application)
                _report(f"typed_llm: a log line could not be written: {type(exc).__name__}: {exc}")

    def emit(self, record: logging.LogRecord) -> None:
        """Render a stdlib record with the same processors as the events and write its line.

        A record that cannot be formatted (arguments that do not fit its message) becomes a line
        saying so, rendered and redacted like the others. stdlib's ``handleError`` would print the
        arguments to standard error, secrets and all.
        """
        try:
            line = self.format(record)
        except Exception as exc:  # noqa: BLE001  (logging must not raise into the application)
            failure: EventDict = {
                "logger": record.name,
                "event": "log_record_not_formatted",
                "original_event": record.msg if isinstance(record.msg, str) else "?",
                "error_class": type(exc).__name__,
                "level": "error",
                "timestamp": dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
                .isoformat()
                .replace("+00:00", "Z"),
            }
            line = _failure_line(self._steps, failure, exc)
        self.write_line(line)


class _Lines:
    """structlog's logger factory and wrapped logger for ``configure_logging``: lines to the handler."""

    __slots__ = ("_handler",)

    def __init__(self, handler: _Handler) -> None:
        self._handler = handler

    def __call__(self, *args: object) -> _Lines:  # noqa: ARG002  (structlog passes the logger's name)
        """Be the logger factory: every bound logger writes through the one handler."""
        return self

    def msg(self, message: str) -> None:
        """Write one rendered event (structlog calls the method named after the level)."""
        self._handler.write_line(message)

    debug = info = log = msg
    warning = warn = error = err = exception = critical = fatal = failure = msg


def _report(message: str) -> None:
    with contextlib.suppress(Exception):  # nowhere left to say it
        sys.stderr.write(message + "\n")


_handler: _Handler | None = None
"""The handler of the last ``configure_logging`` call."""
_handlers: weakref.WeakSet[_Handler] = weakref.WeakSet()
"""Every handler ``configure_logging`` made that is still in use (a logger bound earlier keeps one)."""

FORK_WAIT: Final = 3.0
"""Seconds a fork waits at most for a line being written (a stream nobody reads may never take it)."""
_MODULE_LOCK: Final = getattr(logging, "_lock", None)
"""stdlib logging's module lock (private, there from 3.11 to 3.14), taken before a handler's, in
the order ``logging.config`` takes them, so that a fork during ``dictConfig`` cannot deadlock."""
_forking = threading.local()
"""``held``: the locks the thread that forks holds across its fork."""


def _before_fork() -> None:
    """Hold the handlers' locks across a fork, so that no line is halfway through a write then.

    A child forked while another thread writes would inherit the stream's own buffer lock held
    (stdlib renews only its handlers' locks in the child), and wait forever on its first line.
    Holding the lock every line is written under, as the C library does for its streams, rules that
    out. The wait is bounded: a write may wait for a reader that never comes.
    """
    locks = (_MODULE_LOCK, *(handler.lock for handler in list(_handlers)))
    _forking.held = [lock for lock in locks if lock is not None and lock.acquire(timeout=FORK_WAIT)]


def _after_fork_in_parent() -> None:
    for lock in reversed(_forking.__dict__.pop("held", [])):
        lock.release()


def _after_fork_in_child() -> None:
    _forking.__dict__.pop("held", None)  # stdlib has renewed them all in the child, unheld


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)


class _UTCStamp:
    """A structlog processor: the event's ``timestamp``, as ``TimeStamper(fmt="iso", utc=True)`` writes it.

    The same text (``2026-12-07T02:04:33.123456Z``, or ``2026-12-07T02:04:33Z`` on a whole second, as
    ``isoformat`` leaves out a zero fraction) from the same clock, rounded to the microsecond as
    ``datetime.now`` rounds it. It builds no ``datetime``: the text of the current second is kept and
    only the fraction is written per event. The stamp is taken on every line of every call, right
    after the answer arrives, where each object built costs several times its usual time.
    """

    __slots__ = ("_second",)

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")
        """The last second stamped and its text (one tuple: threads read it whole)."""

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:  # noqa: ARG002  (structlog's processor signature)
        """``event_dict`` with its ``timestamp``."""
        micros, rest = divmod(time.time_ns(), 1000)
        if rest > 500 or (rest == 500 and micros & 1):  # noqa: PLR2004  (half a microsecond, to even)
            micros += 1
        second, fraction = divmod(micros, 1_000_000)
        known = self._second
        if known[0] != second:
            text = dt.datetime.fromtimestamp(second, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
            known = self._second = (second, text)
        event_dict["timestamp"] = f"{known[1]}.{fraction:06d}Z" if fraction else f"{known[1]}Z"
        return event_dict


def _json_fallback(value: object) -> object:
    """What structlog's ``JSONRenderer`` writes for a value JSON has no form for."""
    custom = getattr(value, "__structlog__", None)
    return custom() if callable(custom) else repr(value)


_json_encoder: Final = json_module.JSONEncoder(default=_json_fallback)
"""What ``json.dumps(event, default=...)`` builds for every line (structlog's ``JSONRenderer``)."""
_ORJSON_OPTIONS: Final = orjson.OPT_NON_STR_KEYS  # keys as json.dumps writes them (str(key))


def _json_line(event_dict: object, **_ignored: object) -> str:
    """Structlog's ``JSONRenderer`` serializer: one compact JSON line.

    orjson writes it (structlog's documented fast path: a seventh of ``json.dumps``'s time for a
    ``response`` event, on the path of every call); a value orjson refuses (an integer wider than
    64 bits, say) falls back to ``json.dumps``, so every event still gets a line.
    """
    try:
        return orjson.dumps(event_dict, default=_json_fallback, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _json_encoder.encode(event_dict)


def configure_logging(
    *,
    json: bool = False,
    level: int | Literal["debug", "info", "warning", "error"] = "info",
    stream: IO[str] | None = None,
    background: bool | None = None,
) -> None:
    """Set up structlog and stdlib logging for an application (the library never calls this).

    Both structlog events and stdlib records (the openai package's own logger among them) go
    through one pipeline, with timestamps, levels, redaction, and a JSON-lines or console renderer,
    to one stdlib handler on the root logger. Each line is rendered, written and flushed in the
    thread that logs it, before the logging call returns, so lines come out in the order they were
    logged. Calling it again replaces the previous set-up (its handler), so no line is written twice.

    Safe across ``fork`` by construction: there is no thread (nothing to restart in the child) and
    no queue or unflushed buffer (nothing for parent and child to write twice, nothing lost). Every
    line is written under one stdlib handler's lock, which a fork holds (``FORK_WAIT`` seconds at
    most), so the child never inherits a stream halfway through a write, and which stdlib renews
    in the child.

    A line that cannot be rendered is replaced by a ``log_event_not_rendered`` line, a stdlib record
    whose arguments do not fit its message by a ``log_record_not_formatted`` line, and a stream that
    cannot be written to is reported on standard error: logging never raises.

    Args:
        json: JSON lines (for machines) instead of the readable console format.
        level: the lowest level written.
        stream: where lines go (standard error by default).
        background: deprecated and ignored (a ``DeprecationWarning``): lines used to be written by
            a thread; they are now always written before the logging call returns.
    """
    global _handler  # noqa: PLW0603  (the set-up of the process, replaced by the next call)
    if background is not None:
        warnings.warn(
            "configure_logging(background=...) is ignored: every line is written when it is logged",
            DeprecationWarning,
            stacklevel=2,
        )
    numeric = level if isinstance(level, int) else logging.getLevelNamesMapping()[level.upper()]
    renderer: Processor = (
        # json.dumps(event, default=...) builds an encoder per line; one built once writes the same.
        structlog.processors.JSONRenderer(serializer=_json_line)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    stamp = _UTCStamp()
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        stamp,
    ]
    steps: list[Processor] = [
        resolve_later,
        structlog.processors.format_exc_info,  # tracebacks become text, so redaction sees them
        redact,
        renderer,
    ]
    handler = _Handler(stream or sys.stderr, steps)
    # stdlib records (openai's, httpx2's): the same steps, by structlog's formatter for them.
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                *shared,
                structlog.processors.format_exc_info,
                redact,
                structlog.stdlib.add_logger_name,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    chain: list[Processor] = [*shared, _Rendering(steps)]
    lines = _Lines(handler)
    install(
        _Direct(
            tuple(chain),
            handler,
            lines,
            stamp,
            _json_line if json else functools.partial(renderer, None, "info"),  # type: ignore[arg-type]  # ConsoleRenderer takes any mapping
        )
    )
    structlog.configure(
        processors=chain,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lines,
        cache_logger_on_first_use=False,  # the library's module-level logger must follow reconfiguration
    )
    _handler = handler
    root = logging.getLogger()
    # Replace the handler an earlier call installed (calling twice must not print twice); leave
    # the application's own handlers alone. One assignment: a record logged meanwhile in another
    # thread finds one handler or the other, never none (stdlib would print it, unredacted).
    root.handlers = [*(h for h in root.handlers if not isinstance(h, _Handler)), handler]
    root.setLevel(numeric)
    # httpx2 logs every request at INFO, which the SDK's response event already says (with more);
    # vcrpy narrates every cassette it loads. Only their warnings are news to an application.
    for chatty in ("httpx2", "httpx", "httpcore2", "vcr"):
        logging.getLogger(chatty).setLevel(max(numeric, logging.WARNING))


def flush_logs() -> None:
    """Flush the stream ``configure_logging`` writes to.

    Every line is already written and flushed before its logging call returns, so there is nothing
    queued to wait for; this is kept so that code written for the earlier background writer (which
    called it before reading the stream, or before ``os._exit``) keeps working.
    """
    handler = _handler
    if handler is not None:
        with contextlib.suppress(ValueError):  # a closed stream: nothing of it is left unwritten
            handler.flush()
