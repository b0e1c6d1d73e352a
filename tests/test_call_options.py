"""Per-call options and ``with_options``: a call's own timeout, and extra headers, query and body.

Each test calls the public API against the loopback fake and checks what the server received,
what the cache did and what the log said; bad options fail before anything is sent.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel, ValidationError
from structlog.testing import capture_logs

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import (
    APITimeoutError,
    AsyncAzureClient,
    AsyncOpenAIClient,
    AzureClient,
    CallOptions,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    ExponentialBackoff,
    MemoryCache,
    NoRetry,
    OpenAIClient,
    ResponsesRequest,
    RetriesExhaustedError,
    Retrying,
    ServerError,
    UserMessage,
)
from typed_llm.testing._replies import FakeReply

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
EXTRAS: CallOptions = {
    "extra_headers": {"X-Tenant": "acme"},
    "extra_query": {"trace": "on"},
    "extra_body": {"prediction_hint": {"kind": "demo", "tags": ("a", "b")}},
}
LATE_ANSWER = {
    "id": "chatcmpl-late",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "late"}, "finish_reason": "stop"}],
}


class City(BaseModel):
    name: str


def _openai(fake: FakeAPI, **options: Any) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, **options)


def _check_extras_arrived(fake: FakeAPI) -> None:
    got = fake.received[-1]
    assert got.headers["x-tenant"] == "acme"
    assert got.query["trace"] == "on"
    assert got.json()["prediction_hint"] == {"kind": "demo", "tags": ["a", "b"]}


SYNC_KINDS: dict[str, Callable[[FakeAPI], OpenAIClient | AzureClient]] = {
    "openai": _openai,
    "azure": lambda fake: AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY),
    "azure v1": lambda fake: AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="v1"),
}


@pytest.mark.parametrize("kind", list(SYNC_KINDS))
def test_extra_headers_query_and_body_reach_the_server(fake: FakeAPI, kind: str) -> None:
    """Every client sends a call's extra headers, query and body along with its own."""
    with SYNC_KINDS[kind](fake) as client:
        answer = client.complete(REQUEST, **EXTRAS)
    assert answer.text
    _check_extras_arrived(fake)
    got = fake.received[-1]
    assert got.json()["model"] == "gpt-4o-mini" or kind == "azure"  # the SDK's own keys are still there
    if kind == "azure":
        assert "api-version" in got.query  # the client's own query stays beside the extra one


@pytest.mark.parametrize("kind", ["async openai", "async azure"])
def test_async_clients_send_the_extras_too(fake: FakeAPI, kind: str) -> None:
    """The async clients take the same options."""

    async def call() -> ChatResponse:
        client: AsyncOpenAIClient | AsyncAzureClient = (
            AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
            if kind == "async openai"
            else AsyncAzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY)
        )
        async with client:
            return await client.complete(REQUEST, **EXTRAS)

    assert asyncio.run(call()).text
    _check_extras_arrived(fake)


def test_every_verb_takes_the_options(fake: FakeAPI) -> None:
    """parse, stream, stream_parse, embed and respond (chat and Responses) send the extras too."""
    with _openai(fake) as client:
        client.parse(REQUEST, City, **EXTRAS)
        _check_extras_arrived(fake)
        with client.stream(REQUEST, **EXTRAS) as stream:
            stream.final_response()
        _check_extras_arrived(fake)
        with client.stream_parse(REQUEST, City, **EXTRAS) as parsed:
            assert parsed.final_response().parsed.name
        _check_extras_arrived(fake)
        client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("a",)), **EXTRAS)
        _check_extras_arrived(fake)
        responses = ResponsesRequest(model="gpt-4o-mini", input="hi")
        client.respond(responses, **EXTRAS)
        _check_extras_arrived(fake)
        client.parse(responses, City, **EXTRAS)
        _check_extras_arrived(fake)
        with client.stream(responses, **EXTRAS) as events:
            events.final_response()
        _check_extras_arrived(fake)
    assert len(fake.received) == 7


BAD_OPTIONS: list[tuple[str, dict[str, object], str]] = [
    ("a modelled field", {"extra_body": {"temperature": 0.5}}, "a field of ChatRequest"),
    ("a field by its wire name", {"extra_body": {"max_tokens": 5}}, "a field of ChatRequest"),
    ("the stream switch", {"extra_body": {"stream": True}}, "the SDK decides"),
    ("not JSON", {"extra_body": {"when": object()}}, "extra_body"),
    ("nan", {"extra_body": {"x": float("nan")}}, "not JSON the API can take"),
    ("header injection", {"extra_headers": {"X-A": "1\r\nX-B: 2"}}, "line break"),
    ("bad header name", {"extra_headers": {"X A": "1"}}, "not a valid HTTP header name"),
    ("header value not text", {"extra_headers": {"X-A": 1}}, "extra_headers"),
    ("query value not text", {"extra_query": {"a": 1}}, "extra_query"),
    ("zero timeout", {"timeout": 0}, "positive, finite"),
    ("infinite timeout", {"timeout": float("inf")}, "positive, finite"),
    ("timeout as text", {"timeout": "5"}, "timeout"),
    ("timeout as bool", {"timeout": True}, "not a bool"),
    ("a keyword no verb takes", {"extra_bodyy": {"a": 1}}, "extra_bodyy"),
    ("headers not a mapping", {"extra_headers": "X-A: 1"}, "extra_headers"),
]


