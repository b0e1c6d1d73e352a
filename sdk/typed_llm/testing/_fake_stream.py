"""The fake's streamed answers: a chat answer as the SSE frames the real services send.

Deterministic: the answer's text goes out a word per frame (a tool call's arguments in two
fragments), then the finish, then the usage when ``stream_options.include_usage`` asked for it,
then ``data: [DONE]``. Asked for ``logprobs``, each word's frame carries its token's entry. Azure
answers start with the filter-only chunk the real service sends (``choices: []``, empty ``id`` and
``object``) and carry verdicts on each choice. A ``StreamScript`` paces the frames and injects
faults: a drop, a stall, Azure's filter stopping the completion.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from typed_llm.testing._fake_logprobs import fake_tokens
from typed_llm.testing._replies import _AZURE_VERDICTS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typed_llm.testing._replies import StreamScript

__all__ = ["sse_frames"]

_FILTERED = {**_AZURE_VERDICTS, "violence": {"filtered": True, "severity": "medium"}}


def _frame(data: object) -> bytes:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class _Frames:
    """The chunks of one answer, built in order."""

    def __init__(self, answer: Mapping[str, object], *, azure: bool) -> None:
        self.base = {
            "id": answer["id"],
            "object": "chat.completion.chunk",
            "created": answer["created"],
            "model": answer["model"],
            "system_fingerprint": answer.get("system_fingerprint"),
            "service_tier": answer.get("service_tier"),
        }
        self.verdicts: dict[str, object] = {"content_filter_results": _AZURE_VERDICTS} if azure else {}
        self.frames: list[bytes] = []

    def delta(
        self, content: dict[str, object], finish: str | None = None, extra: dict[str, object] | None = None
    ) -> None:
        part = {"index": 0, "delta": content, "logprobs": None, "finish_reason": finish, **(extra or {})}
        self.frames.append(_frame({**self.base, "choices": [part]}))


def sse_frames(
    answer: Mapping[str, object], request: Mapping[str, object], *, azure: bool, script: StreamScript
) -> list[bytes]:
    """The frames of ``answer`` (a chat completion body) streamed as ``request`` asked."""
    built = _Frames(answer, azure=azure)
    choices = answer["choices"]
    choice = choices[0] if isinstance(choices, list) and choices else {}
    message = choice.get("message", {})
    if azure:
        built.frames.append(
            _frame(
                {
                    "id": "",
                    "object": "",
                    "created": 0,
                    "model": "",
                    "choices": [],
                    "prompt_filter_results": answer.get("prompt_filter_results", []),
                }
            )
        )
    logprobs = choice.get("logprobs")
    tokens = (logprobs.get("content") or []) if isinstance(logprobs, dict) else None
    first: dict[str, object] = {} if tokens is None else {"logprobs": {"content": [], "refusal": None}}
    built.delta({"role": "assistant", "content": "", "refusal": None}, None, first)
    finish: str | None = str(choice.get("finish_reason") or "stop")
    for number, word in enumerate(fake_tokens(message.get("content") or "")):
        if script.filter_after is not None and number >= script.filter_after:
            built.delta({}, "content_filter", {"content_filter_results": _FILTERED})
            finish = None
            break
        own = (
            {} if tokens is None else {"logprobs": {"content": tokens[number : number + 1], "refusal": None}}
        )
        built.delta({"content": word}, None, {**built.verdicts, **own})
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        name = {"name": function["name"], "arguments": ""}
        built.delta(
            {"tool_calls": [{"index": index, "id": call["id"], "type": "function", "function": name}]}
        )
        arguments = str(function["arguments"])
        for piece in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
            built.delta({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    if finish is not None:
        built.delta({}, finish, built.verdicts)
    options = request.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        built.frames.append(_frame({**built.base, "choices": [], "usage": answer.get("usage")}))
    built.frames.append(b"data: [DONE]\n\n")
    return built.frames
