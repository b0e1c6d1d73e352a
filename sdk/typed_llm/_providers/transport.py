"""The HTTP terminal of every client's pipeline, and the transports that make its requests.

``HTTP`` is where a call's attempt becomes one HTTP request (with no I/O: it yields a ``Send``);
``SyncTransport`` and ``AsyncTransport`` perform it through the openai package, with its own
retries off, and translate every exception at that one boundary (``translate_openai_errors``).

Every request goes out with ``follow_redirects=False``, whatever the HTTP client's own setting:
the APIs never redirect a POST in normal operation, and following one would send the key (httpx
strips only ``Authorization`` across origins, not Azure's ``api-key``) and the prompt to wherever
the ``Location`` points. A 3xx answer is a ``RedirectError``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final, TypeVar

import attrs
import httpx2
from pydantic import BaseModel

from typed_llm._errors import APITimeoutError, TypedLLMError
from typed_llm._layers.pipeline import Outcome, Send
from typed_llm._providers.deadline import attempt_deadline, bound_attempts
from typed_llm._providers.translate import translate_openai_errors
from typed_llm._wire.operation import RawResponse, Routing

if TYPE_CHECKING:
    import openai

    from typed_llm._layers.pipeline import Attempt, Call, Flow

__all__ = ["HTTP", "AsyncTransport", "SyncTransport"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)

_LEAST_BUDGET: Final = 0.001
"""An attempt with less time than this left is not made (a zero timeout means "do not wait" to httpx)."""


@attrs.frozen
class HTTP:
    """The terminal that makes one HTTP request per attempt.

    Attributes:
        routing: how the provider names models on the wire.
        timeout: seconds one attempt may take (the client's); a deadline may cut it shorter.
    """

    routing: Routing
    timeout: float

    def run(self, call: Call[R, S], attempt: Attempt) -> Flow[Outcome[S]]:
        """Send the call's request and read the answer; an error says which attempt it ended."""
        try:
            raw = yield Send(call.wire(self.routing), self._budget(attempt.deadline))
            if not isinstance(raw, RawResponse):
                raise TypeError(f"a transport answered {type(raw).__name__}, not a RawResponse")
            value = call.operation.parse(call.request, raw)
        except TypedLLMError as error:
            error.attempt = attempt.number
            raise
        return Outcome(value, attempt=attempt.number)

    def _budget(self, deadline: float | None) -> float | None:
        """This attempt's timeout when the deadline leaves less than the client's own, else None.

        Raises:
            APITimeoutError: the deadline leaves no time for this attempt (nothing is sent).
        """
        if deadline is None:
            return None
        budget = deadline - time.monotonic()
        if budget < _LEAST_BUDGET:
            raise APITimeoutError("the retry deadline passed before this attempt could be made")
        return budget if budget < self.timeout else None


def _options(effect: Send) -> openai.RequestOptions:
    if effect.timeout is None:
        return {"follow_redirects": False}
    return {"follow_redirects": False, "timeout": effect.timeout}


def _raw(response: httpx2.Response) -> RawResponse:
    return RawResponse(status_code=response.status_code, headers=response.headers, content=response.content)


class SyncTransport:
    """Sends with a blocking openai client (its retries off), translating its errors.

    Each attempt ends by its timeout (the deadline's budget, or the client's own), connect,
    headers and body together: the client's connection pools get deadline-bound sockets.
    """

    def __init__(self, client: openai.OpenAI, timeout: float) -> None:
        self.openai = client
        self.timeout = timeout
        self.bounded = bound_attempts(client)
        """Whether whole attempts are bounded (False under an HTTP client of another shape)."""

    def send(self, effect: Send) -> RawResponse:
        """One POST of ``effect.wire``, ended by its timeout."""
        limit = self.timeout if effect.timeout is None else effect.timeout
        with attempt_deadline(time.monotonic() + limit), translate_openai_errors():
            response = self.openai.post(
                effect.wire.path, cast_to=httpx2.Response, content=effect.wire.body, options=_options(effect)
            )
        return _raw(response)


class AsyncTransport:
    """Sends with an async openai client (its retries off), translating its errors.

    Each attempt ends by its timeout (the deadline's budget, or the client's own), connect,
    headers and body together (``asyncio.timeout``).
    """

    def __init__(self, client: openai.AsyncOpenAI, timeout: float) -> None:
        self.openai = client
        self.timeout = timeout

    async def send(self, effect: Send) -> RawResponse:
        """One POST of ``effect.wire``, ended by its timeout."""
        limit = self.timeout if effect.timeout is None else effect.timeout
        try:
            async with asyncio.timeout(limit):
                with translate_openai_errors():
                    response = await self.openai.post(
                        effect.wire.path,
                        cast_to=httpx2.Response,
                        content=effect.wire.body,
                        options=_options(effect),
                    )
        except TimeoutError as exc:
            raise APITimeoutError(f"no whole answer within the attempt's {limit:g} s") from exc
        return _raw(response)