@pytest.mark.parametrize(
    ("given", "problem"), [(g, p) for _, g, p in BAD_OPTIONS], ids=[i for i, _, _ in BAD_OPTIONS]
)
def test_bad_options_fail_before_anything_is_sent(fake: FakeAPI, given: dict[str, Any], problem: str) -> None:
    """A bad option is a ValidationError naming it, raised before a request goes out."""
    with _openai(fake) as client, pytest.raises(ValidationError, match=problem):
        client.complete(REQUEST, **given)
    assert fake.received == []


def test_embeddings_refuse_the_encoding_the_sdk_chooses(fake: FakeAPI) -> None:
    """``encoding_format`` is the SDK's (it decodes base64): extra_body may not replace it."""
    request = EmbeddingRequest(model="text-embedding-3-small", input=("a",))
    with _openai(fake) as client, pytest.raises(ValidationError, match="the SDK decides"):
        client.embed(request, extra_body={"encoding_format": "float"})
    assert fake.received == []


def test_a_call_timeout_shorter_than_the_clients_ends_the_attempt(fake: FakeAPI) -> None:
    """``timeout=`` on a call bounds its attempt, whatever the client's own timeout."""
    fake.enqueue(FakeReply(status=200, body=LATE_ANSWER, delay=2.0))
    with _openai(fake, timeout=60, backoff=NoRetry()) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.complete(REQUEST, timeout=0.3)
    assert time.monotonic() - started < 1.5


def test_a_call_timeout_longer_than_the_clients_lets_a_slow_answer_arrive(fake: FakeAPI) -> None:
    """A call may also wait longer than the client's timeout (a long reasoning call, say)."""
    fake.enqueue(FakeReply(status=200, body=LATE_ANSWER, delay=0.6))
    with _openai(fake, timeout=0.2, backoff=NoRetry()) as client:
        assert client.complete(REQUEST, timeout=5).text == "late"
        fake.enqueue(FakeReply(status=200, body=LATE_ANSWER, delay=0.6))
        with pytest.raises(APITimeoutError):
            client.complete(REQUEST)  # the client's own 0.2 s, as before


def test_async_call_timeout(fake: FakeAPI) -> None:
    """The async clients honour a call's timeout too."""
    fake.enqueue(FakeReply(status=200, body=LATE_ANSWER, delay=2.0))

    async def call() -> None:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry()
        ) as client:
            await client.complete(REQUEST, timeout=0.3)

    with pytest.raises(APITimeoutError):
        asyncio.run(call())


# --- with_options ---------------------------------------------------------------------------------


def test_with_options_is_a_configured_copy_sharing_the_pool(fake: FakeAPI) -> None:
    """The copy is the same type, its calls carry the options, and the original is unchanged."""
    client = _openai(fake)
    tenant = client.with_options(extra_headers={"X-Tenant": "acme"}, extra_query={"trace": "on"})
    assert type(tenant) is OpenAIClient
    assert tenant._transport is client._transport
    tenant.complete(REQUEST)
    assert fake.received[-1].headers["x-tenant"] == "acme"
    assert fake.received[-1].query == {"trace": "on"}
    client.complete(REQUEST)
    assert "x-tenant" not in fake.received[-1].headers
    assert fake.received[-1].query == {}
    # a call's own options go on top of the copy's; the copy's others stay
    tenant.complete(REQUEST, extra_headers={"X-Tenant": "globex"})
    assert fake.received[-1].headers["x-tenant"] == "globex"
    assert fake.received[-1].query == {"trace": "on"}
    # copies of copies add up
    both = tenant.with_options(extra_headers={"X-Team": "blue"})
    both.complete(REQUEST)
    assert (fake.received[-1].headers["x-tenant"], fake.received[-1].headers["x-team"]) == ("acme", "blue")
    client.close()


def test_with_options_backoff_replaces_only_the_copys_retries(fake: FakeAPI) -> None:
    """``with_options(backoff=NoRetry())`` gives a client that does not retry; the original still does."""
    retrying = _openai(
        fake, backoff=ExponentialBackoff(attempts=2, wait_initial=0.01, wait_max=0.01, wait_jitter=0)
    )
    once = retrying.with_options(backoff=NoRetry())
    fake.enqueue(FakeReply(status=500, body={"error": {"message": "boom"}}))
    with pytest.raises(ServerError):
        once.complete(REQUEST)
    assert len(fake.received) == 1
    fake.enqueue(
        FakeReply(status=500, body={"error": {"message": "boom"}}),
        FakeReply(status=500, body={"error": {"message": "boom"}}),
    )
    with pytest.raises(RetriesExhaustedError):
        retrying.complete(REQUEST)
    assert len(fake.received) == 3


