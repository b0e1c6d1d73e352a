"""Every failure is one typed error with what a person needs to act on it.

The status table is replayed from cassettes recorded against the loopback fake with scripted
answers; the failures that have no HTTP answer to record (refused connection, timeout) run against
the live fake on loopback.
"""

from __future__ import annotations

import json
import pickle
import socket
from email.utils import formatdate
from typing import Any

import openai
import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, replay
from typed_llm import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    Attempt,
    AuthenticationError,
    AzureClient,
    BadRequestError,
    ChatRequest,
    ConfigurationError,
    ConflictError,
    ContentFilterError,
    ContextWindowExceededError,
    EmbeddingRequest,
    MalformedResponseError,
    NoTextError,
    NotFoundError,
    OpenAIClient,
    OutputValidationError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RefusalError,
    RequestTimeoutError,
    RetriesExhaustedError,
    ServerError,
    ToolCall,
    TypedLLMError,
    UnprocessableEntityError,
    UserMessage,
)
from typed_llm._backoff import NoRetry
from typed_llm._wire.status import request_id_from, retry_after_from, status_error
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._replies import FakeReply

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))

STATUS_CASES: list[tuple[str, FakeReply, type[APIStatusError], dict[str, Any]]] = [
    (
        "400 invalid value",
        FakeReply.error(400, "Invalid value for 'n'.", code="invalid_value", param="n"),
        BadRequestError,
        {"code": "invalid_value", "param": "n", "type": "invalid_request_error"},
    ),
    (
        "401 bad key",
        FakeReply.error(401, "Incorrect API key.", code="invalid_api_key"),
        AuthenticationError,
        {},
    ),
    (
        "403 region",
        FakeReply.error(403, "Country not supported.", code="unsupported_country"),
        PermissionDeniedError,
        {},
    ),
    (
        "404 model",
        FakeReply.error(404, "The model does not exist.", code="model_not_found"),
        NotFoundError,
        {},
    ),
    ("408 timeout", FakeReply.error(408, "Request timed out."), RequestTimeoutError, {}),
    ("409 conflict", FakeReply.error(409, "Conflict."), ConflictError, {}),
    ("422 unprocessable", FakeReply.error(422, "Unprocessable."), UnprocessableEntityError, {}),
    (
        "429 rate limit, retry-after-ms",
        FakeReply.error(
            429,
            "Rate limit reached.",
            code="rate_limit_exceeded",
            type="requests",
            headers={"retry-after-ms": "1500", "retry-after": "2"},
        ),
        RateLimitError,
        {"retry_after": 1.5, "code": "rate_limit_exceeded"},
    ),
    (
        "429 rate limit, retry-after seconds",
        FakeReply.error(429, "Rate limit reached.", code="rate_limit_exceeded", headers={"retry-after": "7"}),
        RateLimitError,
        {"retry_after": 7.0},
    ),
    (
        "429 insufficient quota",
        FakeReply.error(
            429, "You exceeded your current quota.", code="insufficient_quota", type="insufficient_quota"
        ),
        QuotaExceededError,
        {"code": "insufficient_quota", "retry_after": None},
    ),
    ("500 server", FakeReply.error(500, "The server had an error.", type="server_error"), ServerError, {}),
    (
        "503 overloaded",
        FakeReply.error(503, "The engine is overloaded.", type="server_error"),
        ServerError,
        {},
    ),
    (
        "502 html from a proxy",
        FakeReply(
            status=502, body=b"<html><body>Bad Gateway</body></html>", headers={"content-type": "text/html"}
        ),
        ServerError,
        {
            "code": None,
            "message": "HTTP 502 with no error message",
            "body": "<html><body>Bad Gateway</body></html>",
        },
    ),
    ("418 unmapped status", FakeReply.error(418, "I'm a teapot."), APIStatusError, {}),
]


