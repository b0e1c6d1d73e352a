"""The fake's Responses API: ``POST /v1/responses`` (and Azure's ``/openai/v1/responses``), whole or streamed.

Deterministic, as the chat answers are: the text echoes the last user message (or fits the
``text.format`` schema), a function tool offered is called once (until its output comes back),
reasoning models (``o*``, ``gpt-5*``) answer with a reasoning item first, carrying
``encrypted_content`` when ``include`` asks for it. As the real service does, with ``store=False``
a reasoning item sent back by id alone is a 404 "Item ... not found". A stream is the frames the
real service sends: ``event:`` line, JSON ``data`` with ``type`` and ``sequence_number``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from typed_llm.testing._canned import chat_answer, text_of
from typed_llm.testing._fake_stream import sse_frames as chat_frames
from typed_llm.testing._fake_usage import responses_input_tokens

if TYPE_CHECKING:
    from typed_llm.testing._replies import StreamScript

__all__ = ["responses_answer", "responses_frames", "sse_frames"]

_EPOCH: Final = 1_767_225_600
_WORDS = re.compile(r"\S+\s*|\s+")
Example = Callable[[object, Mapping[str, object]], object]


def _items(body: Mapping[str, object]) -> list[dict[str, object]]:
    given = body.get("input")
    if isinstance(given, str):
        return [{"role": "user", "content": given}]
    return [item for item in given if isinstance(item, dict)] if isinstance(given, list) else []


def _not_found(item_id: str) -> tuple[int, dict[str, object]]:
    return 404, {
        "error": {
            "message": f"Item with id '{item_id}' not found. Items are not persisted when `store` is set "
            "to false. Try again with `store` set to true, or remove this item from your input.",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }


def responses_answer(
    body: Mapping[str, object], model: str, number: int, *, example: Example
) -> tuple[int, dict[str, object]]:
    """The status and body of the fake's answer to one ``/responses`` request."""
    items = _items(body)
    for item in items:
        if (
            item.get("type") == "reasoning"
            and body.get("store") is False
            and not item.get("encrypted_content")
        ):
            return _not_found(str(item.get("id")))
    users = [item for item in items if item.get("role") == "user"]
    last_user = text_of(users[-1].get("content")) if users else ""
    output: list[dict[str, object]] = []
    reasoning_model = model.startswith(("o1", "o3", "o4", "gpt-5"))
    if reasoning_model:
        reasoning: dict[str, object] = {"id": f"rs_fake{number:020d}", "type": "reasoning", "summary": []}
        include = body.get("include")
        if isinstance(include, list) and "reasoning.encrypted_content" in include:
            reasoning["encrypted_content"] = f"gAAAAfake-encrypted-{number}"
        output.append(reasoning)
    tools = body.get("tools")
    functions = (
        [t for t in tools if isinstance(t, dict) and t.get("type") == "function"]
        if isinstance(tools, list)
        else []
    )
    answered = bool(items) and items[-1].get("type") == "function_call_output"
    text = ""
    if functions and body.get("tool_choice") != "none" and not answered:
        function = functions[0]
        parameters = function.get("parameters")
        schema = parameters if isinstance(parameters, dict) else {}
        defs = schema.get("$defs")
        output.append(
            {
                "id": f"fc_fake{number:020d}",
                "type": "function_call",
                "status": "completed",
                "arguments": json.dumps(example(schema, defs if isinstance(defs, dict) else {}) or {}),
                "call_id": f"call_{number:024d}",
                "name": function["name"],
            }
        )
    else:
        text = chat_answer(last_user)
        if answered:
            text = f"Echo: {items[-1].get('output')}"
        text_config = body.get("text")
        fmt = text_config.get("format") if isinstance(text_config, dict) else None
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            given = fmt.get("schema")
            wanted: dict[str, object] = given if isinstance(given, dict) else {}
            defs = wanted.get("$defs")
            text = json.dumps(example(wanted, defs if isinstance(defs, dict) else {}))
    status, incomplete = "completed", None
    limit = body.get("max_output_tokens")
    if text and isinstance(limit, int) and len(text.split()) > limit:
        text = " ".join(text.split()[:limit])
        status, incomplete = "incomplete", {"reason": "max_output_tokens"}
    if text:
        output.append(
            {
                "id": f"msg_fake{number:020d}",
                "type": "message",
                "status": status,
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
                "role": "assistant",
            }
        )
    words = sum(max(1, len(text_of(i.get("content")).split())) for i in items) + 7
    input_tokens = responses_input_tokens(body, model, words)
    output_tokens = max(1, len(text.split())) + (64 if reasoning_model else 0)
    return 200, {
        "id": f"resp_fake{number:020d}",
        "object": "response",
        "created_at": _EPOCH + number,
        "status": status,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": limit,
        "model": f"{model}-2026-01-01",
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": tools or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 64 if reasoning_model else 0},
            "total_tokens": input_tokens + output_tokens,
        },
        "user": None,
        "metadata": body.get("metadata") or {},
    }


