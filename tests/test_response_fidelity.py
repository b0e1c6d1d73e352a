"""Answers in the shapes the real services send parse into typed values, and nothing in them is lost.

Bodies here are recorded shapes (from the API reference and ``cassettes/real-traffic/``), served by the
loopback fake; each is read through ``OpenAIClient`` / ``AzureClient`` as a user would, and where it
matters through a cache too, since a cached answer is the response's own dump read back.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from helpers import FAKE_OPENAI_KEY
from typed_llm import (
    AssistantMessage,
    ChatRequest,
    ChatResponse,
    ContentFilterError,
    CustomTool,
    CustomToolCall,
    FunctionTool,
    MalformedResponseError,
    MemoryCache,
    NamedCustomToolChoice,
    NoTextError,
    OpenAIClient,
    ToolCall,
    ToolMessage,
    UnknownFinishReason,
    UserMessage,
)
from typed_llm._backoff import NoRetry
from typed_llm._wire.chat import wire_body
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._replies import FakeReply

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))


def _completion(*choices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": list(choices),
        **extra,
    }


def _complete(*bodies: dict[str, Any]) -> list[ChatResponse]:
    with FakeAPI() as fake:
        fake.enqueue(*(FakeReply(status=200, body=body) for body in bodies))
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry())
        return [client.complete(REQUEST) for _ in bodies]


def test_unknown_finish_reason_keeps_the_answer_and_is_logged_once() -> None:
    """A finish_reason newer than the SDK is kept as UnknownFinishReason; one warning per value."""
    new = f"paused_{uuid.uuid4().hex[:8]}"  # new to this process, whatever ran before
    body = _completion({"index": 0, "finish_reason": new, "message": {"role": "assistant", "content": "x"}})
    with capture_logs() as logs:
        first, second = _complete(body, body)
    for response in (first, second):
        reason = response.choices[0].finish_reason
        assert isinstance(reason, UnknownFinishReason)
        assert reason == new
        assert response.text == "x"
    warnings = [log for log in logs if log["event"] == "unknown_value"]
    assert len(warnings) == 1
    assert (warnings[0]["field"], warnings[0]["value"], warnings[0]["log_level"]) == (
        "choices.finish_reason",
        new,
        "warning",
    )


def test_null_finish_reason_keeps_the_answer() -> None:
    """A null finish_reason is None on the choice, not a failed call."""
    body = _completion({"index": 0, "finish_reason": None, "message": {"role": "assistant", "content": "x"}})
    (response,) = _complete(body)
    assert response.choices[0].finish_reason is None
    assert response.text == "x"


def test_known_finish_reason_stays_a_plain_literal() -> None:
    """Known values are the Literal strings, not the unknown wrapper."""
    body = _completion(
        {"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "x"}}
    )
    (response,) = _complete(body)
    reason: object = response.choices[0].finish_reason
    assert type(reason) is str
    assert reason == "length"


def test_unknown_finish_reason_round_trips_through_a_cache() -> None:
    """The cached dump of an answer with a new value reads back equal, still typed as unknown."""
    new = f"paused_{uuid.uuid4().hex[:8]}"
    body = _completion({"index": 0, "finish_reason": new, "message": {"role": "assistant", "content": "x"}})
    fresh, cached = _fresh_then_cached(body)
    assert cached == fresh
    assert isinstance(cached.choices[0].finish_reason, UnknownFinishReason)


def _fresh_then_cached(body: dict[str, Any]) -> tuple[ChatResponse, ChatResponse]:
    """REQUEST answered by ``body``, then answered again from the cache (nothing more is sent)."""
    with FakeAPI() as fake:
        fake.enqueue(FakeReply(status=200, body=body))
        client = OpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry(), cache=MemoryCache()
        )
        fresh, cached = client.complete(REQUEST), client.complete(REQUEST)
        assert len(fake.received) == 1
    return fresh, cached


@pytest.mark.parametrize("reason", ["stop", None], ids=["stop", "null"])
def test_chat_response_model_validate_accepts_finish_reasons(reason: str | None) -> None:
    """ChatResponse.model_validate of a wire body takes known and null finish reasons."""
    body = _completion(
        {"index": 0, "finish_reason": reason, "message": {"role": "assistant", "content": "x"}}
    )
    assert ChatResponse.model_validate(body).choices[0].finish_reason == reason


AZURE_FILTERED_CHOICE: dict[str, Any] = {
    "index": 0,
    "finish_reason": "content_filter",
    "content_filter_results": {
        "hate": {"filtered": False, "severity": "safe"},
        "self_harm": {"filtered": False, "severity": "safe"},
        "sexual": {"filtered": False, "severity": "safe"},
        "violence": {"filtered": True, "severity": "high"},
        "protected_material_text": {"filtered": False, "detected": False},
    },
    "logprobs": None,
}


def test_azure_filtered_choice_without_message_raises_content_filter_error() -> None:
    """Azure's filtered choice with no message parses; .text raises ContentFilterError with the verdicts."""
    body = _completion(
        AZURE_FILTERED_CHOICE,
        prompt_filter_results=[
            {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}}}
        ],
    )
    (response,) = _complete(body)
    choice = response.choices[0]
    assert choice.finish_reason == "content_filter"
    assert (choice.message.content, choice.message.tool_calls) == (None, None)
    with pytest.raises(ContentFilterError) as caught:
        _ = response.text
    error = caught.value
    assert (error.stage, error.status_code, error.categories) == ("completion", 200, ("violence",))
    assert {r.category: r.severity for r in error.results}["violence"] == "high"
    assert error.response == response
    assert error.request_id == response.request_id is not None


