"""What an HTTP answer means, with no I/O: status, headers and body to a typed error or model.

``status_error`` picks the class of an error answer from its status, headers and body alone, so it
is the same for every adapter, sync or async (the most specific class wins: Azure's
``content_filter`` 400 is a ``ContentFilterError``, a 429 ``insufficient_quota`` a
``QuotaExceededError``, a 3xx a ``RedirectError``). ``parse_model`` reads a successful answer into a
model, and ``malformed`` is the error for a success status whose body is not what the API
documents (retryable only when the body is not even JSON: cut short in transit).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, TypeVar

import httpx2
from pydantic import BaseModel, ValidationError

from typed_llm._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentFilterError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    ServerError,
    UnprocessableEntityError,
)

if TYPE_CHECKING:
    from typed_llm._models.responses import ContentFilterResult
    from typed_llm._wire.operation import RawResponse

__all__ = ["malformed_stream", "parse_model", "request_id_from", "retry_after_from", "status_error"]


def malformed(raw: RawResponse, problem: str) -> MalformedResponseError:
    """The error for a success status whose body is not what the API documents."""
    try:
        json.loads(raw.content)
    except ValueError:
        incomplete = True
    except RecursionError:
        # Nested deeper than the stack (``[`` x 100,000): no cut or proxy page looks like that, it is
        # the server's answer, and a retry would only repeat it.
        incomplete = False
    else:
        incomplete = False
    return MalformedResponseError(
        f"the API answered {raw.status_code} but the body is not a valid response: {problem}",
        status_code=raw.status_code,
        body_excerpt=raw.content[:500].decode("utf-8", errors="replace"),
        incomplete=incomplete,
        request_id=request_id_from(raw.headers),
    )


def malformed_stream(
    problem: str, *, request_id: str | None, incomplete: bool = False, payload: str = ""
) -> MalformedResponseError:
    """The error for a 200 stream (chat or Responses) whose events do not add up to an answer."""
    return MalformedResponseError(
        f"the API answered 200 but the stream is not a valid response: {problem}",
        status_code=200,
        body_excerpt=payload[:500],
        incomplete=incomplete,
        request_id=request_id,
    )


Parsed = TypeVar("Parsed", bound=BaseModel)


def parse_model(kind: type[Parsed], raw: RawResponse) -> Parsed:
    """The answer in ``raw`` as ``kind``, with the request id when ``kind`` has a field for it.

    Raises:
        MalformedResponseError: the body is not JSON, is cut short, or does not fit ``kind``.
    """
    try:
        value = kind.model_validate_json(raw.content)
    except ValidationError as exc:
        raise malformed(raw, _first_problem(exc)) from exc
    request_id = request_id_from(raw.headers)
    if request_id and "request_id" in kind.__pydantic_fields__:  # (model_fields: the same, slower)
        # Written as model_copy(update=...) would write it on a copy: the value is not shared yet.
        vars(value)["request_id"] = request_id
        value.__pydantic_fields_set__.add("request_id")
    return value


def _first_problem(exc: ValidationError) -> str:
    """Where the first error is, and what it says: ``output.0.message.id: Field required``.

    A union read by its ``type`` first and by its catch-all class second (a Responses output item)
    puts the union's own label in the path (``tagged-union[OutputMessage,...]``): left out, so the
    path reads as the body's, through the tag.
    """
    error = exc.errors(include_url=False)[0]
    where = (
        ".".join(str(part) for part in error["loc"] if not str(part).startswith("tagged-union[")) or "body"
    )
    return f"{where}: {error['msg']}"


# --- choosing the class of an error status (pure) -------------------------------------------------

_BY_STATUS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def request_id_from(headers: Mapping[str, str]) -> str | None:
    """The request id a support ticket needs: ``x-request-id``, else Azure's ``apim-request-id``."""
    return _header(headers, "x-request-id") or _header(headers, "apim-request-id")


