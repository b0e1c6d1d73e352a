"""A loopback fake of the OpenAI and Azure OpenAI HTTP APIs, for recording cassettes and testing.

``FakeAPI`` serves chat completions and embeddings on 127.0.0.1 (a free port) from a background
thread, with bodies and headers shaped like the real services' (ids, usage, ``x-request-id``,
``x-ratelimit-*``; Azure's ``apim-request-id`` and filter results). Answers are deterministic, so a
re-recorded cassette differs only where a test changed. Scripted replies (``FakeAPI.enqueue``) answer
the next requests instead, to test error statuses. Every request the fake receives is kept in
``FakeAPI.received``, so a test can assert what was sent, or that nothing was.

Routes::

    POST /v1/chat/completions                              OpenAI (Bearer key)
    POST /v1/embeddings
    POST /openai/deployments/{deployment}/chat/completions  Azure classic (api-key or Bearer,
    POST /openai/deployments/{deployment}/embeddings         ?api-version= required)
    POST /openai/v1/chat/completions                        Azure v1 (api-key or Bearer)
    POST /openai/v1/embeddings                              (and /responses: ``_fake_responses``)
"""

from __future__ import annotations

import array
import base64
import collections
import contextlib
import hashlib
import http.server
import json
import math
import re
import socket
import threading
from typing import TYPE_CHECKING, Self
from urllib.parse import parse_qs, urlsplit

from typed_llm.testing._canned import chat_answer, example, text_of
from typed_llm.testing._fake_logprobs import chat_logprobs
from typed_llm.testing._fake_responses import responses_answer, sse_frames
from typed_llm.testing._fake_usage import chat_prompt_tokens
from typed_llm.testing._replies import _AZURE_VERDICTS, FakeReply, ReceivedRequest, StreamScript

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["FakeAPI"]


