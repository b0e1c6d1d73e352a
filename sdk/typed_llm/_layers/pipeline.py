"""The pipeline: one call of an operation through the layers, written once, driven sync or async.

A call is a generator (a *flow*) that yields *effects* (send this HTTP request, sleep this long,
ask that other client) and receives their results; it does no I/O itself. A layer is an object
whose ``run(call, attempt, inner)`` is such a generator: it may look at the call, yield effects of
its own, and delegate to ``inner`` (the rest of the pipeline) with ``yield from``. So the cache,
the logging and the retry layers are each written once, for every operation, sync and async alike
(httpx's auth flows work this way; stamina's retry iterator serves ``for`` and ``async for``).

The drivers (``drivers``) perform the effects: ``run_sync`` with blocking calls, ``run_async``
with awaits. They are the only code that differs between sync and async.

What one layer tells another travels in the values they pass: downwards an ``AttemptContext``
(which attempt this is, and the instant by which it must end), upwards an ``Outcome`` (the result,
how many attempts it took, whether it came from the cache, the ledger of its attempts) or a
``TypedLLMError`` whose ``attempt`` says which attempt raised it and whose ``attempts`` is the
ledger. As the call leaves the pipeline its ledger is stamped on the answer (``_ledger.stamp``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Generic, NamedTuple, Protocol, TypeVar, cast, runtime_checkable

import attrs
from pydantic import BaseModel

from typed_llm._errors import TypedLLMError
from typed_llm._ledger import Attempt, ledger_of, stamp
from typed_llm._wire.operation import Operation, Routing, WireCall
from typed_llm._wire.options import NO_OPTIONS, Options

__all__ = [
    "END",
    "AttemptContext",
    "Call",
    "Close",
    "Delegate",
    "Effect",
    "Emit",
    "Flow",
    "Invoke",
    "Layer",
    "Open",
    "Outcome",
    "Perform",
    "Pipeline",
    "Pull",
    "Read",
    "Send",
    "Sleep",
    "StreamHandle",
    "Terminal",
    "TokenDrift",
]

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)


# --- effects: what a flow asks its driver to do --------------------------------------------------


@attrs.frozen
class Send:
    """Make one HTTP attempt; the driver answers with a ``RawResponse`` or throws a ``TypedLLMError``."""

    wire: WireCall
    timeout: float | None
    """Seconds this attempt may take (a deadline's budget, or the call's own timeout); None: the client's."""


@attrs.frozen
class Sleep:
    """Wait ``seconds`` before the next attempt."""

    seconds: float
    sleep: Callable[[float], object] | None = None
    """The retry layer's own sleeper (a test's fake clock); None: ``time.sleep`` / ``asyncio.sleep``."""


@attrs.frozen
class Invoke:
    """Call a method of another object (a client that is not a pipeline, or its stream)."""

    target: object
    method: str
    args: tuple[object, ...]
    kwargs: Mapping[str, object] = attrs.field(factory=dict)
    """Keywords of the call (a call's options, for a client that is not a pipeline)."""


@attrs.frozen
class Open:
    """Make one HTTP attempt whose answer streams; the driver answers with a ``StreamHandle``."""

    wire: WireCall
    timeout: float | None


@attrs.frozen
class Read:
    """The next bytes of an open stream (``b""`` at its end), or its ``TypedLLMError``."""

    handle: StreamHandle


@attrs.frozen
class Close:
    """Close an open stream (the driver closes any still open when a flow ends or is closed)."""

    handle: StreamHandle


@attrs.frozen
class Pull:
    """The next item of an iterator another client returned (``END`` after the last)."""

    source: object


@attrs.frozen
class Perform:
    """One piece of I/O of a layer's own (a cache backend): blocking, or awaited, by the driver."""

    blocking: Callable[[], object]
    awaiting: Callable[[], Awaitable[object]]


@attrs.frozen
class Emit:
    """Hand one event to the caller of a stream; the driver resumes the flow when asked for more."""

    event: object


END: object = object()
"""What ``Pull`` answers once the iterator is exhausted."""

Effect = Send | Sleep | Invoke | Open | Read | Close | Pull | Perform | Emit
Flow = Generator[Effect, object, T]
"""A call as data: yields effects, receives their results, returns its outcome."""


