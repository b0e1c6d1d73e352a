"""Static checks of the Responses API's types: mypy --strict reads this file; it is never run.

``parse`` and ``stream`` are overloaded on the request's type: a ``ChatRequest`` gives the chat
types, a ``ResponsesRequest`` the Responses ones, sync and async, on clients and on layers.
"""

from __future__ import annotations

from typing import assert_never, assert_type

from pydantic import BaseModel

from typed_llm import (
    AsyncChatStream,
    AsyncOpenAIClient,
    AsyncResponsesClient,
    AsyncResponseStream,
    ChatRequest,
    ChatResponse,
    ChatStream,
    ExponentialBackoff,
    FunctionCallArgumentsDelta,
    OpenAIClient,
    OutputItem,
    OutputItemAdded,
    OutputItemDone,
    OutputMessage,
    OutputTextDelta,
    ParsedChatResponse,
    ParsedResponse,
    RawResponseEvent,
    ReasoningItem,
    ReasoningSummaryDelta,
    RefusalError,
    RefusalTextDelta,
    Response,
    ResponseCompleted,
    ResponseCustomToolCall,
    ResponseFailed,
    ResponseFunctionCall,
    ResponseIncomplete,
    ResponsesClient,
    ResponsesRequest,
    ResponseStream,
    ResponseStreamEvent,
    Retrying,
    StreamError,
    StreamInterruptedError,
    UnknownOutputItem,
    UserMessage,
    WebSearchCall,
)


class City(BaseModel):
    name: str


CHAT = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="a city"),))
RESPONSES = ResponsesRequest(model="gpt-4o-mini", input="a city")


def sync_client(client: OpenAIClient) -> None:
    assert_type(client.respond(RESPONSES), Response)
    assert_type(client.respond(RESPONSES.replace(temperature=0.3)), Response)
    assert_type(RESPONSES.replace(input="another city"), ResponsesRequest)
    assert_type(client.parse(CHAT, City), ParsedChatResponse[City])
    assert_type(client.parse(RESPONSES, City), ParsedResponse[City])
    assert_type(client.parse(RESPONSES, City).parsed, City)
    assert_type(client.stream(CHAT), ChatStream[ChatResponse])
    assert_type(client.stream(RESPONSES), ResponseStream[Response])
    assert_type(client.stream_parse(RESPONSES, City), ResponseStream[ParsedResponse[City]])
    with client.stream(RESPONSES) as stream:
        for event in stream:
            assert_type(event, ResponseStreamEvent)
        assert_type(stream.final_response(), Response)
    layered = Retrying(client, ExponentialBackoff())
    assert_type(layered.respond(RESPONSES), Response)
    assert_type(layered.parse(RESPONSES, City), ParsedResponse[City])
    protocol: ResponsesClient = client
    assert_type(protocol.parse(RESPONSES, City), ParsedResponse[City])


async def async_client(client: AsyncOpenAIClient) -> None:
    assert_type(await client.respond(RESPONSES), Response)
    assert_type(await client.parse(CHAT, City), ParsedChatResponse[City])
    assert_type(await client.parse(RESPONSES, City), ParsedResponse[City])
    assert_type(client.stream(CHAT), AsyncChatStream[ChatResponse])
    assert_type(client.stream(RESPONSES), AsyncResponseStream[Response])
    async with client.stream(RESPONSES) as stream:
        async for event in stream:
            assert_type(event, ResponseStreamEvent)
        assert_type(await stream.final_response(), Response)
    protocol: AsyncResponsesClient = client
    assert_type(await protocol.respond(RESPONSES), Response)


def errors_name_both_answers(refusal: RefusalError, interrupted: StreamInterruptedError) -> str:
    assert_type(refusal.response, ChatResponse | Response | None)
    assert_type(interrupted.partial, ChatResponse | Response | None)
    if isinstance(interrupted.partial, Response):
        return interrupted.partial.output_text
    return interrupted.partial.text if interrupted.partial is not None else ""


def narrow_items(item: OutputItem) -> str:
    match item:
        case OutputMessage():
            return item.id
        case ResponseFunctionCall():
            return item.arguments
        case ReasoningItem():
            return item.encrypted_content or ""
        case WebSearchCall():
            return item.id
        case ResponseCustomToolCall():
            return item.input
        case UnknownOutputItem():
            return item.type
        case _:
            assert_never(item)


def narrow_events(event: ResponseStreamEvent) -> str:
    match event:
        case OutputTextDelta() | RefusalTextDelta() | ReasoningSummaryDelta():
            return event.text
        case FunctionCallArgumentsDelta():
            return event.delta
        case OutputItemAdded() | OutputItemDone():
            return event.item.type
        case ResponseCompleted() | ResponseIncomplete() | ResponseFailed():
            return event.response.id
        case StreamError():
            return event.message
        case RawResponseEvent():
            return event.type
        case _:
            assert_never(event)