def test_azures_older_name_for_the_prompt_verdicts_is_read() -> None:
    """API versions before 2023-06 send ``prompt_annotations``: read as ``prompt_filter_results``
    (the newer name wins when both are there), and a cached copy reads back the same."""
    verdicts = [
        {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}}}
    ]
    newer = [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": True, "severity": "high"}}}]
    stop = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}
    older, both = _complete(
        _completion(stop, prompt_annotations=verdicts),
        _completion(stop, prompt_annotations=verdicts, prompt_filter_results=newer),
    )
    assert [r.content_filter_results[0].severity for r in older.prompt_filter_results] == ["safe"]
    assert [r.content_filter_results[0].severity for r in both.prompt_filter_results] == ["high"]
    assert ChatResponse.model_validate_json(older.model_dump_json()) == older


def test_usage_details_are_flattened_unless_given_flat() -> None:
    """``cached_tokens`` and ``reasoning_tokens`` come from the nested details; flat counts win."""
    stop = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    nested = {
        **usage,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    flat = {**nested, "cached_tokens": 7, "reasoning_tokens": 1}
    plain, from_details, given = _complete(
        _completion(stop, usage=usage), _completion(stop, usage=nested), _completion(stop, usage=flat)
    )
    counts = [
        (r.usage.cached_tokens, r.usage.reasoning_tokens) for r in (plain, from_details, given) if r.usage
    ]
    assert counts == [(None, None), (4, 2), (7, 1)]
    assert ChatResponse.model_validate_json(from_details.model_dump_json()) == from_details


def test_a_choice_without_message_is_malformed_unless_filtered() -> None:
    """Only the filter's stop may leave the message out: any other finish without one is malformed."""
    body = _completion({"index": 0, "finish_reason": "stop"})
    with pytest.raises(MalformedResponseError, match=r"choices\.0\.message"):
        _complete(body)


GPT5_CUSTOM_CALL: dict[str, Any] = {
    "id": "call_Yx9Lq2JmKd3vT0aBcDeFgHiJ",
    "type": "custom",
    "custom": {"name": "code_exec", "input": "print(sum(range(10)))"},
}


def test_custom_tool_call_in_an_answer_parses_and_goes_back() -> None:
    """gpt-5's custom tool call is a typed CustomToolCall, mixed with function calls, and can be sent back."""
    function_call = {"id": "call_f", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = _completion(
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "annotations": [],
                "tool_calls": [GPT5_CUSTOM_CALL, function_call],
            },
        },
        model="gpt-5-mini-2025-08-07",
    )
    (response,) = _complete(body)
    calls = response.choices[0].message.tool_calls
    assert calls is not None
    custom, function = calls
    assert isinstance(custom, CustomToolCall)
    assert (custom.id, custom.custom.name, custom.custom.input) == (
        "call_Yx9Lq2JmKd3vT0aBcDeFgHiJ",
        "code_exec",
        "print(sum(range(10)))",
    )
    assert isinstance(function, ToolCall)
    with pytest.raises(NoTextError):
        _ = response.text
    back = AssistantMessage(tool_calls=calls)
    followup = ChatRequest(
        model="gpt-5-mini",
        messages=(UserMessage(content="sum?"), back, ToolMessage(content="45", tool_call_id=custom.id)),
    )
    sent = json.loads(wire_body(followup))
    assert sent["messages"][1]["tool_calls"] == [GPT5_CUSTOM_CALL, function_call]
    assert ChatRequest.model_validate(sent) == followup


CUSTOM_TOOLS: list[dict[str, Any]] = [
    {"type": "custom", "custom": {"name": "code_exec", "description": "Runs Python code."}},
    {"type": "custom", "custom": {"name": "notes", "format": {"type": "text"}}},
    {
        "type": "custom",
        "custom": {
            "name": "math",
            "description": "An arithmetic expression.",
            "format": {
                "type": "grammar",
                "grammar": {
                    "syntax": "lark",
                    "definition": 'start: NUMBER "+" NUMBER\n%import common.NUMBER',
                },
            },
        },
    },
    {
        "type": "custom",
        "custom": {
            "name": "timestamp",
            "format": {
                "type": "grammar",
                "grammar": {"syntax": "regex", "definition": r"^\d{4}-\d{2}-\d{2}$"},
            },
        },
    },
]


