"""A response's assistant message goes straight back into ``messages`` (issue 22 item 6).

``choice.to_message()`` (and ``choice.message.to_message()``) is an ``AssistantMessage`` with the
answer's content, refusal, tool calls, annotations and audio id, so a tool loop is
``request.replace(messages=(*request.messages, choice.to_message(), ToolMessage(...)))``.
Against the loopback fake: the second request's body repeats the first answer's message exactly
(its JSON without the nulls); the real recorded tool loop (OpenAI, two parallel calls) sent
through the fake gives the very messages openai-python sent; a streamed answer's message goes back
the same way.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pydantic
import pytest
import yaml
from pydantic import BaseModel

from helpers import FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    AssistantMessage,
    ChatRequest,
    OpenAIClient,
    ToolCall,
    ToolCallDone,
    ToolMessage,
    TypedTool,
    UserMessage,
)
from typed_llm.testing import FakeReply

if TYPE_CHECKING:
    from typed_llm.testing import FakeAPI


class GetWeather(BaseModel):
    city: str


WEATHER = TypedTool(GetWeather, description="The weather in a city today.")


def _client(fake: FakeAPI) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def test_a_tool_loop_sends_the_answer_back_as_it_came(fake: FakeAPI) -> None:
    client = _client(fake)
    request = ChatRequest(
        model="gpt-4o-mini", messages=(UserMessage(content="weather in Paris?"),), tools=(WEATHER.definition,)
    )
    response = client.complete(request)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    message = choice.to_message()
    assert isinstance(message, AssistantMessage)
    assert message == choice.message.to_message()
    assert message.tool_calls == choice.message.tool_calls
    (call,) = message.tool_calls or ()
    assert isinstance(call, ToolCall)
    follow_up = request.replace(
        messages=(
            *request.messages,
            message,
            ToolMessage(content=f"sunny in {WEATHER.parse(call).city}", tool_call_id=call.id),
        )
    )
    answer = client.complete(follow_up)
    assert answer.text.startswith("Echo: sunny in")
    first, second = (received.json() for received in fake.received)
    assert isinstance(first["messages"], list)
    assert isinstance(second["messages"], list)
    assert second["messages"][:1] == first["messages"]
    assert second["messages"][1] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": "GetWeather", "arguments": call.function.arguments},
            }
        ],
    }
    assert second["messages"][2] == {"role": "tool", "content": "sunny in Paris", "tool_call_id": call.id}
    assert ChatRequest.model_validate(second) == follow_up  # the body is the request, both ways


ANSWER_MESSAGE: dict[str, Any] = {
    "role": "assistant",
    "content": "Paris is sunny today [1]; checking tomorrow.",
    "refusal": None,
    "annotations": [
        {
            "type": "url_citation",
            "url_citation": {
                "start_index": 0,
                "end_index": 20,
                "title": "Météo",
                "url": "https://meteo.example",
            },
        }
    ],
    "tool_calls": [
        {
            "id": "call_tomorrow",
            "type": "function",
            "function": {"name": "GetWeather", "arguments": '{"city":"Paris"}'},
        },
        {"id": "call_custom", "type": "custom", "custom": {"name": "grep", "input": "sunny"}},
    ],
}


def test_content_annotations_and_every_kind_of_call_go_back_exactly(fake: FakeAPI) -> None:
    answer = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": "gpt-4o-mini-2026-01-01",
        "choices": [{"index": 0, "message": ANSWER_MESSAGE, "logprobs": None, "finish_reason": "tool_calls"}],
    }
    fake.enqueue(FakeReply(status=200, body=answer))
    client = _client(fake)
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="weather?"),))
    response = client.complete(request)
    replies = [
        ToolMessage(content="rain", tool_call_id=c.id) for c in response.choices[0].message.tool_calls or ()
    ]
    client.complete(request.replace(messages=(*request.messages, response.choices[0].to_message(), *replies)))
    sent = fake.received[-1].json()["messages"]
    assert isinstance(sent, list)
    assert sent[1] == _without_nulls(ANSWER_MESSAGE)
    assert [m["tool_call_id"] for m in sent[2:]] == ["call_tomorrow", "call_custom"]


def test_a_refusal_goes_back_as_a_refusal() -> None:
    from typed_llm import ChatResponse  # noqa: PLC0415  (kept next to its one use)

    refused = ChatResponse.model_validate(
        {
            "id": "chatcmpl-r",
            "created": 1,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
                    "finish_reason": "stop",
                }
            ],
        }
    )
    message = refused.choices[0].to_message()
    assert (message.content, message.refusal) == (None, "I can't help with that.")
    assert json.loads(message.model_dump_json(exclude_none=True)) == {
        "role": "assistant",
        "refusal": "I can't help with that.",
    }


def test_the_real_recorded_tool_loop_round_trips(fake: FakeAPI) -> None:
    """OpenAI's recorded two-call loop: our second body's messages are the ones openai-python sent."""
    interactions = yaml.safe_load(
        (REAL_TRAFFIC / "openai/chat_parallel_tool_calls_roundtrip.yaml").read_text()
    )
    (first_request, first_answer), (second_request, _) = (
        (json.loads(i["request"]["body"]), json.loads(i["response"]["body"]["string"]))
        for i in interactions["interactions"]
    )
    fake.enqueue(FakeReply(status=200, body=first_answer))
    client = _client(fake)
    request = ChatRequest.model_validate(first_request)
    response = client.complete(request)
    results = {m["tool_call_id"]: m["content"] for m in second_request["messages"] if m["role"] == "tool"}
    calls = response.choices[0].message.tool_calls or ()
    assert len(calls) == 2
    client.complete(
        request.replace(
            messages=(
                *request.messages,
                response.choices[0].to_message(),
                *(ToolMessage(content=results[call.id], tool_call_id=call.id) for call in calls),
            )
        )
    )
    assert fake.received[-1].json()["messages"] == second_request["messages"]


def test_a_streamed_answer_goes_back_the_same_way(fake: FakeAPI) -> None:
    client = _client(fake)
    request = ChatRequest(
        model="gpt-4o-mini", messages=(UserMessage(content="weather in Paris?"),), tools=(WEATHER.definition,)
    )
    with client.stream(request) as stream:
        done = [event.call for event in stream if isinstance(event, ToolCallDone)]
        streamed = stream.final_response()
    message = streamed.choices[0].to_message()
    assert message.tool_calls == tuple(done)
    (call,) = done
    client.complete(
        request.replace(
            messages=(*request.messages, message, ToolMessage(content="sunny", tool_call_id=call.id))
        )
    )
    assert isinstance(call, ToolCall)
    sent = fake.received[-1].json()["messages"]
    assert isinstance(sent, list)
    assert sent[1] == {
        "role": "assistant",
        "tool_calls": [{"id": call.id, "type": "function", "function": call.function.model_dump()}],
    }


def test_an_answer_with_nothing_to_send_back_is_refused_clearly() -> None:
    """Azure's filter stopped it before any text: no assistant message can say nothing."""
    from typed_llm import ChatResponse  # noqa: PLC0415  (kept next to its one use)

    filtered = ChatResponse.model_validate(
        {
            "id": "x",
            "created": 1,
            "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "content_filter"}],
        }
    )
    with pytest.raises(pydantic.ValidationError, match="needs content, refusal or tool_calls"):
        filtered.choices[0].to_message()
