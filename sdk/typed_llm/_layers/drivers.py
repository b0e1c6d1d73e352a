"""The drivers: the only code that differs between sync and async.

``run_sync`` / ``run_async`` drive a call's flow to its outcome, performing each effect it yields
with blocking calls or with awaits; ``SyncStreamRun`` / ``AsyncStreamRun`` do the same for a
streaming flow, handing each ``Emit``-ted event to the caller as it asks for the next one, and
closing any stream still open when the flow ends or the caller stops.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from typed_llm._layers.pipeline import (
    END,
    Close,
    Effect,
    Emit,
    Flow,
    Invoke,
    Open,
    Outcome,
    Perform,
    Pull,
    Read,
    Send,
    Sleep,
    StreamHandle,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from typed_llm._wire.operation import RawResponse

__all__ = ["AsyncSender", "AsyncStreamRun", "SyncSender", "SyncStreamRun", "run_async", "run_sync"]

T = TypeVar("T")


class SyncSender(Protocol):
    """Performs the HTTP effects with blocking I/O (the openai client, in ``_providers/transport``)."""

    def send(self, effect: Send) -> RawResponse:
        """The answer of one attempt, or a ``TypedLLMError``."""
        ...

    def open(self, effect: Open) -> StreamHandle:
        """An attempt whose answer streams, its headers read; or a ``TypedLLMError``."""
        ...

    def read(self, handle: StreamHandle) -> bytes:
        """The next bytes (``b""`` at the end), or a ``TypedLLMError``."""
        ...

    def close(self, handle: StreamHandle) -> None:
        """Close it (idempotent)."""
        ...


class AsyncSender(Protocol):
    """Performs the HTTP effects with awaited I/O."""

    async def send(self, effect: Send) -> RawResponse:
        """The answer of one attempt, or a ``TypedLLMError``."""
        ...

    async def open(self, effect: Open) -> StreamHandle:
        """An attempt whose answer streams, its headers read; or a ``TypedLLMError``."""
        ...

    async def read(self, handle: StreamHandle) -> bytes:
        """The next bytes (``b""`` at the end), or a ``TypedLLMError``."""
        ...

    async def close(self, handle: StreamHandle) -> None:
        """Close it (idempotent)."""
        ...


def _step(flow: Flow[Outcome[T]], result: object, error: BaseException | None) -> Effect | Outcome[T]:
    """Resume ``flow`` with the last effect's result (or its error): the next effect, or the end."""
    try:
        return flow.send(result) if error is None else flow.throw(error)
    except StopIteration as done:
        outcome: Outcome[T] = done.value
        return outcome


def _sender(sender: SyncSender | AsyncSender | None, effect: Effect) -> Any:  # noqa: ANN401  (either kind)
    if sender is None:
        raise RuntimeError(f"this pipeline has no HTTP transport for {effect}")
    return sender


def _perform_sync(  # noqa: C901, PLR0911  (one case per effect)
    effect: Effect, sender: SyncSender | None, handles: list[StreamHandle]
) -> object:
    """Do one effect with blocking calls."""
    match effect:
        case Send():
            return _sender(sender, effect).send(effect)
        case Sleep(seconds=seconds, sleep=sleep):
            (sleep or time.sleep)(seconds)
        case Invoke(target=target, method=method, args=args, kwargs=kwargs):
            return getattr(target, method)(*args, **kwargs)
        case Open():
            handle: StreamHandle = _sender(sender, effect).open(effect)
            handles.append(handle)
            return handle
        case Read(handle=handle):
            return _sender(sender, effect).read(handle)
        case Close(handle=handle):
            if handle in handles:
                handles.remove(handle)
                _sender(sender, effect).close(handle)
        case Pull(source=source):
            return next(cast("Iterator[object]", source), END)
        case Perform(blocking=blocking):
            return blocking()
        case Emit():
            raise RuntimeError("a streaming operation was run as a call")
    return None


