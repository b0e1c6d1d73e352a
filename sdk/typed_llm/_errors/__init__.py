"""Every failure the SDK reports, as one tree of typed exceptions (classes only, no I/O, no logic).

Grouped by what the caller can do about it::

    TypedLLMError
    ├── ConfigurationError            fix the settings (missing key, endpoint, api_version...)
    │   ├── SettingsError             config.ini / environment values that are invalid (problems)
    │   └── UnknownAPITypeError       the registry has no client of that API type
    ├── APIError                      the API call failed (carries request_id)
    │   ├── APIStatusError            the API answered with an error status (status, code, param, body)
    │   │   ├── BadRequestError           400: change the request
    │   │   │   └── ContentFilterError    Azure's filter blocked the prompt or stopped the completion
    │   │   ├── AuthenticationError       401: check the key or token
    │   │   ├── PermissionDeniedError     403
    │   │   ├── NotFoundError             404: model, deployment or path does not exist
    │   │   ├── RequestTimeoutError       408: the server gave up waiting (retryable)
    │   │   ├── ConflictError             409 (retryable)
    │   │   ├── UnprocessableEntityError  422
    │   │   ├── RateLimitError            429: slow down (retry_after)
    │   │   │   └── QuotaExceededError    429 insufficient_quota: billing, never retried
    │   │   ├── ServerError               5xx (retryable)
    │   │   └── RedirectError             3xx: never followed (the key stays with its origin)
    │   ├── APIConnectionError        no answer: DNS, refused, reset (retryable)
    │   │   └── APITimeoutError       no answer in time (retryable)
    │   ├── MalformedResponseError    a success status whose body is not what the API documents
    │   ├── ResponseFailedError       a Responses answer with status "failed" (code, response)
    │   └── StreamInterruptedError    a stream broke after events reached the caller (partial)
    ├── RetriesExhaustedError         every attempt failed (attempts, last_error)
    ├── ContextWindowExceededError    the prompt cannot fit the model's window (pre-flight check)
    ├── RefusalError                  the model refused (refusal text)
    ├── NoTextError                   ``.text`` asked of an answer that only called tools
    ├── UnrecordedRequestError        replaying a cassette, a request it does not hold
    │   └── CacheMissError            a replay-only cache holds no answer for the request
    ├── CassetteError                 a cassette cannot be used as it is (cassette: the file)
    │   └── CassetteValidationError   a recorded response no longer fits the SDK's models
    ├── CacheError                    a cache file cannot be used (path, what to do)
    ├── StrictSchemaError             a type strict structured outputs cannot express (path)
    ├── TemplateVariableError         an LLMCall template variable the call did not give (missing)
    └── OutputValidationError         structured output did not validate (raw text, errors)
        └── OutputTruncatedError      the token limit cut the structured output off

One warning, not an error: ``UnknownModelWarning`` (a model whose encoding or limits are unknown).

The package imports nothing of typed_llm outside itself (the types of ``response`` attributes are
named for the type checker only), so every other module can use it: the root is in ``base``, the
API's errors here, the others (pre-flight, structured output, cache, settings) in ``usage``,
replay's (cassettes, the replay-only cache) in ``replay``. Foreign exceptions (openai, httpx2)
become these at one boundary, ``_providers.translate``; the class of an error answer is chosen by
one pure function, ``_wire.status.status_error``, from the status, the headers and the body alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from typed_llm._errors.base import ConfigurationError as ConfigurationError
from typed_llm._errors.base import TypedLLMError as TypedLLMError
from typed_llm._errors.replay import CacheMissError as CacheMissError
from typed_llm._errors.replay import CassetteError as CassetteError
from typed_llm._errors.replay import CassetteValidationError as CassetteValidationError
from typed_llm._errors.usage import CacheError as CacheError
from typed_llm._errors.usage import ContextWindowExceededError as ContextWindowExceededError
from typed_llm._errors.usage import NoTextError as NoTextError
from typed_llm._errors.usage import OutputTruncatedError as OutputTruncatedError
from typed_llm._errors.usage import OutputValidationError as OutputValidationError
from typed_llm._errors.usage import RefusalError as RefusalError
from typed_llm._errors.usage import SettingsError as SettingsError
from typed_llm._errors.usage import StrictSchemaError as StrictSchemaError
from typed_llm._errors.usage import TemplateVariableError as TemplateVariableError
from typed_llm._errors.usage import UnknownAPITypeError as UnknownAPITypeError
from typed_llm._errors.usage import UnknownModelWarning as UnknownModelWarning
from typed_llm._errors.usage import UnrecordedRequestError as UnrecordedRequestError

if TYPE_CHECKING:
    from typed_llm._ledger import Attempt
    from typed_llm._models.responses import ChatResponse, ContentFilterResult
    from typed_llm._models.responses_api import Response

# No __all__: every public name here is an exception class, and all of them are exported.


class APIError(TypedLLMError):
    """A call to the API failed."""

    request_id: str | None
    """``x-request-id`` (or Azure's ``apim-request-id``) of the failed request, for support tickets."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class APIStatusError(APIError):
    """The API answered with an error status."""

    status_code: int
    """HTTP status."""
    code: str | None
    """The API's error code (``model_not_found``, ``content_filter``...), when it gave one."""
    param: str | None
    """The request parameter the API blames, when it names one."""
    type: str | None
    """The API's error type (``invalid_request_error``...), when it gave one."""
    body: object
    """The decoded JSON body (or its text when it was not JSON)."""
    retry_after: float | None
    """Seconds the server asked to wait (``retry-after-ms`` or ``Retry-After``), if it asked."""
    retry_after_header: Literal["retry-after-ms", "retry-after"] | None
    """Which header ``retry_after`` came from (the ledger's ``wait_source``), if any."""
    should_retry: bool | None
    """The server's ``x-should-retry`` verdict, if it gave one."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,  # noqa: A002  (the API's own name for it)
        body: object = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        should_retry: bool | None = None,
        retry_after_header: Literal["retry-after-ms", "retry-after"] | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.code = code
        self.param = param
        self.type = type
        self.body = body
        self.retry_after = retry_after
        self.should_retry = should_retry
        self.retry_after_header = retry_after_header

    def __str__(self) -> str:
        code = f" ({self.code})" if self.code else ""
        rid = f" [request id {self.request_id}]" if self.request_id else ""
        return f"HTTP {self.status_code}{code}: {self.message}{rid}"


class BadRequestError(APIStatusError):
    """400: the API refused the request as written."""


class ContentFilterError(BadRequestError):
    """Azure's content filter blocked the prompt (HTTP 400) or stopped the completion (HTTP 200)."""

    stage: Literal["prompt", "completion"]
    """Whether the prompt was blocked or the generated completion was stopped."""
    results: tuple[ContentFilterResult, ...]
    """Every category the filter reported on, with its verdict."""
    response: ChatResponse | None
    """For a stopped completion, the whole response (partial text, usage): nothing is lost."""

    def __init__(
        self,
        message: str,
        *,
        stage: Literal["prompt", "completion"],
        results: tuple[ContentFilterResult, ...] = (),
        response: ChatResponse | None = None,
        status_code: int = 400,
        code: str | None = "content_filter",
        param: str | None = None,
        type: str | None = None,  # noqa: A002  (the API's own name for it)
        body: object = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            code=code,
            param=param,
            type=type,
            body=body,
            request_id=request_id,
        )
        self.stage = stage
        self.results = results
        self.response = response

    @property
    def categories(self) -> tuple[str, ...]:
        """Names of the categories that fired (``self_harm``, ``jailbreak``...)."""
        return tuple(result.category for result in self.results if result.flagged)


class AuthenticationError(APIStatusError):
    """401: the key or token is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this model, region or resource."""


class NotFoundError(APIStatusError):
    """404: the model, deployment or path does not exist (or the key cannot see it)."""


class RequestTimeoutError(APIStatusError):
    """408: the server timed out waiting for the request. Retryable."""


class ConflictError(APIStatusError):
    """409: a conflicting operation is under way. Retryable."""


class UnprocessableEntityError(APIStatusError):
    """422: the request is well-formed but cannot be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests or tokens per minute. Retryable after ``retry_after``."""


class QuotaExceededError(RateLimitError):
    """429 ``insufficient_quota``: the account is out of credit. Waiting does not help; never retried."""


class ServerError(APIStatusError):
    """5xx: the service failed. Retryable."""


class RedirectError(APIStatusError):
    """3xx: the server pointed elsewhere; the SDK never follows, so no key or prompt goes there.

    The OpenAI and Azure APIs never redirect a POST in normal operation. A redirect comes from a
    proxy, a misconfigured gateway or a hostile server; following it would hand Azure's ``api-key``
    header (which httpx does not strip across origins) and the prompt to the ``Location``. If the
    API really moved, point ``base_url`` / ``endpoint`` at the new address.
    """

    location: str | None
    """Where the server pointed: scheme, host, port and path only (no credentials, no query)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        location: str | None = None,
        body: object = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body, request_id=request_id)
        self.location = location


class StreamInterruptedError(APIError):
    """A stream broke after events had reached the caller; not retried (the caller has seen part of it).

    ``partial`` is what arrived, assembled (choices still under way have no ``finish_reason``);
    ``__cause__`` is how it broke (a dropped connection, an idle timeout, a body cut short).
    """

    partial: ChatResponse | Response | None
    """What arrived before the stream broke (a ``Response`` for a Responses API stream)."""
    events: int
    """How many events had reached the caller."""

    def __init__(
        self,
        message: str,
        *,
        partial: ChatResponse | Response | None = None,
        events: int = 0,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.partial = partial
        self.events = events


class ResponseFailedError(APIError):
    """A Responses answer with ``status: "failed"``, or a stream's ``error`` event.

    ``code`` is the server's (``server_error``...), ``response`` the failed answer (or None).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        response: Response | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.code: str | None = code
        self.response: Response | None = response


class APIConnectionError(APIError):
    """No HTTP answer came back: the connection failed or was dropped. Retryable."""


class APITimeoutError(APIConnectionError):
    """No HTTP answer came back in time. Retryable."""


class MalformedResponseError(APIError):
    """The API answered with a success status, but the body is not the documented shape."""

    status_code: int
    """HTTP status of the answer."""
    body_excerpt: str
    """The start of the body, for diagnosis."""
    incomplete: bool
    """True when the body is not even JSON (cut short, or a proxy's page): a transport fault worth
    retrying. False when it is JSON of the wrong shape, which a retry would only repeat."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body_excerpt: str,
        incomplete: bool = False,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.body_excerpt = body_excerpt
        self.incomplete = incomplete


class RetriesExhaustedError(TypedLLMError):
    """Every allowed attempt failed, or the deadline passed; ``last_error`` says how the last one did."""

    attempts: tuple[Attempt, ...]
    """Every attempt made (``len(error.attempts)`` of them), as for any error: see ``Attempt``."""
    last_error: TypedLLMError
    """The error of the last attempt (also chained as ``__cause__``)."""

    def __init__(
        self, message: str, *, attempts: tuple[Attempt, ...] = (), last_error: TypedLLMError
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error
