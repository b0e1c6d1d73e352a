"""Redaction: no key, token or credential reaches a log line, whatever the renderer.

Every client registers the credentials it was built with and each token its provider returns
(``register_secret``); ``redact`` (a structlog processor) replaces them, anything shaped like an
OpenAI key, bearer tokens, ``api-key=`` query values and the values of fields named like
credentials. The recorder scrubs cassettes with the same registry (``scrub_registered``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from structlog.typing import EventDict, WrappedLogger

__all__ = ["redact", "register_secret", "scrub"]


LOGGER_NAME: Final = "typed_llm"
"""The structlog and stdlib logger the library logs to."""

_CLEAN_MARK: Final = "_typed_llm_redacted"
"""Set on the library's events when the pipeline runs ``redact`` (which removes it): the names of
the fields ``emit`` already redacted."""
_OWN_KEYS: Final = frozenset({"event", "logger"})
"""Fields of a library event whose values the library itself set (its event name and logger name)."""

_PLUMBING: Final = frozenset({"_record", "_from_structlog"})
"""Fields structlog's ``ProcessorFormatter`` adds for itself and removes before rendering."""

_PLAIN: Final = frozenset({int, float, bool, type(None)})
"""Value types that cannot hold a secret."""


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


def scrub(text: str) -> str:
    """``text`` with every credential in it replaced (what ``redact`` does to each text it sees)."""
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
        return scrub(value)
    if isinstance(value, Mapping):
        return {
            k: _REDACTED if str(k).lower() in _SECRET_FIELDS else _scrub_value(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    return scrub(repr(value))  # any other object: its text, which a renderer would print


def redact(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:  # noqa: ARG001  (structlog's processor signature)
    """A structlog processor: credentials out of every value (and field names like ``api_key``).

    structlog's own plumbing (``_record``, ``_from_structlog``) is left alone; every other field, an
    application's ``_private`` ones too, is scanned (renderers print them).
    A library event that ``emit`` redacted field by field carries the names of those fields; only
    what was added since (context the application bound, fields of its own processors) is scanned
    again. Every other event is scanned whole.
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
            event_dict[key] = scrub(value)
        elif value.__class__ not in _PLAIN:
            event_dict[key] = _scrub_value(value)
    return event_dict
