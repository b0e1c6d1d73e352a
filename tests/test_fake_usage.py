"""The fake's usage: the prompt tokens the SDK's own pre-flight count gives, so no false token_drift."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel
from structlog.testing import capture_logs

from helpers import FAKE_OPENAI_KEY
from typed_llm import ChatRequest, OpenAIClient, ResponsesRequest, SystemMessage, UserMessage
from typed_llm._tokens import count_request_tokens
from typed_llm._tokens_responses import count_responses_tokens
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    from collections.abc import Iterator, MutableMapping


class Capital(BaseModel):
    """A strict json_schema the SDK counts and the old word count missed."""

    city: str
    country: str
    population: int


@pytest.fixture
def client() -> Iterator[OpenAIClient]:
    with FakeAPI() as fake:
        yield OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)


def _response_events(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    assert not [log for log in logs if log["event"] == "token_drift"]
    return [log for log in logs if log["event"] == "response"]


def test_a_json_schema_call_reports_the_sdks_count(client: OpenAIClient) -> None:
    """parse() with a strict schema: prompt_tokens is count_request_tokens' value, no token_drift."""
    request = ChatRequest(
        model="gpt-4o-mini",
        messages=(SystemMessage(content="Answer in JSON."), UserMessage(content="The capital of France?")),
    )
    with capture_logs() as logs:
        parsed = client.parse(request, Capital)
    assert parsed.usage is not None
    words = 7 + 3 * 2 + 3  # what the fake used to report: the prompt's words and the message overhead
    (event,) = _response_events(logs)
    assert event["prompt_tokens_estimate"] == parsed.usage.prompt_tokens != words
    assert event["token_drift"] == 0


def test_a_responses_call_reports_the_sdks_count(client: OpenAIClient) -> None:
    """respond() with instructions: input_tokens is count_responses_tokens' value, no token_drift."""
    request = ResponsesRequest(
        model="gpt-4o-mini", instructions="Be terse, and answer in one sentence.", input="What is a cassette?"
    )
    with capture_logs() as logs:
        response = client.respond(request)
    assert response.usage is not None
    assert response.usage.input_tokens == count_responses_tokens(request).value
    (event,) = _response_events(logs)
    assert event["token_drift"] == 0


def test_a_model_the_sdk_does_not_count_gets_the_word_count(client: OpenAIClient) -> None:
    """A model without known limits is not counted before sending; the fake answers words + overhead."""
    request = ChatRequest(model="my-local-model", messages=(UserMessage(content="three plain words"),))
    with capture_logs() as logs:
        response = client.complete(request)
    assert response.usage is not None
    assert response.usage.prompt_tokens == 3 + 3 + 3
    (event,) = _response_events(logs)
    assert event["prompt_tokens_estimate"] is None  # nothing to drift from


def test_a_plain_chat_call_reports_the_sdks_exact_count(client: OpenAIClient) -> None:
    """Plain text: the count the SDK calls exact, which the real API matches."""
    request = ChatRequest(model="gpt-4o", messages=(UserMessage(content="Name a colour, please."),))
    response = client.complete(request)
    assert response.usage is not None
    count = count_request_tokens(request)
    assert count.exact
    assert response.usage.prompt_tokens == count.value