def test_with_options_timeout_applies_to_every_call(fake: FakeAPI) -> None:
    """``with_options(timeout=...)`` is every call's timeout; a call's own still wins."""
    quick = _openai(fake, backoff=NoRetry()).with_options(timeout=0.3)
    fake.enqueue(FakeReply(status=200, body=LATE_ANSWER, delay=1.0))
    with pytest.raises(APITimeoutError):
        quick.complete(REQUEST)
    fake.enqueue(FakeReply(status=200, body=LATE_ANSWER, delay=0.6))
    assert quick.complete(REQUEST, timeout=5).text == "late"


def test_with_options_refuses_bad_options_at_once(fake: FakeAPI) -> None:
    """A bad option given to with_options fails there, not at the first call."""
    client = _openai(fake)
    with pytest.raises(ValidationError, match="line break"):
        client.with_options(extra_headers={"X-A": "1\n2"})
    with pytest.raises(ValidationError, match="positive"):
        client.with_options(timeout=-1)


def test_with_options_on_every_client(fake: FakeAPI) -> None:
    """Azure and the async clients have with_options too, and keep their type."""
    azure = AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY).with_options(
        extra_headers={"X-Tenant": "acme"}
    )
    assert type(azure) is AzureClient
    azure.complete(REQUEST)
    assert fake.received[-1].headers["x-tenant"] == "acme"

    async def call() -> None:
        for client in (
            AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url),
            AsyncAzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY),
        ):
            copy = client.with_options(extra_query={"trace": "on"})
            assert type(copy) is type(client)
            await copy.complete(REQUEST)
            assert fake.received[-1].query.get("trace") == "on"
            await client.close()

    asyncio.run(call())


# --- the cache key, logging, wrappers -------------------------------------------------------------


def test_extra_body_and_query_are_part_of_the_cache_key_headers_are_not(fake: FakeAPI) -> None:
    """What changes the answer (body, query) changes the key; headers do not (SPEC section 6)."""
    client = _openai(fake, cache=MemoryCache())
    client.complete(REQUEST)
    client.complete(REQUEST, extra_body={"hint": 1})
    client.complete(REQUEST, extra_body={"hint": 2})
    client.complete(REQUEST, extra_query={"trace": "on"})
    assert len(fake.received) == 4
    hits = [
        client.complete(REQUEST),
        client.complete(REQUEST, extra_body={"hint": 1}),
        client.complete(REQUEST, extra_body={"hint": 2}, extra_headers={"X-Tenant": "acme"}),
        client.complete(REQUEST, extra_query={"trace": "on"}, timeout=9),
    ]
    assert len(fake.received) == 4
    assert all(hit.http is None for hit in hits)  # cache hits: no HTTP exchange


def test_logs_name_the_options_never_their_values(fake: FakeAPI) -> None:
    """The response event lists the option names; a credential header's value appears nowhere."""
    secret = "gw-SEEDED-0123456789abcdef"  # the suite fails any test whose logs show "SEEDED"
    with _openai(fake) as client, capture_logs() as logs:
        client.complete(
            REQUEST,
            timeout=30,
            extra_headers={"X-Gateway-Key": secret, "X-Tenant": "acme"},
            extra_body={"hint": "value-not-logged"},
        )
    response = next(event for event in logs if event["event"] == "response")
    assert response["extra_headers"] == ["X-Gateway-Key", "X-Tenant"]
    assert response["extra_body"] == ["hint"]
    assert response["timeout_s"] == 30
    assert "value-not-logged" not in repr(logs)
    assert fake.received[-1].headers["x-gateway-key"] == secret


def test_a_wrapper_around_a_foreign_client_hands_it_the_options() -> None:
    """``Retrying`` around a test double passes a call's options to the double's method."""
    seen: list[dict[str, object]] = []

    class Double:
        def complete(self, request: ChatRequest, **options: object) -> ChatResponse:
            seen.append(options)
            return ChatResponse.model_validate(LATE_ANSWER)

    wrapped = Retrying(Double(), NoRetry())  # type: ignore[arg-type]  # a double with only complete()
    wrapped.complete(REQUEST, timeout=3, extra_body={"hint": 1})
    wrapped.complete(REQUEST)
    assert seen[0]["timeout"] == 3
    assert dict(seen[0]["extra_body"]) == {"hint": 1}  # type: ignore[call-overload]  # a mapping
    assert seen[1] == {}
