"""Conformance: every response recorded from the real OpenAI and Azure OpenAI services parses.

Each cassette under ``cassettes/real-traffic/`` is replayed through ``OpenAIClient`` / ``AzureClient``
exactly as a user would call them (matching on method and path: the recorded request bodies came
from other clients), and every fact ``manifest.json`` lists must come out of the typed result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    APIStatusError,
    AuthenticationError,
    AzureClient,
    BadRequestError,
    ChatRequest,
    ChatResponse,
    ContentFilterError,
    EmbeddingRequest,
    EmbeddingResponse,
    NotFoundError,
    OpenAIClient,
    ToolCall,
    Usage,
    UserMessage,
)
from typed_llm._wire.operation import RawResponse
from typed_llm._wire.sse import parse_chat_stream
from typed_llm.testing._vcr import make_vcr

Entry = Mapping[str, Any]  # one manifest entry: JSON of a documented but loose shape
MANIFEST: list[Entry] = json.loads((REAL_TRAFFIC / "manifest.json").read_text())
FILES = sorted({entry["file"] for entry in MANIFEST})

ERROR_CLASSES: Mapping[tuple[int, str | None], type[APIStatusError]] = {
    (400, "content_filter"): ContentFilterError,
    (400, "unsupported_value"): BadRequestError,
    (401, "invalid_api_key"): AuthenticationError,
    (404, "model_not_found"): NotFoundError,
}


def _interactions(file: str) -> list[Entry]:
    interactions: list[Entry] = yaml.safe_load((REAL_TRAFFIC / file).read_text())["interactions"]
    return interactions


def _entries(file: str) -> list[Entry]:
    return sorted((e for e in MANIFEST if e["file"] == file), key=lambda e: int(e["interaction"]))


def _client(entry: Entry) -> OpenAIClient | AzureClient:
    request = entry["request"]
    if entry["provider"] == "azure":
        return AzureClient(
            endpoint=f"https://{request['host']}",
            api_version=request["api_version"],
            api_key=FAKE_AZURE_KEY,
            deployments={request["model"]: request["azure_deployment"]},
        )
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=f"https://{request['host']}/v1")


def _call(entry: Entry) -> ChatResponse | EmbeddingResponse:
    request = entry["request"]
    client = _client(entry)
    if entry["endpoint_kind"] == "embeddings":
        inputs = tuple(f"input {i}" for i in range(int(request["input_count"])))
        return client.embed(EmbeddingRequest(model=request["model"], input=inputs))
    return client.complete(ChatRequest(model=request["model"], messages=(UserMessage(content="replayed"),)))


def _request_id(entry: Entry) -> str | None:
    headers = {k.lower(): v for k, v in entry["expected"]["headers"].items()}
    rid = headers.get("x-request-id") or headers.get("apim-request-id")
    return None if rid is None else str(rid)


def _check_chat(response: ChatResponse, entry: Entry) -> None:
    expected = entry["expected"]["chat"]
    assert (response.id, response.created, response.model) == (
        expected["id"],
        expected["created"],
        expected["model"],
    )
    assert response.system_fingerprint == expected["system_fingerprint"]
    assert response.service_tier == expected.get("service_tier", response.service_tier)
    assert response.request_id == _request_id(entry)
    assert len(response.choices) == len(expected["choices"])
    for choice, want in zip(response.choices, expected["choices"], strict=True):
        assert choice.index == want["index"]
        assert choice.finish_reason == want["finish_reason"]
        assert choice.message.role == want["role"]
        assert choice.message.content == want["content"]
        assert choice.message.refusal == want["refusal"]
        calls = [c for c in choice.message.tool_calls or () if isinstance(c, ToolCall)]
        assert len(calls) == len(choice.message.tool_calls or ())
        assert [(c.id, c.type, c.function.name, c.function.arguments) for c in calls] == [
            (c["id"], c["type"], c["name"], c["arguments"]) for c in want.get("tool_calls") or []
        ]
        if "azure_content_filter_hits" in want:
            flagged = [r.category for r in choice.content_filter_results if r.flagged]
            assert flagged == [hit["category"] for hit in want["azure_content_filter_hits"]]
            assert choice.content_filter_results, "Azure choices carry filter verdicts"
    usage = expected["usage"]
    assert response.usage is not None
    assert response.usage.prompt_tokens == usage["prompt_tokens"]
    assert response.usage.completion_tokens == usage["completion_tokens"]
    assert response.usage.total_tokens == usage["total_tokens"]
    assert response.usage.reasoning_tokens == usage["reasoning_tokens"]
    assert response.usage.cached_tokens == usage["cached_tokens"]
    if "azure_prompt_filter_hits" in expected:
        prompts = [
            (p.prompt_index, [r.category for r in p.content_filter_results if r.flagged])
            for p in response.prompt_filter_results
        ]
        want_prompts = [
            (p["prompt_index"], [h["category"] for h in p["hits"]])
            for p in expected["azure_prompt_filter_hits"]
        ]
        assert prompts == want_prompts


def _check_embeddings(response: EmbeddingResponse, entry: Entry) -> None:
    expected = entry["expected"]["embeddings"]
    assert response.model == expected["model"]
    assert len(response.vectors) == expected["vector_count"]
    assert response.dimension == expected["dimension"]
    assert response.vectors[0][:3] == pytest.approx(expected["first_3"], rel=1e-6)
    norm = math.sqrt(sum(x * x for x in response.vectors[0]))
    assert norm == pytest.approx(expected["l2_norm"], abs=1e-3)
    assert response.usage is not None
    assert response.usage.prompt_tokens == expected["usage"]["prompt_tokens"]
    assert response.usage.total_tokens == expected["usage"]["total_tokens"]
    assert response.request_id == _request_id(entry)


def _check_error(error: APIStatusError, entry: Entry) -> None:
    expected = entry["expected"]
    want = expected["error"]
    assert type(error) is ERROR_CLASSES[(expected["status_code"], want["code"])]
    assert error.status_code == expected["status_code"]
    assert (error.code, error.type, error.param, error.message) == (
        want["code"],
        want["type"],
        want["param"],
        want["message"],
    )
    assert error.request_id == _request_id(entry)
    if isinstance(error, ContentFilterError):
        assert error.stage == "prompt"
        assert list(error.categories) == [hit["category"] for hit in want["azure_content_filter_hits"]]
        verdicts = {r.category: r for r in error.results}
        for category, verdict in want["azure_content_filter_result"].items():
            assert verdicts[category].filtered == verdict["filtered"]
            assert verdicts[category].severity == verdict.get("severity")
            assert verdicts[category].detected == verdict.get("detected")


@pytest.mark.parametrize("file", [f for f in FILES if "stream" not in f])
def test_real_response_parses(file: str) -> None:
    """Each recorded answer, replayed through the SDK's clients, yields the manifest's facts."""
    recorder = make_vcr(REAL_TRAFFIC, "none", match_body=False)
    with recorder.use_cassette(file) as cassette:
        for entry in _entries(file):
            kind = entry["endpoint_kind"]
            if kind == "error":
                with pytest.raises(APIStatusError) as caught:
                    _call(entry)
                _check_error(caught.value, entry)
            elif kind == "embeddings":
                result = _call(entry)
                assert isinstance(result, EmbeddingResponse)
                _check_embeddings(result, entry)
            else:
                result = _call(entry)
                assert isinstance(result, ChatResponse)
                _check_chat(result, entry)
        assert cassette.all_played


@pytest.mark.parametrize("file", [f for f in FILES if "stream" in f])
def test_real_stream_parses(file: str) -> None:
    """Each recorded server-sent-event body assembles into a typed response with the manifest's facts."""
    (entry,) = _entries(file)
    expected = entry["expected"]["stream"]
    recorded = _interactions(file)[0]["response"]
    body = recorded["body"]["string"]
    raw = RawResponse(
        status_code=200,
        headers={k: v[0] for k, v in recorded["headers"].items()},
        content=body.encode() if isinstance(body, str) else body,
    )
    stream = parse_chat_stream(raw)
    assert len(stream.chunks) == expected["data_events"]
    assert stream.done == expected["done_sentinel"]
    response = stream.response
    assert [response.id] == expected["ids"]
    assert [response.model] == expected["models"]
    assert response.text == expected["concatenated_text"]
    assert response.choices[0].finish_reason == expected["final_finish_reason"]
    assert response.request_id == _request_id(entry)
    usage = expected["usage_in_final_chunk"]
    if usage is None:
        assert response.usage is None
    else:
        assert response.usage is not None
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
        assert response.usage.total_tokens == usage["total_tokens"]
        assert response.usage.reasoning_tokens == usage["reasoning_tokens"]
        assert response.usage.cached_tokens == usage["cached_tokens"]
    if "azure_prompt_filter_hits" in expected:
        assert [p.prompt_index for p in response.prompt_filter_results] == [
            p["prompt_index"] for p in expected["azure_prompt_filter_hits"]
        ]
        first = stream.chunks[0]
        first_is_filter_only = first.id == "" and not first.choices and bool(first.prompt_filter_results)
        assert first_is_filter_only == expected["azure_first_event_is_prompt_filter_only"]
    last = stream.chunks[-1]
    assert (not last.choices and last.usage is not None) == expected["last_event_has_empty_choices_and_usage"]


