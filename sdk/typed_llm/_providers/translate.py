"""The one boundary where foreign exceptions (openai, httpx2, vcrpy) become the SDK's own.

``translate_openai_errors`` wraps every request the transports make and picks the most specific
class, chained with ``raise ... from``; nothing from openai or httpx2 escapes an adapter.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

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
    from collections.abc import Iterator

__all__ = ["translate_openai_errors"]


def _raise_if_unrecorded(exc: BaseException) -> None:
    from vcr.errors import CannotOverwriteExistingCassetteException  # noqa: PLC0415  (only during replay)

    from typed_llm.testing._vcr import describe_unrecorded, record_command  # noqa: PLC0415  (import cycle)

    cause = exc if isinstance(exc, CannotOverwriteExistingCassetteException) else exc.__cause__
    if isinstance(cause, CannotOverwriteExistingCassetteException):
        command = record_command.get() or "rerun with pytest --llm-record-mode=rewrite"
        raise UnrecordedRequestError(
            describe_unrecorded(getattr(cause, "failed_request", None)), command
        ) from exc


@contextlib.contextmanager
def translate_openai_errors() -> Iterator[None]:
    """Turn any exception of the openai package raised inside into the SDK's own, chained.

    This is the one place where foreign exceptions cross into the SDK; nothing from openai or
    httpx2 escapes an adapter.
    """
    import openai  # noqa: PLC0415  (loaded with the first client, not with the package: import time)

    try:
        yield
    except openai.APIStatusError as exc:
        raise status_error(exc.status_code, exc.response.headers, exc.response.content) from exc
    except openai.APITimeoutError as exc:
        raise APITimeoutError("the request timed out before an answer came back") from exc
    except openai.APIConnectionError as exc:
        _raise_if_unrecorded(exc)
        # openai wraps every transport failure here: refused, reset, a body cut short, an answer
        # that could not be decoded. The cause says which.
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {cause})" if cause else ""
        raise APIConnectionError(f"no complete answer came back from the API{detail}") from exc
    except openai.APIResponseValidationError as exc:
        raise MalformedResponseError(
            exc.message,
            status_code=exc.status_code,
            body_excerpt=exc.response.text[:500],
            request_id=request_id_from(exc.response.headers),
        ) from exc
    except openai.OpenAIError as exc:
        # What openai raises before sending, for a setting it cannot use.
        raise ConfigurationError(str(exc)) from exc
    except (httpx2.InvalidURL, UnicodeError) as exc:
        raise ConfigurationError(f"the request cannot be sent as configured: {exc}") from exc
    except httpx2.TimeoutException as exc:
        # Reading a streamed body happens after openai returned: its errors are httpx2's own.
        raise APITimeoutError(f"the stream went silent for longer than its idle timeout ({exc})") from exc
    except httpx2.TransportError as exc:
        raise APIConnectionError(f"the stream broke ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:
        # vcrpy's "no recording" passes through openai unwrapped: make it the SDK's own error.
        _raise_if_unrecorded(exc)
        raise
