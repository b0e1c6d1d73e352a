"""Pure translation between typed requests/responses and HTTP: no I/O, shared by every adapter.

``build_*_call`` turns a typed request into a ``WireCall`` (a path relative to the provider's base
URL, and the JSON body as bytes); ``parse_*_response`` turns the raw answer of a successful call into a
typed response. Sync and async adapters, and the wrappers around them (cache, retry, logging), all use
these same functions, so a request is built and an answer read in exactly one way.
"""

from __future__ import annotations

import array
import base64
import json
import logging
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal, TypeVar
from urllib.parse import quote

import attrs
from pydantic import BaseModel, ConfigDict, ValidationError

from typed_llm._errors import MalformedResponseError, request_id_from
from typed_llm._logging import emit
from typed_llm._responses import ChatResponse, EmbeddingResponse, EmbeddingUsage, UnknownFinishReason

if TYPE_CHECKING:
    from typed_llm._requests import ChatRequest, EmbeddingRequest

__all__ = [
    "RawResponse",
    "Routing",
    "WireCall",
    "adapt_for_model",
    "build_chat_call",
    "build_embedding_call",
    "parse_chat_response",
    "parse_embedding_response",
    "parse_model",
]

CallKind = Literal["chat", "embeddings"]


@attrs.frozen
class Routing:
    """How a provider names models on the wire.

    Attributes:
        deployments: model name -> Azure deployment name; a model not listed is its own deployment.
        deployment_in_path: Azure's classic shape, ``/deployments/{deployment}/chat/completions``;
            when False the deployment (or model) name goes in the body's ``model``, as OpenAI and
            Azure's v1 API take it.
    """

    deployments: Mapping[str, str] = attrs.field(factory=dict)
    deployment_in_path: bool = False

    def target(self, model: str) -> str:
        """The deployment (Azure) or model (OpenAI) that serves ``model``."""
        return self.deployments.get(model, model)

    def path(self, kind: CallKind, model: str) -> str:
        """The request path for a call of ``kind`` to ``model``, relative to the base URL."""
        endpoint = "/chat/completions" if kind == "chat" else "/embeddings"
        if self.deployment_in_path:
            # Quoted whole: a name with "/", "?" or ".." must not change the path it goes to.
            return f"/deployments/{quote(self.target(model), safe='')}{endpoint}"
        return endpoint


@attrs.frozen
class WireCall:
    """One HTTP call, as data: what to POST where."""

    kind: CallKind
    """Chat completion or embeddings."""
    path: str
    """Path relative to the provider's base URL."""
    body: bytes
    """The JSON body."""


@attrs.frozen
class RawResponse:
    """A successful HTTP answer, before translation."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


def wire_body(request: ChatRequest | EmbeddingRequest) -> bytes:
    """The request's JSON body as the API takes it (fields left None are not sent)."""
    return request.model_dump_json(exclude_none=True, by_alias=True).encode()


REASONING_PREFIXES: Final = ("o1", "o3", "o4", "gpt-5")
"""Model families that think before answering: max_tokens is max_completion_tokens, sampling is fixed."""

_REFUSED_BY_REASONING: Final = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "logit_bias",
)
"""Sampling parameters reasoning models refuse with a 400 (their sampling is fixed)."""


def is_reasoning_model(model: str) -> bool:
    """Whether ``model`` belongs to a reasoning family (o1, o3, o4, gpt-5)."""
    return model.startswith(REASONING_PREFIXES) and not model.startswith("gpt-5-chat")


def adapt_for_model(request: ChatRequest) -> tuple[ChatRequest, tuple[str, ...]]:
    """``request`` as its model takes it, and the names of the parameters left out.

    Reasoning models take ``max_completion_tokens`` (``max_tokens`` is renamed, unless both are
    given) and refuse the sampling parameters in ``_REFUSED_BY_REASONING``, which are left out.
    Other models get the request unchanged.
    """
    if not is_reasoning_model(request.model):
        return request, ()
    update: dict[str, object] = {
        name: None for name in _REFUSED_BY_REASONING if getattr(request, name) is not None
    }
    dropped = tuple(update)
    if request.max_tokens is not None:
        update["max_tokens"] = None
        if request.max_completion_tokens is None:
            update["max_completion_tokens"] = request.max_tokens
    return (request.model_copy(update=update) if update else request), dropped


def build_chat_call(request: ChatRequest, routing: Routing) -> WireCall:
    """The HTTP call for a chat request under ``routing`` (already adapted to its model)."""
    target = routing.target(request.model)
    if target != request.model and not routing.deployment_in_path:
        request = request.model_copy(update={"model": target})
    return WireCall(kind="chat", path=routing.path("chat", request.model), body=wire_body(request))