def test_custom_tools_are_declared_and_sent_as_written() -> None:
    """ChatRequest takes custom tools (text or grammar formats) beside functions, sent as written."""
    with FakeAPI() as fake:
        fake.enqueue(
            FakeReply(
                status=200,
                body=_completion(
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {"role": "assistant", "tool_calls": [GPT5_CUSTOM_CALL]},
                    }
                ),
            )
        )
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry())
        body = {
            "model": "gpt-5-mini",
            "messages": [{"role": "user", "content": "run it"}],
            "tools": [*CUSTOM_TOOLS, {"type": "function", "function": {"name": "f"}}],
            "tool_choice": {"type": "custom", "custom": {"name": "code_exec"}},
        }
        request = ChatRequest.model_validate(body)
        client.complete(request)
        (received,) = fake.received
    assert request.tools is not None
    assert [type(tool) for tool in request.tools] == [CustomTool] * 4 + [FunctionTool]
    assert isinstance(request.tool_choice, NamedCustomToolChoice)
    assert json.loads(received.body) == body


@pytest.mark.parametrize(
    ("tool", "where"),
    [
        ({"type": "custom", "custom": {"name": "has space"}}, "tools.0.custom.custom.name"),
        (
            {
                "type": "custom",
                "custom": {
                    "name": "g",
                    "format": {"type": "grammar", "grammar": {"syntax": "ebnf", "definition": "x"}},
                },
            },
            "tools.0.custom.custom.format.grammar.grammar.syntax",
        ),
        ({"type": "custom", "custom": {"name": "g", "extra": 1}}, "tools.0.custom.custom.extra"),
    ],
    ids=["bad name", "unknown grammar syntax", "unknown key"],
)
def test_bad_custom_tools_are_refused(tool: dict[str, Any], where: str) -> None:
    """A custom tool of the wrong shape is a ValidationError naming the field."""
    with pytest.raises(ValidationError) as caught:
        ChatRequest.model_validate(
            {"model": "gpt-5", "messages": [{"role": "user", "content": "x"}], "tools": [tool]}
        )
    assert where in [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


def test_every_documented_response_field_is_typed_and_extras_survive_a_cache() -> None:
    """Usage details, url_citation annotations and audio are typed; unknown keys stay in model_extra."""
    body = _completion(
        {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {
                "role": "assistant",
                "content": "Paris is the capital of France [1].",
                "refusal": None,
                "annotations": [
                    {
                        "type": "url_citation",
                        "url_citation": {
                            "start_index": 0,
                            "end_index": 34,
                            "title": "Paris - Wikipedia",
                            "url": "https://en.wikipedia.org/wiki/Paris",
                        },
                    }
                ],
                "audio": {
                    "id": "audio_6798a4f2c1d08190",
                    "data": "UklGRg==",
                    "expires_at": 1_738_000_000,
                    "transcript": "Paris is the capital of France.",
                },
                "reasoning_summary": "new in some later API",
            },
        },
        usage={
            "prompt_tokens": 120,
            "completion_tokens": 40,
            "total_tokens": 160,
            "prompt_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 32, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 8,
                "audio_tokens": 12,
                "accepted_prediction_tokens": 5,
                "rejected_prediction_tokens": 3,
            },
        },
        service_tier="default",
        moderation={"input": {"type": "moderation_results"}},
    )
    fresh, cached = _fresh_then_cached(body)
    assert cached == fresh
    for response in (fresh, cached):
        usage = response.usage
        assert usage is not None
        assert (usage.cached_tokens, usage.reasoning_tokens) == (64, 8)
        assert usage.prompt_tokens_details is not None
        assert (usage.prompt_tokens_details.cache_write_tokens, usage.prompt_tokens_details.audio_tokens) == (
            32,
            0,
        )
        details = usage.completion_tokens_details
        assert details is not None
        assert (
            details.audio_tokens,
            details.accepted_prediction_tokens,
            details.rejected_prediction_tokens,
        ) == (
            12,
            5,
            3,
        )
        message = response.choices[0].message
        assert message.annotations is not None
        citation = message.annotations[0].url_citation
        assert citation is not None
        assert (citation.start_index, citation.end_index, citation.url) == (
            0,
            34,
            "https://en.wikipedia.org/wiki/Paris",
        )
        assert message.audio is not None
        assert (message.audio.id, message.audio.transcript) == (
            "audio_6798a4f2c1d08190",
            "Paris is the capital of France.",
        )
        assert message.model_extra == {"reasoning_summary": "new in some later API"}
        assert response.model_extra == {"moderation": {"input": {"type": "moderation_results"}}}
        assert response.choices[0].model_extra == {}  # logprobs is a typed field (issue 22)
        assert response.choices[0].logprobs is None
