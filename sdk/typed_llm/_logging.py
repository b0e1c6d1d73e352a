"""Structured logging: the library's events, redaction of secrets, and an opt-in set-up helper.

The library asks for the structlog logger ``typed_llm`` and never configures logging itself. Where
the application has configured structlog, events go through its pipeline; where it has not, they
go to the stdlib logger ``typed_llm`` (silent unless the application enabled it), so importing the
SDK never makes a program print. ``configure_logging`` is the helper apps and the CLI may call.

Events (names and fields are stable; see the README's table): ``request`` (debug: with message
contents, cut short), ``response``, ``retry_scheduled``, ``cache_hit``, ``cache_miss``,
``cache_damaged``, ``error``.

Redaction is not left to the application: every event the library emits passes through
``redact`` before any processor of the application's sees it, which replaces any known credential
(each key a client was built with, each token a token provider returned), anything shaped like an
OpenAI key (``sk-...``), bearer tokens, and the values of fields named like credentials. A careless
renderer at debug level still sees no secret. ``emit`` redacts the fields itself, except when the
pipeline is exactly the one ``configure_logging`` installed: then its writer runs ``redact``, before
its renderer, in the writer's thread.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import threading
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any, Final, Literal, cast

import attrs
import structlog
from structlog.typing import Processor

from typed_llm._errors import APIError, APIStatusError, RetriesExhaustedError, TypedLLMError
from typed_llm._log_writer import LogWriter, capture, flush_all, format_time

if TYPE_CHECKING:
    from structlog.typing import EventDict, WrappedLogger

__all__ = [
    "DEFAULT_MAX_CONTENT_LENGTH",
    "LOGGER_NAME",
    "CallContext",
    "Later",
    "configure_logging",
    "current_call",
    "emit",
    "error_fields",
    "flush_logs",
    "redact",
    "register_secret",
    "set_max_content_length",
]

LOGGER_NAME: Final = "typed_llm"
DEFAULT_MAX_CONTENT_LENGTH: Final = 200
"""Message contents in debug events are cut to this many characters (the seed's
MAX_CONTENT_DISPLAY_LENGTH); change it with ``set_max_content_length``."""

_stdlib_logger = logging.getLogger(LOGGER_NAME)
_stdlib_logger.addHandler(logging.NullHandler())  # silent unless the application sets logging up

_KEY_SHAPED = re.compile(r"\b(sk-[A-Za-z0-9_\-]{3})[A-Za-z0-9_\-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/\-]{8,}=*")
_KEY_PARAMETER = re.compile(r"(?i)([?&](?:api-key|api_key|key|sig|token)=)[^&\s'\"]+")
_SECRET_FIELDS = frozenset(
    {"authorization", "api_key", "api-key", "apikey", "token", "access_token", "password"}
)
_REDACTED = "[redacted]"

_MAX_SECRETS: Final = 256
"""Registered secrets kept; the oldest go first (a token provider registers every fresh token)."""

# The secrets and the pattern matching any of them, replaced together under the lock and read
# without it, as one value: a reader never pairs a new secret with an old pattern.
_registry: tuple[tuple[str, ...], re.Pattern[str] | None] = ((), None)
_secrets_lock = threading.Lock()
_max_content = DEFAULT_MAX_CONTENT_LENGTH


def register_secret(secret: str) -> None:
    """Make ``secret`` (a key or token) disappear from every event the library logs from now on."""
    global _registry  # noqa: PLW0603  (one registry for the process, by design)
    if len(secret) < 8 or secret in _registry[0]:  # noqa: PLR2004  (shorter strings are not credentials)
        return
    with _secrets_lock:
        kept = (*_registry[0], secret)[-_MAX_SECRETS:]
        alternatives = sorted(kept, key=len, reverse=True)
        _registry = (kept, re.compile("|".join(re.escape(s) for s in alternatives)))


def scrub_registered(text: str, replacement: str) -> str:
    """``text`` with every registered secret (clients' keys, providers' tokens) replaced.

    The recorder uses it: the credentials of the clients under test are known, wherever they
    appear (a prompt, a server's echo, a header, a URL), whatever their shape.
    """
    secrets, pattern = _registry
    if pattern is None or not any(secret in text for secret in secrets):
        return text
    return pattern.sub(replacement, text)


def set_max_content_length(length: int) -> None:
    """Cut message contents in debug events to ``length`` characters."""
    global _max_content  # noqa: PLW0603  (a process-wide display setting, like the seed's)
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    _max_content = length


def _scrub(text: str) -> str:
    secrets, pattern = _registry
    if pattern is not None:
        for secret in secrets:  # a loop of ``in`` is cheaper than a search, most texts hold none
            if secret in text:
                text = pattern.sub(_REDACTED, text)
                break
    if "sk-" in text:
        text = _KEY_SHAPED.sub(r"\1" + _REDACTED, text)
    if "earer" in text:
        text = _BEARER.sub(r"\1 " + _REDACTED, text)
    if "=" in text:
        text = _KEY_PARAMETER.sub(r"\1" + _REDACTED, text)
    return text


def _scrub_value(value: object) -> object:
    if value is None or isinstance(value, int | float | bool):
        return value
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, Mapping):
        return {
            k: _REDACTED if str(k).lower() in _SECRET_FIELDS else _scrub_value(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    if isinstance(value, BaseException):
        return _scrub(f"{type(value).__name__}: {value}")
    return _scrub(repr(value))  # any other object: its text, which a renderer would print


def redact(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:  # noqa: ARG001  (structlog's processor signature)
    """A structlog processor: credentials out of every value (and field names like ``api_key``).

    structlog's own plumbing (``_record``, ``_from_structlog``) is left alone; every other field, an
    application's ``_private`` ones too, is scanned (renderers print them).
    A library event that ``emit`` redacted field by field carries the names of those fields; only
    what was added since (context the application bound, fields of its own processors) is scanned
    again. Every other event (the library's in ``configure_logging``'s writer among them) is
    scanned whole.
    """
    clean = event_dict.pop(_CLEAN_MARK, None)  # never rendered, whatever a processor renamed
    if event_dict.get("logger") != LOGGER_NAME:
        clean = None  # trusted only on the library's own events
    # Of a library event, skip the fields emit cleaned and the two it set itself.
    keys = event_dict.keys() - clean - _OWN_KEYS if isinstance(clean, frozenset) else list(event_dict)
    for key in keys:
        if key in _PLUMBING:
            continue
        if key.lower() in _SECRET_FIELDS:
            event_dict[key] = _REDACTED
            continue
        value = event_dict[key]
        if value.__class__ is str:
            event_dict[key] = _scrub(value)
        elif value.__class__ not in _PLAIN:
            event_dict[key] = _scrub_value(value)
    return event_dict


class Later:
    """A field value computed only when the event is rendered (in the writer, if it renders later)."""

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
    writer: LogWriter | None
    """Set when the pipeline is exactly the one ``configure_logging`` installed (its processors and
    its writer, nothing added): the writer computes ``Later`` values and redacts every field, and
    the library hands its events over directly (see ``emit``)."""
    processors: tuple[Processor, ...]


_bound: tuple[tuple[tuple[Processor, ...], object, object], _Pipeline] | None = None


def _pipeline_now() -> _Pipeline | None:
    """The structlog pipeline to use now (None: the stdlib logger).

    structlog is used when the application configured it, or while a test captures events. The
    bound logger is cached until the configuration changes (structlog's own per-use binding costs
    more than the rest of an event).
    """
    global _bound  # noqa: PLW0603  (a cache of one)
    config = structlog.get_config()
    processors = config["processors"]
    if not structlog.is_configured() and not any(
        isinstance(p, structlog.testing.LogCapture) for p in processors
    ):
        return None
    # The processors themselves, not their list: structlog's capture_logs changes it in place.
    chain = tuple(processors)
    key = (chain, config["wrapper_class"], config["logger_factory"])
    cached = _bound
    if cached is None or cached[0] != key:
        pipeline = _Pipeline(
            logger=structlog.get_logger(LOGGER_NAME).bind(),
            redacting=redact in chain,
            writer=_writer if config["logger_factory"] is _writer and chain == _front else None,
            processors=chain,
        )
        cached = _bound = (key, pipeline)
    return cached[1]


def _enabled_in(pipeline: _Pipeline | None, level: int) -> bool:
    if pipeline is None:
        return _stdlib_logger.isEnabledFor(level)
    # structlog's filtering loggers answer this cheaply; other wrappers filter later themselves.
    is_enabled = getattr(pipeline.logger, "is_enabled_for", None)
    return True if is_enabled is None else bool(is_enabled(level))


def enabled(level: int) -> bool:
    """Whether an event at ``level`` may go anywhere (so callers skip building what nobody reads)."""
    return _enabled_in(_pipeline_now(), level)


_CLEAN_MARK: Final = "_typed_llm_redacted"
"""Set on the library's events when the pipeline runs ``redact`` (which removes it): the names of
the fields ``emit`` already redacted."""
_OWN_KEYS: Final = frozenset({"event", "logger"})
"""Fields of a library event whose values the library itself set (its event name and logger name)."""

_LEVEL_NAMES: Final = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}
"""structlog's method name for each level the library logs at."""

_PLUMBING: Final = frozenset({"_record", "_from_structlog"})
"""Fields structlog's ``ProcessorFormatter`` adds for itself and removes before rendering."""

_PLAIN: Final = frozenset({int, float, bool, type(None)})
"""Value types that cannot hold a secret."""

_SAFE_FIELDS: Final = frozenset(
    {"request_key", "provider", "kind", "error_class", "last_error_class", "finish_reason", "status_code"}
)
"""Fields whose values the SDK itself produces (hashes, names of its own classes): not scanned."""


def emit(level: int, event: str, **fields: object) -> None:
    """Log one library event, redacted, to the application's structlog pipeline or the stdlib logger.

    A ``Later`` value is computed here, or by ``configure_logging``'s writer when it renders the event.
    """
    pipeline = _pipeline_now()
    if not _enabled_in(pipeline, level):
        return
    if pipeline is not None and pipeline.writer is not None:
        # The writer computes, redacts and renders every field, possibly on its own thread. What
        # structlog's bound logger would add around the processors (a copy of its empty context,
        # the level check done above) is skipped: a third of the cost left in the logging thread.
        method_name = _LEVEL_NAMES[level]
        event_dict: object = {"logger": LOGGER_NAME, **fields, "event": event}
        try:
            for processor in pipeline.processors:
                event_dict = processor(pipeline.writer, method_name, cast("EventDict", event_dict))
        except structlog.DropEvent:
            return
        args, kwargs = cast("tuple[tuple[object, ...], dict[str, object]]", event_dict)
        getattr(pipeline.writer, method_name)(*args, **kwargs)
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
        pipeline.logger.log(level, event, logger=LOGGER_NAME, **clean)
    else:
        details = " ".join(f"{key}={value!r}" for key, value in clean.items())
        _stdlib_logger.log(level, "%s %s", event, details)


_writer: LogWriter | None = None
"""The writer of the last ``configure_logging`` call."""
_front: tuple[Processor, ...] = ()
"""The processors it installed (run where an event is logged; the writer runs the rest)."""


def configure_logging(
    *,
    json: bool = False,
    level: int | Literal["debug", "info", "warning", "error"] = "info",
    stream: IO[str] | None = None,
    background: bool = True,
) -> None:
    """Set up structlog and stdlib logging for an application (the library never calls this).

    Both structlog events and stdlib records (the openai package's own logger among them) go
    through one pipeline, with timestamps, levels, redaction, and a JSON-lines or console renderer.

    With ``background`` (the default), events are rendered and written in batches by a thread, at
    most ``0.1`` s after they are logged, in order: the thread that logs only notes the event's
    time, level and context, which keeps logging at info nearly free for a call. Lines queued are
    written at exit, before a reconfiguration, at once for warnings and errors, and by
    ``flush_logs()``. Values are rendered when written: log values, not objects you change next.
    Without it, each line is written before the logging call returns (the CLI's choice, so its
    log lines and its output keep their order).

    Args:
        json: JSON lines (for machines) instead of the readable console format.
        level: the lowest level written.
        stream: where lines go (standard error by default).
        background: render and write on a thread, in batches.
    """
    global _writer, _front
    numeric = level if isinstance(level, int) else logging.getLevelNamesMapping()[level.upper()]
    renderer: Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    # structlog events: context, level and time taken where they are logged; the rest (values
    # computed late, the time's text, tracebacks, redaction, rendering) in the writer.
    tail: list[Processor] = [
        resolve_later,
        format_time,
        structlog.processors.format_exc_info,
        redact,
        renderer,
    ]
    writer = LogWriter(stream or sys.stderr, tail, background=background)
    front: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        capture,
    ]
    previous, _writer, _front = _writer, writer, tuple(front)
    if previous is not None:
        # What it queued is written now, before any line of the new pipeline; lines still logged
        # through it (a thread midway, a logger bound earlier) are written at once, in turn.
        previous.close()
    structlog.configure(
        processors=front,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=writer,
        cache_logger_on_first_use=False,  # the library's module-level logger must follow reconfiguration
    )
    # stdlib records (openai's, httpx2's) are rendered by the same processors where they are
    # logged (a record's arguments may change later) and queued with the events, in order.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,  # tracebacks become text, so redaction sees them
            redact,
            structlog.stdlib.add_logger_name,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _Handler(writer)
    handler.setFormatter(formatter)
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
    """Write every log line ``configure_logging`` has queued but not yet written.

    Lines are written within 0.1 s anyway, and at exit; call this before reading the log stream
    yourself, or before ending a process in a way that skips exit handlers (``os._exit``).
    """
    flush_all()


