"""cache_key: stable across spellings of the same request, sensitive to anything that decides the answer.

The golden keys pin the canonical form: if one of them changes, every user's cache is invalidated,
so a change must be deliberate (raise KEY_VERSION and say so in the release notes). Version 2 changed
every key: JSON Schemas keep their key order (issue 15 item 11).
"""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from helpers import REAL_TRAFFIC
from typed_llm import ChatRequest, EmbeddingRequest, cache_key
from typed_llm._cache.key import (
    _CHAT_DEFAULTS,
    _NOT_DECIDING,
    KEY_VERSION,
    _canonical,
    canonical_json,
    canonical_request,
)
from typed_llm._models import messages as _messages

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
    ("plain chat", BASE, NS, "3ba2bf21283557c07db5d5b32f2413bb97d7bc307262b96781688ec3b5d868ad"),
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
        "9498347e94fd367324a5cc7464ed6b6e91f8f15bf18debbaeb82ef894bb109f3",
    ),
    (
        "azure namespace",
        BASE,
        "azure https://r.openai.azure.com gpt-4o-mini=chat-prod",
        "6dfa76cee387b5f2b170056ec777425aa68afd9ac682cc36e4a6737e37382081",
    ),
]


def test_key_version() -> None:
    """The version the golden keys were computed with: raising it is a release note."""
    assert KEY_VERSION == 2


def test_canonical_text_of_a_schema_request() -> None:
    """What is hashed, spelled out: sorted keys, except inside a schema, which is its JSON text in order."""
    assert canonical_request(ChatRequest.model_validate(GOLDEN[1][1]), NS).decode() == (
        '{"kind":"chat","namespace":"openai https://api.openai.com/v1","request":{"max_tokens":50,'
        '"messages":[{"content":"Be brief.","role":"system"},{"content":"Capital of France?","role":"user"}],'
        '"model":"gpt-4o-mini","response_format":{"json_schema":{"name":"A","schema":"{\\"type\\":\\"object\\"}"},'
        '"type":"json_schema"},"temperature":0.2,"tools":[{"function":{"name":"lookup","parameters":'
        '"{\\"type\\":\\"object\\",\\"properties\\":{\\"q\\":{\\"type\\":\\"string\\"}}}"},'
        '"type":"function"}]},"v":2}'
    )


