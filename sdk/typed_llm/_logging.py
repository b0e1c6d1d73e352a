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

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
import structlog
from structlog.typing import Processor

from typed_llm._redaction import (
    _CLEAN_MARK,
    _PLAIN,
    _REDACTED,
    _SECRET_FIELDS,
    LOGGER_NAME,
    _scrub_value,
    redact,
    scrub,
)

if TYPE_CHECKING:
    from structlog.typing import EventDict, WrappedLogger

__all__ = [
    "DEFAULT_MAX_CONTENT_LENGTH",
    "LOGGER_NAME",
    "Later",
    "cleaned",
    "emit",
    "emit_with",
    "enabled",
    "install",
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


class _LineWriter(Protocol):
    def write_line(self, line: str) -> None: ...


@attrs.frozen
class _Direct:
    """``configure_logging``'s pipeline, run by ``emit`` without structlog's bound logger around it.

    The bound logger would copy its (empty) context, check the level again, look the method up and
    call the same processors: the same line, for a quarter of the cost of an event in the call.
    """

    chain: tuple[Processor, ...]
    handler: _LineWriter
    factory: object
    """The structlog logger factory ``configure_logging`` installed with the chain."""
    stamp: Processor
    """The chain's time stamp (``_log_setup._UTCStamp``)."""
    render: Callable[[object], str]
    """The chain's renderer, for an event the other steps would leave as it is."""

    def write(self, level: int, event: str, clean: dict[str, object], fields: dict[str, object]) -> None:
        """Write ``clean`` and ``fields`` (redacted and resolved by ``emit`` already) as the chain would.

        With no context bound (``structlog.contextvars``), every step but the time stamp and the
        renderer would leave the event as it is: its fields are redacted and its ``Later`` values
        computed, and it has no ``exc_info``. So only those two run, to the same line. A line
        written right after an HTTP answer arrives runs on a cold CPU, at about three times its
        usual cost (``bench/README.md``): each step left out counts three times.
        """
        method_name = _LEVEL_NAMES[level]
        if not structlog.contextvars.get_contextvars():
            event_dict: Any = {"logger": LOGGER_NAME, **clean, **fields, "event": event, "level": method_name}
            try:
                line = self.render(self.stamp(None, method_name, event_dict))
            except Exception:  # noqa: BLE001  (the chain's renderer says what failed, as a line)
                line = None
            if line is not None:
                self.handler.write_line(line)
                return
        event_dict = {"logger": LOGGER_NAME, **clean, **fields, "event": event}
        event_dict[_CLEAN_MARK] = frozenset(event_dict.keys() - {"logger", "event"})
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


def install(direct: _Direct) -> None:
    """Make ``direct`` the pipeline ``emit`` runs itself while structlog is configured with it."""
    global _installed  # noqa: PLW0603  (the set-up of the process, replaced by the next call)
    _installed = direct


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
        ours = (
            installed is not None
            and config["logger_factory"] is installed.factory
            and chain == installed.chain
        )
        pipeline = _Pipeline(
            logger=structlog.get_logger(LOGGER_NAME).bind(),
            redacting=redact in chain or any(redact in getattr(p, "steps", ()) for p in chain),
            direct=installed if ours else None,
        )
    _bound = (key, pipeline)
    return pipeline


def _enabled_in(pipeline: _Pipeline | None, level: int) -> bool:
    if pipeline is None:
        return _stdlib_logger.isEnabledFor(level) and _stdlib_delivers()
    # structlog's filtering loggers answer this cheaply; other wrappers filter later themselves.
    is_enabled = getattr(pipeline.logger, "is_enabled_for", None)
    return True if is_enabled is None else bool(is_enabled(level))


def _stdlib_delivers() -> bool:
    """Whether a record of the stdlib logger ``typed_llm`` reaches any handler but a ``NullHandler``.

    With nothing configured it reaches only the library's own ``NullHandler`` (and stdlib's
    last-resort printer never runs, since a handler was found): such an event is dropped, so it is
    not built. A handler the application (or pytest's ``caplog``) adds anywhere on the way up
    counts, whatever its level.
    """
    logger: logging.Logger | None = _stdlib_logger
    while logger is not None:
        for handler in logger.handlers:
            if handler.__class__ is not logging.NullHandler:
                return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def enabled(level: int) -> bool:
    """Whether an event at ``level`` may go anywhere (so callers skip building what nobody reads)."""
    return _enabled_in(_pipeline_now(), level)


def info_and_warning() -> tuple[bool, bool]:
    """``enabled(INFO)`` and ``enabled(WARNING)``, asked together (the logging layer needs both per call)."""
    pipeline = _pipeline_now()
    info = _enabled_in(pipeline, logging.INFO)
    return info, info or _enabled_in(pipeline, logging.WARNING)


_SAFE_FIELDS: Final = frozenset(
    {
        "request_key",
        "provider",
        "kind",
        "error_class",
        "last_error_class",
        "finish_reason",
        "status_code",
        "cost",  # numbers, a currency and the price data's release name
        "attempts",  # the ledger's log form, whose one foreign text (a request id) it scrubs itself
    }
)
"""Fields whose values the SDK itself produces (hashes, names of its own classes, its own numbers):
not scanned."""


def _clean(fields: dict[str, object]) -> dict[str, object]:
    """``fields`` itself, every ``Later`` in it computed and every credential replaced."""
    for key, later in fields.items():  # the hot path of every event: one set lookup per field
        value = later.compute() if type(later) is Later else later
        if value.__class__ in _PLAIN or key in _SAFE_FIELDS:
            if value is not later:
                fields[key] = value
        elif key in _SECRET_FIELDS:  # the library's own field names are lower case
            fields[key] = _REDACTED
        else:
            fields[key] = scrub(value) if value.__class__ is str else _scrub_value(value)
    return fields


def cleaned(fields: Mapping[str, str]) -> dict[str, object]:
    """Text fields redacted once, to be passed to several ``emit_with`` calls as their ``clean`` part.

    A call's shared fields (its request key, model, provider) are cleaned before the request goes
    out, not in every event after the answer arrives. (Texts only: scrubbing a text cannot fail.)
    """
    return {
        key: value if key in _SAFE_FIELDS else _REDACTED if key in _SECRET_FIELDS else scrub(value)
        for key, value in fields.items()
    }


def emit(level: int, event: str, **fields: object) -> None:
    """Log one library event, redacted, to the application's structlog pipeline or the stdlib logger.

    A ``Later`` value is computed here, once the event is known to go somewhere.
    """
    emit_with(level, event, _NOTHING, fields)


_NOTHING: Final[dict[str, object]] = {}


def emit_with(level: int, event: str, clean: dict[str, object], fields: dict[str, object]) -> None:
    """``emit``, with ``clean`` (fields ``cleaned`` already, written first) and ``fields`` (a dict of
    the caller's own, redacted in place here)."""  # noqa: D205, D209  (one sentence)
    pipeline = _pipeline_now()
    if not _enabled_in(pipeline, level):
        return
    try:
        _clean(fields)
    except Exception as exc:  # noqa: BLE001  (a value with no text, a failing Later: never raised into the call)
        level, event, clean = logging.ERROR, "log_event_not_rendered", {"original_event": event}
        fields = {"error_class": type(exc).__name__}
    if pipeline is not None:
        if pipeline.direct is not None and level in _LEVEL_NAMES:
            pipeline.direct.write(level, event, clean, fields)
            return
        merged = {**clean, **fields}
        if pipeline.redacting:  # tell the pipeline's redact which fields are clean already
            merged[_CLEAN_MARK] = frozenset(merged)
        pipeline.logger.log(level, event, logger=LOGGER_NAME, **merged)
    else:
        details = " ".join(f"{key}={value!r}" for key, value in (*clean.items(), *fields.items()))
        _stdlib_logger.log(level, "%s %s", event, details)