# --- the values layers pass each other ------------------------------------------------------------


@attrs.frozen
class AttemptContext:
    """What a layer tells the layers inside it about the attempt they are making.

    (The public ``Attempt`` is the ledger's record of an attempt once made, ``_ledger``.)
    """

    number: int = 1
    """1 for the first attempt; a retry layer counts up."""
    deadline: float | None = None
    """The ``time.monotonic()`` instant by which the attempt must end; None for no deadline. Nested
    retry layers only ever make it earlier."""


@attrs.frozen
class TokenDrift:
    """The pre-flight estimate of a prompt's tokens, set against the count the API reported."""

    estimate: int
    """What the pre-flight layer counted before sending (the context-window check's count)."""
    reported: int | None
    """The answer's ``prompt_tokens`` (None: it reported no usage)."""
    tolerance: int
    """How far apart they may be before it is news (see ``preflight.drift_tolerance``)."""

    @property
    def difference(self) -> int | None:
        """``reported - estimate``: positive when the API counted more than the estimate."""
        return None if self.reported is None else self.reported - self.estimate

    @property
    def beyond_tolerance(self) -> bool:
        """Whether the two differ by more than ``tolerance`` (a ``token_drift`` warning)."""
        difference = self.difference
        return difference is not None and abs(difference) > self.tolerance


class Outcome(NamedTuple, Generic[T]):
    """What a layer tells the layers around it about a successful call.

    A named tuple, not an attrs class: three are built on the way up of every call (the terminal's,
    the retry layer's with its ledger, the pre-flight layer's with its count), and a frozen attrs
    instance of eight fields costs about 0.76 µs to build against 0.36 µs for the tuple
    (``bench/README.md``). Immutable all the same.
    """

    value: T
    attempt: int
    """The attempt that produced the value (0: none was made, it came from the cache)."""
    cached: bool = False
    events: int = 0
    """Events a stream handed to its caller."""
    first_event_at: float | None = None
    """``time.perf_counter()`` when a stream's first event was ready."""
    attempts: tuple[Attempt, ...] = ()
    """The ledger so far: set by the retry layer, the cache (a hit) and single-flight (a follower)."""
    status: int = 200
    """The HTTP status of the answer, for the ledger (the terminal's)."""
    estimate: int | None = None
    """The pre-flight layer's count of the prompt, to set against the answer's reported usage
    (``preflight.token_drift``); None: nothing was estimated (an answer from the cache, a model
    without a known window, an API the SDK does not count)."""

    # What the layers change on the way up, one field each, built whole and in order.

    def with_attempts(self, attempts: tuple[Attempt, ...]) -> Outcome[T]:
        """This outcome with the ledger ``attempts``."""
        value, attempt, cached, events, first, _, status, estimate = self
        return Outcome(value, attempt, cached, events, first, attempts, status, estimate)

    def with_estimate(self, estimate: int) -> Outcome[T]:
        """This outcome with the pre-flight count of its prompt."""
        value, attempt, cached, events, first, attempts, status, _ = self
        return Outcome(value, attempt, cached, events, first, attempts, status, estimate)

    def with_value(self, value: T) -> Outcome[T]:
        """This outcome with another answer (a copy of its own)."""
        _, attempt, cached, events, first, attempts, status, estimate = self
        return Outcome(value, attempt, cached, events, first, attempts, status, estimate)


@attrs.define(eq=False)
class Call(Generic[R, S]):
    """One call of an operation: what every layer reads. Derived values are computed once."""

    operation: Operation[R, S]
    request: R
    options: Options = NO_OPTIONS
    """The call's own timeout and extra headers, query and body (``CallOptions``)."""
    _keys: dict[str, str] = attrs.field(factory=dict, repr=False)
    _wire: tuple[Routing, WireCall] | None = attrs.field(default=None, repr=False)

    def key(self, namespace: str) -> str:
        """The cache key of the call in ``namespace`` (also the ``request_key`` of log events).

        The request's key, unless extra body or query parameters change the answer too.
        """
        key = self._keys.get(namespace)
        if key is None:
            key = self._keys[namespace] = self.options.key(self.operation.key(self.request, namespace))
        return key

    def wire(self, routing: Routing) -> WireCall:
        """The HTTP request for ``routing``, built on the first attempt and sent as is on the others."""
        if self._wire is None or self._wire[0] is not routing:
            self._wire = (routing, self.options.apply(self.operation.build(self.request, routing)))
        return self._wire[1]