@pytest.mark.parametrize(
    ("case", "reply", "cls", "fields"), STATUS_CASES, ids=[c[0].replace(" ", "-") for c in STATUS_CASES]
)
def test_error_status_maps_to_one_typed_error(
    case: str, reply: FakeReply, cls: type[APIStatusError], fields: dict[str, Any]
) -> None:
    """Each status (and API error code) gives one error class, with status, code and request id."""
    name = "errors/" + case.replace(" ", "_").replace(",", "").replace("-", "_")
    with replay(name) as endpoints:
        endpoints.enqueue(reply)
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=endpoints.openai_base_url, backoff=NoRetry())
        with pytest.raises(TypedLLMError) as caught:
            client.complete(REQUEST)
    error = caught.value
    assert type(error) is cls
    assert isinstance(error, APIStatusError)
    assert error.status_code == reply.status
    assert error.request_id is not None
    assert error.request_id.startswith("req_")
    assert isinstance(error.__cause__, openai.APIStatusError), "chained from the openai exception"
    assert str(reply.status) in str(error)
    if isinstance(reply.body, dict):
        assert error.message == reply.body["error"]["message"]
    for attribute, value in fields.items():
        assert getattr(error, attribute) == value, attribute


def test_azure_prompt_filter_is_content_filter_error() -> None:
    """Azure's 400 content_filter becomes ContentFilterError with the categories that fired."""
    with replay("errors/azure_prompt_filter") as endpoints:
        endpoints.enqueue(FakeReply.azure_prompt_filter("self_harm", "medium"))
        client = AzureClient(endpoint=endpoints.url, api_key=FAKE_AZURE_KEY, backoff=NoRetry())
        with pytest.raises(ContentFilterError) as caught:
            client.complete(REQUEST)
    error = caught.value
    assert isinstance(error, BadRequestError)
    assert (error.stage, error.status_code, error.code, error.param) == (
        "prompt",
        400,
        "content_filter",
        "prompt",
    )
    assert error.categories == ("self_harm",)
    verdict = next(r for r in error.results if r.category == "self_harm")
    assert verdict.severity == "medium"
    assert error.request_id is not None


MALFORMED_BODIES: list[tuple[str, bytes, str]] = [
    ("not json", b"<html>oops</html>", "not a valid response"),
    (
        "cut short",
        b'{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "mod',
        "not a valid response",
    ),
    ("no choices field", b'{"id": "x", "object": "chat.completion", "created": 1, "model": "m"}', "choices"),
    (
        "empty choices",
        b'{"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}',
        "no choices",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "says"), MALFORMED_BODIES, ids=[c[0].replace(" ", "-") for c in MALFORMED_BODIES]
)
def test_malformed_success_body_is_a_typed_error(case: str, body: bytes, says: str) -> None:
    """A 200 whose body is not a completion raises MalformedResponseError with an excerpt."""
    with replay("errors/malformed_" + case.replace(" ", "_")) as endpoints:
        endpoints.enqueue(FakeReply(status=200, body=body))
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=endpoints.openai_base_url, backoff=NoRetry())
        with pytest.raises(MalformedResponseError, match=says) as caught:
            client.complete(REQUEST)
    assert caught.value.status_code == 200
    assert caught.value.body_excerpt == body[:500].decode()
    assert caught.value.request_id is not None


@pytest.mark.parametrize(
    ("case", "body", "says"),
    [
        (
            "too few vectors",
            {"object": "list", "model": "m", "data": [{"index": 0, "embedding": [0.1]}]},
            "indexes",
        ),
        (
            "bad base64",
            {
                "object": "list",
                "model": "m",
                "data": [{"index": 0, "embedding": "***"}, {"index": 1, "embedding": "***"}],
            },
            "base64",
        ),
    ],
    ids=["too-few-vectors", "bad-base64"],
)
def test_malformed_embeddings_are_typed_errors(case: str, body: dict[str, Any], says: str) -> None:
    """Vectors that do not match the inputs one to one, or that do not decode, are MalformedResponseError."""
    with replay("errors/embeddings_" + case.replace(" ", "_")) as endpoints:
        endpoints.enqueue(FakeReply(status=200, body=body))
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=endpoints.openai_base_url, backoff=NoRetry())
        with pytest.raises(MalformedResponseError, match=says):
            client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("a", "b")))


