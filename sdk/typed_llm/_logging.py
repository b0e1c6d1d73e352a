"""Structured logging: the library's events, and an opt-in set-up helper.

The library asks for the structlog logger ``typed_llm`` and never configures logging itself. Where
the application has configured structlog, events go through its pipeline; where it has not, they
go to the stdlib logger ``typed_llm`` (silent unless the application enabled it), so importing the
SDK never makes a program print. ``configure_logging`` is the helper apps and the CLI may call.

Events (names and fields are stable; see the README's table): ``request`` (debug: with message
contents, cut short), ``response``, ``retry_scheduled``, ``cache_hit``, ``cache_miss``,
``cache_damaged``, ``error``.

Redaction (``_redaction``) is not left to the application: every event the library emits passes
through ``redact`` before any processor of the application's sees it, which replaces any known credential
(each key a client was built with, each token a token provider returned), anything shaped like an
OpenAI key (``sk-...``), bearer tokens, and the values of fields named like credentials. A careless
renderer at debug level still sees no secret. ``emit`` redacts the fields itself, and tells a
pipeline that runs ``redact`` (``configure_logging``'s does) which fields need no second scan.

``configure_logging`` is structlog's processors and one stdlib handler: every line, a structlog
event's or a stdlib record's, is rendered and written in the thread that logs it, before the logging
call returns, under that handler's lock. There is no thread and no queue of our own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
import threading
import warnings
import weakref
from typing import IO, TYPE_CHECKING, Any, Final, Literal

import attrs
import structlog
from structlog.typing import Processor

from typed_llm._redaction import (
    _CLEAN_MARK,
    _PLAIN,
    _REDACTED,
    _SECRET_FIELDS,
    LOGGER_NAME,
    _scrub,
    _scrub_value,
    redact,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from structlog.typing import EventDict, WrappedLogger

__all__ = [
    "DEFAULT_MAX_CONTENT_LENGTH",
    "LOGGER_NAME",
    "Later",
    "configure_logging",
    "emit",
    "flush_logs",
    "set_max_content_length",
]


DEFAULT_MAX_CONTENT_LENGTH: Final = 200
"""Message contents in debug events are cut to this many characters (the seed's
MAX_CONTENT_DISPLAY_LENGTH); change it with ``set_max_content_length``."""

_stdlib_logger = logging.getLogger(LOGGER_NAME)
_stdlib_logger.addHandler(logging.NullHandler())  # silent unless the application sets logging up
_max_content = DEFAULT_MAX_CONTENT_LENGTH


def set_max_content_length(length: int) -> None:
    """Cut message contents in debug events to ``length`` characters."""
    global _max_content  # noqa: PLW0603  (a process-wide display setting, like the seed's)
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    _max_content = length


class Later:
    """A field value computed only when the event is logged (not at all when it is filtered out)."""

    __slots__ = ("compute",)

    def __init__(self, compute: Callable[[], object]) -> None:
        """Wrap ``compute``, called (once per event) when the event is rendered."""
        self.compute = compute


def resolve_later(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:  # noqa: ARG001  (structlog's processor signature)
    """A structlog processor: every ``Later`` value of the event computed."""
    for key, value in event_dict.items():
        if value.__class__ is Later:
            event_dict[key] = value.compute()
    return event_dict


def cut(text: str) -> str:
    """``text`` cut to the configured display length (with an ellipsis when cut)."""
    return text if len(text) <= _max_content else text[:_max_content] + "…"


@attrs.frozen
class _Pipeline:
    """The structlog pipeline the library's events go to now."""

    logger: Any  # the bound logger of whatever wrapper class the application configured
    redacting: bool
    """Its processors run ``redact`` (so ``emit`` tells it which fields are clean already)."""
    direct: _Direct | None = None
    """When it is exactly ``configure_logging``'s: its processors and handler, to run directly."""


@attrs.frozen
class _Direct:
    """``configure_logging``'s pipeline, run by ``emit`` without structlog's bound logger around it.

    The bound logger would copy its (empty) context, check the level again, look the method up and
    call the same processors: the same line, for a quarter of the cost of an event in the call.
    """

    chain: tuple[Processor, ...]
    handler: _Handler

    def write(self, level: int, event: str, fields: dict[str, object]) -> None:
        method_name = _LEVEL_NAMES[level]
        event_dict: Any = {"logger": LOGGER_NAME, **fields, "event": event}
        for processor in self.chain:
            event_dict = processor(None, method_name, event_dict)
        self.handler.write_line(event_dict)


