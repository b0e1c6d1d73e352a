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
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Final, TypeVar, cast

import attrs
import httpx2
from pydantic import BaseModel

from typed_llm._backoff import is_retryable
from typed_llm._errors import APITimeoutError, StreamInterruptedError, TypedLLMError
from typed_llm._layers.pipeline import Close, Emit, Open, Outcome, Read, Send, StreamHandle
from typed_llm._models.http import attach_answer
from typed_llm._providers.deadline import ATTEMPT, bound_attempts
from typed_llm._providers.translate import translate_error, translate_openai_errors
from typed_llm._wire.operation import Accumulator, RawResponse, Routing, Streaming
from typed_llm._wire.status import request_id_from

if TYPE_CHECKING:
    from collections.abc import Mapping

    import openai

    from typed_llm._layers.pipeline import AttemptContext, Call, Flow
    from typed_llm._models.responses import ChatResponse
    from typed_llm._models.responses_api import Response

__all__ = ["DEFAULT_IDLE_TIMEOUT", "HTTP", "AsyncTransport", "SyncTransport"]

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

    def run(self, call: Call[R, S], attempt: AttemptContext) -> Flow[Outcome[S]]:
        """Send the call's request and read the answer; an error says which attempt it ended."""
        streaming = call.operation.streaming
        try:
            if streaming is not None:
                return (yield from self._stream(call, attempt, streaming))
            raw = yield Send(call.wire(self.routing), self._budget(attempt.deadline, call.options.timeout))
            if not isinstance(raw, RawResponse):
                raise TypeError(f"a transport answered {type(raw).__name__}, not a RawResponse")
            value = attach_answer(call.operation.parse(call.request, raw), raw.status_code, raw.headers)
        except TypedLLMError as error:
            error.attempt = attempt.number
            raise
        return Outcome(value, attempt=attempt.number, status=raw.status_code)

    def _stream(self, call: Call[R, S], attempt: AttemptContext, streaming: Streaming[S]) -> Flow[Outcome[S]]:
        """Open the stream, hand each event on as it is decoded, assemble the answer at the end.

        Until the first event reaches the caller a failure is the attempt's own (the retry layer
        may make another); after it, a retryable failure is a ``StreamInterruptedError`` with what
        arrived, which is not retried.
        """
        handle = yield Open(call.wire(self.routing), self._budget(attempt.deadline, call.options.timeout))
        if not isinstance(handle, StreamHandle):
            raise TypeError(f"a transport opened {type(handle).__name__}, not a stream")
        accumulator = streaming.start(handle.headers, request_id_from(handle.headers))
        events, first = 0, None
        try:
            while data := (yield Read(handle)):
                for event in accumulator.feed(cast("bytes", data)):
                    first = first or time.perf_counter()
                    yield Emit(event)
                    events += 1
            value = accumulator.finish()
        except TypedLLMError as error:
            yield Close(handle)
            if events and is_retryable(error):
                interrupted = StreamInterruptedError(
                    f"the stream broke after {events} events: {type(error).__name__}: {error}",
                    # the streaming operations' answers are the two the error names
                    partial=cast("ChatResponse | Response | None", _partial(accumulator)),
                    events=events,
                    request_id=request_id_from(handle.headers),
                )
                raise interrupted from error
            raise
        yield Close(handle)
        value = attach_answer(value, getattr(handle, "status_code", 200), handle.headers)
        return Outcome(value, attempt=attempt.number, events=events, first_event_at=first)

    def _budget(self, deadline: float | None, own: float | None) -> float | None:
        """The call's ``own`` timeout (else the client's) cut to the deadline; None: the client's.

        Raises:
            APITimeoutError: the deadline leaves no time for this attempt (nothing is sent).
        """
        limit = self.timeout if own is None else own
        if deadline is None:
            return own
        budget = deadline - time.monotonic()
        if budget < _LEAST_BUDGET:
            raise APITimeoutError("the retry deadline passed before this attempt could be made")
        return budget if budget < limit else own


def _partial(accumulator: Accumulator[S]) -> S | None:
    try:
        return accumulator.partial()
    except Exception:  # noqa: BLE001  (the error being raised matters more than a partial answer)
        return None


def _options(effect: Send | Open) -> openai.RequestOptions:
    options: openai.RequestOptions = {"follow_redirects": False}
    if effect.timeout is not None:
        options["timeout"] = effect.timeout
    return _extras(options, effect)


def _extras(options: openai.RequestOptions, effect: Send | Open) -> openai.RequestOptions:
    """``options`` with the call's extra headers and query (openai puts them after its own)."""
    if effect.wire.headers:
        options["headers"] = dict(effect.wire.headers)
    if effect.wire.query:
        options["params"] = dict(effect.wire.query)
    return options


