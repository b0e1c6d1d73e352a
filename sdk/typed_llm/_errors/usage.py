"""Errors that are not the API's: the pre-flight check, structured output, replay, the cache, settings.

Split from ``typed_llm._errors`` (which re-exports every class) so each module stays small; it
imports nothing of the package but the tree's root (``base``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typed_llm._errors.base import ConfigurationError, TypedLLMError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typed_llm._models.responses import ChatResponse
    from typed_llm._models.responses_api import Response


class ContextWindowExceededError(TypedLLMError):
    """The counted prompt plus the requested output cannot fit the model's context window."""

    model: str
    """The model checked."""
    prompt_tokens: int
    """Tokens counted in the prompt."""
    max_output_tokens: int
    """Output tokens the request asked room for."""
    context_window: int
    """The model's context window."""

    def __init__(
        self,
        message: str,
        *,
        model: str,
        prompt_tokens: int,
        max_output_tokens: int,
        context_window: int,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.max_output_tokens = max_output_tokens
        self.context_window = context_window


class RefusalError(TypedLLMError):
    """The model refused to answer; ``refusal`` is what it said, ``response`` the whole answer."""

    refusal: str
    """The refusal text."""
    response: ChatResponse | Response | None
    """The response that carried the refusal (a ``Response`` for the Responses API)."""

    def __init__(self, refusal: str, *, response: ChatResponse | Response | None = None) -> None:
        super().__init__(f"the model refused: {refusal}")
        self.refusal = refusal
        self.response = response


class UnrecordedRequestError(TypedLLMError):
    """Replaying a cassette, the SDK sent a request the cassette does not hold (record mode ``none``)."""

    request_summary: str
    """What the request asked for (method, path, model, last message)."""
    command: str
    """The command that records it."""

    def __init__(self, request_summary: str, command: str) -> None:
        super().__init__(
            f"no recording of this request in the cassette: {request_summary}. "
            f"If the request changed on purpose, record it: {command}"
        )
        self.request_summary = request_summary
        self.command = command


class NoTextError(TypedLLMError):
    """``ChatResponse.text`` was asked of a choice that has no text: it only called tools."""


class OutputValidationError(TypedLLMError):
    """Structured output did not validate into the requested type."""

    raw_text: str
    """The text the model produced."""
    errors: tuple[Mapping[str, object], ...]
    """pydantic's errors, as ``ValidationError.errors()`` gives them."""
    response: ChatResponse | None
    """The whole response."""

    def __init__(
        self,
        message: str,
        *,
        raw_text: str,
        errors: tuple[Mapping[str, object], ...] = (),
        response: ChatResponse | None = None,
    ) -> None:
        super().__init__(message)
        self.raw_text = raw_text
        self.errors = errors
        self.response = response


class CacheError(TypedLLMError):
    """A cache file cannot be used: ``path`` names it, and the message says what to do.

    Raised when a cache is built, and by ``stats`` and ``clear``; the caching layer treats a
    failing ``get`` or ``set`` as a miss with a ``cache_error`` warning.
    """

    path: str
    """The cache file."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class TemplateVariableError(TypedLLMError):
    """A template uses variables the call did not give; ``missing`` names them."""

    missing: tuple[str, ...]

    def __init__(self, missing: tuple[str, ...]) -> None:
        super().__init__(f"the template needs {', '.join(missing)}, which the call did not give")
        self.missing = missing


class UnknownAPITypeError(ConfigurationError):
    """``client()`` was asked for an API type nobody registered; ``registered`` lists those that are."""

    registered: tuple[str, ...]

    def __init__(self, api_type: str, registered: tuple[str, ...]) -> None:
        super().__init__(
            f"no client is registered for API type {api_type!r}; registered: {', '.join(registered)}"
        )
        self.registered = registered


class SettingsError(ConfigurationError):
    """One or more settings are invalid; ``problems`` lists each (key, source, what was expected)."""

    problems: tuple[tuple[str, str, str], ...]

    def __init__(self, problems: tuple[tuple[str, str, str], ...]) -> None:
        lines = "\n".join(f"  {key} (from {source}): {expected}" for key, source, expected in problems)
        super().__init__(f"{len(problems)} invalid setting(s):\n{lines}")
        self.problems = problems


class StrictSchemaError(TypedLLMError):
    """A type that OpenAI's strict mode cannot express; ``path`` says where in the schema."""

    path: str

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"{message} (at {path})")
        self.path = path


class OutputTruncatedError(OutputValidationError):
    """Structured output was cut off by the token limit (finish_reason ``length``): raise max_tokens."""


# --- warnings ----------------------------------------------------------------------------------


class UnknownModelWarning(UserWarning):
    """A model this package does not know: its tokens are counted with the fallback encoding."""
