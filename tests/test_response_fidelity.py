"""Answers in the shapes the real services send parse into typed values, and nothing in them is lost.

Bodies here are recorded shapes (from the API reference and ``cassettes/real-traffic/``), served by the
loopback fake; each is read through ``OpenAIClient`` / ``AzureClient`` as a user would, and where it
matters through a cache too, since a cached answer is the response's own dump read back.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from structlog.testing import capture_logs

from helpers import FAKE_OPENAI_KEY
from typed_llm import (
    ChatRequest,
    ChatResponse,
    ContentFilterError,
    MalformedResponseError,
    MemoryCache,
    OpenAIClient,
    UnknownFinishReason,
    UserMessage,
)
from typed_llm._fake import FakeAPI, FakeReply
from typed_llm._retry import NoRetry

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


def test_a_choice_without_message_is_malformed_unless_filtered() -> None:
    """Only the filter's stop may leave the message out: any other finish without one is malformed."""
    body = _completion({"index": 0, "finish_reason": "stop"})
    with pytest.raises(MalformedResponseError, match=r"choices\.0\.message"):
        _complete(body)
