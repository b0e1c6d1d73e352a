"""The Responses API on the wire: the request's body, its pre-flight check, the two operations.

Pure translation, no I/O. ``RESPOND`` is ``POST /responses`` (OpenAI's ``/v1/responses``, Azure's
``/openai/v1/responses`` with the deployment as ``model``); Azure's classic deployment paths do not
serve it, so a classic client fails with a ``ConfigurationError`` before anything is sent. The
answer is read in ``responses_answer``, a stream's frames in ``responses_stream``.
``RESPOND_STREAM`` is the same request, key and cache entry as ``RESPOND``, asked for with
``stream: true``.
"""

from __future__ import annotations

import attrs

from typed_llm._cache.key import responses_cache_key
from typed_llm._errors import ConfigurationError
from typed_llm._logging import cut
from typed_llm._models.responses_api import Response
from typed_llm._models.responses_request import InputMessage, ResponsesRequest
from typed_llm._tokens_responses import check_responses_window
from typed_llm._wire.operation import Operation, Routing, Streaming, WireCall
from typed_llm._wire.responses_answer import parse_response, storable, summary
from typed_llm._wire.responses_stream import (
    ResponseAccumulator,
    ResponseStreamEvent,
    replay_events,
    start_accumulator,
)

__all__ = ["RESPOND", "RESPOND_STREAM", "ResponseAccumulator", "ResponseStreamEvent", "replay_events"]

_CLASSIC = (
    "the Responses API is served on Azure's v1 API only (/openai/v1/responses), not on classic "
    'deployment paths: build the client with api_version="v1"'
)


# --- the request -----------------------------------------------------------------------------------


def _body(request: ResponsesRequest, routing: Routing, *, stream: bool) -> WireCall:
    if routing.deployment_in_path:
        raise ConfigurationError(_CLASSIC)
    update: dict[str, object] = {}
    if request.stream != (True if stream else None):  # the verb decides
        update["stream"] = True if stream else None
    target = routing.target(request.model)
    if target != request.model:
        update["model"] = target  # Azure v1: the deployment goes in the body's model
    sent = request.model_copy(update=update) if update else request  # (a copy only when it differs)
    body = sent.model_dump_json(exclude_none=True, by_alias=True)
    return WireCall(path="/responses", body=body.encode())


def _check(request: ResponsesRequest, model: str) -> int | None:
    """Refuse before sending what cannot succeed: a blank input, or one too long for the window.

    Returns the input tokens counted for ``model`` (the model an Azure deployment serves), or None.
    """
    if isinstance(request.input, str) and not request.input.strip():
        raise ConfigurationError("input is blank: give the text the model should answer")
    return check_responses_window(request, model)


def _contents(request: ResponsesRequest) -> list[str]:
    if isinstance(request.input, str):
        return [f"user: {cut(request.input)}"]
    lines = []
    for item in request.input:
        if isinstance(item, InputMessage):
            content = item.content
            text = content if isinstance(content, str) else " ".join(getattr(p, "text", "") for p in content)
            lines.append(f"{item.role}: {cut(text)}")
        else:
            lines.append(item.type)
    return lines


RESPOND: Operation[ResponsesRequest, Response] = Operation(
    name="responses",
    method="respond",
    request_type=ResponsesRequest,
    response_type=Response,
    build=lambda request, routing: _body(request, routing, stream=False),
    parse=lambda _request, raw: parse_response(raw),
    key=responses_cache_key,
    summary=summary,
    contents=_contents,
    storable=storable,
    check=_check,
)
"""``POST /responses``: OpenAI, or Azure's v1 API (the deployment as ``model``)."""

RESPOND_STREAM: Operation[ResponsesRequest, Response] = attrs.evolve(
    RESPOND,
    name="responses_stream",
    method="stream",
    build=lambda request, routing: _body(request, routing, stream=True),
    streaming=Streaming(start=start_accumulator, replay=replay_events),
)
"""``POST /responses`` with ``stream: true``: the same request, cache key and entry as ``RESPOND``."""
