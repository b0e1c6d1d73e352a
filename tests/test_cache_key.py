"""cache_key: stable across spellings of the same request, sensitive to anything that decides the answer.

The golden keys pin the canonical form: if one of them changes, every user's cache is invalidated,
so a change must be deliberate (raise KEY_VERSION and say so in the release notes).
"""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from helpers import REAL_TRAFFIC
from typed_llm import ChatRequest, EmbeddingRequest, _messages, cache_key
from typed_llm._cache_key import (
    _CHAT_DEFAULTS,
    _NOT_DECIDING,
    KEY_VERSION,
    canonical_json,
    canonical_request,
)

NS = "openai https://api.openai.com/v1"
BASE: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ],
    "temperature": 0.2,
    "max_tokens": 50,
}
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}


def key(body: dict[str, Any], namespace: str = NS) -> str:
    return cache_key(ChatRequest.model_validate(body), namespace)


GOLDEN = [
    ("plain chat", BASE, NS, "835cc1036e9e2274db5e04963f21ab231317529662b80a64edb997137cccbf44"),
    (
        "tools and schema",
        {
            **BASE,
            "tools": [TOOL],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "A", "schema": {"type": "object"}},
            },
        },
        NS,
        "ca9a13d157dadf8e4e831d0aec0018029c18ffa9d81121beba88f5e143e94d6d",
    ),
    (
        "azure namespace",
        BASE,
        "azure https://r.openai.azure.com gpt-4o-mini=chat-prod",
        "64792bbbffaf29fe038375d4f90b49b6c92972809b2cf90d8aaad50c623f3f34",
    ),
]