def retry_after_from(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, else ``Retry-After`` (seconds or date).

    Returns None when neither header is there or parses; a wait in the past is 0.
    """
    return retry_after_with_header(headers, now=now)[0]


RetryAfterHeader = Literal["retry-after-ms", "retry-after"]


def retry_after_with_header(
    headers: Mapping[str, str], *, now: float | None = None
) -> tuple[float | None, RetryAfterHeader | None]:
    """``retry_after_from``, and which of the two headers gave it (None with no wait)."""
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        with contextlib.suppress(ValueError):
            return max(0.0, float(millis) / 1000.0), "retry-after-ms"
    value = _header(headers, "retry-after")
    if value is None:
        return None, None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value)), "retry-after"
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None, None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current), "retry-after"


def _decode_body(content: bytes) -> object:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        # RecursionError: nested deeper than the interpreter's stack (``{"error":`` x 50,000). The
        # body is kept as text, as for any other body that is not JSON.
        return content.decode("utf-8", errors="replace")


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _filter_results_of(error: Mapping[str, object]) -> tuple[ContentFilterResult, ...]:
    from typed_llm._models.responses import content_filter_results  # noqa: PLC0415  (import cycle)

    inner = error.get("innererror")
    if isinstance(inner, Mapping):
        return content_filter_results(inner.get("content_filter_result"))
    return ()


def status_error(status_code: int, headers: Mapping[str, str], content: bytes) -> APIStatusError:
    """Build the typed error for an error answer, from its status, headers and raw body.

    The most specific class wins: Azure's ``content_filter`` 400 is a ``ContentFilterError``
    with its categories, a 429 ``insufficient_quota`` a ``QuotaExceededError``, any other 5xx a
    ``ServerError``, and a status with no class of its own a plain ``APIStatusError``.
    """
    body = _decode_body(content)
    error: Mapping[str, object] = {}
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, str):  # {"error": "Unauthorized"}, as some gateways answer
            inner = {"message": inner}
        error = inner if isinstance(inner, Mapping) else body
    code = _text(error.get("code"))
    message = _text(error.get("message")) or f"HTTP {status_code} with no error message"
    param, kind = _text(error.get("param")), _text(error.get("type"))
    request_id = request_id_from(headers)
    if status_code == 400 and code == "content_filter":  # noqa: PLR2004
        return ContentFilterError(
            message,
            stage="prompt",
            results=_filter_results_of(error),
            status_code=status_code,
            param=param,
            type=kind,
            body=body,
            request_id=request_id,
        )
    if 300 <= status_code < 400:  # noqa: PLR2004
        location = _safe_location(_header(headers, "location"))
        return RedirectError(
            f"the server answered {status_code} with a redirect to {location or 'nowhere'}; "
            "typed-llm never follows redirects, so the key and the prompt go only to the configured "
            "base URL (if the API moved, set base_url or endpoint to its new address)",
            location=location,
            status_code=status_code,
            body=body,
            request_id=request_id,
        )
    if status_code == 429 and code == "insufficient_quota":  # noqa: PLR2004
        cls: type[APIStatusError] = QuotaExceededError
    elif status_code >= 500:  # noqa: PLR2004
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status_code, APIStatusError)
    retry_after, retry_after_header = retry_after_with_header(headers)
    return cls(
        message,
        status_code=status_code,
        code=code,
        param=param,
        type=kind,
        body=body,
        request_id=request_id,
        retry_after=retry_after,
        should_retry=_should_retry(headers),
        retry_after_header=retry_after_header,
    )


def _safe_location(location: str | None) -> str | None:
    """A redirect target fit for a message: no user info, no query, no fragment (they carry secrets)."""
    if not location:
        return None
    try:
        url = httpx2.URL(location)
    except httpx2.InvalidURL:
        return "an unreadable address"
    if not url.host:
        return url.path or "/"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _should_retry(headers: Mapping[str, str]) -> bool | None:
    value = (_header(headers, "x-should-retry") or "").strip().lower()
    return {"true": True, "false": False}.get(value)
