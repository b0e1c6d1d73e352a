"""The one boundary where foreign exceptions (openai, httpx2, vcrpy) become the SDK's own.

``translate_openai_errors`` wraps every request the transports make and picks the most specific
class, chained with ``raise ... from``; nothing from openai or httpx2 escapes an adapter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import httpx2

from typed_llm._errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    MalformedResponseError,
    UnrecordedRequestError,
)
from typed_llm._wire.status import request_id_from, status_error

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["translate_error", "translate_openai_errors"]


def _raise_if_unrecorded(exc: BaseException) -> None:
    from vcr.errors import CannotOverwriteExistingCassetteException  # noqa: PLC0415  (only during replay)

    from typed_llm.testing._vcr import describe_unrecorded, record_command  # noqa: PLC0415  (import cycle)

    cause = exc if isinstance(exc, CannotOverwriteExistingCassetteException) else exc.__cause__
    if isinstance(cause, CannotOverwriteExistingCassetteException):
        command = record_command.get() or "rerun with pytest --llm-record-mode=rewrite"
        raise UnrecordedRequestError(
            describe_unrecorded(getattr(cause, "failed_request", None)), command
        ) from exc


class translate_openai_errors:  # noqa: N801  (used as the function it replaced: ``with translate_openai_errors():``)
    """Turn any exception of the openai package raised inside into the SDK's own, chained.

    This is the one place where foreign exceptions cross into the SDK; nothing from openai or
    httpx2 escapes an adapter. (A class, not a generator: it wraps every request.)
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if exc is not None and isinstance(exc, Exception):
            translate_error(exc)
        return False


def translate_error(exc: Exception) -> None:
    """Raise the SDK's own error for ``exc``, chained; return when it is to propagate as it is.

    (``translate_openai_errors`` as a function, for an ``except`` clause on the hottest path.)
    """
    import openai  # noqa: PLC0415  (loaded with the first client, not with the package: import time)

    if isinstance(exc, openai.APIStatusError):
        raise status_error(exc.status_code, exc.response.headers, exc.response.content) from exc
    if isinstance(exc, openai.APITimeoutError):
        raise APITimeoutError("the request timed out before an answer came back") from exc
    if isinstance(exc, openai.APIConnectionError):
        _raise_if_unrecorded(exc)
        # openai wraps every transport failure here: refused, reset, a body cut short, an answer
        # that could not be decoded. The cause says which.
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {cause})" if cause else ""
        raise APIConnectionError(f"no complete answer came back from the API{detail}") from exc
    if isinstance(exc, openai.APIResponseValidationError):
        raise MalformedResponseError(
            exc.message,
            status_code=exc.status_code,
            body_excerpt=exc.response.text[:500],
            request_id=request_id_from(exc.response.headers),
        ) from exc
    if isinstance(exc, openai.OpenAIError):
        # What openai raises before sending, for a setting it cannot use.
        raise ConfigurationError(str(exc)) from exc
    if isinstance(exc, httpx2.InvalidURL | UnicodeError):
        raise ConfigurationError(f"the request cannot be sent as configured: {exc}") from exc
    if isinstance(exc, httpx2.TimeoutException):
        # Reading a streamed body happens after openai returned: its errors are httpx2's own.
        raise APITimeoutError(f"the stream went silent for longer than its idle timeout ({exc})") from exc
    if isinstance(exc, httpx2.TransportError):
        raise APIConnectionError(f"the stream broke ({type(exc).__name__}: {exc})") from exc
    # vcrpy's "no recording" passes through openai unwrapped: make it the SDK's own error.
    _raise_if_unrecorded(exc)
