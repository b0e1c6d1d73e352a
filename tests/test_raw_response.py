"""``response.http``: the status, headers and request id of the HTTP answer, with no second request.

Checked on every kind of answer against the loopback fake, on real recorded OpenAI and Azure traffic,
and for what it is not: part of the JSON, of equality, or of what the cache stores.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    APIStatusError,
    AsyncOpenAIClient,
    AzureClient,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    HTTPInfo,
    MemoryCache,
    OpenAIClient,
    Response,
    ResponseHeaders,
    ResponsesRequest,
    UserMessage,
)
from typed_llm.testing._vcr import make_vcr

if TYPE_CHECKING:
    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))


class City(BaseModel):
    name: str


def _openai(fake: FakeAPI, **options: Any) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, **options)


def _came_from_the_fake(http: HTTPInfo | None, request_id: str | None, calls: int) -> None:
    """``http`` is the fake's answer to its ``calls``-th request (its counters say which)."""
    assert http is not None
    assert http.status_code == 200
    assert http.request_id == request_id
    assert request_id is not None
    assert request_id.startswith("req_")
    assert http.remaining_requests == 10000 - calls
    assert http.remaining_tokens == 2_000_000 - 50 * calls
    assert (http.limit_requests, http.limit_tokens) == (10000, 2_000_000)
    assert http.processing_ms == 12
    assert http.headers["X-RateLimit-Reset-Tokens"] == "1ms"  # any spelling of the name


def test_a_completion_carries_its_http_answer(fake: FakeAPI) -> None:
    """status, rate-limit headers, processing time and request id, from the one request made."""
    with _openai(fake) as client:
        answer = client.complete(REQUEST)
    assert len(fake.received) == 1
    _came_from_the_fake(answer.http, answer.request_id, 1)


def test_every_kind_of_answer_carries_it(fake: FakeAPI) -> None:
    """parsed, embeddings, Responses, and every stream's final_response()."""
    responses = ResponsesRequest(model="gpt-4o-mini", input="hi")
    with _openai(fake) as client:
        answers: list[ChatResponse | EmbeddingResponse | Response] = [
            client.parse(REQUEST, City),
            client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("a", "b"))),
            client.respond(responses),
            client.parse(responses, City),
        ]
        with client.stream(REQUEST) as chat_stream:
            answers.append(chat_stream.final_response())
        with client.stream_parse(REQUEST, City) as parsed_stream:
            answers.append(parsed_stream.final_response())
        with client.stream(responses) as response_stream:
            answers.append(response_stream.final_response())
    for calls, answer in enumerate(answers, start=1):
        _came_from_the_fake(answer.http, answer.request_id, calls)


def test_async_answers_carry_it(fake: FakeAPI) -> None:
    """The async clients attach it the same way (a call and a stream)."""

    async def calls() -> tuple[ChatResponse, ChatResponse]:
        async with AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url) as client:
            first = await client.complete(REQUEST)
            async with client.stream(REQUEST) as stream:
                return first, await stream.final_response()

    first, streamed = asyncio.run(calls())
    _came_from_the_fake(first.http, first.request_id, 1)
    _came_from_the_fake(streamed.http, streamed.request_id, 2)


def test_azure_answers_carry_azures_headers(fake: FakeAPI) -> None:
    """Azure's apim-request-id and region come through; it sends no processing time."""
    with AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY) as client:
        http = client.complete(REQUEST).http
    assert http is not None
    assert http.headers["x-ms-region"] == "Loopback"
    assert "apim-request-id" in http.headers
    assert http.processing_ms is None


def test_the_headers_are_immutable_and_hashable(fake: FakeAPI) -> None:
    """``http`` is a frozen value: nothing in it can be changed."""
    with _openai(fake) as client:
        http = client.complete(REQUEST).http
    assert http is not None
    with pytest.raises(AttributeError):
        http.status_code = 500  # type: ignore[misc]  # frozen on purpose
    with pytest.raises(TypeError):
        http.headers["x-request-id"] = "forged"  # type: ignore[index]  # immutable on purpose
    assert hash(http) == hash(HTTPInfo(200, dict(http.headers)))
    assert ResponseHeaders({"A": "1"}) == {"a": "1"}


def test_a_cache_hit_has_no_http_and_the_cache_stores_none(fake: FakeAPI) -> None:
    """A hit made no HTTP exchange: ``http`` is None; the stored JSON has no headers in it."""
    cache = MemoryCache()
    with _openai(fake, cache=cache) as client:
        paid = client.complete(REQUEST)
        hit = client.complete(REQUEST)
    assert len(fake.received) == 1
    assert paid.http is not None
    assert hit.http is None
    assert hit == paid  # the same answer, whichever exchange carried it
    assert hit.request_id == paid.request_id  # the id of the call that paid for it stays
    assert "http" not in paid.model_dump()
    assert "x-ratelimit" not in json.dumps(paid.model_dump(mode="json"))
    (stored,) = cache._entries.values()
    assert b"ratelimit" not in stored


def test_http_survives_copies_and_pickling(fake: FakeAPI) -> None:
    """model_copy (and a pickle round trip, to another process) keep it; rebuilding from JSON does not."""
    with _openai(fake) as client:
        answer = client.complete(REQUEST)
    assert answer.model_copy(update={"model": "x"}).http == answer.http
    assert pickle.loads(pickle.dumps(answer)).http == answer.http  # noqa: S301  (our own bytes)
    assert ChatResponse.model_validate_json(answer.model_dump_json()).http is None


MANIFEST: list[dict[str, Any]] = json.loads((REAL_TRAFFIC / "manifest.json").read_text())
FILES = sorted({e["file"] for e in MANIFEST if e["endpoint_kind"] in {"chat", "embeddings"}})


def _replayed(entry: dict[str, Any]) -> ChatResponse | EmbeddingResponse:
    request = entry["request"]
    if entry["provider"] == "azure":
        client: OpenAIClient | AzureClient = AzureClient(
            endpoint=f"https://{request['host']}",
            api_version=request["api_version"],
            api_key=FAKE_AZURE_KEY,
            deployments={request["model"]: request["azure_deployment"]},
        )
    else:
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=f"https://{request['host']}/v1")
    if entry["endpoint_kind"] == "embeddings":
        inputs = tuple(f"input {i}" for i in range(int(request["input_count"])))
        return client.embed(EmbeddingRequest(model=request["model"], input=inputs))
    return client.complete(ChatRequest(model=request["model"], messages=(UserMessage(content="replayed"),)))


@pytest.mark.parametrize("file", FILES)
def test_real_answers_carry_their_recorded_headers(file: str) -> None:
    """Replayed real OpenAI and Azure traffic: ``http`` has exactly the headers the service sent."""
    entries = sorted((e for e in MANIFEST if e["file"] == file), key=lambda e: int(e["interaction"]))
    checked = 0
    with make_vcr(REAL_TRAFFIC, "none", match_body=False).use_cassette(file):
        for entry in entries:
            if entry["endpoint_kind"] == "error":
                with pytest.raises(APIStatusError):
                    _replayed(entry)
                continue
            answer = _replayed(entry)
            http = answer.http
            assert http is not None
            assert http.status_code == entry["expected"]["status_code"]
            for name, value in entry["expected"]["headers"].items():
                assert http.headers[name] == value
            assert http.request_id == answer.request_id
            remaining = entry["expected"]["headers"].get("x-ratelimit-remaining-requests")
            assert http.remaining_requests == (None if remaining is None else int(remaining))
            checked += 1
    assert checked
