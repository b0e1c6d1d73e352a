"""What an API operation is, described once: the one value every layer reads.

An ``Operation`` says how to build the HTTP request from the typed request, how to read the answer,
what the cache key is, whether an answer may be stored, and what the log events say about the call.
The layers (cache, logging, retry) know nothing else about an operation, so adding one (streaming,
the Responses API) means writing its wire functions and one ``Operation`` value, and nothing in
the layers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs
from pydantic import BaseModel

from typed_llm._cache_key import cache_key
from typed_llm._logging import cut, emit
from typed_llm._requests import ChatRequest, EmbeddingRequest
from typed_llm._responses import ChatResponse, EmbeddingResponse
from typed_llm._tokens import check_context_window
from typed_llm._wire import (
    RawResponse,
    Routing,
    WireCall,
    adapt_for_model,
    build_chat_call,
    build_embedding_call,
    parse_chat_response,
    parse_embedding_response,
)

__all__ = ["CHAT", "EMBEDDINGS", "Operation", "RawResponse", "Routing", "WireCall"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)


def _always(_: object) -> bool:
    return True


@attrs.frozen
class Operation(Generic[R, S]):
    """One API operation, as the layers see it.

    Attributes:
        name: the kind of call in log events and cache keys (``chat``, ``embeddings``).
        method: the ``Client`` protocol method that performs it (``complete``, ``embed``), used
            when a layer wraps a client that is not a pipeline.
        request_type: what the operation takes (checked before anything else happens).
        response_type: what it returns; cached answers are its JSON and read back with it.
        build: the HTTP request for a request under a provider's ``Routing`` (no I/O).
        parse: the typed answer in a successful HTTP answer; raises ``MalformedResponseError``.
        key: the cache key of a request in a namespace.
        storable: whether an answer may be cached (a completion cut short by a filter may not).
        contents: what the debug ``request`` event shows of the request.
        summary: what the ``response`` event says of an answer (usage, request id, model).
        check: the pre-flight check of a request, if it has one (the context window, for chat).
    """

    name: str
    method: str
    request_type: type[R]
    response_type: type[S]
    build: Callable[[R, Routing], WireCall]
    parse: Callable[[R, RawResponse], S]
    key: Callable[[R, str], str]
    summary: Callable[[S], dict[str, object]]
    contents: Callable[[R], list[str]]
    storable: Callable[[S], bool] = _always
    check: Callable[[R], None] | None = None

    def model_of(self, request: R) -> str:
        """The model a request names (every request has one)."""
        model: str = getattr(request, "model", "")
        return model


# --- chat completions -----------------------------------------------------------------------------


def _build_chat(request: ChatRequest, routing: Routing) -> WireCall:
    adapted, dropped = adapt_for_model(request)
    if dropped:
        emit(
            logging.WARNING,
            "parameters_dropped",
            model=request.model,
            parameters=list(dropped),
            reason="reasoning models refuse sampling parameters",
        )
    return build_chat_call(adapted, routing)


def _chat_contents(request: ChatRequest) -> list[str]:
    texts = []
    for message in request.messages:
        content = getattr(message, "content", None)
        text = (
            content if isinstance(content, str) else " ".join(getattr(p, "text", "") for p in content or ())
        )
        texts.append(f"{message.role}: {cut(text)}")
    return texts


def _chat_summary(response: ChatResponse) -> dict[str, object]:
    usage = response.usage
    return {
        "request_id": response.request_id,
        "response_model": response.model,
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "cached_tokens": usage.cached_tokens if usage else None,
        "reasoning_tokens": usage.reasoning_tokens if usage else None,
        "finish_reason": response.choices[0].finish_reason,
    }


def _not_filtered(response: ChatResponse) -> bool:
    return not any(choice.finish_reason == "content_filter" for choice in response.choices)


CHAT: Operation[ChatRequest, ChatResponse] = Operation(
    name="chat",
    method="complete",
    request_type=ChatRequest,
    response_type=ChatResponse,
    build=_build_chat,
    parse=lambda _request, raw: parse_chat_response(raw),
    key=cache_key,
    summary=_chat_summary,
    contents=_chat_contents,
    storable=_not_filtered,
    check=check_context_window,
)
"""``POST /chat/completions``: reasoning models get the parameters they take (a warning names the
rest); a completion Azure's filter cut short is never cached."""


# --- embeddings -----------------------------------------------------------------------------------


def _embedding_summary(response: EmbeddingResponse) -> dict[str, object]:
    return {
        "request_id": response.request_id,
        "response_model": response.model,
        "prompt_tokens": response.usage.prompt_tokens if response.usage else None,
        "vectors": len(response.vectors),
    }


EMBEDDINGS: Operation[EmbeddingRequest, EmbeddingResponse] = Operation(
    name="embeddings",
    method="embed",
    request_type=EmbeddingRequest,
    response_type=EmbeddingResponse,
    build=build_embedding_call,
    parse=lambda request, raw: parse_embedding_response(raw, expected=len(request.input)),
    key=cache_key,
    summary=_embedding_summary,
    contents=lambda request: [cut(text) for text in request.input],
)
"""``POST /embeddings``: one vector per input, in input order, asked for as base64."""
