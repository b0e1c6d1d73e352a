"""The pipeline: one call of an operation through the layers, written once, driven sync or async.

A call is a generator (a *flow*) that yields *effects* (send this HTTP request, sleep this long,
ask that other client) and receives their results; it does no I/O itself. A layer is an object
whose ``run(call, attempt, inner)`` is such a generator: it may look at the call, yield effects of
its own, and delegate to ``inner`` (the rest of the pipeline) with ``yield from``. So the cache,
the logging and the retry layers are each written once, for every operation, sync and async alike
(httpx's auth flows work this way; stamina's retry iterator serves ``for`` and ``async for``).

Two drivers perform the effects: ``run_sync`` with blocking calls, ``run_async`` with awaits.
They are the only code that differs between sync and async.

What one layer tells another travels in the values they pass: downwards an ``Attempt`` (which
attempt this is, and the instant by which it must end), upwards an ``Outcome`` (the result, how
many attempts it took, whether it came from the cache) or a ``TypedLLMError`` whose ``attempt``
says which attempt raised it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, cast

import attrs
from pydantic import BaseModel

from typed_llm._errors import TypedLLMError
from typed_llm._wire.operation import Operation, Routing, WireCall

if TYPE_CHECKING:
    from typed_llm._wire.operation import RawResponse

__all__ = [
    "Attempt",
    "Call",
    "Delegate",
    "Effect",
    "Flow",
    "Invoke",
    "Layer",
    "Outcome",
    "Pipeline",
    "Send",
    "Sleep",
    "Terminal",
    "run_async",
    "run_sync",
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
    """Seconds this attempt may take, when shorter than the client's own timeout; None: the client's."""


@attrs.frozen
class Sleep:
    """Wait ``seconds`` before the next attempt."""

    seconds: float
    sleep: Callable[[float], object] | None = None
    """The retry layer's own sleeper (a test's fake clock); None: ``time.sleep`` / ``asyncio.sleep``."""


@attrs.frozen
class Invoke:
    """Ask another client (one that is not a pipeline) to do the whole operation."""

    target: object
    method: str
    request: object


Effect = Send | Sleep | Invoke
Flow = Generator[Effect, object, T]
"""A call as data: yields effects, receives their results, returns its outcome."""


# --- the values layers pass each other ------------------------------------------------------------


@attrs.frozen
class Attempt:
    """What a layer tells the layers inside it about the attempt they are making."""

    number: int = 1
    """1 for the first attempt; a retry layer counts up."""
    deadline: float | None = None
    """The ``time.monotonic()`` instant by which the attempt must end; None for no deadline. Nested
    retry layers only ever make it earlier."""


@attrs.frozen
class Outcome(Generic[T]):
    """What a layer tells the layers around it about a successful call."""

    value: T
    attempt: int
    """The attempt that produced the value (0: none was made, it came from the cache)."""
    cached: bool = False


@attrs.define(eq=False)
class Call(Generic[R, S]):
    """One call of an operation: what every layer reads. Derived values are computed once."""

    operation: Operation[R, S]
    request: R
    _keys: dict[str, str] = attrs.field(factory=dict, repr=False)
    _wire: tuple[Routing, WireCall] | None = attrs.field(default=None, repr=False)

    def key(self, namespace: str) -> str:
        """The cache key of the request in ``namespace`` (also the ``request_key`` of log events)."""
        key = self._keys.get(namespace)
        if key is None:
            key = self._keys[namespace] = self.operation.key(self.request, namespace)
        return key

    def wire(self, routing: Routing) -> WireCall:
        """The HTTP request for ``routing``, built on the first attempt and sent as is on the others."""
        if self._wire is None or self._wire[0] is not routing:
            self._wire = (routing, self.operation.build(self.request, routing))
        return self._wire[1]


Next = Callable[[Attempt], "Flow[Outcome[S]]"]


class Layer(Protocol):
    """Something every call passes through on its way to the terminal (cache, logging, retry...)."""

    def run(self, call: Call[R, S], attempt: Attempt, inner: Next[S]) -> Flow[Outcome[S]]:
        """The call, as this layer handles it; ``inner(attempt)`` is the rest of the pipeline."""
        ...


class Terminal(Protocol):
    """Where a call ends: an HTTP request, or another client."""

    def run(self, call: Call[R, S], attempt: Attempt) -> Flow[Outcome[S]]:
        """Make one attempt of the call."""
        ...


@attrs.frozen
class Delegate:
    """The terminal that hands the call to a client that is not a pipeline (a test double, say)."""

    target: object

    def run(self, call: Call[R, S], attempt: Attempt) -> Flow[Outcome[S]]:
        """One ``target.<method>(request)``; its errors get the attempt's number."""
        try:
            value = yield Invoke(self.target, call.operation.method, call.request)
        except TypedLLMError as error:
            error.attempt = attempt.number
            raise
        return Outcome(cast("S", value), attempt=attempt.number)


