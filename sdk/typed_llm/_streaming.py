"""Streams as the caller holds them: ``ChatStream``, ``ResponseStream`` and their async forms.

A stream is a context manager and an iterator of typed events; nothing is sent until the first
event is asked for. ``final_response()`` reads whatever the caller did not, and gives the answer
the unstreamed call would have given (for the parse forms, the parsed answer); after ``close()``
(leaving the ``with`` block, a ``break`` inside it) it gives what had arrived. Leaving the ``with``
block closes the connection at once. Both APIs' streams are the one ``EventStream`` here, told
what their text events are and how to assemble what arrived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Self, TypeVar, cast

from typed_llm._models.responses_events import OutputTextDelta
from typed_llm._models.stream import TextDelta
from typed_llm._wire.sse import ChatChunk, assemble

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from types import TracebackType

    from typed_llm._layers.drivers import AsyncStreamRun, SyncStreamRun
    from typed_llm._models.responses import ChatResponse
    from typed_llm._models.responses_api import Response
    from typed_llm._wire.chat_stream import ChatStreamEvent
    from typed_llm._wire.responses import ResponseStreamEvent

__all__ = [
    "AsyncChatStream",
    "AsyncEventStream",
    "AsyncResponseStream",
    "ChatStream",
    "EventStream",
    "ResponseStream",
]

E = TypeVar("E")
A = TypeVar("A")
R = TypeVar("R")


class _Seen(Generic[E, A, R]):
    """What both forms keep: how the answer becomes the result, and what the caller has seen."""

    def __init__(
        self,
        finish: Callable[[A], R],
        partial: Callable[[], A],
        seen: Callable[[E], None],
        text_of: Callable[[E], str | None],
    ) -> None:
        self._finish = finish
        self._partial = partial
        self._seen = seen
        self._text_of = text_of

    def _saw(self, event: object) -> E:
        typed = cast("E", event)
        self._seen(typed)
        return typed

    def _result(self, answer: A | None) -> R:
        return self._finish(answer if answer is not None else self._partial())


class EventStream(_Seen[E, A, R]):
    """A stream of events ``E`` adding up to an answer ``A``, finished into a result ``R``."""

    def __init__(
        self,
        run: SyncStreamRun[A],
        finish: Callable[[A], R],
        partial: Callable[[], A],
        seen: Callable[[E], None],
        text_of: Callable[[E], str | None],
    ) -> None:
        super().__init__(finish, partial, seen, text_of)
        self._run = run

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> E:
        """The next event.

        Raises:
            TypedLLMError: what the unstreamed call would raise before the first event; after it,
                ``StreamInterruptedError`` (with what arrived), ``ContentFilterError`` or, for a
                failed response, ``ResponseFailedError``.
        """
        return self._saw(next(self._run))

    @property
    def text_stream(self) -> Iterator[str]:
        """Only the text, delta by delta (every choice's or output's; most calls have one)."""
        return (text for event in self if (text := self._text_of(event)) is not None)

    def final_response(self) -> R:
        """The answer: read to the end first, unless the stream was closed (then what arrived)."""
        for _ in self:
            pass
        outcome = self._run.outcome
        return self._result(outcome.value if outcome is not None else None)

    def close(self) -> None:
        """Stop reading and close the connection (idempotent)."""
        self._run.close()


class AsyncEventStream(_Seen[E, A, R]):
    """The async form of ``EventStream``: ``async with``, ``async for``, ``await final_response()``."""

    def __init__(
        self,
        run: AsyncStreamRun[A],
        finish: Callable[[A], R],
        partial: Callable[[], A],
        seen: Callable[[E], None],
        text_of: Callable[[E], str | None],
    ) -> None:
        super().__init__(finish, partial, seen, text_of)
        self._run = run

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> E:
        """The next event (the same errors as ``EventStream.__next__``)."""
        return self._saw(await anext(self._run))

    @property
    async def text_stream(self) -> AsyncIterator[str]:
        """Only the text, delta by delta."""
        async for event in self:
            text = self._text_of(event)
            if text is not None:
                yield text

    async def final_response(self) -> R:
        """The answer: read to the end first, unless the stream was closed (then what arrived)."""
        async for _ in self:
            pass
        outcome = self._run.outcome
        return self._result(outcome.value if outcome is not None else None)

    async def aclose(self) -> None:
        """Stop reading and close the connection (idempotent)."""
        await self._run.aclose()


class _Chunks:
    """A chat stream's chunks as the caller received them, to assemble what arrived."""

    def __init__(self) -> None:
        self.chunks: list[ChatChunk] = []

    def seen(self, event: ChatStreamEvent) -> None:
        if isinstance(event, ChatChunk):
            self.chunks.append(event)

    def partial(self) -> ChatResponse:
        return assemble(self.chunks, None, whole=False)


def _chat_text(event: ChatStreamEvent) -> str | None:
    return event.text if isinstance(event, TextDelta) else None


def _response_text(event: ResponseStreamEvent) -> str | None:
    return event.text if isinstance(event, OutputTextDelta) else None


class ChatStream(EventStream["ChatStreamEvent", "ChatResponse", R]):
    """A streamed chat completion: ``with client.stream(request) as stream: for event in stream``."""

    def __init__(self, run: SyncStreamRun[ChatResponse], finish: Callable[[ChatResponse], R]) -> None:
        chunks = _Chunks()
        super().__init__(run, finish, chunks.partial, chunks.seen, _chat_text)


class AsyncChatStream(AsyncEventStream["ChatStreamEvent", "ChatResponse", R]):
    """A streamed chat completion: ``async with client.stream(request) as stream: async for ...``."""

    def __init__(self, run: AsyncStreamRun[ChatResponse], finish: Callable[[ChatResponse], R]) -> None:
        chunks = _Chunks()
        super().__init__(run, finish, chunks.partial, chunks.seen, _chat_text)


class ResponseStream(EventStream["ResponseStreamEvent", "Response", R]):
    """A streamed Responses API answer: ``with client.stream(request) as stream: for event in stream``."""

    def __init__(
        self,
        run: SyncStreamRun[Response],
        finish: Callable[[Response], R],
        partial: Callable[[], Response],
        seen: Callable[[ResponseStreamEvent], None],
    ) -> None:
        super().__init__(run, finish, partial, seen, _response_text)


class AsyncResponseStream(AsyncEventStream["ResponseStreamEvent", "Response", R]):
    """A streamed Responses API answer: ``async with client.stream(request) as stream: ...``."""

    def __init__(
        self,
        run: AsyncStreamRun[Response],
        finish: Callable[[Response], R],
        partial: Callable[[], Response],
        seen: Callable[[ResponseStreamEvent], None],
    ) -> None:
        super().__init__(run, finish, partial, seen, _response_text)
