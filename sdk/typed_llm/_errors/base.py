"""The root of the exception tree and the settings errors under it (classes only, no I/O).

Split from ``typed_llm._errors`` (which re-exports every class) so each module stays small; it
imports nothing of the package either (the ledger's ``Attempt`` is named for the type checker only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typed_llm._ledger import Attempt


def _rebuild(cls: type[TypedLLMError], args: tuple[object, ...], state: dict[str, object]) -> TypedLLMError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class TypedLLMError(Exception):
    """Root of every error the SDK raises."""

    message: str
    """What went wrong, for a person."""
    attempt: int | None = None
    """Which attempt of the call ended in this error (1 for the first; for ``RetriesExhaustedError``
    the last), set by the client's layers; None when no attempt was under way (a bad setting, a
    pre-flight check)."""
    attempts: tuple[Attempt, ...] = ()
    """The call's ledger: every attempt made, with its outcome and the wait chosen after it (see
    ``Attempt``); set by the retry layer, ``()`` when none was made (a bad setting, a pre-flight
    check)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take keyword-only data; rebuild from the instance dict so errors cross processes.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ConfigurationError(TypedLLMError):
    """The client cannot be built or used as configured; the message says what to set."""
