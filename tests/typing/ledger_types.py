"""Static checks of the ledger's types: mypy --strict reads this file; it is never run.

Every response and every error carries ``attempts: tuple[Attempt, ...]``, whose fields are typed
(``kind`` and ``wait_source`` are Literals a ``match`` can exhaust); the virtual clock and the
strategy's ``Decision`` are typed values too.
"""

from __future__ import annotations

from typing import Literal, assert_never, assert_type

from pydantic import BaseModel

from typed_llm import (
    AsyncOpenAIClient,
    Attempt,
    AttemptKind,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    OpenAIClient,
    ParsedChatResponse,
    ParsedResponse,
    RateLimitError,
    Response,
    ResponsesRequest,
    RetriesExhaustedError,
    TypedLLMError,
    UserMessage,
    WaitSource,
)
from typed_llm.testing import VirtualClock


class Answer(BaseModel):
    value: int


REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))


def responses(client: OpenAIClient) -> None:
    resp = client.complete(REQUEST)
    assert_type(resp, ChatResponse)
    assert_type(resp.attempts, tuple[Attempt, ...])
    embedded = client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("a",)))
    assert_type(embedded, EmbeddingResponse)
    assert_type(embedded.attempts, tuple[Attempt, ...])
    answered = client.respond(ResponsesRequest(model="gpt-4o-mini", input="hi"))
    assert_type(answered, Response)
    assert_type(answered.attempts, tuple[Attempt, ...])
    parsed = client.parse(REQUEST, Answer)
    assert_type(parsed, ParsedChatResponse[Answer])
    assert_type(parsed.attempts, tuple[Attempt, ...])
    parsed_response = client.parse(ResponsesRequest(model="gpt-4o-mini", input="hi"), Answer)
    assert_type(parsed_response, ParsedResponse[Answer])
    assert_type(parsed_response.attempts, tuple[Attempt, ...])
    with client.stream(REQUEST) as stream:
        assert_type(stream.final_response().attempts, tuple[Attempt, ...])


async def async_responses(client: AsyncOpenAIClient) -> None:
    resp = await client.complete(REQUEST)
    assert_type(resp.attempts, tuple[Attempt, ...])


def fields(attempt: Attempt) -> None:
    assert_type(attempt.number, int)
    assert_type(attempt.offset, float)
    assert_type(attempt.duration, float)
    assert_type(attempt.outcome, int | str)
    assert_type(attempt.request_id, str | None)
    assert_type(attempt.wait, float | None)
    assert_type(attempt.kind, AttemptKind)
    assert_type(attempt.wait_source, WaitSource | None)
    match attempt.kind:
        case "http" | "cache" | "single-flight":
            pass
        case unreachable:
            assert_never(unreachable)


def errors(error: TypedLLMError, exhausted: RetriesExhaustedError, limited: RateLimitError) -> None:
    assert_type(error.attempts, tuple[Attempt, ...])
    assert_type(exhausted.attempts, tuple[Attempt, ...])
    assert_type(exhausted.last_error.attempts, tuple[Attempt, ...])
    assert_type(limited.retry_after_header, Literal["retry-after-ms", "retry-after"] | None)


def clock(virtual: VirtualClock) -> None:
    assert_type(virtual(), float)
    assert_type(virtual.waits, list[float])
    assert_type(virtual.elapsed, float)
    with virtual.installed() as installed:
        assert_type(installed, VirtualClock)