def build_embedding_call(request: EmbeddingRequest, routing: Routing) -> WireCall:
    """The HTTP call for an embeddings request: vectors are asked for as base64 (decoded on arrival).

    base64 float32 is what openai-python asks for too: the body is about a quarter of the size and
    decoding it is several times faster than parsing a JSON array of floats.
    """
    target = routing.target(request.model)
    body = request.model_dump(exclude_none=True)
    body["input"] = list(request.input)
    body["encoding_format"] = "base64"
    if not routing.deployment_in_path:
        body["model"] = target
    path = routing.path("embeddings", request.model)
    return WireCall(kind="embeddings", path=path, body=_json_bytes(body))


def _json_bytes(body: Mapping[str, object]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def malformed(raw: RawResponse, problem: str) -> MalformedResponseError:
    """The error for a success status whose body is not what the API documents."""
    try:
        json.loads(raw.content)
    except ValueError:
        incomplete = True
    except RecursionError:
        # Nested deeper than the stack (``[`` x 100,000): no cut or proxy page looks like that, it is
        # the server's answer, and a retry would only repeat it.
        incomplete = False
    else:
        incomplete = False
    return MalformedResponseError(
        f"the API answered {raw.status_code} but the body is not a valid response: {problem}",
        status_code=raw.status_code,
        body_excerpt=raw.content[:500].decode("utf-8", errors="replace"),
        incomplete=incomplete,
        request_id=request_id_from(raw.headers),
    )


Parsed = TypeVar("Parsed", bound=BaseModel)


def parse_model(kind: type[Parsed], raw: RawResponse) -> Parsed:
    """The answer in ``raw`` as ``kind``, with the request id when ``kind`` has a field for it.

    Raises:
        MalformedResponseError: the body is not JSON, is cut short, or does not fit ``kind``.
    """
    try:
        value = kind.model_validate_json(raw.content)
    except ValidationError as exc:
        raise malformed(raw, _first_problem(exc)) from exc
    request_id = request_id_from(raw.headers)
    if request_id and "request_id" in kind.model_fields:
        value = value.model_copy(update={"request_id": request_id})
    return value


def parse_chat_response(raw: RawResponse) -> ChatResponse:
    """The typed chat response in ``raw``.

    Raises:
        MalformedResponseError: the body is not JSON, is cut short, or lacks required fields.
    """
    response = parse_model(ChatResponse, raw)
    if not response.choices:
        raise malformed(raw, "it has no choices")
    report_unknown_values(response)
    return response


_REPORTED: set[tuple[str, str | None]] = set()
_REPORTED_AT_MOST: Final = 256
"""Distinct values remembered as reported; past that (a server inventing values) each is logged again."""


def report_unknown_values(response: ChatResponse) -> None:
    """Log, once per process and value, each value in ``response`` newer than this SDK.

    The value is kept on the response (``UnknownFinishReason``, or None for a null), so nothing is
    lost; the ``unknown_value`` warning tells the operator the API has moved on.
    """
    for choice in response.choices:
        reason = choice.finish_reason
        if reason is None or isinstance(reason, UnknownFinishReason):
            value = None if reason is None else str(reason)
            key = ("finish_reason", value)
            if key in _REPORTED:
                continue
            if len(_REPORTED) < _REPORTED_AT_MOST:
                _REPORTED.add(key)
            emit(
                logging.WARNING,
                "unknown_value",
                field="choices.finish_reason",
                value=value,
                model=response.model,
                request_id=response.request_id,
            )


class _WireEmbedding(BaseModel):
    model_config = ConfigDict(extra="ignore")
    index: int
    embedding: list[float] | str


class _WireEmbeddings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str
    data: list[_WireEmbedding]
    usage: EmbeddingUsage | None = None


def _vector(embedding: list[float] | str) -> tuple[float, ...]:
    if isinstance(embedding, list):
        return tuple(embedding)
    floats = array.array("f", base64.b64decode(embedding, validate=True))
    if sys.byteorder != "little":  # the API sends little-endian float32
        floats.byteswap()
    return tuple(floats.tolist())


def parse_embedding_response(raw: RawResponse, *, expected: int) -> EmbeddingResponse:
    """The typed embeddings response in ``raw``: vectors in input order, base64 decoded.

    Args:
        raw: the answer.
        expected: how many inputs the request had; the answer must hold one vector per input.

    Raises:
        MalformedResponseError: the body is not JSON, lacks fields, has bad base64, or its
            vectors do not match the inputs one to one.
    """
    try:
        wire = _WireEmbeddings.model_validate_json(raw.content)
        vectors = tuple(_vector(item.embedding) for item in sorted(wire.data, key=lambda d: d.index))
    except ValidationError as exc:
        raise malformed(raw, _first_problem(exc)) from exc
    except ValueError as exc:  # binascii.Error is a ValueError
        raise malformed(raw, f"an embedding is not valid base64 ({exc})") from exc
    indexes = sorted(item.index for item in wire.data)
    if indexes != list(range(expected)):
        raise malformed(raw, f"expected vectors for inputs 0..{expected - 1}, got indexes {indexes}")
    return EmbeddingResponse(
        model=wire.model,
        vectors=vectors,
        usage=wire.usage,
        request_id=request_id_from(raw.headers),
    )


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"
