"""Misuse a caller's type checker must reject: mypy --strict reads this file; it is never run.

Every marked line is a type error on purpose and carries ``# type: ignore[<code>]`` with the reason
it must fail. ``warn_unused_ignores`` (part of ``strict`` in mypy.ini) fails the check the day one
of them stops being an error, for example when ``parse`` loses its type parameter and returns
``Any``. The check rides on the one mypy run ``scripts/test`` already makes instead of a test that
starts mypy again.
"""

from __future__ import annotations

from typing import TypeVar

import httpx2
from pydantic import BaseModel

from typed_llm import (
    Cached,
    ChatRequest,
    ChatResponse,
    ChatStream,
    Client,
    ClientWithOptions,
    EmbeddingRequest,
    EmbeddingResponse,
    MemoryCache,
    OpenAIClient,
    ParsedChatResponse,
    ResponsesRequest,
    ToolCall,
    TypedTool,
    UserMessage,
)

REQUEST = ChatRequest(model="m", messages=(UserMessage(content="x"),))
EMBEDDING = EmbeddingRequest(model="m", input=("x",))
RESPONSES = ResponsesRequest(model="m", input="x")
T = TypeVar("T", bound=BaseModel)


class City(BaseModel):
    name: str


def parsed_values(client: OpenAIClient, tool: TypedTool[City], call: ToolCall) -> None:
    answer = client.parse(REQUEST, City)
    _ = answer.parsed.population  # type: ignore[attr-defined]  # parse() is typed to City, which has none
    _ = tool.parse(call).population  # type: ignore[attr-defined]  # a typed tool's arguments are a City
    number: int = answer.parsed.name  # type: ignore[assignment]  # a field keeps its declared type, str
    del number


def complete_is_not_parse(client: OpenAIClient) -> None:
    _ = client.complete(REQUEST).parsed  # type: ignore[attr-defined]  # only parse() gives a parsed value


def requests_are_checked() -> None:
    ChatRequest(model="m", messages=("x",))  # type: ignore[arg-type]  # a message is a typed value, not a str
    ChatRequest(model="m", messages=(), temprature=0.2)  # type: ignore[call-arg]  # a misspelt option is refused


def replace_is_checked() -> None:
    REQUEST.replace(temprature=0.2)  # type: ignore[call-arg]  # replace's keywords are the fields' names
    REQUEST.replace(temperature="0.2")  # type: ignore[arg-type]  # typed as the constructor types them
    REQUEST.replace(messages=("x",))  # type: ignore[arg-type]  # a message is a typed value, not a str
    EMBEDDING.replace(messages=REQUEST.messages)  # type: ignore[call-arg]  # each model takes its own fields
    RESPONSES.replace(max_tokens=5)  # type: ignore[call-arg]  # Responses calls it max_output_tokens
    _ = REQUEST.replace(model="m").input  # type: ignore[attr-defined]  # replace returns the request's own type


def ledger_values(client: OpenAIClient) -> None:
    attempts = client.complete(REQUEST).attempts
    count: int = attempts  # type: ignore[assignment]  # the ledger is a tuple of Attempt, not a count
    del count
    wait: float = attempts[0].wait  # type: ignore[assignment]  # no wait after the last attempt: None
    del wait
    attempts[0].wait = 1.0  # type: ignore[misc]  # an Attempt is frozen


def options_are_checked(client: OpenAIClient) -> None:
    client.complete(REQUEST, timeout="5")  # type: ignore[arg-type]  # a timeout is a number of seconds
    client.complete(REQUEST, extra_header={"x": "1"})  # type: ignore[call-arg]  # a misspelt option is refused
    client.complete(REQUEST, extra_headers={"x": 1})  # type: ignore[dict-item]  # header values are text
    OpenAIClient(http_client=httpx2.AsyncClient())  # type: ignore[arg-type]  # the sync client takes an httpx2.Client


class ChatOnly:
    """A test double: the verbs, no options (a ``Client``, not a ``ClientWithOptions``)."""

    def complete(self, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        raise NotImplementedError

    def parse(self, request: ChatRequest, output_type: type[T]) -> ParsedChatResponse[T]:
        raise NotImplementedError

    def stream(self, request: ChatRequest) -> ChatStream[ChatResponse]:
        raise NotImplementedError

    def stream_parse(self, request: ChatRequest, output_type: type[T]) -> ChatStream[ParsedChatResponse[T]]:
        raise NotImplementedError


def with_options_needs_a_client_that_has_it(client: Client, configurable: ClientWithOptions) -> None:
    as_client: Client = ChatOnly()
    del as_client
    double: ClientWithOptions = ChatOnly()  # type: ignore[assignment]  # a double has only the verbs
    del double
    wrapped: ClientWithOptions = Cached(ChatOnly(), MemoryCache(), "ns")  # type: ignore[assignment]  # a wrapper has no with_options
    del wrapped
    client.with_options(timeout=5)  # type: ignore[attr-defined]  # Client is the verbs only (SPEC section 4)
    configurable.with_options(timeout="5")  # type: ignore[arg-type]  # the same keywords, typed, as the clients'
    configurable.with_options(extra_header={"x": "1"})  # type: ignore[call-arg]  # a misspelt option is refused
