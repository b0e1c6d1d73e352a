"""``ResponseStream`` and ``AsyncResponseStream``: a streamed Responses API answer as the caller holds it.

The same shape as ``ChatStream``: a context manager and an iterator of typed events
(``ResponseStreamEvent``); nothing is sent until the first event is asked for; ``final_response()``
reads whatever the caller did not and gives what ``respond()`` would have (for ``parse``, the
parsed answer); after ``close()`` it gives what had arrived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Self, TypeVar, cast

from typed_llm._models.responses_events import OutputTextDelta

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from types import TracebackType

    from typed_llm._layers.drivers import AsyncStreamRun, SyncStreamRun
    from typed_llm._models.responses_api import Response
    from typed_llm._wire.responses import ResponseStreamEvent

__all__ = ["AsyncResponseStream", "ResponseStream"]

R = TypeVar("R")


class _Partial(Generic[R]):
    """What both forms keep: how the answer becomes the result, and what the caller has seen."""

    def __init__(
        self,
        finish: Callable[[Response], R],
        partial: Callable[[], Response],
        seen: Callable[[ResponseStreamEvent], None],
    ) -> None:
        self._finish = finish
        self._partial = partial
        self._seen = seen

    def _saw(self, event: object) -> ResponseStreamEvent:
        typed = cast("ResponseStreamEvent", event)
        self._seen(typed)
        return typed

    def _result(self, answer: Response | None) -> R:
        return self._finish(answer if answer is not None else self._partial())


class ResponseStream(_Partial[R]):
    """A streamed response: ``with client.stream(request) as stream: for event in stream``."""

    def __init__(
        self,
        run: SyncStreamRun[Response],
        finish: Callable[[Response], R],
        partial: Callable[[], Response],
        seen: Callable[[ResponseStreamEvent], None],
    ) -> None:
        super().__init__(finish, partial, seen)
        self._run = run

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> ResponseStreamEvent:
        """The next event (errors as ``ChatStream.__next__``; a failed response: ``ResponseFailedError``)."""
        return self._saw(next(self._run))

    @property
    def text_stream(self) -> Iterator[str]:
        """Only the output text, delta by delta."""
        return (event.text for event in self if isinstance(event, OutputTextDelta))

    def final_response(self) -> R:
        """The answer: read to the end first, unless the stream was closed (then what arrived)."""
        for _ in self:
            pass
        outcome = self._run.outcome
        return self._result(outcome.value if outcome is not None else None)

    def close(self) -> None:
        """Stop reading and close the connection (idempotent)."""
        self._run.close()


class AsyncResponseStream(_Partial[R]):
    """A streamed response: ``async with client.stream(request) as stream: async for ...``."""

    def __init__(
        self,
        run: AsyncStreamRun[Response],
        finish: Callable[[Response], R],
        partial: Callable[[], Response],
        seen: Callable[[ResponseStreamEvent], None],
    ) -> None:
        super().__init__(finish, partial, seen)
        self._run = run

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ResponseStreamEvent:
        """The next event (the same errors as ``ResponseStream.__next__``)."""
        return self._saw(await anext(self._run))

    @property
    async def text_stream(self) -> AsyncIterator[str]:
        """Only the output text, delta by delta."""
        async for event in self:
            if isinstance(event, OutputTextDelta):
                yield event.text

    async def final_response(self) -> R:
        """The answer: read to the end first, unless the stream was closed (then what arrived)."""
        async for _ in self:
            pass
        outcome = self._run.outcome
        return self._result(outcome.value if outcome is not None else None)

    async def aclose(self) -> None:
        """Stop reading and close the connection (idempotent)."""
        await self._run.aclose()