def test_refused_connection_is_api_connection_error() -> None:
    """Nothing listening on the port: APIConnectionError, chained, never an httpx2 exception."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=f"http://127.0.0.1:{port}/v1", backoff=NoRetry())
    with pytest.raises(APIConnectionError) as caught:
        client.complete(REQUEST)
    assert type(caught.value) is APIConnectionError
    assert isinstance(caught.value.__cause__, openai.APIConnectionError)


def test_slow_answer_is_api_timeout_error() -> None:
    """An answer slower than the client's timeout: APITimeoutError (a kind of APIConnectionError)."""
    with FakeAPI() as fake:
        fake.enqueue(FakeReply(status=200, body={}, delay=1.0))
        client = OpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, timeout=0.2, backoff=NoRetry()
        )
        with pytest.raises(APITimeoutError) as caught:
            client.complete(REQUEST)
    assert isinstance(caught.value, APIConnectionError)


def test_retry_after_forms() -> None:
    """retry-after-ms wins over Retry-After; seconds and HTTP dates both parse; junk is None."""
    now = 1_767_225_600.0
    assert retry_after_from({"retry-after-ms": "250"}) == 0.25
    assert retry_after_from({"Retry-After": "3"}) == 3.0
    assert retry_after_from({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == 30.0
    assert retry_after_from({"retry-after": formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert retry_after_from({"retry-after": "soon"}) is None
    assert retry_after_from({}) is None


def test_request_id_falls_back_to_azure_header() -> None:
    """x-request-id first, then Azure's apim-request-id, whatever the header case."""
    assert request_id_from({"X-Request-ID": "a", "apim-request-id": "b"}) == "a"
    assert request_id_from({"Apim-Request-Id": "b"}) == "b"
    assert request_id_from({}) is None


def test_error_body_shapes() -> None:
    """A null code, an indented body, and a body with no error object all give a usable error."""
    indented = json.dumps(
        {"error": {"message": "Bad key", "type": "invalid_request_error", "code": None}}, indent=4
    ).encode()
    error = status_error(401, {"x-request-id": "req_1"}, indented)
    assert (type(error), error.code, error.message, error.request_id) == (
        AuthenticationError,
        None,
        "Bad key",
        "req_1",
    )
    bare = status_error(500, {}, b'{"message": "upstream failed"}')
    assert (type(bare), bare.message) == (ServerError, "upstream failed")
    empty = status_error(503, {}, b"")
    assert empty.message == "HTTP 503 with no error message"


def _examples() -> list[TypedLLMError]:
    rate = status_error(
        429, {"retry-after": "2", "x-request-id": "r"}, b'{"error": {"message": "slow", "code": "x"}}'
    )
    return [
        ConfigurationError("set OPENAI_API_KEY"),
        rate,
        status_error(400, {}, b'{"error": {"message": "filtered", "code": "content_filter"}}'),
        APITimeoutError("late", request_id="r"),
        MalformedResponseError("bad", status_code=200, body_excerpt="{", request_id="r"),
        RetriesExhaustedError(
            "gave up",
            attempts=(
                Attempt(number=1, offset=0.0, duration=0.1, outcome=429, wait=2.0, wait_source="retry-after"),
            ),
            last_error=rate,
        ),
        ContextWindowExceededError(
            "too long", model="gpt-4", prompt_tokens=9000, max_output_tokens=100, context_window=8192
        ),
        RefusalError("no"),
        NoTextError("tools only"),
        OutputValidationError("bad", raw_text="{", errors=({"loc": ("a",), "msg": "missing"},)),
    ]


@pytest.mark.parametrize("error", _examples(), ids=lambda e: type(e).__name__)
def test_errors_survive_pickling(error: TypedLLMError) -> None:
    """Errors cross process pools: pickling keeps their class, message and data."""
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  (our own bytes, just made)
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__.keys() == error.__dict__.keys()
    for key, value in error.__dict__.items():
        if not isinstance(value, TypedLLMError):
            assert getattr(copy, key) == value, key


def test_error_given_as_a_string_keeps_its_message() -> None:
    """{"error": "Unauthorized"} (some gateways answer so) keeps "Unauthorized" as the message."""
    error = status_error(401, {}, b'{"error": "Unauthorized"}')
    assert (type(error), error.message) == (AuthenticationError, "Unauthorized")


def test_odd_filter_verdicts_do_not_break_the_error() -> None:
    """A filter verdict of an unexpected shape still gives a ContentFilterError, never a ValidationError."""
    body = (
        b'{"error": {"code": "content_filter", "message": "filtered", "innererror": {"content_filter_result":'
        b' {"hate": {"filtered": true, "severity": 3}, "jailbreak": {"filtered": false, "detected": "maybe"},'
        b' "custom_blocklists": [], "error": {"code": "x"}}}}}'
    )
    error = status_error(400, {}, body)
    assert isinstance(error, ContentFilterError)
    assert error.categories == ("hate",)
    assert [(r.category, r.severity, r.detected) for r in error.results] == [
        ("hate", "3", None),
        ("jailbreak", None, None),
    ]
    no_inner = status_error(400, {}, b'{"error": {"code": "content_filter", "message": "filtered"}}')
    assert isinstance(no_inner, ContentFilterError)
    assert no_inner.results == ()


def test_tool_calls_with_extra_keys_still_parse() -> None:
    """A tool call in an answer may carry more (an index, new fields): ignored, not fatal."""
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}", "x": 1},
                        }
                    ],
                },
            }
        ],
    }
    with FakeAPI() as fake:
        fake.enqueue(FakeReply(status=200, body=answer))
        response = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url).complete(REQUEST)
    calls = response.choices[0].message.tool_calls
    assert calls is not None
    assert isinstance(calls[0], ToolCall)
    assert (calls[0].id, calls[0].function.name, calls[0].function.arguments) == ("call_1", "f", "{}")