@attrs.frozen
class Pipeline:
    """Layers, outermost first, in front of a terminal."""

    layers: tuple[Layer, ...]
    terminal: Terminal

    def around(self, layer: Layer) -> Pipeline:
        """This pipeline with ``layer`` in front of it."""
        return Pipeline((layer, *self.layers), self.terminal)

    def flow(self, operation: Operation[R, S], request: R) -> Flow[Outcome[S]]:
        """The flow of one call of ``operation``."""
        return self._at(0, Call(operation, request), Attempt())

    def _at(self, index: int, call: Call[R, S], attempt: Attempt) -> Flow[Outcome[S]]:
        if index == len(self.layers):
            return self.terminal.run(call, attempt)
        return self.layers[index].run(call, attempt, functools.partial(self._at, index + 1, call))


# --- the drivers: the only code that differs between sync and async ------------------------------


class SyncSender(Protocol):
    """Performs ``Send`` with blocking I/O (the openai client, in ``_transport``)."""

    def send(self, effect: Send) -> RawResponse:
        """The answer of one attempt, or a ``TypedLLMError``."""
        ...


class AsyncSender(Protocol):
    """Performs ``Send`` with awaited I/O."""

    async def send(self, effect: Send) -> RawResponse:
        """The answer of one attempt, or a ``TypedLLMError``."""
        ...


def _step(flow: Flow[Outcome[T]], result: object, error: BaseException | None) -> Effect | Outcome[T]:
    """Resume ``flow`` with the last effect's result (or its error): the next effect, or the end."""
    try:
        return flow.send(result) if error is None else flow.throw(error)
    except StopIteration as done:
        outcome: Outcome[T] = done.value
        return outcome


def _no_sender(effect: Send) -> RawResponse:
    raise RuntimeError(f"this pipeline has no HTTP transport for {effect.wire.path}")


def run_sync(flow: Flow[Outcome[T]], sender: SyncSender | None) -> Outcome[T]:
    """Drive ``flow`` to its end with blocking I/O."""
    result: object = None
    error: BaseException | None = None
    while not isinstance(step := _step(flow, result, error), Outcome):
        result, error = None, None
        try:
            match step:
                case Send():
                    result = sender.send(step) if sender is not None else _no_sender(step)
                case Sleep(seconds=seconds, sleep=sleep):
                    (sleep or time.sleep)(seconds)
                case Invoke(target=target, method=method, request=request):
                    result = getattr(target, method)(request)
        except BaseException as exc:  # noqa: BLE001  (thrown into the flow, which decides; re-raised there)
            error = exc
    return step


async def run_async(flow: Flow[Outcome[T]], sender: AsyncSender | None) -> Outcome[T]:
    """Drive ``flow`` to its end with awaited I/O."""
    result: object = None
    error: BaseException | None = None
    while not isinstance(step := _step(flow, result, error), Outcome):
        result, error = None, None
        try:
            match step:
                case Send():
                    result = await sender.send(step) if sender is not None else _no_sender(step)
                case Sleep(seconds=seconds, sleep=sleep):
                    waited = (sleep or asyncio.sleep)(seconds)
                    if inspect.isawaitable(waited):
                        await waited
                case Invoke(target=target, method=method, request=request):
                    result = await cast("Awaitable[object]", getattr(target, method)(request))
        except BaseException as exc:  # noqa: BLE001  (thrown into the flow, which decides; re-raised there)
            error = exc
    return step
