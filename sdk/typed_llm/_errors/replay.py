"""The errors of replay: a cassette that no longer fits the models, a replay-only cache that missed.

A module of the ``_errors`` package beside ``base`` and ``usage``; like them it imports nothing of
the package outside ``_errors`` (the root from ``base``, ``UnrecordedRequestError`` from ``usage``)::

    TypedLLMError
    ├── CassetteError                 a cassette cannot be used as it is (cassette: the file)
    │   └── CassetteValidationError   a recorded response no longer fits the SDK's models
    └── UnrecordedRequestError
        └── CacheMissError            a replay-only cache holds no answer for the request
"""

from __future__ import annotations

from typed_llm._errors.base import TypedLLMError
from typed_llm._errors.usage import UnrecordedRequestError

# No __all__: every public name here is an exception class, and all of them are exported.


class CassetteError(TypedLLMError):
    """A cassette cannot be used as it is; ``cassette`` names the file."""

    cassette: str
    """The cassette file (relative to the working directory when it is under it)."""

    def __init__(self, message: str, *, cassette: str) -> None:
        super().__init__(message)
        self.cassette = cassette


class CassetteValidationError(CassetteError):
    """A recorded response no longer parses into the SDK's typed model (an SDK upgrade, a hand edit).

    Raised when the cassette loads, before the test body runs, naming the file and the interaction.
    A cassette that records a malformed answer on purpose opts out (``validate: false``).
    """

    interaction: int
    """Which interaction (1-based, in the file's order)."""
    request: str
    """Its method and path."""
    model: str
    """The model it was read into (``ChatResponse``, ``EmbeddingResponse``, ``Response``, a stream)."""
    problem: str
    """What did not fit."""

    def __init__(self, *, cassette: str, interaction: int, request: str, model: str, problem: str) -> None:
        super().__init__(
            f"cassette {cassette}: interaction {interaction} ({request}) no longer fits {model}: {problem}. "
            "Re-record it (pytest --llm-record-mode=rewrite), or, if it records a malformed answer on "
            "purpose, mark it `typed_llm: {validate: false}` in its response",
            cassette=cassette,
        )
        self.interaction = interaction
        self.request = request
        self.model = model
        self.problem = problem


class CacheMissError(UnrecordedRequestError):
    """A cache in replay-only mode (``CachePolicy(replay_only=True)``) holds no answer for a request.

    ``request_summary`` names the request, the nearest stored request and the typed fields that
    changed, as a cassette's miss does; ``command`` says how to store the missing answer.
    """

    def __init__(self, request_summary: str, command: str) -> None:
        TypedLLMError.__init__(
            self,
            f"the replay-only cache holds no answer for this request: {request_summary}\n"
            f"If the request changed on purpose, store its answer: {command}",
        )
        self.request_summary = request_summary
        self.command = command