Next = Callable[[AttemptContext], "Flow[Outcome[S]]"]


class Layer(Protocol):
    """Something every call passes through on its way to the terminal (cache, logging, retry...)."""

    def run(self, call: Call[R, S], attempt: AttemptContext, inner: Next[S]) -> Flow[Outcome[S]]:
        """The call, as this layer handles it; ``inner(attempt)`` is the rest of the pipeline."""
        ...


class Terminal(Protocol):
    """Where a call ends: an HTTP request, or another client."""

    def run(self, call: Call[R, S], attempt: AttemptContext) -> Flow[Outcome[S]]:
        """Make one attempt of the call."""
        ...


@attrs.frozen
class Delegate:
    """The terminal that hands the call to a client that is not a pipeline (a test double, say)."""

    target: object

    def run(self, call: Call[R, S], attempt: AttemptContext) -> Flow[Outcome[S]]:
        """One ``target.<method>(request)``; its errors get the attempt's number."""
        try:
            if call.operation.streaming is not None:
                return (yield from self._stream(call, attempt))
            value = yield Invoke(
                self.target, call.operation.method, (call.request,), call.options.as_kwargs()
            )
        except TypedLLMError as error:
            error.attempt = attempt.number
            raise
        # A copy: the other client (a test double) may hand the same answer to every call, and
        # the layers write this call's ledger and price tag on the answer they return.
        return Outcome(cast("S", _own(value)), attempt=attempt.number, attempts=ledger_of(value))

    def _stream(self, call: Call[R, S], attempt: AttemptContext) -> Flow[Outcome[S]]:
        stream = yield Invoke(self.target, call.operation.method, (call.request,), call.options.as_kwargs())
        events, first = 0, None
        while (event := (yield Pull(stream))) is not END:
            first = first or time.perf_counter()
            yield Emit(event)
            events += 1
        value = yield Invoke(stream, "final_response", ())
        return Outcome(
            cast("S", _own(value)),
            attempt=attempt.number,
            events=events,
            first_event_at=first,
            attempts=ledger_of(value),
        )


def _own(value: object) -> object:
    """A copy of another client's answer, which this call may write its ledger on."""
    return value.model_copy() if isinstance(value, BaseModel) else value


_FIRST: AttemptContext = AttemptContext()
"""The attempt every call starts with (a frozen value: one serves all)."""


@attrs.frozen
class Pipeline:
    """Layers, outermost first, in front of a terminal."""

    layers: tuple[Layer, ...]
    terminal: Terminal

    def around(self, layer: Layer) -> Pipeline:
        """This pipeline with ``layer`` in front of it."""
        return Pipeline((layer, *self.layers), self.terminal)

    def flow(self, operation: Operation[R, S], request: R, options: Options = NO_OPTIONS) -> Flow[Outcome[S]]:
        """The flow of one call of ``operation`` (with the call's own ``options``), ledger stamped."""
        call = Call(operation, request, options)
        # Each layer's ``inner`` is the next one's ``run`` with the call bound (the terminal's last),
        # built once per call: a layer that calls it once per attempt calls ``run`` directly.
        inner: Next[S] = functools.partial(self.terminal.run, call)
        for layer in reversed(self.layers):
            inner = functools.partial(layer.run, call, inner=inner)
        return _stamped(inner(_FIRST))


def _stamped(flow: Flow[Outcome[S]]) -> Flow[Outcome[S]]:
    """``flow``, whose answer gets the ledger its outcome carries (errors carry theirs already).

    The answer is this call's own (every terminal and layer hands up a value no other call holds:
    parsed, decoded from the cache, or copied), so the ledger is written on it, not on a copy.
    """
    outcome = yield from flow
    if outcome.attempts:
        stamp(outcome.value, outcome.attempts)
    return outcome


# --- the drivers: the only code that differs between sync and async ------------------------------


@runtime_checkable
class StreamHandle(Protocol):
    """An open streamed answer, as a transport hands it out."""

    @property
    def headers(self) -> Mapping[str, str]:
        """The answer's headers."""
        ...
