"""Static checks of the public API's types: mypy --strict reads this file; it is never run.

Each ``assert_type`` pins what a caller's type checker sees, so a change that loosens a public
signature (to ``Any``, or to an optional) fails the type check in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar, assert_never, assert_type

from pydantic import BaseModel

from typed_llm import (
    AssistantMessage,
    AsyncAzureClient,
    AsyncChatStream,
    AsyncClient,
    AsyncClientWithOptions,
    AsyncOpenAIClient,
    AzureClient,
    CallOptions,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ChatStream,
    ChatStreamEvent,
    ChoiceDone,
    ChoiceLogprobs,
    Client,
    ClientWithOptions,
    ContentFiltered,
    ContentFilterError,
    ContentFilterResult,
    CustomToolCall,
    EmbeddingRequest,
    EmbeddingResponse,
    FinishReason,
    HTTPInfo,
    NoRetry,
    OpenAIClient,
    ParsedChatResponse,
    RateLimitError,
    RefusalDelta,
    ResponseHeaders,
    TextDelta,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    ToolCallDone,
    TypedTool,
    UnknownFinishReason,
    Usage,
    UsageReported,
    UserMessage,
)


def sync_calls(client: OpenAIClient, azure: AzureClient) -> None:
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
    response = client.complete(request)
    assert_type(response, ChatResponse)
    assert_type(response.text, str)
    assert_type(response.usage, Usage | None)
    assert_type(response.choices[0].finish_reason, FinishReason | UnknownFinishReason | None)
    assert_type(response.choices[0].message.tool_calls, tuple[ToolCall | CustomToolCall, ...] | None)
    assert_type(response.request_id, str | None)
    assert_type(response.choices[0].logprobs, ChoiceLogprobs | None)
    assert_type(response.choices[0].to_message(), AssistantMessage)
    assert_type(request.replace(temperature=0.3), ChatRequest)
    assert_type(EmbeddingRequest(model="m", input=("a",)).replace(dimensions=8), EmbeddingRequest)
    vectors = azure.embed(EmbeddingRequest(model="text-embedding-3-small", input=("a",))).vectors
    assert_type(vectors, tuple[tuple[float, ...], ...])
    as_protocol: Client = azure
    assert_type(as_protocol.embed(EmbeddingRequest(model="m", input=("a",))), EmbeddingResponse)


def finish_reasons_are_exhaustive(response: ChatResponse) -> str:
    match response.choices[0].finish_reason:
        case "stop" | "length" | "tool_calls" | "content_filter" | "function_call" as known:
            return known
        case UnknownFinishReason() as new:
            return f"new: {new}"
        case None:
            return "null"
        case unreachable:
            assert_never(unreachable)


async def async_calls(client: AsyncOpenAIClient) -> None:
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
    assert_type(await client.complete(request), ChatResponse)
    as_protocol: AsyncClient = client
    assert_type(await as_protocol.complete(request), ChatResponse)


def errors(error: RateLimitError, filtered: ContentFilterError) -> None:
    assert_type(error.retry_after, float | None)
    assert_type(error.status_code, int)
    assert_type(error.request_id, str | None)
    assert_type(filtered.categories, tuple[str, ...])
    assert_type(filtered.results, tuple[ContentFilterResult, ...])


class City(BaseModel):
    name: str


def structured(client: OpenAIClient, tool: TypedTool[City], call: ToolCall) -> None:
    request = ChatRequest(model="gpt-4o", messages=(UserMessage(content="hi"),))
    answer = client.parse(request, City)
    assert_type(answer, ParsedChatResponse[City])
    assert_type(answer.parsed, City)
    assert_type(answer.parsed.name, str)
    assert_type(tool.parse(call), City)
    as_protocol: Client = client
    assert_type(as_protocol.parse(request, City), ParsedChatResponse[City])


def streams(client: OpenAIClient, protocol: Client) -> None:
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
    with client.stream(request) as stream:
        assert_type(stream, ChatStream[ChatResponse])
        for event in stream:
            assert_type(event, ChatStreamEvent)
            match event:
                case TextDelta(choice_index=index, text=text, logprobs=logprobs):
                    assert_type(index, int)
                    assert_type(text, str)
                    assert_type(logprobs, tuple[TokenLogprob, ...])
                case ToolCallDone(call=call):
                    assert_type(call, ToolCall | CustomToolCall)
                case ChoiceDone(finish_reason=reason):
                    assert_type(reason, FinishReason | UnknownFinishReason)
                case UsageReported(usage=usage):
                    assert_type(usage, Usage)
                case ContentFiltered(results=results):
                    assert_type(results, tuple[ContentFilterResult, ...])
                case ChatChunk() | RefusalDelta() | ToolCallDelta():
                    pass
                case _:
                    assert_never(event)
        assert_type(stream.final_response(), ChatResponse)
        assert_type(stream.text_stream, Iterator[str])
    with client.stream_parse(request, City) as parsed:
        assert_type(parsed.final_response(), ParsedChatResponse[City])
        assert_type(parsed.final_response().parsed, City)
    assert_type(protocol.stream(request), ChatStream[ChatResponse])


async def async_streams(client: AsyncOpenAIClient, protocol: AsyncClient) -> None:
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
    async with client.stream(request) as stream:
        assert_type(stream, AsyncChatStream[ChatResponse])
        async for event in stream:
            assert_type(event, ChatStreamEvent)
        assert_type(await stream.final_response(), ChatResponse)
    async with client.stream_parse(request, City) as parsed:
        assert_type((await parsed.final_response()).parsed, City)
    assert_type(protocol.stream(request), AsyncChatStream[ChatResponse])


def per_call_options_and_http(client: OpenAIClient, azure: AzureClient, aclient: AsyncOpenAIClient) -> None:
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
    assert_type(client.with_options(timeout=5), OpenAIClient)
    assert_type(azure.with_options(extra_headers={"x-tenant": "a"}), AzureClient)
    assert_type(aclient.with_options(extra_body={"hint": 1}), AsyncOpenAIClient)
    answer = client.complete(request, timeout=5, extra_headers={"x": "1"}, extra_query={"q": "1"})
    assert_type(answer.http, HTTPInfo | None)
    if answer.http is not None:
        assert_type(answer.http.status_code, int)
        assert_type(answer.http.headers, ResponseHeaders)
        assert_type(answer.http.remaining_tokens, int | None)
        assert_type(answer.http.processing_ms, float | None)
    options: CallOptions = {"timeout": 5.0}
    assert_type(client.parse(request, City, **options), ParsedChatResponse[City])


C = TypeVar("C", bound=ClientWithOptions)
A = TypeVar("A", bound=AsyncClientWithOptions)


def _for_tenant(client: C) -> C:
    """Code typed against the protocol configures a client and keeps its concrete type."""
    return client.with_options(extra_headers={"X-Tenant": "acme"}, backoff=NoRetry())


def _async_for_tenant(client: A) -> A:
    return client.with_options(extra_query={"tenant": "acme"})


async def with_options_through_the_protocols(
    openai: OpenAIClient,
    azure: AzureClient,
    aopenai: AsyncOpenAIClient,
    aazure: AsyncAzureClient,
    protocol: ClientWithOptions,
    aprotocol: AsyncClientWithOptions,
) -> None:
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
    sync_clients: tuple[ClientWithOptions, ...] = (openai, azure)
    async_clients: tuple[AsyncClientWithOptions, ...] = (aopenai, aazure)
    as_client: Client = protocol  # a ClientWithOptions is a Client
    as_async_client: AsyncClient = aprotocol
    del sync_clients, async_clients, as_client, as_async_client
    assert_type(protocol.with_options(timeout=5), ClientWithOptions)
    assert_type(protocol.with_options(timeout=5).with_options(extra_body={"hint": 1}), ClientWithOptions)
    assert_type(protocol.with_options(timeout=5).complete(request), ChatResponse)
    assert_type(aprotocol.with_options(timeout=5), AsyncClientWithOptions)
    assert_type(await aprotocol.with_options(timeout=5).complete(request), ChatResponse)
    assert_type(_for_tenant(openai), OpenAIClient)
    assert_type(_for_tenant(azure), AzureClient)
    assert_type(_for_tenant(protocol), ClientWithOptions)
    assert_type(_async_for_tenant(aazure), AsyncAzureClient)
