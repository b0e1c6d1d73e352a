"""What every provider checks the same way: environment fallbacks, URLs, keys and tokens.

Each check runs once, at construction (a token: on every request, before it is sent), and refuses
what cannot work with a ``ConfigurationError`` that says what to set and never quotes a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import httpx2

from typed_llm._errors import ConfigurationError
from typed_llm._redaction import register_secret

__all__ = ["DEFAULT_TIMEOUT"]


DEFAULT_TIMEOUT = 300.0
"""Seconds one attempt may take, connect, headers and body together, before it fails with
``APITimeoutError``: five minutes, half the default deadline of a whole call (openai-python allows
600 s per read, four times over)."""

TokenProvider = Callable[[], str]
"""Returns a fresh Entra ID bearer token; called on every request."""


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _check_url(url: str, what: str) -> str:
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL as exc:
        raise ConfigurationError(f"{what} is not a valid URL: {url!r} ({exc})") from exc
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ConfigurationError(f"{what} must be an http(s) URL with a host, got {url!r}")
    return url.rstrip("/")


_KEY_SHAPE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: what an HTTP header can carry


def _check_key(key: str, what: str) -> str:
    if not _KEY_SHAPE.fullmatch(key):
        raise ConfigurationError(
            f"{what} has characters an HTTP header cannot carry (spaces, line breaks or non-ASCII "
            "such as a pasted smart quote); copy the key again"
        )
    register_secret(key)  # never in a log line, whatever its shape
    return key


def _checked(provider: TokenProvider) -> TokenProvider:
    """A token provider whose failures are typed: a ConfigurationError naming the cause, chained."""

    def token() -> str:
        try:
            value: object = provider()
        except Exception as exc:
            raise ConfigurationError(f"the Azure token provider failed: {type(exc).__name__}: {exc}") from exc
        return _check_token(value)

    return token


def _check_token(value: object) -> str:
    """``value`` if it is a token an HTTP header can carry; else an error that never quotes it.

    Checked before anything is sent, so a bad token is one ``ConfigurationError`` (not retried),
    not a failed request retried as a connection error with the token in its message.
    """
    if isinstance(value, bytes | bytearray):
        raise ConfigurationError(
            "the Azure token provider returned bytes, not a str token: return token.decode('ascii')"
        )
    if not isinstance(value, str):
        what = "None" if value is None else f"a {type(value).__name__}"
        raise ConfigurationError(f"the Azure token provider returned {what}, not a str token")
    if not value:
        raise ConfigurationError("the Azure token provider returned an empty token")
    register_secret(value)  # before any check that could fail: never in a log line, whatever its shape
    if not _KEY_SHAPE.fullmatch(value):
        raise ConfigurationError(
            "the Azure token provider returned a token with characters an HTTP header cannot carry "
            "(a line break, a space or non-ASCII): strip it before returning it"
        )
    return value
