"""One deployment -> model registry: tokens, window, price, cache namespace and logs give one answer.

And token drift: the pre-flight estimate set against the ``prompt_tokens`` the API reported.
"""

from __future__ import annotations

import warnings
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from structlog.testing import capture_logs

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import (
    AzureClient,
    ChatRequest,
    ContextWindowExceededError,
    MemoryCache,
    OpenAIClient,
    UserMessage,
    cache_key,
    count_request_tokens,
)
from typed_llm._layers.preflight import DRIFT_MIN_TOKENS, drift_tolerance
from typed_llm.testing import FakeReply

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from typed_llm.testing import FakeAPI

MILLION = Decimal(1_000_000)
QUESTION = (UserMessage(content="How many tokens does this question take, would you say?"),)


def _events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [log for log in logs if log["event"] == name]


def test_an_azure_deployment_is_counted_priced_cached_and_logged_as_its_model(fake: FakeAPI) -> None:
    """``deployments={"gpt-4o-mini": "chat-prod"}``: every use of the call's model says gpt-4o-mini."""
    cache = MemoryCache()
    client = AzureClient(
        endpoint=fake.url, api_key=FAKE_AZURE_KEY, deployments={"gpt-4o-mini": "chat-prod"}, cache=cache
    )
    by_model = ChatRequest(model="gpt-4o-mini", messages=QUESTION)
    by_deployment = ChatRequest(model="chat-prod", messages=QUESTION, temperature=0.1)
    with warnings.catch_warnings(), capture_logs() as logs:
        warnings.simplefilter("error")  # an UnknownModelWarning would mean "chat-prod" reached tiktoken
        answers = [client.complete(by_model), client.complete(by_deployment)]
    # The route: both went to the deployment.
    assert [r.path for r in fake.received] == ["/openai/deployments/chat-prod/chat/completions"] * 2
    responses = _events(logs, "response")
    for request, answer, event in zip((by_model, by_deployment), answers, responses, strict=True):
        # Tokens: counted as gpt-4o-mini (the pre-flight estimate in the log is gpt-4o-mini's count).
        assert event["prompt_tokens_estimate"] == count_request_tokens(request, "gpt-4o-mini").value
        # Cost: gpt-4o-mini at Azure's price.
        cost, usage = answer.cost, answer.usage
        assert cost is not None
        assert usage is not None
        assert (cost.model, cost.provider) == ("gpt-4o-mini", "azure")
        assert cost.total == (
            usage.prompt_tokens * Decimal("0.15") + usage.completion_tokens * Decimal("0.6")
        ) / (MILLION)
        # Log fields: the model, and the deployment serving it.
        assert (event["model"], event["deployment"]) == ("gpt-4o-mini", "chat-prod")
        # Cache namespace: the resource and gpt-4o-mini's deployment.
        namespace = f"azure {fake.url} chat-prod"
        assert event["request_key"] == cache_key(request, namespace)
        assert cache.get(event["request_key"]) is not None
    # The context window is gpt-4o-mini's (128,000 tokens), even when the request names the deployment.
    with pytest.raises(ContextWindowExceededError) as exceeded:
        client.complete(by_deployment.model_copy(update={"max_completion_tokens": 200_000}))
    assert (exceeded.value.model, exceeded.value.context_window) == ("gpt-4o-mini", 128_000)
    # Another deployment of the same model is another namespace: no shared entry.
    canary = AzureClient(
        endpoint=fake.url, api_key=FAKE_AZURE_KEY, deployments={"gpt-4o-mini": "chat-canary"}, cache=cache
    )
    canary.complete(by_model)
    assert fake.received[-1].path == "/openai/deployments/chat-canary/chat/completions"


def _served_by(model: str, prompt_tokens: int = 12) -> FakeReply:
    """A chat answer naming the model that served it, as Azure does."""
    return FakeReply(
        status=200,
        body={
            "id": "chatcmpl-learned",
            "object": "chat.completion",
            "created": 1_780_000_000,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 2,
                "total_tokens": prompt_tokens + 2,
            },
        },
    )