@pytest.mark.parametrize(("case", "body", "namespace", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_keys(case: str, body: dict[str, Any], namespace: str, expected: str) -> None:
    """Fixed requests have fixed keys, in every process, on every machine, in every release."""
    assert key(body, namespace) == expected, case


def test_golden_embedding_key() -> None:
    """Embedding requests have fixed keys too, and never collide with chat keys."""
    request = EmbeddingRequest(model="text-embedding-3-small", input=("a", "b"), dimensions=256)
    assert cache_key(request, NS) == "b6005c3c55fefac71ef745194e732be5d32391590d61b9812d2f886067884d52"


SAME: list[tuple[str, dict[str, Any]]] = [
    ("key order", dict(reversed(list(BASE.items())))),
    (
        "message key order",
        {**BASE, "messages": [{"content": "Be brief.", "role": "system"}, BASE["messages"][1]]},
    ),
    ("tuple vs list", {**BASE, "messages": tuple(BASE["messages"])}),
    ("default role spelled out", BASE),
    ("n=1 spelled out", {**BASE, "n": 1}),
    ("temperature 1 vs 1.0 (API default)", {**BASE, "temperature": 1}),
    ("nulls spelled out", {**BASE, "seed": None, "stop": None, "tools": None}),
    ("stream false", {**BASE, "stream": False}),
    ("text response format", {**BASE, "response_format": {"type": "text"}}),
    ("user does not decide", {**BASE, "user": "someone"}),
    ("store does not decide", {**BASE, "store": True}),
    ("service tier does not decide", {**BASE, "service_tier": "flex"}),
    ("penalties at 0", {**BASE, "presence_penalty": 0, "frequency_penalty": 0.0}),
    ("top_p at 1", {**BASE, "top_p": 1}),
]


def test_api_default_temperature_matches_absent() -> None:
    """temperature=1 (the API default) and no temperature decide the same answer."""
    without = {k: v for k, v in BASE.items() if k != "temperature"}
    assert key({**without, "temperature": 1}) == key(without) == key({**without, "temperature": 1.0})


@pytest.mark.parametrize(("case", "body"), SAME, ids=[s[0] for s in SAME])
def test_same_request_same_key(case: str, body: dict[str, Any]) -> None:
    """Spellings of the same request give the same key."""
    base = BASE if "temperature 1" not in case else {**BASE, "temperature": 1.0}
    assert key(body) == key(base), case


DIFFERENT: list[tuple[str, dict[str, Any]]] = [
    ("model", {**BASE, "model": "gpt-4o"}),
    (
        "message text",
        {**BASE, "messages": [BASE["messages"][0], {"role": "user", "content": "Capital of Spain?"}]},
    ),
    (
        "message role",
        {**BASE, "messages": [{"role": "developer", "content": "Be brief."}, BASE["messages"][1]]},
    ),
    ("message order", {**BASE, "messages": list(reversed(BASE["messages"]))}),
    ("temperature", {**BASE, "temperature": 0.3}),
    ("max_tokens", {**BASE, "max_tokens": 51}),
    ("top_p", {**BASE, "top_p": 0.5}),
    ("seed", {**BASE, "seed": 1}),
    ("stop", {**BASE, "stop": ["\n"]}),
    ("n", {**BASE, "n": 2}),
    ("tools", {**BASE, "tools": [TOOL]}),
    ("tool choice", {**BASE, "tools": [TOOL], "tool_choice": "required"}),
    ("json mode", {**BASE, "response_format": {"type": "json_object"}}),
    ("reasoning effort", {**BASE, "reasoning_effort": "low"}),
    ("logprobs", {**BASE, "logprobs": True}),
    ("name", {**BASE, "messages": [BASE["messages"][0], {**BASE["messages"][1], "name": "ann"}]}),
]


@pytest.mark.parametrize(("case", "body"), DIFFERENT, ids=[d[0] for d in DIFFERENT])
def test_anything_deciding_changes_the_key(case: str, body: dict[str, Any]) -> None:
    """Any change of model, message, sampling, tools or format gives another key."""
    assert key(body) != key(BASE), case


def test_namespace_changes_the_key() -> None:
    """The same request in another namespace (provider, endpoint, deployment) has another key."""
    assert key(BASE, "openai https://api.openai.com/v1") != key(BASE, "azure https://r.openai.azure.com ")


def test_schema_number_spelling_does_not_change_the_key() -> None:
    """Inside free-form JSON (a schema), 1 and 1.0 are the same number."""
    schema_a = {"type": "object", "properties": {"n": {"type": "number", "minimum": 1}}}
    schema_b = {"type": "object", "properties": {"n": {"type": "number", "minimum": 1.0}}}
    tool = {"type": "function", "function": {"name": "f", "parameters": schema_a}}
    other = {"type": "function", "function": {"name": "f", "parameters": schema_b}}
    assert key({**BASE, "tools": [tool]}) == key({**BASE, "tools": [other]})


def test_embedding_input_forms() -> None:
    """One string and a one-item list are the same embedding request; order of inputs matters."""
    one = cache_key(EmbeddingRequest.model_validate({"model": "m", "input": "x"}), NS)
    assert one == cache_key(EmbeddingRequest(model="m", input=("x",)), NS)
    assert cache_key(EmbeddingRequest(model="m", input=("a", "b")), NS) != cache_key(
        EmbeddingRequest(model="m", input=("b", "a")), NS
    )


def test_key_is_stable_across_processes() -> None:
    """A fresh interpreter (another hash seed) computes the same key."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import json, sys\n"
        "from typed_llm import ChatRequest, cache_key\n"
        "print(cache_key(ChatRequest.model_validate(json.loads(sys.argv[1])), sys.argv[2]))\n"
    )
    import json  # noqa: PLC0415

    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(BASE), NS],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert done.stdout.strip() == key(BASE)


def _slow_canonical(request: ChatRequest | EmbeddingRequest, namespace: str) -> bytes:
    """The definition the key follows, spelled out the slow way: canonical_json of the whole document."""
    body: dict[str, Any] = request.model_dump(mode="json", exclude_none=True, by_alias=True)
    for field in _NOT_DECIDING:
        body.pop(field, None)
    if isinstance(request, ChatRequest):
        for field, default in _CHAT_DEFAULTS.items():  # the tables are shared; the walk is not
            if field in body and canonical_json(body[field]) == canonical_json(default):
                del body[field]
        if "tools" not in body and body.get("tool_choice") == "none":
            del body["tool_choice"]
    kind = "chat" if isinstance(request, ChatRequest) else "embeddings"
    return canonical_json({"v": KEY_VERSION, "kind": kind, "namespace": namespace, "request": body})


def _real_requests() -> list[ChatRequest]:
    requests = []
    for path in sorted(REAL_TRAFFIC.rglob("*.yaml")):
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            body = interaction["request"]["body"]
            if "chat/completions" in interaction["request"]["uri"] and body:
                document = json.loads(body if isinstance(body, str) else body["string"])
                document.pop("stream", None)  # streaming calls are not made by the SDK (yet)
                document.pop("stream_options", None)
                requests.append(ChatRequest.model_validate(document))
    return requests


def test_the_fast_path_writes_the_canonical_bytes() -> None:
    """``canonical_request`` (which skips the float walk on float-free fields) equals the definition,
    for every real request body recorded, every spelling above, and odd text (non-ASCII, escapes).
    """
    odd = {**BASE, "messages": [{"role": "user", "content": 'Zoë says "héllo"\n\t\u2028 ☃ \\ \x00'}]}
    requests = [
        *_real_requests(),
        *(ChatRequest.model_validate(body) for _, body in [*SAME, *DIFFERENT]),
        ChatRequest.model_validate(odd),
    ]
    assert len(requests) > 40
    for request in requests:
        assert canonical_request(request, NS) == _slow_canonical(request, NS)
    embedding = EmbeddingRequest(model="text-embedding-3-small", input=("a", "ß"), dimensions=256)
    assert canonical_request(embedding, NS) == _slow_canonical(embedding, NS)


def test_message_models_hold_no_floats() -> None:
    """The fast path's premise: no field of any message model (at any depth) can hold a float."""

    def floats_in(annotation: object) -> bool:
        if annotation is float:
            return True
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return any(floats_in(f.annotation) for f in annotation.model_fields.values())
        return any(floats_in(arg) for arg in typing.get_args(annotation))

    models = [m for m in vars(_messages).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    assert models
    assert not [m.__name__ for m in models if floats_in(m)]