@pytest.mark.parametrize("file", [f for f in FILES if "stream" not in f])
def test_real_request_bodies_validate(file: str) -> None:
    """Request bodies real clients sent validate into the request models and dump back equal (nulls aside)."""
    for interaction in _interactions(file):
        recorded = interaction["request"]
        body = json.loads(recorded["body"])
        model = EmbeddingRequest if recorded["uri"].split("?")[0].endswith("/embeddings") else ChatRequest
        body.pop("encoding_format", None)  # the SDK always asks for base64 itself
        request = model.model_validate(body)
        dumped = json.loads(request.model_dump_json(exclude_none=True, by_alias=True))
        if isinstance(body.get("input"), str):
            body["input"] = [body["input"]]
        assert dumped == _without_nulls(body)


def _without_nulls(value: object) -> object:
    """The SDK does not send nulls: to the API a null field and a missing one are the same."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


STREAMS: list[Entry] = json.loads((REAL_TRAFFIC / "manifest-streams.json").read_text())


def _usage_fact(usage: Usage, dotted: str) -> int | None:
    """A manifest usage fact such as ``completion_tokens_details.audio_tokens`` read off the typed usage."""
    value: object = usage
    for part in dotted.split("."):
        value = getattr(value, part)
    assert value is None or isinstance(value, int)
    return value


@pytest.mark.parametrize("entry", STREAMS, ids=[e["file"].removeprefix("streams/") for e in STREAMS])
def test_recorded_stream_parses_with_every_manifest_fact(entry: Entry) -> None:
    """Each recorded SSE body (Azure filter-only chunks included) assembles to the manifest's facts."""
    facts = entry["facts"]
    recorded = _interactions(entry["file"])[entry["interaction"]]["response"]
    body = recorded["body"]["string"]
    raw = RawResponse(
        status_code=recorded["status"]["code"],
        headers={k: v[0] for k, v in recorded["headers"].items()},
        content=body.encode() if isinstance(body, str) else body,
    )
    stream = parse_chat_stream(raw)
    chunks = stream.chunks
    assert len(chunks) == facts["data_events"]
    assert stream.done == facts["done_sentinel"]
    assert sorted({c.id for c in chunks if c.id}) == facts["ids"]
    assert sorted({c.model for c in chunks if c.model}) == facts["models"]
    assert sum(1 for c in chunks if c.prompt_filter_results) == facts["azure_prompt_filter_chunks"]
    assert sum(1 for c in chunks if not c.choices) == facts["empty_choices_chunks"]
    assert sorted({c.service_tier for c in chunks if c.service_tier}) == facts["service_tiers"]
    assert (
        sorted({c.system_fingerprint for c in chunks if c.system_fingerprint}) == facts["system_fingerprints"]
    )
    obfuscated = any("obfuscation" in (c.model_extra or {}) for c in chunks)
    assert obfuscated == facts["obfuscation"]
    response = stream.response
    assert response.id == facts["ids"][0]
    assert len(response.choices) == len(facts["choices"])
    for choice, want in zip(response.choices, facts["choices"], strict=True):
        assert (choice.index, choice.finish_reason, choice.message.role) == (
            want["index"],
            want["finish_reason"],
            want["role"],
        )
        assert (choice.message.content, choice.message.refusal) == (want["text"], want["refusal"])
        calls = [c for c in choice.message.tool_calls or () if isinstance(c, ToolCall)]
        assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
            (c["id"], c["name"], c["arguments"]) for c in want["tool_calls"]
        ]
    if facts["usage"] is None:
        assert response.usage is None
    else:
        assert response.usage is not None
        for dotted, value in facts["usage"].items():
            assert _usage_fact(response.usage, dotted) == value, dotted
    if facts["azure_prompt_filter_chunks"]:
        first = chunks[0]
        assert (first.id, first.choices, first.model_extra) == ("", (), {"object": ""})
        assert response.prompt_filter_results
    assert response.request_id == _stream_request_id(recorded["headers"])


def _stream_request_id(headers: Mapping[str, list[str]]) -> str | None:
    lowered = {k.lower(): v[0] for k, v in headers.items()}
    return lowered.get("x-request-id") or lowered.get("apim-request-id")