def test_an_unlisted_deployment_is_learned_from_its_first_answer(fake: FakeAPI) -> None:
    """``model="prod-4o"``, not configured: the answer's model is learned, and used from then on."""
    client = AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY)
    request = ChatRequest(model="prod-4o", messages=QUESTION)
    fake.enqueue(_served_by("gpt-4o-2024-08-06"), _served_by("gpt-4o-2024-08-06"))
    with warnings.catch_warnings(), capture_logs() as logs:
        warnings.simplefilter("error")
        first = client.complete(request)
        second = client.complete(request)
    for answer in (first, second):
        assert answer.cost is not None
        assert (answer.cost.model, answer.cost.rates.input) == ("gpt-4o-2024-08-06", Decimal("2.5"))
    first_event, second_event = _events(logs, "response")
    # Before the first answer "prod-4o" named no model the SDK knows: not counted. After it, counted.
    assert first_event["prompt_tokens_estimate"] is None
    assert second_event["prompt_tokens_estimate"] == count_request_tokens(request, "gpt-4o").value
    assert (second_event["model"], second_event["deployment"]) == ("gpt-4o-2024-08-06", "prod-4o")
    assert fake.received[0].path == "/openai/deployments/prod-4o/chat/completions"


def test_openai_has_no_deployments(fake: FakeAPI) -> None:
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    with capture_logs() as logs:
        answer = client.complete(ChatRequest(model="gpt-4o-mini", messages=QUESTION))
    (event,) = _events(logs, "response")
    assert event["model"] == "gpt-4o-mini"
    assert "deployment" not in event
    assert answer.cost is not None
    assert answer.cost.model == "gpt-4o-mini"  # the request's name, not the answer's dated one


# --- token drift ------------------------------------------------------------------------------------


def test_the_tolerance() -> None:
    """The larger of 8 tokens and 5% of the reported count."""
    assert DRIFT_MIN_TOKENS == 8
    assert [drift_tolerance(n) for n in (0, 100, 160, 161, 1000, 100_000)] == [8, 8, 8, 9, 50, 5000]


def test_every_call_logs_its_estimate_beside_the_reported_count(fake: FakeAPI) -> None:
    request = ChatRequest(model="gpt-4o-mini", messages=QUESTION)
    estimate = count_request_tokens(request).value
    fake.enqueue(_served_by("gpt-4o-mini-2024-07-18", prompt_tokens=estimate + 3))
    with capture_logs() as logs:
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url).complete(request)
    (event,) = _events(logs, "response")
    assert (event["prompt_tokens"], event["prompt_tokens_estimate"], event["token_drift"]) == (
        estimate + 3,
        estimate,
        3,
    )
    assert not _events(logs, "token_drift")  # within the tolerance


def test_a_count_beyond_the_tolerance_is_a_warning(fake: FakeAPI) -> None:
    """The API counted 500 where the estimate said a couple of dozen: a ``token_drift`` warning with both."""
    request = ChatRequest(model="gpt-4o-mini", messages=QUESTION)
    estimate = count_request_tokens(request).value
    fake.enqueue(_served_by("gpt-4o-mini-2024-07-18", prompt_tokens=500))
    with capture_logs() as logs:
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url).complete(request)
    (warning,) = _events(logs, "token_drift")
    assert warning["log_level"] == "warning"
    assert (warning["prompt_tokens"], warning["prompt_tokens_estimate"]) == (500, estimate)
    assert (warning["token_drift"], warning["tolerance"]) == (500 - estimate, 25)
    assert warning["model"] == "gpt-4o-mini"
    assert warning["request_key"] == _events(logs, "response")[0]["request_key"]


def test_a_stream_is_compared_too_and_a_cache_hit_has_no_estimate(fake: FakeAPI) -> None:
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=MemoryCache())
    request = ChatRequest(model="gpt-4o-mini", messages=QUESTION)
    with capture_logs() as logs:
        with client.stream(request) as stream:
            streamed = stream.final_response()
        client.complete(request)  # the same request: from the cache
    streamed_event, hit_event = _events(logs, "response")
    assert streamed.usage is not None
    assert streamed_event["prompt_tokens_estimate"] == count_request_tokens(request).value
    assert streamed_event["token_drift"] == streamed.usage.prompt_tokens - count_request_tokens(request).value
    assert hit_event["cache_hit"] is True
    assert (hit_event["prompt_tokens_estimate"], hit_event["token_drift"]) == (None, None)


def test_no_preflight_no_estimate(fake: FakeAPI) -> None:
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, preflight=False)
    with capture_logs() as logs:
        client.complete(ChatRequest(model="gpt-4o-mini", messages=QUESTION))
    (event,) = _events(logs, "response")
    assert event["prompt_tokens_estimate"] is None
