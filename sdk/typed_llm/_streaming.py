"""``ChatStream`` and ``AsyncChatStream``: a streamed chat completion as the caller holds it.

The stream is a context manager and an iterator of typed events (``ChatStreamEvent``); nothing is
sent until the first event is asked for. ``final_response()`` reads whatever the caller did not,
and gives the answer ``complete()`` would have given (for ``stream_parse``, the parsed answer);
after ``close()`` (leaving the ``with`` block, a ``break`` inside it) it gives what had arrived.
Leaving the ``with`` block closes the connection at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Self, TypeVar, cast

from typed_llm._models.stream import TextDelta
from typed_llm._wire.sse import ChatChunk, assemble

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from types import TracebackType

    from typed_llm._layers.drivers import AsyncStreamRun, SyncStreamRun
    from typed_llm._models.responses import ChatResponse
    from typed_llm._wire.chat_stream import ChatStreamEvent

__all__ = ["AsyncChatStream", "ChatStream"]

R = TypeVar("R")


class _Events(Generic[R]):
    """What both forms keep: the chunks handed out, and how the answer becomes the result."""

    def __init__(self, finish: Callable[[ChatResponse], R]) -> None:
        self._finish = finish
        self._chunks: list[ChatChunk] = []

    def _seen(self, event: object) -> ChatStreamEvent:
        if isinstance(event, ChatChunk):
            self._chunks.append(event)
        return cast("ChatStreamEvent", event)

    def _result(self, answer: ChatResponse | None) -> R:
        return self._finish(answer if answer is not None else assemble(self._chunks, None, whole=False))


class ChatStream(_Events[R]):
    """A streamed chat completion: ``with client.stream(request) as stream: for event in stream``."""

    def __init__(self, run: SyncStreamRun[ChatResponse], finish: Callable[[ChatResponse], R]) -> None:
        super().__init__(finish)
        self._run = run

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> ChatStreamEvent:
        """The next event.

        Raises:
            TypedLLMError: what ``complete()`` would raise before the first event; after it,
                ``StreamInterruptedError`` (with what arrived) or ``ContentFilterError``.
        """
        return self._seen(next(self._run))

    @property
    def text_stream(self) -> Iterator[str]:
        """Only the text, delta by delta (every choice's; most calls have one)."""
        return (event.text for event in self if isinstance(event, TextDelta))

    def final_response(self) -> R:
        """The answer: read to the end first, unless the stream was closed (then what arrived)."""
        for _ in self:
            pass
        outcome = self._run.outcome
        return self._result(outcome.value if outcome is not None else None)

    def close(self) -> None:
        """Stop reading and close the connection (idempotent)."""
        self._run.close()


class AsyncChatStream(_Events[R]):
    """A streamed chat completion: ``async with client.stream(request) as stream: async for ...``."""

    def __init__(self, run: AsyncStreamRun[ChatResponse], finish: Callable[[ChatResponse], R]) -> None:
        super().__init__(finish)
        self._run = run

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ChatStreamEvent:
        """The next event (the same errors as ``ChatStream.__next__``)."""
        return self._seen(await anext(self._run))

    @property
    async def text_stream(self) -> AsyncIterator[str]:
        """Only the text, delta by delta."""
        async for event in self:
            if isinstance(event, TextDelta):
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
