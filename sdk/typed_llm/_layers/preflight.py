"""The pre-flight layer: the operation's own check of a request, before anything else happens.

For chat, the check counts the prompt's tokens and raises ``ContextWindowExceededError`` when it
cannot fit the model's known window: nothing is sent (the logging layer, outside it, reports the
call's error). It sits inside the cache layer: an answer from the cache needs no check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import attrs
from pydantic import BaseModel

if TYPE_CHECKING:
    from typed_llm._layers.pipeline import AttemptContext, Call, Flow, Next, Outcome

__all__ = ["Preflight"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)


@attrs.frozen
class Preflight:
    """Runs ``operation.check`` on the request, then the rest of the pipeline."""

    def run(self, call: Call[R, S], attempt: AttemptContext, inner: Next[S]) -> Flow[Outcome[S]]:
        """The check, then ``inner``."""
        check = call.operation.check
        if check is not None:
            check(call.request)
        return (yield from inner(attempt))
