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

Changing what this module writes changes every key: the golden tests pin a few keys, and a release
that changes them must say so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Final

from typed_llm._requests import ChatRequest, EmbeddingRequest

__all__ = ["KEY_VERSION", "cache_key", "canonical_json", "canonical_request"]

KEY_VERSION: Final = 1
"""Written into every key's input; raised only by a release that changes keys on purpose."""

_NOT_DECIDING: Final = frozenset({"user", "store", "service_tier"})
"""Request fields that do not change the answer."""

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

_FLOAT_FREE: Final = frozenset({"messages", "input", "model"})
"""Fields whose dumped JSON can hold no float (message models have only text, enums, integers and
lists of those): the float normalisation walk skips them, which is most of a request's size.
``test_cache_key`` checks that the fast path writes exactly ``canonical_json``'s bytes."""


def _deciding(request: ChatRequest | EmbeddingRequest) -> dict[str, object]:
    """The request's JSON, reduced to what decides the answer, in canonical values (not yet sorted)."""
    body: dict[str, object] = request.model_dump(mode="json", exclude_none=True, by_alias=True)
    for field in _NOT_DECIDING:
        body.pop(field, None)
    for field, value in body.items():
        if field not in _FLOAT_FREE:
            body[field] = _canonical(value)
    if isinstance(request, ChatRequest):
        for field, default in _CHAT_DEFAULTS.items():
            if field in body and body[field] == default:
                del body[field]
        if "tools" not in body and body.get("tool_choice") == "none":
            del body["tool_choice"]  # no tools: "none" is what the API does anyway
    return body


def canonical_request(request: ChatRequest | EmbeddingRequest, namespace: str) -> bytes:
    """The canonical JSON the key hashes: version, kind, namespace and the deciding request."""
    kind = "chat" if isinstance(request, ChatRequest) else "embeddings"
    # The envelope's keys in sorted order ("kind", "namespace", "request", "v"), written directly.
    return (
        f'{{"kind":"{kind}","namespace":{_dumps(namespace)},'
        f'"request":{_dumps(_deciding(request))},"v":{KEY_VERSION}}}'
    ).encode()


def cache_key(request: ChatRequest | EmbeddingRequest, namespace: str) -> str:
    """The hex SHA-256 content address of ``request`` within ``namespace``.

    Args:
        request: the request.
        namespace: what else decides the answer, such as the provider, its endpoint and the
            model-to-deployment mapping (the clients pass theirs).
    """
    return hashlib.sha256(canonical_request(request, namespace)).hexdigest()
