"""The pre-flight layer: the operation's own check of a request, before anything else happens.

For chat, the check counts the prompt's tokens and raises ``ContextWindowExceededError`` when it
cannot fit the model's known window: nothing is sent (the logging layer, outside it, reports the
call's error). It sits inside the cache layer: an answer from the cache needs no check. The model
counted and checked is the one the client's registry resolves the request's ``model`` to (an Azure
deployment name is counted as the model it serves).

The count is kept: when the answer comes back, it is set against the ``prompt_tokens`` the API
reported (``token_drift``: the count travels up in the ``Outcome``). The logging layer writes both into the
``response`` event and a ``token_drift`` warning when they differ by more than ``drift_tolerance``:
the sign that a new model, or a new rendering of tools or formats, changed the count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar

import attrs
from pydantic import BaseModel

from typed_llm._cost import billed_tokens
from typed_llm._layers.pipeline import TokenDrift

if TYPE_CHECKING:
    from typed_llm._layers.pipeline import AttemptContext, Call, Flow, Next, Outcome

__all__ = ["DRIFT_MIN_TOKENS", "DRIFT_RATIO", "Preflight", "drift_tolerance", "token_drift"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)

DRIFT_MIN_TOKENS: Final = 8
"""An estimate off by this many tokens or fewer is never news (a tool call's fitted header)."""
DRIFT_RATIO: Final = 0.05
"""An estimate off by more than this share of the reported count (and ``DRIFT_MIN_TOKENS``) is."""


def drift_tolerance(reported: int) -> int:
    """How far an estimate may be from ``reported`` before a ``token_drift`` warning.

    The larger of ``DRIFT_MIN_TOKENS`` and ``DRIFT_RATIO`` of the reported count, rounded up.
    """
    return max(DRIFT_MIN_TOKENS, math.ceil(reported * DRIFT_RATIO))


def _itself(model: str) -> str:
    return model


@attrs.frozen
class Preflight:
    """Runs ``operation.check`` on the request, then the rest of the pipeline; sets the count against usage.

    Attributes:
        model_of: the model a request's ``model`` resolves to (the client's registry).
    """

    model_of: Callable[[str], str] = _itself

    def run(self, call: Call[R, S], attempt: AttemptContext, inner: Next[S]) -> Flow[Outcome[S]]:
        """The check, then ``inner``; the outcome carries the estimate against the reported count."""
        check = call.operation.check
        estimate = None
        if check is not None:
            estimate = check(call.request, self.model_of(call.operation.model_of(call.request)))
        outcome = yield from inner(attempt)
        return outcome if estimate is None else outcome.with_estimate(estimate)


def token_drift(outcome: Outcome[S]) -> TokenDrift | None:
    """The outcome's pre-flight estimate set against the prompt tokens its answer reports.

    None when nothing was estimated. Worked out by whoever reads it (the logging layer, when an
    event that says it goes somewhere), not on the way up.
    """
    estimate = outcome.estimate
    if estimate is None:
        return None
    tokens = billed_tokens(outcome.value)
    reported = None if tokens is None else tokens.input
    return TokenDrift(estimate, reported, drift_tolerance(reported or 0))
