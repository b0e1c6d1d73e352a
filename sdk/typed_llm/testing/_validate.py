"""Validated on load: each recorded answer of a cassette read into the SDK's typed response model.

A cassette outlives the code that recorded it: an SDK upgrade tightens a model, a hand edit breaks
a body. Read at replay time, such an answer fails deep inside a test as a ``MalformedResponseError``
that names neither the file nor the interaction. Read when the cassette loads, it fails before the
test body runs, as a ``CassetteValidationError`` naming both.

What is read, by the request's path (Azure's deployment paths included):

- ``.../chat/completions``: ``ChatResponse``, or for a streamed answer (``text/event-stream``) its
  SSE frames through the stream's own accumulator, assembled into one ``ChatResponse``;
- ``.../embeddings``: ``EmbeddingResponse``, one vector per input of the recorded request;
- ``.../responses``: the Responses API ``Response``, streamed or not.

Answers with an error status (3xx, 4xx, 5xx) are not read into a success model: the SDK maps any
error body to its typed error. An answer the SDK reads into its model and then raises for on
purpose (Azure's filter stopping a completion, a failed Response) fits. Other paths are not read.

Opting out: a response carrying ``typed_llm: {validate: false}`` (a conformance cassette recording
a malformed body on purpose); a whole cassette with ``validate=False`` on ``make_vcr``, the marker
``@pytest.mark.llm_cassette(validate=False)`` or ``validate: false`` in its ``typed_llm``
metadata block.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from pydantic import ValidationError

from typed_llm._errors import ContentFilterError, MalformedResponseError, ResponseFailedError
from typed_llm._wire.chat import parse_chat_response
from typed_llm._wire.chat_stream import ChatAccumulator
from typed_llm._wire.embeddings import parse_embedding_response
from typed_llm._wire.operation import RawResponse
from typed_llm._wire.responses_answer import parse_response
from typed_llm._wire.responses_stream import ResponseAccumulator
from typed_llm._wire.status import request_id_from

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["OWN_KEY", "opted_out", "problem_of"]

OWN_KEY: Final = "typed_llm"
"""The key of the SDK's own per-interaction data inside a recorded response (vcrpy ignores it)."""


def opted_out(response: Mapping[str, object]) -> bool:
    """Whether this recorded response says ``typed_llm: {validate: false}``."""
    own = response.get(OWN_KEY)
    return isinstance(own, dict) and own.get("validate") is False


def _headers(response: Mapping[str, object]) -> dict[str, str]:
    headers = response.get("headers")
    found: dict[str, str] = {}
    if isinstance(headers, dict):
        for name, value in headers.items():
            values = value if isinstance(value, list) else [value]
            found[str(name).lower()] = ", ".join(str(v) for v in values)  # as httpx2 joins them
    return found


def _body(response: Mapping[str, object]) -> bytes:
    body = response.get("body")
    raw = body.get("string") if isinstance(body, dict) else None
    if isinstance(raw, bytes):
        return raw
    return raw.encode() if isinstance(raw, str) else b""


def _status(response: Mapping[str, object]) -> int:
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    return int(code) if isinstance(code, int | str) and str(code).isdigit() else 0


def _inputs(request_body: bytes | str | None) -> int:
    """How many inputs an embeddings request had (one vector is owed per input)."""
    try:
        body = json.loads(request_body or b"{}")
    except ValueError:
        return 1
    value = body.get("input") if isinstance(body, dict) else None
    if isinstance(value, list) and value and not all(isinstance(v, int) for v in value):
        return len(value)
    return 1


def _stream(accumulator: ChatAccumulator | ResponseAccumulator, content: bytes) -> None:
    accumulator.feed(content)
    accumulator.finish()


def problem_of(
    path: str, request_body: bytes | str | None, response: Mapping[str, object]
) -> tuple[str, str] | None:
    """``(model, problem)`` when the recorded ``response`` to ``path`` does not fit its model, else None."""
    status = _status(response)
    if not 200 <= status < 300 or opted_out(response):  # noqa: PLR2004  (the success statuses)
        return None
    headers = _headers(response)
    content = _body(response)
    raw = RawResponse(status_code=status, headers=headers, content=content)
    streamed = "text/event-stream" in headers.get("content-type", "")
    request_id = request_id_from(headers)
    model = ""
    try:
        if path.endswith("/chat/completions"):
            model = "a streamed ChatResponse" if streamed else "ChatResponse"
            if streamed:
                _stream(ChatAccumulator(request_id=request_id), content)
            else:
                parse_chat_response(raw)
        elif path.endswith("/embeddings"):
            model = "EmbeddingResponse"
            parse_embedding_response(raw, expected=_inputs(request_body))
        elif path.endswith("/responses"):
            model = "a streamed Response" if streamed else "Response"
            if streamed:
                _stream(ResponseAccumulator(request_id=request_id), content)
            else:
                parse_response(raw)
        else:
            return None
    except (ContentFilterError, ResponseFailedError):
        return None  # read into the model, then raised on purpose: the SDK's answer to it
    except MalformedResponseError as exc:
        return model, exc.message.split("is not a valid response: ", 1)[-1]
    except (ValidationError, ValueError) as exc:
        return model, str(exc).splitlines()[0]
    return None