class _Frames:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def add(self, kind: str, **data: object) -> None:
        payload = json.dumps(
            {"type": kind, **data, "sequence_number": len(self.frames)}, separators=(",", ":")
        )
        self.frames.append(f"event: {kind}\ndata: {payload}\n\n".encode())


_TERMINAL: Final = {"incomplete": "response.incomplete", "failed": "response.failed"}


def responses_frames(answer: Mapping[str, object], error_after: int | None = None) -> list[bytes]:
    """The SSE frames of ``answer`` (a response body) streamed: text a word per delta.

    The last is ``response.completed``, or ``response.incomplete`` / ``response.failed`` as the
    answer's status says; with ``error_after``, the server's ``error`` event follows that many frames
    and ends the stream, as when the service fails mid-answer.
    """
    built = _Frames()
    output = answer.get("output")
    items = [item for item in output if isinstance(item, dict)] if isinstance(output, list) else []
    start = {**answer, "status": "in_progress", "output": [], "usage": None}
    built.add("response.created", response=start)
    built.add("response.in_progress", response=start)
    for index, item in enumerate(items):
        kind, item_id = item.get("type"), item.get("id")
        if kind == "message":
            built.add(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            for position, part in enumerate(item.get("content") or []):
                empty = {**part, "text": ""}
                built.add(
                    "response.content_part.added",
                    item_id=item_id,
                    output_index=index,
                    content_index=position,
                    part=empty,
                )
                for word in _WORDS.findall(str(part.get("text", ""))):
                    built.add(
                        "response.output_text.delta",
                        item_id=item_id,
                        output_index=index,
                        content_index=position,
                        delta=word,
                        logprobs=[],
                    )
                built.add(
                    "response.output_text.done",
                    item_id=item_id,
                    output_index=index,
                    content_index=position,
                    text=part.get("text"),
                )
                built.add(
                    "response.content_part.done",
                    item_id=item_id,
                    output_index=index,
                    content_index=position,
                    part=part,
                )
        elif kind == "function_call":
            arguments = str(item.get("arguments", ""))
            built.add(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            half = len(arguments) // 2
            for fragment in (arguments[:half], arguments[half:]):
                built.add(
                    "response.function_call_arguments.delta",
                    item_id=item_id,
                    output_index=index,
                    delta=fragment,
                )
            built.add(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=index,
                arguments=arguments,
            )
        else:
            built.add("response.output_item.added", output_index=index, item=item)
        built.add("response.output_item.done", output_index=index, item=item)
    built.add(_TERMINAL.get(str(answer.get("status")), "response.completed"), response=answer)
    if error_after is not None:
        del built.frames[error_after:]
        built.add(
            "error",
            code="server_error",
            message="The server had an error processing your request.",
            param=None,
        )
    return built.frames


def sse_frames(
    answer: Mapping[str, object], request: Mapping[str, object], *, azure: bool, script: StreamScript
) -> list[bytes]:
    """The frames of a streamed answer: a response's (it has ``object: response``), else a chat answer's."""
    if answer.get("object") == "response":
        return responses_frames(answer, script.error_after)
    return chat_frames(answer, request, azure=azure, script=script)
