"""An operation added through its description alone gets every layer (issue 16: the pipeline).

``MODERATIONS`` below is a test-only operation (``POST /moderations``): a request model, a
response model, and one ``Operation`` value saying how to build, parse, key and summarise it.
Nothing in the layers knows it, yet a client runs it with the pre-flight check, logging, the cache
and retries, sync and async, and wrapped in the public ``Retrying`` / ``Cached`` layers.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel, ConfigDict
from structlog.testing import capture_logs

from helpers import FAKE_OPENAI_KEY
from typed_llm import (
    AsyncOpenAIClient,
    BadRequestError,
    Cached,
    ExponentialBackoff,
    MemoryCache,
    OpenAIClient,
    RetriesExhaustedError,
)
from typed_llm._wire.operation import Operation, RawResponse, Routing, WireCall
from typed_llm._wire.status import parse_model
from typed_llm.testing._replies import FakeReply

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from typed_llm.testing._fake import FakeAPI


class ModerationRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    model: str
    input: str


class ModerationResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    flagged: bool


class ModerationResponse(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    model: str
    results: tuple[ModerationResult, ...]
    request_id: str | None = None


def _check(request: ModerationRequest, _model: str) -> None:
    if not request.input.strip():
        raise BadRequestError("nothing to moderate", status_code=400)


def _key(request: ModerationRequest, namespace: str) -> str:
    return hashlib.sha256(f"{namespace}|{request.model_dump_json()}".encode()).hexdigest()


MODERATIONS: Operation[ModerationRequest, ModerationResponse] = Operation(
    name="moderations",
    method="moderate",
    request_type=ModerationRequest,
    response_type=ModerationResponse,
    build=lambda request, routing: WireCall(
        path=routing.path("/moderations", request.model), body=request.model_dump_json().encode()
    ),
    parse=lambda _request, raw: parse_model(ModerationResponse, raw),
    key=_key,
    summary=lambda response: {"request_id": response.request_id, "flagged": response.results[0].flagged},
    contents=lambda request: [request.input],
    check=_check,
)

REQUEST = ModerationRequest(model="omni-moderation-latest", input="is this fine?")
ANSWER = FakeReply(
    status=200, body={"id": "modr-1", "model": "omni-moderation-latest", "results": [{"flagged": False}]}
)
BACKOFF = ExponentialBackoff(wait_initial=0.001, wait_jitter=0.0)


def _events(logs: list[MutableMapping[str, Any]]) -> list[object]:
    return [log["event"] for log in logs]


def test_a_new_operation_is_retried_cached_and_logged(fake: FakeAPI) -> None:
    """A 503 is retried, the answer cached, the second call a hit; one request and response event each."""
    client = OpenAIClient(
        api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=BACKOFF, cache=MemoryCache()
    )
    fake.enqueue(FakeReply.error(503, "busy"), ANSWER)
    with capture_logs() as logs:
        first = client._call(MODERATIONS, REQUEST)
        second = client._call(MODERATIONS, REQUEST)
    assert first == second
    assert first.results[0].flagged is False
    assert first.request_id is not None
    assert [r.path for r in fake.received] == ["/v1/moderations", "/v1/moderations"]
    assert _events(logs) == [
        "request", "cache_miss", "retry_scheduled", "response", "request", "cache_hit", "response"
    ]  # fmt: skip
    first_response, hit_response = logs[3], logs[6]
    assert (first_response["attempt"], first_response["cache_hit"]) == (2, False)
    assert first_response["flagged"] is False
    assert (hit_response["attempt"], hit_response["cache_hit"]) == (0, True)
    assert logs[0]["kind"] == "moderations"


def test_a_new_operation_has_its_own_preflight_check(fake: FakeAPI) -> None:
    """The operation's check runs before anything is sent; the call is logged as its error."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=MemoryCache())
    with capture_logs() as logs, pytest.raises(BadRequestError, match="nothing to moderate"):
        client._call(MODERATIONS, REQUEST.model_copy(update={"input": "  "}))
    assert _events(logs) == ["request", "cache_miss", "error"]
    assert logs[-1]["error_class"] == "BadRequestError"
    assert fake.received == []


def test_a_new_operation_runs_async_and_exhausts_retries_alike(fake: FakeAPI) -> None:
    """The async client drives the same description; exhausted retries are the same typed error."""
    fake.enqueue(*[FakeReply.error(503, "busy")] * 2)

    async def call() -> None:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY,
            base_url=fake.openai_base_url,
            backoff=ExponentialBackoff(attempts=2, wait_initial=0.001, wait_jitter=0.0),
        ) as client:
            await client._call(MODERATIONS, REQUEST)

    with pytest.raises(RetriesExhaustedError) as caught:
        asyncio.run(call())
    assert (len(caught.value.attempts), caught.value.attempt, len(fake.received)) == (2, 2, 2)


def test_a_public_layer_wraps_a_new_operation_too(fake: FakeAPI) -> None:
    """``Cached`` around a client extends its pipeline, so the new operation is cached there as well."""
    inner = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    cached = Cached(inner, MemoryCache(), "moderations-test")
    fake.enqueue(ANSWER)
    assert cached._call(MODERATIONS, REQUEST) == cached._call(MODERATIONS, REQUEST)
    assert len(fake.received) == 1


def test_routing_and_raw_answers_are_plain_values() -> None:
    """What an operation's functions receive needs no client: the description is testable alone."""
    wire = MODERATIONS.build(REQUEST, Routing())
    assert (wire.path, wire.body) == ("/moderations", REQUEST.model_dump_json().encode())
    body = b'{"id": "m", "model": "x", "results": [{"flagged": true}]}'
    raw = RawResponse(200, {"x-request-id": "req_1"}, body)
    assert MODERATIONS.parse(REQUEST, raw) == ModerationResponse(
        id="m", model="x", results=(ModerationResult(flagged=True),), request_id="req_1"
    )