_LEVEL_NAMES: Final = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}
_installed: _Direct | None = None
"""The pipeline the last ``configure_logging`` call installed."""


_bound: tuple[tuple[object, ...], _Pipeline | None] | None = None


def _pipeline_now() -> _Pipeline | None:
    """The structlog pipeline to use now (None: the stdlib logger).

    structlog is used when the application configured it, or while a test captures events. The
    answer is cached until the configuration changes (structlog's own per-use binding costs more
    than the rest of an event, and this runs a few times per call).
    """
    global _bound  # noqa: PLW0603  (a cache of one)
    config = structlog.get_config()
    # The processors themselves, not their list: structlog's capture_logs changes it in place.
    chain = tuple(config["processors"])
    key = (chain, config["wrapper_class"], config["logger_factory"], structlog.is_configured())
    cached = _bound
    if cached is not None and cached[0] == key:
        return cached[1]
    pipeline: _Pipeline | None = None
    if key[-1] or any(isinstance(p, structlog.testing.LogCapture) for p in chain):
        installed = _installed
        lines = isinstance(config["logger_factory"], _Lines)
        ours = installed is not None and lines and chain == installed.chain
        pipeline = _Pipeline(
            logger=structlog.get_logger(LOGGER_NAME).bind(),
            redacting=redact in chain or any(isinstance(p, _Rendering) and redact in p.steps for p in chain),
            direct=installed if ours else None,
        )
    _bound = (key, pipeline)
    return pipeline


def _enabled_in(pipeline: _Pipeline | None, level: int) -> bool:
    if pipeline is None:
        return _stdlib_logger.isEnabledFor(level)
    # structlog's filtering loggers answer this cheaply; other wrappers filter later themselves.
    is_enabled = getattr(pipeline.logger, "is_enabled_for", None)
    return True if is_enabled is None else bool(is_enabled(level))


def enabled(level: int) -> bool:
    """Whether an event at ``level`` may go anywhere (so callers skip building what nobody reads)."""
    return _enabled_in(_pipeline_now(), level)


_SAFE_FIELDS: Final = frozenset(
    {"request_key", "provider", "kind", "error_class", "last_error_class", "finish_reason", "status_code"}
)
"""Fields whose values the SDK itself produces (hashes, names of its own classes): not scanned."""


def emit(level: int, event: str, **fields: object) -> None:
    """Log one library event, redacted, to the application's structlog pipeline or the stdlib logger.

    A ``Later`` value is computed here, once the event is known to go somewhere.
    """
    pipeline = _pipeline_now()
    if not _enabled_in(pipeline, level):
        return
    clean: dict[str, object] = {}
    for key, later in fields.items():  # the hot path of every event: one set lookup per field
        value = later.compute() if type(later) is Later else later
        if value.__class__ in _PLAIN or key in _SAFE_FIELDS:
            clean[key] = value
        elif key in _SECRET_FIELDS:  # the library's own field names are lower case
            clean[key] = _REDACTED
        else:
            clean[key] = _scrub(value) if value.__class__ is str else _scrub_value(value)
    if pipeline is not None:
        if pipeline.redacting:  # tell the pipeline's redact which fields are clean already
            clean[_CLEAN_MARK] = frozenset(clean)
        if pipeline.direct is not None and level in _LEVEL_NAMES:
            pipeline.direct.write(level, event, clean)
            return
        pipeline.logger.log(level, event, logger=LOGGER_NAME, **clean)
    else:
        details = " ".join(f"{key}={value!r}" for key, value in clean.items())
        _stdlib_logger.log(level, "%s %s", event, details)


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
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
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
    global _installed  # noqa: PLW0603  (the same set-up, for emit's direct path)
    chain: list[Processor] = [*shared, _Rendering(steps)]
    _installed = _Direct(tuple(chain), handler)
    structlog.configure(
        processors=chain,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_Lines(handler),
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
