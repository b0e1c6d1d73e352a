"""The adapters, replayed from cassettes recorded against the loopback fake.

Replay matches on method, path and JSON body, so each test also pins the exact request the SDK sends:
a change in how a request is built fails the replay.
"""

from __future__ import annotations

import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, Endpoints, replay
from typed_llm import (
    AssistantMessage,
    AzureClient,
    ChatRequest,
    ContentFilterError,
    EmbeddingRequest,
    FunctionCall,
    FunctionDefinition,
    FunctionTool,
    ImagePart,
    ImageURL,
    NoTextError,
    OpenAIClient,
    RefusalError,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from typed_llm.testing._replies import FakeReply


def _openai(endpoints: Endpoints) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=endpoints.openai_base_url)


def _azure(endpoints: Endpoints, api_version: str | None = None) -> AzureClient:
    return AzureClient(
        endpoint=endpoints.url,
        api_key=FAKE_AZURE_KEY,
        api_version=api_version,
        deployments={"gpt-4o-mini": "chat-prod", "text-embedding-3-small": "embed-prod"},
    )


def _ask(text: str, **params: object) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **params}
    )


def test_openai_chat_returns_typed_completion() -> None:
    """A plain chat call gives a typed response: text, finish reason, usage and request id."""
    request = ChatRequest(
        model="gpt-4o-mini",
        messages=(SystemMessage(content="Be brief."), UserMessage(content="Say hello")),
        temperature=0.2,
        top_p=0.9,
        max_tokens=20,
        seed=7,
        stop=("END",),
        user="user-1",
    )
    with replay("adapters/openai_chat") as endpoints:
        response = _openai(endpoints).complete(request)
    assert response.text == "Echo: Say hello"
    assert response.choices[0].finish_reason == "stop"
    assert response.model == "gpt-4o-mini-2026-01-01"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (13, 3)
    assert response.usage.total_tokens == 16
    assert response.usage.cached_tokens == 0
    assert response.request_id is not None
    assert response.request_id.startswith("req_")


def test_openai_chat_with_every_message_kind() -> None:
    """Image parts, assistant tool calls and tool messages are sent in the API's shape."""
    call = ToolCall(id="call_1", function=FunctionCall(name="lookup", arguments='{"q": "x"}'))
    request = ChatRequest(
        model="gpt-4o-mini",
        messages=(
            UserMessage(
                content=(
                    TextPart(text="What is in this image?"),
                    ImagePart(image_url=ImageURL(url="https://example.test/cat.png", detail="low")),
                )
            ),
            AssistantMessage(tool_calls=(call,)),
            ToolMessage(content="a cat", tool_call_id="call_1"),
        ),
    )
    with replay("adapters/openai_chat_message_kinds") as endpoints:
        response = _openai(endpoints).complete(request)
    assert response.text == "Echo: a cat"


def test_openai_tool_call_comes_back_typed() -> None:
    """A tool call in the answer is a typed ToolCall; asking for .text says there is none."""
    tool = FunctionTool(
        function=FunctionDefinition(
            name="get_weather",
            description="Weather in a city",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}},
        )
    )
    with replay("adapters/openai_tool_call") as endpoints:
        response = _openai(endpoints).complete(_ask("Weather in Paris?", tools=[tool.model_dump()]))
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert isinstance(call, ToolCall)
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"city": "Paris"}'
    with pytest.raises(NoTextError):
        _ = response.text


def test_length_cut_off_is_reported() -> None:
    """A completion cut by max_tokens keeps its text and says so in finish_reason."""
    with replay("adapters/openai_length") as endpoints:
        response = _openai(endpoints).complete(_ask("one two three four five", max_tokens=2))
    assert response.choices[0].finish_reason == "length"
    assert response.text == "Echo: one"


def test_openai_embeddings_in_input_order() -> None:
    """Embeddings come back as one float vector per input, in input order, decoded from base64."""
    request = EmbeddingRequest(model="text-embedding-3-small", input=("alpha", "beta", "gamma"), dimensions=8)
    with replay("adapters/openai_embeddings") as endpoints:
        response = _openai(endpoints).embed(request)
    assert len(response.vectors) == 3
    assert response.dimension == 8
    assert all(abs(sum(x * x for x in v) - 1.0) < 1e-5 for v in response.vectors)
    assert response.vectors[0] != response.vectors[1]
    assert response.usage is not None
    assert response.usage.prompt_tokens == 3


def test_azure_maps_models_to_deployments() -> None:
    """Azure's classic API: the deployment goes in the path, with api-version; filter verdicts are typed."""
    with replay("adapters/azure_chat") as endpoints:
        client = _azure(endpoints)
        response = client.complete(_ask("hello azure"))
        embedding = client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("x",)))
    assert response.text == "Echo: hello azure"
    assert {r.category for r in response.choices[0].content_filter_results} >= {"hate", "violence"}
    assert not any(r.flagged for r in response.prompt_filter_results[0].content_filter_results)
    assert response.request_id is not None
    assert len(embedding.vectors) == 1
    assert embedding.dimension == 16
    assert client.provider == "azure"


def test_azure_v1_api_sends_deployment_in_body() -> None:
    """Azure's v1 API: /openai/v1/ paths, no api-version, the deployment name as the body's model."""
    with replay("adapters/azure_v1_chat") as endpoints:
        response = _azure(endpoints, api_version="v1").complete(_ask("hello v1"))
    assert response.text == "Echo: hello v1"
    assert response.model == "chat-prod-2026-01-01"


def test_azure_completion_stopped_by_filter_is_typed() -> None:
    """A completion Azure stopped with finish_reason content_filter is data, and .text raises with it."""
    filtered = {
        "id": "chatcmpl-filtered",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "finish_reason": "content_filter",
                "message": {"role": "assistant", "content": "Partial answer", "refusal": None},
                "content_filter_results": {
                    "hate": {"filtered": False, "severity": "safe"},
                    "violence": {"filtered": True, "severity": "high"},
                },
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    with replay("adapters/azure_completion_filtered") as endpoints:
        endpoints.enqueue(FakeReply(status=200, body=filtered))
        response = _azure(endpoints).complete(_ask("tell me something violent"))
    assert response.choices[0].finish_reason == "content_filter"
    assert response.choices[0].message.content == "Partial answer"
    with pytest.raises(ContentFilterError) as caught:
        _ = response.text
    assert caught.value.stage == "completion"
    assert caught.value.categories == ("violence",)
    assert caught.value.response is response


def test_refusal_is_raised_from_text() -> None:
    """A refusal is not an empty string: .text raises RefusalError carrying the refusal."""
    refused = {
        "id": "chatcmpl-refused",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
            }
        ],
    }
    with replay("adapters/openai_refusal") as endpoints:
        endpoints.enqueue(FakeReply(status=200, body=refused))
        response = _openai(endpoints).complete(_ask("something refused"))
    with pytest.raises(RefusalError) as caught:
        _ = response.text
    assert caught.value.refusal == "I can't help with that."
