"""What the loopback fake receives and what it can be scripted to answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

import attrs

__all__ = [
    "FakeReply",
    "Fault",
    "ReceivedRequest",
    "StreamScript",
]


_SAFE = {"filtered": False, "severity": "safe"}
_AZURE_VERDICTS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}


@attrs.frozen
class ReceivedRequest:
    """A request the fake received."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: bytes

    def json(self) -> dict[str, object]:
        """The body, decoded."""
        decoded: dict[str, object] = json.loads(self.body)
        return decoded


Fault = Literal["drop", "truncate"]
"""Transport faults a scripted reply can carry."""


@attrs.frozen
class StreamScript:
    """How the fake streams an answer: its pace, and the fault it ends with.

    Attributes:
        frame_delay: seconds between frames (a real model's pace, for time-to-first-event tests).
        drop_after: close the connection after this many frames (a stream cut short).
        stall_after: after this many frames, send nothing more until the fake stops (a stall).
        filter_after: Azure's filter stops the completion after this many words.
        error_after: a Responses stream: after this many frames, the server's ``error`` event
            (code ``server_error``), and the stream ends.
    """

    frame_delay: float = 0.0
    drop_after: int | None = None
    stall_after: int | None = None
    filter_after: int | None = None
    error_after: int | None = None


@attrs.frozen
class FakeReply:
    """A scripted answer: status, JSON body (or raw bytes) and extra headers."""

    status: int
    body: Mapping[str, object] | bytes
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (to make a client time out)."""
    fault: Fault | None = None
    """``drop``: close the connection without answering; ``truncate``: send the headers and half
    the body, then close (the client sees a body shorter than its content-length)."""
    stream: StreamScript | None = None
    """Stream the normal answer to this request with this script (``FakeReply.streamed``)."""

    @classmethod
    def streamed(
        cls,
        *,
        frame_delay: float = 0.0,
        drop_after: int | None = None,
        stall_after: int | None = None,
        filter_after: int | None = None,
        error_after: int | None = None,
    ) -> FakeReply:
        """The normal answer, streamed with this pace or fault (the request must ask to stream)."""
        script = StreamScript(frame_delay, drop_after, stall_after, filter_after, error_after)
        return cls(status=200, body={}, stream=script)

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = "invalid_request_error",  # noqa: A002  (the API's own name)
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FakeReply:
        """An error answer in OpenAI's shape: ``{"error": {message, type, param, code}}``."""
        error = {"message": message, "type": type, "param": param, "code": code}
        return cls(status=status, body={"error": error}, headers=headers or {})

    @classmethod
    def rate_limited(
        cls, retry_after: float | str | None = None, *, retry_after_ms: int | None = None
    ) -> FakeReply:
        """A 429 rate limit as OpenAI shapes it, asking to wait ``retry_after`` seconds (a number, or
        an HTTP date as a string) and/or ``retry_after_ms`` milliseconds; neither: no header.

        Enqueue a sequence to script a retry story: ``fake.enqueue(FakeReply.rate_limited(1),
        FakeReply.rate_limited(2))`` answers 429, 429, then the normal 200.
        """  # noqa: D205  (the summary names both headers)
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["retry-after"] = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        return cls.error(
            429,
            "Rate limit reached for requests. Please try again later.",
            code="rate_limit_exceeded",
            type="requests",
            headers=headers,
        )

    @classmethod
    def unavailable(cls, retry_after: float | None = None) -> FakeReply:
        """A 503 (the service is overloaded), optionally with a ``Retry-After`` in seconds."""
        headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
        return cls.error(
            503,
            "The server is overloaded or not ready yet.",
            type="server_error",
            headers=headers,
        )

    @classmethod
    def azure_prompt_filter(cls, category: str = "self_harm", severity: str = "medium") -> FakeReply:
        """Azure's 400 for a prompt its content filter blocked, as the real service shapes it."""
        verdicts: dict[str, object] = {**_AZURE_VERDICTS, "jailbreak": {"filtered": False, "detected": False}}
        verdicts[category] = {"filtered": True, "severity": severity}
        error = {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
            "content management policy. Please modify your prompt and retry.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": verdicts,
            },
        }
        return cls(status=400, body={"error": error})