class _Handler(logging.Handler):
    """The stdlib handler configure_logging installs (told apart from the application's own)."""

    def __init__(self, writer: LogWriter) -> None:
        super().__init__()
        self._writer = writer

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit, without stdlib's per-handler lock: the writer has its own.

        Holding both, with a line logged through stdlib from inside a rendering on the writer's
        thread, could deadlock.
        """
        passed = bool(self.filter(record))
        if passed:
            self.emit(record)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        """Render the record now and queue its line with the structlog events.

        A record that cannot be formatted (arguments that do not fit its message) becomes a line
        saying so, rendered and redacted like the others. stdlib's ``handleError`` would print the
        arguments to standard error, secrets and all.
        """
        try:
            line = self.format(record)
        except Exception as exc:  # noqa: BLE001  (logging must not raise into the application)
            message = record.msg if isinstance(record.msg, str) else "?"
            self._writer.msg(
                (
                    "error",
                    {
                        "logger": record.name,
                        "event": "log_record_not_formatted",
                        "original_event": message,
                        "error_class": type(exc).__name__,
                        "level": "error",
                        "timestamp": record.created,
                    },
                )
            )
            return
        self._writer.submit_line(line, urgent=record.levelno >= logging.WARNING)

    def flush(self) -> None:
        """Write what is queued (stdlib calls this at exit, from ``logging.shutdown``)."""
        self._writer.flush()


# --- what the events of one call share (set by the logging layer, read by the retry layer) ---


@attrs.define
class CallContext:
    """What every event of one call shares; the retry layer counts attempts into it.

    The request key (a SHA-256 of the canonical request) is computed on the first event that needs
    it: a call that logs nothing pays nothing for it.
    """

    key_of: Callable[[], str] = attrs.field(repr=False)
    provider: str
    model: str
    deployment: str | None
    attempts: int = 0
    _key: str | None = attrs.field(default=None, init=False, repr=False)

    @property
    def request_key(self) -> str:
        """The call's cache key, shared by all its events."""
        return self._request_key()

    def _request_key(self) -> str:
        if self._key is None:
            self._key = self.key_of()
        return self._key

    def fields(self) -> dict[str, object]:
        """The shared fields of this call's events (the request key as a ``Later`` until computed)."""
        fields: dict[str, object] = {
            "request_key": self._key if self._key is not None else Later(self._request_key),
            "provider": self.provider,
            "model": self.model,
        }
        if self.deployment is not None:
            fields["deployment"] = self.deployment
        return fields


current_call: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar(
    "typed_llm_call", default=None
)
"""The call in progress in this thread or task, if a logging layer started one."""


def error_fields(error: TypedLLMError) -> dict[str, object]:
    """What an event says of an error: its class, and the status, code and request id it carries."""
    cause = error.last_error if isinstance(error, RetriesExhaustedError) else error
    fields: dict[str, object] = {"error_class": type(error).__name__}
    if cause is not error:
        fields["last_error_class"] = type(cause).__name__
    if isinstance(cause, APIStatusError):
        fields["status_code"] = cause.status_code
        fields["code"] = cause.code
    if isinstance(cause, APIError):
        fields["request_id"] = cause.request_id
    return fields