@pytest.mark.parametrize(
    ("reply", "cls"),
    [
        (FakeReply.error(404, "The model does not exist.", code="model_not_found"), NotFoundError),
        (FakeReply.error(400, "Input too long.", code="context_length_exceeded"), BadRequestError),
    ],
    ids=["404", "400"],
)
def test_embedding_errors_are_typed(reply: FakeReply, cls: type[APIStatusError]) -> None:
    """embed() maps error statuses exactly as complete() does."""
    with FakeAPI() as fake:
        fake.enqueue(reply)
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
        with pytest.raises(APIStatusError) as caught:
            client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("x",)))
    assert type(caught.value) is cls
    assert isinstance(reply.body, dict)
    assert caught.value.code == reply.body["error"]["code"]


DEEP_ARRAY = b"[" * 100_000
DEEP_ERROR = b'{"error":' * 50_000


@pytest.mark.parametrize("call", ["complete", "embed"])
def test_deeply_nested_success_body_is_malformed(call: str) -> None:
    """A 200 nested past the interpreter's stack is MalformedResponseError, never a raw RecursionError."""
    with FakeAPI() as fake:
        fake.enqueue(FakeReply(status=200, body=DEEP_ARRAY))
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry())
        send = (
            (lambda: client.complete(REQUEST))
            if call == "complete"
            else (lambda: client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("x",))))
        )
        with pytest.raises(MalformedResponseError, match="not a valid response") as caught:
            send()
    assert caught.value.status_code == 200
    assert caught.value.body_excerpt == "[" * 500
    assert not caught.value.incomplete  # the server's own answer: a retry would repeat it


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [(500, DEEP_ARRAY, ServerError), (400, DEEP_ERROR, BadRequestError)],
    ids=["500-deep-array", "400-deep-error-object"],
)
def test_deeply_nested_error_body_is_kept_unparsed(
    status: int, body: bytes, cls: type[APIStatusError]
) -> None:
    """An error status with a body nested too deep to decode is its status error, the body kept as text."""
    with FakeAPI() as fake:
        fake.enqueue(FakeReply(status=status, body=body))
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=NoRetry())
        with pytest.raises(APIStatusError) as caught:
            client.complete(REQUEST)
    assert type(caught.value) is cls
    assert caught.value.status_code == status
    assert caught.value.body == body.decode()
    assert caught.value.message == f"HTTP {status} with no error message"
    assert caught.value.code is None


def test_deeply_nested_stream_event_is_malformed() -> None:
    """A streamed event nested too deep is MalformedResponseError from the SSE parser."""
    from typed_llm._wire.operation import RawResponse  # noqa: PLC0415
    from typed_llm._wire.sse import parse_chat_stream  # noqa: PLC0415  (streaming has no public door yet)

    raw = RawResponse(status_code=200, headers={}, content=b"data: " + DEEP_ARRAY + b"\n\ndata: [DONE]\n\n")
    with pytest.raises(MalformedResponseError, match="not a chat completion chunk") as caught:
        parse_chat_stream(raw)
    assert caught.value.status_code == 200