@pytest.mark.parametrize(("case", "body", "namespace", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_keys(case: str, body: dict[str, Any], namespace: str, expected: str) -> None:
    """Fixed requests have fixed keys, in every process, on every machine, in every release."""
    assert key(body, namespace) == expected, case


def test_golden_embedding_key() -> None:
    """Embedding requests have fixed keys too, and never collide with chat keys."""
    request = EmbeddingRequest(model="text-embedding-3-small", input=("a", "b"), dimensions=256)
    assert cache_key(request, NS) == "1833be4d7016b54cbf594b1e16f8e2ed63aae7d7d0588c3dbe4ff9783944e070"


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

        def in_order(schema: object) -> str:
            # A JSON Schema: its JSON text, keys in the given order (the only unsorted part).
            return json.dumps(_canonical(schema), separators=(",", ":"), ensure_ascii=False, allow_nan=False)

        json_schema = body.get("response_format", {}).get("json_schema", {})
        if "schema" in json_schema:
            json_schema["schema"] = in_order(json_schema["schema"])
        for tool in body.get("tools", []):
            if "parameters" in tool.get("function", {}):
                tool["function"]["parameters"] = in_order(tool["function"]["parameters"])
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
    awkward = [  # floats json.dumps writes with an exponent, an integer past 64 bits: not orjson's
        {**BASE, "temperature": 1e-05, "top_p": 0.99999},
        {**BASE, "frequency_penalty": -2.5e-07, "presence_penalty": 0.0001},
        {**BASE, "seed": 2**70},
        {**BASE, "metadata": {"k": "v"}, "logit_bias": {"50256": -100}, "temperature": 0.123456789012345},
    ]
    requests += [ChatRequest.model_validate(body) for body in awkward]
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


def _object(*names: str) -> dict[str, Any]:
    """An object schema with ``names`` as properties in that order (``required`` kept sorted)."""
    return {
        "type": "object",
        "properties": {name: {"type": "string"} for name in names},
        "required": sorted(names),
        "additionalProperties": False,
    }


def _with_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        **BASE,
        "response_format": {"type": "json_schema", "json_schema": {"name": "A", "schema": schema}},
    }


def _with_tool(parameters: dict[str, Any]) -> dict[str, Any]:
    return {**BASE, "tools": [{"type": "function", "function": {"name": "f", "parameters": parameters}}]}


ORDERED: list[tuple[str, Any]] = [
    ("top-level properties", _object),
    ("$defs properties", lambda *names: {"$defs": {"P": _object(*names)}, "$ref": "#/$defs/P"}),
    (
        "items properties",
        lambda *names: {"type": "object", "properties": {"x": {"type": "array", "items": _object(*names)}}},
    ),
    ("anyOf properties", lambda *names: {"anyOf": [_object(*names), {"type": "null"}]}),
]


@pytest.mark.parametrize("where", ["response_format", "tool parameters"])
@pytest.mark.parametrize(("case", "schema_of"), ORDERED, ids=[o[0] for o in ORDERED])
def test_schema_property_order_decides_the_key(where: str, case: str, schema_of: Any) -> None:
    """The model writes fields in schema order: properties in another order, at any depth, another key."""
    wrap = _with_schema if where == "response_format" else _with_tool
    name_first, answer_first = wrap(schema_of("name", "answer")), wrap(schema_of("answer", "name"))
    assert key(name_first) != key(answer_first), case
    assert key(name_first) == key(wrap(schema_of("name", "answer"))), case


ORDER_FREE: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "response_format's own fields",
        _with_schema(_object("a", "b")),
        {
            **BASE,
            "response_format": {
                "json_schema": {"schema": _object("a", "b"), "name": "A"},
                "type": "json_schema",
            },
        },
    ),
    (
        "tool's own fields",
        _with_tool(_object("a", "b")),
        {**BASE, "tools": [{"function": {"parameters": _object("a", "b"), "name": "f"}, "type": "function"}]},
    ),
    ("logit_bias", {**BASE, "logit_bias": {"1": 5, "2": -5}}, {**BASE, "logit_bias": {"2": -5, "1": 5}}),
    (
        "request fields",
        _with_tool(_object("a", "b")),
        dict(reversed(list(_with_tool(_object("a", "b")).items()))),
    ),
]


@pytest.mark.parametrize(("case", "one", "other"), ORDER_FREE, ids=[o[0] for o in ORDER_FREE])
def test_key_order_outside_schemas_does_not_decide(
    case: str, one: dict[str, Any], other: dict[str, Any]
) -> None:
    """The request's own fields, a tool's or a format's fields, and logit_bias: order does not matter."""
    assert key(one) == key(other), case


def test_reordered_schema_is_not_answered_from_the_cache() -> None:
    """Through a cached client: a schema with its properties reordered is a miss, not the other's answer."""
    from typed_llm import MemoryCache, OpenAIClient  # noqa: PLC0415
    from typed_llm.testing._fake import FakeAPI  # noqa: PLC0415

    first = ChatRequest.model_validate(_with_schema(_object("name", "answer")))
    second = ChatRequest.model_validate(_with_schema(_object("answer", "name")))
    with FakeAPI() as fake:  # answers a schema with an example object, fields in schema order
        with OpenAIClient(
            api_key="sk-test-order", base_url=fake.openai_base_url, cache=MemoryCache()
        ) as client:
            name_first, answer_first = client.complete(first).text, client.complete(second).text
            assert client.complete(first).text == name_first  # a hit, not re-sent
        assert len(fake.received) == 2
    assert list(json.loads(name_first)) == ["name", "answer"]
    assert list(json.loads(answer_first)) == ["answer", "name"]
