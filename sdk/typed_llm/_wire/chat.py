"""Chat completions on the wire: the request as its model takes it, the answer typed, the operation.

Pure translation, no I/O: ``build_chat_call`` turns a typed request into a ``WireCall`` (reasoning
models get ``max_completion_tokens`` and none of the sampling parameters they refuse);
``parse_chat_response`` reads a successful answer (a value newer than this SDK is kept and logged
once). ``CHAT`` is the operation every layer runs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from typed_llm._cache.key import cache_key
from typed_llm._logging import cut, emit
from typed_llm._models.requests import ChatRequest, EmbeddingRequest
from typed_llm._models.responses import ChatResponse, UnknownFinishReason
from typed_llm._window import check_context_window
from typed_llm._wire.operation import Operation, RawResponse, Routing, WireCall
from typed_llm._wire.status import malformed, parse_model

if TYPE_CHECKING:
    from typed_llm._models.requests import EmbeddingRequest

__all__ = ["CHAT", "adapt_for_model", "build_chat_call", "parse_chat_response"]


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
    return WireCall(path=routing.path("/chat/completions", request.model), body=wire_body(request))


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


# --- chat completions -----------------------------------------------------------------------------


def _build_chat(request: ChatRequest, routing: Routing) -> WireCall:
    if request.stream is not None or request.stream_options is not None:
        request = request.model_copy(update={"stream": None, "stream_options": None})  # the verb decides
    return build_for_model(request, routing)


def build_for_model(request: ChatRequest, routing: Routing) -> WireCall:
    """The HTTP call for ``request`` as its model takes it; a warning names the parameters left out."""
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
