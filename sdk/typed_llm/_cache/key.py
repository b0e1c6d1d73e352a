"""``cache_key``: the content address of a request, the same in every process, machine and release.

The key is the SHA-256 of the canonical JSON of everything that decides the response and nothing
else: the kind of call, the namespace (provider, endpoint, deployments), the model, the messages,
and every sampling and format parameter. Canonical means sorted keys, no insignificant whitespace,
UTF-8, numbers in one form (an integral float is written as an integer, so ``1`` and ``1.0`` are
the same), and defaults written the same way whether given or not: a parameter set to the API's own
default (``n=1``, ``temperature=1``, ``stream=false``...) is left out, exactly as when it is not
given. Secrets, timeouts, retry settings and headers never reach a request model, so they cannot
reach the key; fields that do not change the answer (``user``, ``store``, ``service_tier``) are
left out too.

One exception to sorted keys: a JSON Schema the model reads (``response_format.json_schema.schema``,
each function tool's ``parameters``) keeps the key order it was given, at every depth. The model
writes structured output fields in the order of ``properties``, and the server renders a tool's
schema into the prompt in a way we cannot see, so two schemas that differ only in key order can get
different answers: they must not share a key. Such a schema is hashed as its JSON text (compact,
numbers in canonical form, keys in the given order); the text is a string where the request model
only allows an object, so it cannot collide with any other request. A false miss (the same schema
spelled in another key order) costs one call; a false hit would return another schema's answer.

Changing what this module writes changes every key: the golden tests pin a few keys, and a release
that changes them must say so.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import orjson

from typed_llm._models.requests import ChatRequest, EmbeddingRequest

if TYPE_CHECKING:
    from typed_llm._models.responses_request import ResponsesRequest

__all__ = ["KEY_VERSION", "cache_key", "canonical_json", "canonical_request", "responses_cache_key"]

KEY_VERSION: Final = 2
"""Written into every key's input; raised only by a release that changes keys on purpose.