async def _perform_async(  # noqa: C901, PLR0911  (one case per effect)
    effect: Effect, sender: AsyncSender | None, handles: list[StreamHandle]
) -> object:
    """Do one effect with awaits."""
    match effect:
        case Send():
            return await _sender(sender, effect).send(effect)
        case Sleep(seconds=seconds, sleep=sleep):
            waited = (sleep or asyncio.sleep)(seconds)
            if inspect.isawaitable(waited):
                await waited
        case Invoke(target=target, method=method, args=args, kwargs=kwargs):
            result = getattr(target, method)(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result
        case Open():
            handle: StreamHandle = await _sender(sender, effect).open(effect)
            handles.append(handle)
            return handle
        case Read(handle=handle):
            return await _sender(sender, effect).read(handle)
        case Close(handle=handle):
            if handle in handles:
                handles.remove(handle)
                await _sender(sender, effect).close(handle)
        case Pull(source=source):
            return await anext(cast("AsyncIterator[object]", source), END)
        case Perform(awaiting=awaiting):
            return await awaiting()
        case Emit():
            raise RuntimeError("a streaming operation was run as a call")
    return None


def run_sync(flow: Flow[Outcome[T]], sender: SyncSender | None) -> Outcome[T]:
    """Drive ``flow`` to its end with blocking I/O."""
    result: object = None
    error: BaseException | None = None
    handles: list[StreamHandle] = []
    while not isinstance(step := _step(flow, result, error), Outcome):
        result, error = None, None
        try:
            result = _perform_sync(step, sender, handles)
        except BaseException as exc:  # noqa: BLE001  (thrown into the flow, which decides; re-raised there)
            error = exc
    return step


async def run_async(flow: Flow[Outcome[T]], sender: AsyncSender | None) -> Outcome[T]:
    """Drive ``flow`` to its end with awaited I/O."""
    result: object = None
    error: BaseException | None = None
    handles: list[StreamHandle] = []
    while not isinstance(step := _step(flow, result, error), Outcome):
        result, error = None, None
        try:
            result = await _perform_async(step, sender, handles)
        except BaseException as exc:  # noqa: BLE001  (thrown into the flow, which decides; re-raised there)
            error = exc
    return step


class _StreamRun(Generic[T]):
    """What both stream drivers share: the flow, its open streams, and how a step is taken."""

    def __init__(self, flow: Flow[Outcome[T]]) -> None:
        self._flow = flow
        self._handles: list[StreamHandle] = []
        self.outcome: Outcome[T] | None = None
        self.closed = False

    def _resume(self, result: object, error: BaseException | None) -> Effect | None:
        """The flow's next effect (an ``Emit`` to hand out), or None once it is over or closed.

        An exception the flow ends with propagates; the caller closes the run then.
        """
        if self.outcome is not None or self.closed:
            return None
        step = _step(self._flow, result, error)
        if isinstance(step, Outcome):
            self.outcome = step
            return None
        return step

    def _end(self) -> list[StreamHandle]:
        """Mark the run closed and end the flow; the streams still open, for the driver to close."""
        if self.closed:
            return []
        self.closed = True
        self._flow.close()
        handles, self._handles = self._handles, []
        return handles


class SyncStreamRun(_StreamRun[T]):
    """Drives a streaming flow with blocking I/O, one event per ``next()``; ``outcome`` at the end."""

    def __init__(self, flow: Flow[Outcome[T]], sender: SyncSender | None) -> None:
        super().__init__(flow)
        self._sender = sender

    def __iter__(self) -> SyncStreamRun[T]:
        return self

    def __next__(self) -> object:
        result: object = None
        error: BaseException | None = None
        try:
            while (step := self._resume(result, error)) is not None:
                if isinstance(step, Emit):
                    return step.event
                result, error = None, None
                try:
                    result = _perform_sync(step, self._sender, self._handles)
                except BaseException as exc:  # noqa: BLE001  (thrown into the flow, which decides)
                    error = exc
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopIteration

    def close(self) -> None:
        """End the flow where it is and close its connection (idempotent)."""
        for handle in self._end():
            _sender(self._sender, Close(handle)).close(handle)


class AsyncStreamRun(_StreamRun[T]):
    """Drives a streaming flow with awaited I/O, one event per ``__anext__``; ``outcome`` at the end."""

    def __init__(self, flow: Flow[Outcome[T]], sender: AsyncSender | None) -> None:
        super().__init__(flow)
        self._sender = sender

    def __aiter__(self) -> AsyncStreamRun[T]:
        return self

    async def __anext__(self) -> object:
        result: object = None
        error: BaseException | None = None
        try:
            while (step := self._resume(result, error)) is not None:
                if isinstance(step, Emit):
                    return step.event
                result, error = None, None
                try:
                    result = await _perform_async(step, self._sender, self._handles)
                except BaseException as exc:  # noqa: BLE001  (thrown into the flow, which decides)
                    error = exc
        except BaseException:
            await self.aclose()
            raise
        await self.aclose()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """End the flow where it is and close its connection (idempotent)."""
        for handle in self._end():
            await _sender(self._sender, Close(handle)).close(handle)