_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z: "created" counts up from here, one second a call
_ROUTE = re.compile(
    r"^/(?:v1|openai/v1|openai/deployments/(?P<deployment>[^/]+))/(?P<kind>chat/completions|embeddings|responses)$"
)


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def _vector(text: str, dimensions: int) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    raw = [(seed[i % len(seed)] - 127.5) / 127.5 + 0.01 * i for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY the second waits ~40 ms for the
    # client's delayed ACK, which made half of all calls slow.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (stdlib's name)
        """Stay quiet: the tests read ``FakeAPI.received`` instead."""

    def setup(self) -> None:
        """Track the connection, so ``FakeAPI.stop`` can close it under a waiting handler."""
        super().setup()
        fake = self.server.fake
        with fake._lock:  # noqa: SLF001  (the fake's own handler)
            fake._connections.add(self.connection)  # noqa: SLF001
            if fake._stopping.is_set():  # noqa: SLF001  (registered after stop() looked: end it here)
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

    def handle(self) -> None:
        """Serve the connection; a client that resets it mid-request is not an error either."""
        with contextlib.suppress(ConnectionError):
            super().handle()

    def finish(self) -> None:
        """Untrack the connection; a client that already hung up is not an error."""
        fake = self.server.fake
        with fake._lock:  # noqa: SLF001  (the fake's own handler)
            fake._connections.discard(self.connection)  # noqa: SLF001
        with contextlib.suppress(ConnectionError):
            super().finish()

    def do_POST(self) -> None:
        """Answer one API call.

        A client that hangs up first (it timed out, or gave up on a cut-short body) is what some
        tests arrange on purpose, so writing to a closed connection ends the exchange quietly.
        """
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        split = urlsplit(self.path)
        request = ReceivedRequest(
            method="POST",
            path=split.path,
            query={k: v[0] for k, v in parse_qs(split.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        fake = self.server.fake
        status, payload, headers, reply = fake._answer(request)  # noqa: SLF001  (the fake's own handler)
        # A delay ends early when the fake stops, so stopping never waits out a slow answer.
        stopped = reply is not None and reply.delay > 0 and fake._stopping.wait(reply.delay)  # noqa: SLF001
        fault = None if reply is None else reply.fault
        if stopped or fault == "drop":
            self.close_connection = True
            return
        script = reply.stream if reply is not None else None
        if status == _OK and _asks_to_stream(request):
            self._stream(request, payload, headers, script or StreamScript())
            return
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if fault == "truncate":
                self.wfile.write(payload[: len(payload) // 2])
                self.close_connection = True
                return
            self.wfile.write(payload)
        except ConnectionError:
            self.close_connection = True

    def _stream(
        self, request: ReceivedRequest, payload: bytes, headers: dict[str, str], script: StreamScript
    ) -> None:
        """Send the answer as server-sent events, paced and faulted as ``script`` says."""
        fake = self.server.fake
        frames = sse_frames(
            json.loads(payload), request.json(), azure=request.path.startswith("/openai/"), script=script
        )
        self.close_connection = True
        try:
            self.send_response(200)
            for name, value in [(n, v) for n, v in headers.items() if n != "content-type"]:
                self.send_header(name, value)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.flush()
            for number, frame in enumerate(frames):
                if script.drop_after is not None and number >= script.drop_after:
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if script.stall_after is not None and number >= script.stall_after:
                    fake._stopping.wait()  # noqa: SLF001  (until the fake stops: a stalled stream)
                    return
                if script.frame_delay and fake._stopping.wait(script.frame_delay):  # noqa: SLF001
                    return
                self.wfile.write(frame)
                self.wfile.flush()
        except ConnectionError:
            return


_OK = 200


def _asks_to_stream(request: ReceivedRequest) -> bool:
    try:
        return request.json().get("stream") is True
    except ValueError:
        return False


class _Server(http.server.ThreadingHTTPServer):
    # Handler threads are joined by server_close: no answer outlives the fake into a later test.
    daemon_threads = False
    request_queue_size = 128  # stdlib's 5 resets some of 20 clients connecting at once
    block_on_close = True
    fake: FakeAPI


class FakeAPI:
    """The fake, as a context manager.

    ``with FakeAPI() as fake: OpenAIClient(api_key="sk-test", base_url=fake.openai_base_url)``.
    """

    def __init__(self, *, embedding_dimensions: int = 16) -> None:
        """Create the fake (not yet listening: enter it, or call ``start``).

        Args:
            embedding_dimensions: vector length when a request does not ask for ``dimensions``
                (small, so cassettes stay small).
        """
        self.received: list[ReceivedRequest] = []
        self._script: collections.deque[FakeReply] = collections.deque()
        self._keyed: dict[str, collections.deque[FakeReply]] = {}
        self._lock = threading.Lock()
        self._count = 0
        self._dimensions = embedding_dimensions
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the Azure endpoint."""
        if self._server is None:
            raise RuntimeError("the fake is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        """The base URL to give ``OpenAIClient``."""
        return f"{self.url}/v1"

    def enqueue(self, *replies: FakeReply, when: str | None = None) -> None:
        """Answer the next requests with these replies, in order, before answering normally again.

        Args:
            replies: the scripted answers.
            when: only for requests whose body contains this text (a fault script per request,
                so concurrent or interleaved calls each meet their own); None for any request.
        """
        with self._lock:
            if when is None:
                self._script.extend(replies)
            else:
                self._keyed.setdefault(when, collections.deque()).extend(replies)

    def start(self) -> None:
        """Listen on a free loopback port."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="typed-llm-fake", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening, end every open connection and wait for all threads of the fake.

        Handlers still waiting for a client's next request (keep-alive) or sleeping out a scripted
        delay are woken and end; when this returns, nothing of the fake runs any more.
        """
        if self._server is not None:
            self._server.shutdown()
            self._stopping.set()
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._stopping.clear()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- answering ------------------------------------------------------------------------------

    def _next_scripted(self, request: ReceivedRequest) -> FakeReply | None:
        for key, replies in self._keyed.items():
            if key.encode() in request.body:
                reply = replies.popleft()
                if not replies:
                    del self._keyed[key]
                return reply
        return self._script.popleft() if self._script else None

    def _answer(self, request: ReceivedRequest) -> tuple[int, bytes, dict[str, str], FakeReply | None]:
        with self._lock:
            self.received.append(request)
            self._count += 1
            number = self._count
            scripted = self._next_scripted(request)
        azure = request.path.startswith("/openai/")
        headers = self._headers(number, azure=azure)
        if scripted is not None and scripted.stream is not None:
            headers.update(scripted.headers)
            status, answer = self._route(request, number, azure=azure)
            return status, json.dumps(answer).encode(), headers, scripted
        if scripted is not None:
            headers.update(scripted.headers)
            body = scripted.body
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            return scripted.status, payload, headers, scripted
        status, answer = self._route(request, number, azure=azure)
        return status, json.dumps(answer).encode(), headers, None

    def _headers(self, number: int, *, azure: bool) -> dict[str, str]:
        request_id = hashlib.sha256(f"request-{number}".encode()).hexdigest()[:32]
        headers = {
            "content-type": "application/json",
            "x-request-id": f"req_{request_id}",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-limit-tokens": "2000000",
            "x-ratelimit-remaining-requests": str(10000 - number),
            "x-ratelimit-remaining-tokens": str(2000000 - 50 * number),
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-reset-tokens": "1ms",
        }
        if azure:
            headers["apim-request-id"] = (
                f"{request_id[:8]}-{request_id[8:12]}-{request_id[12:16]}-{request_id[16:20]}-{request_id[20:32]}"
            )
            headers["x-ms-region"] = "Loopback"
        else:
            headers["openai-processing-ms"] = "12"
            headers["openai-version"] = "2020-10-01"
        return headers

    def _route(self, request: ReceivedRequest, number: int, *, azure: bool) -> tuple[int, dict[str, object]]:  # noqa: PLR0911  (one return per route and refusal)
        match = _ROUTE.match(request.path)
        if match is None:
            return 404, {
                "error": {
                    "message": f"no route {request.path}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }
        if not self._authorized(request, azure=azure):
            return 401, {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        if match["deployment"] is not None and "api-version" not in request.query:
            return 404, {"error": {"code": "404", "message": "Resource not found"}}
        try:
            body = request.json()
        except ValueError:
            return 400, {
                "error": {
                    "message": "We could not parse the JSON body of your request.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }
        model = str(match["deployment"] or body.get("model", ""))
        if match["kind"] == "embeddings":
            return 200, self._embeddings(body, model)
        if match["kind"] == "responses":
            return responses_answer(body, model, number, example=example)
        return 200, self._chat(body, model, number, azure=azure)

    @staticmethod
    def _authorized(request: ReceivedRequest, *, azure: bool) -> bool:
        bearer = request.headers.get("authorization", "")
        if bearer.startswith("Bearer ") and len(bearer) > len("Bearer "):
            return True
        return azure and bool(request.headers.get("api-key"))

    def _chat(self, body: dict[str, object], model: str, number: int, *, azure: bool) -> dict[str, object]:
        messages = body.get("messages")
        messages = messages if isinstance(messages, list) else []
        prompt = " ".join(text_of(m.get("content")) for m in messages if isinstance(m, dict))
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        tools = body.get("tools")
        message: dict[str, object] = {"role": "assistant", "content": None, "refusal": None}
        if (
            tools
            and isinstance(tools, list)
            and body.get("tool_choice") != "none"
            and last.get("role") != "tool"
        ):
            function = tools[0]["function"]
            parameters = function.get("parameters") or {}
            arguments = json.dumps(example(parameters, parameters.get("$defs", {})) or {})
            message["tool_calls"] = [
                {
                    "id": f"call_{number:024d}",
                    "type": "function",
                    "function": {"name": function["name"], "arguments": arguments},
                }
            ]
            finish = "tool_calls"
            answer = ""
        else:
            answer = chat_answer(text_of(last.get("content")))
            response_format = body.get("response_format")
            if isinstance(response_format, dict) and response_format.get("type") == "json_object":
                answer = json.dumps({"answer": answer})
            if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
                schema = response_format.get("json_schema", {}).get("schema", {})
                answer = json.dumps(example(schema, schema.get("$defs", {})))
            max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
            finish = "stop"
            if isinstance(max_tokens, int) and _tokens(answer) > max_tokens:
                answer = " ".join(answer.split()[:max_tokens])
                finish = "length"
            message["content"] = answer
        completion_tokens = _tokens(answer) if answer else 9
        prompt_tokens = chat_prompt_tokens(body, model, _tokens(prompt) + 3 * len(messages) + 3)
        reasoning = 64 if model.startswith(("o1", "o3", "o4", "gpt-5")) else 0
        choice: dict[str, object] = {"index": 0, "message": message, "finish_reason": finish}
        choice["logprobs"] = chat_logprobs(body, message["content"])
        response: dict[str, object] = {
            "id": f"chatcmpl-fake{number:020d}",
            "object": "chat.completion",
            "created": _EPOCH + number,
            "model": f"{model}-2026-01-01",
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens + reasoning,
                "total_tokens": prompt_tokens + completion_tokens + reasoning,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0},
            },
            "system_fingerprint": "fp_fake0001",
            "service_tier": "default",
        }
        if azure:
            choice["content_filter_results"] = _AZURE_VERDICTS
            response["prompt_filter_results"] = [
                {"prompt_index": 0, "content_filter_results": _AZURE_VERDICTS}
            ]
        return response

    def _embeddings(self, body: dict[str, object], model: str) -> dict[str, object]:
        raw_inputs = body.get("input")
        inputs = [raw_inputs] if isinstance(raw_inputs, str) else list(raw_inputs or [])  # type: ignore[call-overload]  # JSON of unknown shape
        dims = body.get("dimensions")
        dimensions = dims if isinstance(dims, int) else self._dimensions
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(inputs):
            vector = _vector(str(text), dimensions)
            encoded: object = (
                base64.b64encode(array.array("f", vector).tobytes()).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(_tokens(str(text)) for text in inputs)
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