2: JSON Schemas keep their key order (version 1 sorted them, so schemas differing only in the
order of ``properties`` shared a key and one got the other's answer). Every key changed."""

_NOT_DECIDING: Final = frozenset({"user", "store", "service_tier", "stream", "stream_options"})
"""Request fields that do not change the answer (whether it streams is the verb's business: one
entry serves ``complete()`` and ``stream()``)."""

_CHAT_DEFAULTS: Final[Mapping[str, object]] = {
    "n": 1,
    "temperature": 1,
    "top_p": 1,
    "frequency_penalty": 0,
    "presence_penalty": 0,
    "stream": False,
    "logprobs": False,
    "parallel_tool_calls": True,
    "response_format": {"type": "text"},
}
"""The API's documented defaults: given or not, they decide the same answer."""


def _canonical(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def canonical_json(value: object) -> bytes:
    """``value`` as canonical JSON bytes: sorted keys, compact, UTF-8, integral floats as integers."""
    return json.dumps(
        _canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
"""The canonical encoder (``canonical_json`` without the walk), built once."""

_dumps_in_order = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
"""The encoder for JSON Schemas, whose key order is part of what the model reads."""


def _sorted_json(body: dict[str, object]) -> bytes:
    """``_dumps(body)`` as UTF-8: written by orjson (a fifth of the time) when it writes the same bytes.

    orjson writes sorted keys, text and integers byte for byte as ``_dumps`` does (the tests
    compare them over every code point); floats only inside [1e-4, 1e16), where both write the
    shortest repr without an exponent. A body with another float, a non-finite one, or an integer
    past 64 bits is written by ``_dumps``.
    """
    if all(field in _FLOAT_FREE or _plain_floats(value) for field, value in body.items()):
        try:
            return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
    return _dumps(body).encode()


def _plain_floats(value: object) -> bool:
    """Whether every float in ``value`` (canonical values) is one orjson writes as ``json`` does."""
    if isinstance(value, float):
        return 1e-4 <= abs(value) < 1e16  # noqa: PLR2004  (where json.dumps starts an exponent)
    if isinstance(value, dict):
        return all(_plain_floats(item) for item in value.values())
    if isinstance(value, list):
        return all(_plain_floats(item) for item in value)
    return True


@functools.lru_cache(maxsize=64)
def _namespace_json(namespace: str) -> bytes:
    return _dumps(namespace).encode()


_FLOAT_FREE: Final = frozenset({"messages", "input", "model"})
"""Fields whose dumped JSON can hold no float (message models have only text, enums, integers and
lists of those): the float normalisation walk skips them, which is most of a request's size.
``test_cache_key`` checks that the fast path writes exactly ``canonical_json``'s bytes."""


def _deciding(request: ChatRequest | EmbeddingRequest) -> dict[str, object]:
    """The request's JSON, reduced to what decides the answer, in canonical values (not yet sorted)."""
    body: dict[str, object] = request.model_dump(mode="json", exclude_none=True, by_alias=True)
    defaults: Mapping[str, object] = _CHAT_DEFAULTS if isinstance(request, ChatRequest) else {}
    for field, value in list(body.items()):  # one pass over what was given (few of all the fields)
        if field in _NOT_DECIDING or (field in defaults and value == defaults[field]):
            del body[field]
        elif field not in _FLOAT_FREE:
            body[field] = _canonical(value)
    if isinstance(request, ChatRequest):
        if "tools" not in body and body.get("tool_choice") == "none":
            del body["tool_choice"]  # no tools: "none" is what the API does anyway
        _keep_schema_order(body)
    return body


def _keep_schema_order(body: dict[str, object]) -> None:
    """Replace each JSON Schema in ``body`` (already canonical values) by its JSON text in given order."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        json_schema = response_format.get("json_schema")
        if isinstance(json_schema, dict) and "schema" in json_schema:
            json_schema["schema"] = _dumps_in_order(json_schema["schema"])
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            function = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(function, dict) and "parameters" in function:
                function["parameters"] = _dumps_in_order(function["parameters"])


def canonical_request(request: ChatRequest | EmbeddingRequest, namespace: str) -> bytes:
    """The canonical JSON the key hashes: version, kind, namespace and the deciding request."""
    kind = "chat" if isinstance(request, ChatRequest) else "embeddings"
    # The envelope's keys in sorted order ("kind", "namespace", "request", "v"), written directly.
    return b"".join(
        (
            b'{"kind":"%s","namespace":' % kind.encode(),
            _namespace_json(namespace),
            b',"request":',
            _sorted_json(_deciding(request)),
            b',"v":%d}' % KEY_VERSION,
        )
    )


def cache_key(request: ChatRequest | EmbeddingRequest, namespace: str) -> str:
    """The hex SHA-256 content address of ``request`` within ``namespace``.

    Args:
        request: the request.
        namespace: what else decides the answer, such as the provider, its endpoint and the
            model-to-deployment mapping (the clients pass theirs).
    """
    return hashlib.sha256(canonical_request(request, namespace)).hexdigest()


# --- the Responses API ------------------------------------------------------------------------------

_RESPONSES_NOT_DECIDING: Final = frozenset(
    {
        "user",
        "store",
        "service_tier",
        "stream",
        "background",
        "metadata",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
    }
)
"""Responses fields that do not change the answer (where it is kept, who asks, how it is billed)."""

_RESPONSES_DEFAULTS: Final[Mapping[str, object]] = {
    "temperature": 1,
    "top_p": 1,
    "parallel_tool_calls": True,
    "truncation": "disabled",
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
}
"""The Responses API's documented defaults: given or not, they decide the same answer."""


def responses_cache_key(request: ResponsesRequest, namespace: str) -> str:
    """The hex SHA-256 content address of a Responses request within ``namespace``.

    The same discipline as ``cache_key`` (its own ``kind``, so no chat request shares a key):
    defaults left out, fields that do not decide the answer left out, and JSON Schemas (the
    structured-output format, each function tool's parameters) hashed in their given key order.
    """
    body: dict[str, object] = request.model_dump(mode="json", exclude_none=True, by_alias=True)
    for field in _RESPONSES_NOT_DECIDING:
        body.pop(field, None)
    for field, value in list(body.items()):
        body[field] = _canonical(value)
        if body[field] == _RESPONSES_DEFAULTS.get(field, body):
            del body[field]
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict) and "schema" in fmt:
        fmt["schema"] = _dumps_in_order(fmt["schema"])
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            if isinstance(tool, dict) and "parameters" in tool:
                tool["parameters"] = _dumps_in_order(tool["parameters"])
    canonical = (
        f'{{"kind":"responses","namespace":{_dumps(namespace)},"request":{_dumps(body)},"v":{KEY_VERSION}}}'
    ).encode()
    return hashlib.sha256(canonical).hexdigest()