DEFAULT_IDLE_TIMEOUT: Final = 120.0
"""Seconds a stream may go without a byte before it ends as ``APITimeoutError`` (a stalled stream).

Long enough for a reasoning model that thinks before its first token; the whole-attempt timeout
bounds only connecting and the headers of a stream, whose body may rightly take longer."""


def _stream_options(limit: float, idle: float) -> openai.RequestOptions:
    # connect, write and pool within the attempt; each read within the idle timeout
    return {"follow_redirects": False, "timeout": httpx2.Timeout(limit, read=idle)}


@attrs.define(eq=False)
class _SyncStream:
    response: httpx2.Response
    chunks: Iterator[bytes]

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    @property
    def status_code(self) -> int:
        return self.response.status_code


@attrs.define(eq=False)
class _AsyncStream:
    response: httpx2.Response
    chunks: AsyncIterator[bytes]

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    @property
    def status_code(self) -> int:
        return self.response.status_code


def _raw(response: httpx2.Response) -> RawResponse:
    return RawResponse(status_code=response.status_code, headers=response.headers, content=response.content)


class SyncTransport:
    """Sends with a blocking openai client (its retries off), translating its errors.

    Each attempt ends by its timeout (the deadline's budget, or the client's own), connect,
    headers and body together: the client's connection pools get deadline-bound sockets.
    """

    def __init__(
        self, client: openai.OpenAI, timeout: float, idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    ) -> None:
        self.openai = client
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.bounded = bound_attempts(client)
        """Whether whole attempts are bounded (False under an HTTP client of another shape)."""

    def open(self, effect: Open) -> _SyncStream:
        """POST ``effect.wire`` and read the headers of its streamed answer, within the attempt's timeout."""
        limit = self.timeout if effect.timeout is None else effect.timeout
        previous, ATTEMPT.deadline = ATTEMPT.deadline, time.monotonic() + limit
        try:
            response = self.openai.post(
                effect.wire.path,
                cast_to=httpx2.Response,
                content=effect.wire.body,
                options=_extras(_stream_options(limit, self.idle_timeout), effect),
                stream=True,
            )
        except Exception as exc:
            translate_error(exc)
            raise
        finally:
            ATTEMPT.deadline = previous
        return _SyncStream(response, response.iter_bytes())

    def read(self, handle: StreamHandle) -> bytes:
        """The next bytes of the stream, ``b""`` at its end; a gap over the idle timeout is an error."""
        stream = cast("_SyncStream", handle)
        with translate_openai_errors():
            return next(stream.chunks, b"")

    def close(self, handle: StreamHandle) -> None:
        """Close the stream's connection (the pool can reuse it, or drops it)."""
        cast("_SyncStream", handle).response.close()

    def send(self, effect: Send) -> RawResponse:
        """One POST of ``effect.wire``, ended by its timeout."""
        limit = self.timeout if effect.timeout is None else effect.timeout
        # The deadline reaches the sockets (``deadline``); the one before is put back after.
        previous, ATTEMPT.deadline = ATTEMPT.deadline, time.monotonic() + limit
        try:
            response = self.openai.post(
                effect.wire.path, cast_to=httpx2.Response, content=effect.wire.body, options=_options(effect)
            )
        except Exception as exc:
            translate_error(exc)
            raise
        finally:
            ATTEMPT.deadline = previous
        return _raw(response)


class AsyncTransport:
    """Sends with an async openai client (its retries off), translating its errors.

    Each attempt ends by its timeout (the deadline's budget, or the client's own), connect,
    headers and body together (``asyncio.timeout``).
    """

    def __init__(
        self, client: openai.AsyncOpenAI, timeout: float, idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    ) -> None:
        self.openai = client
        self.timeout = timeout
        self.idle_timeout = idle_timeout

    async def open(self, effect: Open) -> _AsyncStream:
        """POST ``effect.wire`` and read the headers of its streamed answer, within the attempt's timeout."""
        limit = self.timeout if effect.timeout is None else effect.timeout
        try:
            async with asyncio.timeout(limit):
                with translate_openai_errors():
                    response = await self.openai.post(
                        effect.wire.path,
                        cast_to=httpx2.Response,
                        content=effect.wire.body,
                        options=_extras(_stream_options(limit, self.idle_timeout), effect),
                        stream=True,
                    )
        except TimeoutError as exc:
            raise APITimeoutError(f"no answer's headers within the attempt's {limit:g} s") from exc
        return _AsyncStream(response, response.aiter_bytes())

    async def read(self, handle: StreamHandle) -> bytes:
        """The next bytes of the stream, ``b""`` at its end; a gap over the idle timeout is an error."""
        stream = cast("_AsyncStream", handle)
        with translate_openai_errors():
            return await anext(stream.chunks, b"")

    async def close(self, handle: StreamHandle) -> None:
        """Close the stream's connection."""
        stream = cast("_AsyncStream", handle)
        await stream.response.aclose()

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
