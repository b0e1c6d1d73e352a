"""Structured logging: one event per thing that happens, with the documented fields, and no secret.

Events are captured with structlog's own ``capture_logs``; calls go to the loopback fake.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from structlog.testing import capture_logs

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, configured_logging
from typed_llm import (
    AzureClient,
    ChatRequest,
    ExponentialBackoff,
    MemoryCache,
    NotFoundError,
    OpenAIClient,
    RetriesExhaustedError,
    UserMessage,
    cache_key,
)
from typed_llm._fake import FakeAPI, FakeReply
from typed_llm._logging import (
    DEFAULT_MAX_CONTENT_LENGTH,
    emit,
    redact,
    register_secret,
    set_max_content_length,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, MutableMapping

    from structlog.typing import EventDict

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="log me"),))
FAST = ExponentialBackoff(wait_initial=0.001, wait_jitter=0.0)
COMMON = {"request_key", "provider", "model"}


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with FakeAPI() as running:
        yield running


def _client(fake: FakeAPI, **options: Any) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, backoff=FAST, **options)


def _events(logs: list[MutableMapping[str, Any]]) -> list[str]:
    return [log["event"] for log in logs]


def test_plain_call_logs_request_then_response(fake: FakeAPI) -> None:
    """A plain call: one request event (debug) and one response event (info) with the documented fields."""
    with capture_logs() as logs:
        _client(fake).complete(REQUEST)
    assert _events(logs) == ["request", "response"]
    request, response = logs
    key = cache_key(REQUEST, f"openai {fake.openai_base_url}")
    assert request["log_level"] == "debug"
    assert (request["request_key"], request["provider"], request["model"]) == (key, "openai", "gpt-4o-mini")
    assert request["contents"] == ["user: log me"]
    assert response["log_level"] == "info"
    assert response.keys() >= COMMON | {
        "attempt",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "reasoning_tokens",
        "finish_reason",
        "request_id",
        "status_code",
    }
    assert (response["attempt"], response["status_code"], response["finish_reason"]) == (1, 200, "stop")
    assert (response["prompt_tokens"], response["completion_tokens"], response["cached_tokens"]) == (8, 3, 0)
    assert response["request_id"].startswith("req_")
    assert response["latency_ms"] > 0
    assert response["request_key"] == key


def test_azure_events_name_the_deployment(fake: FakeAPI) -> None:
    """Azure events carry the deployment as well as the model."""
    client = AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, deployments={"gpt-4o-mini": "chat-prod"})
    with capture_logs() as logs:
        client.complete(REQUEST)
    assert [(log["provider"], log["model"], log["deployment"]) for log in logs] == [
        ("azure", "gpt-4o-mini", "chat-prod")
    ] * 2


def test_cache_hit_is_one_call_that_sends_nothing(fake: FakeAPI) -> None:
    """A hit is the call's request and response events around a cache_hit; the response says
    the cache answered, with no attempt and no status; nothing is sent."""
    client = _client(fake, cache=MemoryCache())
    client.complete(REQUEST)
    with capture_logs() as logs:
        client.complete(REQUEST)
    assert _events(logs) == ["request", "cache_hit", "response"]
    hit, response = logs[1], logs[2]
    assert hit["log_level"] == response["log_level"] == "info"
    assert hit.keys() >= COMMON
    assert hit["request_key"] == cache_key(REQUEST, f"openai {fake.openai_base_url}")
    assert (response["cache_hit"], response["attempt"], response["status_code"]) == (True, 0, None)
    assert response["request_key"] == hit["request_key"]
    assert response["completion_tokens"] is not None
    assert len(fake.received) == 1


def test_cache_miss_then_request_and_response(fake: FakeAPI) -> None:
    """A miss is logged (debug), then the call's own events."""
    with capture_logs() as logs:
        _client(fake, cache=MemoryCache()).complete(REQUEST)
    assert _events(logs) == ["request", "cache_miss", "response"]
    assert logs[2]["cache_hit"] is False
    assert len({log["request_key"] for log in logs}) == 1


def test_retried_call_logs_each_retry(fake: FakeAPI) -> None:
    """Each retry is one retry_scheduled event (attempt, wait, cause); the response counts the attempts."""
    fake.enqueue(FakeReply.error(503, "down"), FakeReply.error(429, "slow", headers={"retry-after-ms": "7"}))
    with capture_logs() as logs:
        _client(fake).complete(REQUEST)
    assert _events(logs) == ["request", "retry_scheduled", "retry_scheduled", "response"]
    first, second = logs[1], logs[2]
    assert first["log_level"] == "warning"
    assert first.keys() >= COMMON | {"attempt", "wait_s", "error_class", "status_code", "request_id"}
    assert (first["attempt"], first["error_class"], first["status_code"]) == (1, "ServerError", 503)
    assert (second["attempt"], second["error_class"], second["wait_s"]) == (2, "RateLimitError", 0.007)
    assert logs[3]["attempt"] == 3


def test_failed_call_logs_one_error(fake: FakeAPI) -> None:
    """A failed call: one error event with the error class, status, code and request id."""
    fake.enqueue(FakeReply.error(404, "no such model", code="model_not_found"))
    with capture_logs() as logs, pytest.raises(NotFoundError):
        _client(fake).complete(REQUEST)
    assert _events(logs) == ["request", "error"]
    error = logs[1]
    assert error["log_level"] == "error"
    assert (error["error_class"], error["status_code"], error["code"], error["attempt"]) == (
        "NotFoundError",
        404,
        "model_not_found",
        1,
    )
    assert error["request_id"].startswith("req_")


def test_exhausted_call_names_the_last_error(fake: FakeAPI) -> None:
    """When retries run out, the error event names both RetriesExhaustedError and the last failure."""
    fake.enqueue(*[FakeReply.error(500, "down")] * 2)
    client = OpenAIClient(
        api_key=FAKE_OPENAI_KEY,
        base_url=fake.openai_base_url,
        backoff=ExponentialBackoff(attempts=2, wait_initial=0),
    )
    with capture_logs() as logs, pytest.raises(RetriesExhaustedError):
        client.complete(REQUEST)
    assert _events(logs) == ["request", "retry_scheduled", "error"]
    assert (logs[2]["error_class"], logs[2]["last_error_class"], logs[2]["attempt"]) == (
        "RetriesExhaustedError",
        "ServerError",
        2,
    )


def test_contents_are_cut_to_the_configured_length(fake: FakeAPI) -> None:
    """Message contents appear only in the debug request event, cut to the display length."""
    long = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="x" * 500),))
    try:
        set_max_content_length(10)
        with capture_logs() as logs:
            _client(fake).complete(long)
    finally:
        set_max_content_length(DEFAULT_MAX_CONTENT_LENGTH)
    assert logs[0]["contents"] == ["user: " + "x" * 10 + "…"]
    assert "x" * 11 not in repr(logs[1])


def test_secrets_are_redacted_from_every_event(fake: FakeAPI) -> None:
    """A key pasted into a prompt, a registered Azure key and a bearer token never reach an event."""
    azure_key = "azure0key0not0shaped0like0anything0SEEDED"
    register_secret(azure_key)
    prompt = f"my key is {FAKE_OPENAI_KEY} and {azure_key}; header Bearer abc.def.SEEDED0123"
    with capture_logs() as logs:
        _client(fake).complete(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=prompt),)))
        emit(
            logging.INFO,
            "custom",
            api_key="plain",
            nested={"authorization": "x"},
            text=f"sk-abcdefghijklmnop{azure_key}",
        )
    text = repr(logs)
    assert "SEEDED" not in text
    assert "sk-abcdefghijklmnop" not in text
    assert "[redacted]" in logs[0]["contents"][0]
    assert (logs[-1]["api_key"], logs[-1]["nested"]) == ("[redacted]", {"authorization": "[redacted]"})


def test_redact_is_a_structlog_processor() -> None:
    """redact works on an event dict, as a processor in any structlog pipeline."""
    event = redact(
        None, "info", {"event": "x", "url": "https://h/p?api-version=1&api-key=abcdef123456", "n": 3}
    )
    assert event == {"event": "x", "url": "https://h/p?api-version=1&api-key=[redacted]", "n": 3}


BACKGROUND = pytest.mark.parametrize("background", [True, False], ids=["background", "at-once"])
"""configure_logging's two ways of writing, which must write the same lines."""


@BACKGROUND
def test_configure_logging_json_lines_route_stdlib_too(background: bool) -> None:
    """configure_logging(json=True): library events and stdlib records (openai's) as redacted JSON lines."""
    with configured_logging(json=True, level="info", background=background) as stream:
        emit(logging.INFO, "response", request_key="k", provider="openai", model="m")
        emit(logging.DEBUG, "request", request_key="k")
        logging.getLogger("openai").warning("retrying with Bearer abcdefghijklmnopqrstuvwx")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["response", "retrying with Bearer [redacted]"]
    assert "abcdefghijklmnop" not in stream.getvalue()
    assert lines[0]["level"] == "info"
    assert lines[0]["logger"] == "typed_llm"
    assert lines[1]["logger"] == "openai"
    assert "timestamp" in lines[0]


@BACKGROUND
def test_console_renderer(background: bool) -> None:
    """configure_logging(json=False): readable lines with the event name and fields."""
    with configured_logging(json=False, level=logging.DEBUG, background=background) as stream:
        emit(logging.INFO, "cache_hit", request_key="abc", provider="openai", model="m")
    assert "cache_hit" in stream.getvalue()
    assert "request_key=abc" in stream.getvalue()


def test_library_is_silent_when_nothing_is_configured(
    fake: FakeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """With structlog and logging left alone, a call prints nothing (a library must not)."""
    structlog.reset_defaults()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    try:
        fake.enqueue(FakeReply.error(503, "down"))
        _client(fake).complete(REQUEST)
    finally:
        root.setLevel(level)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")


GUARDED_SUITE = """
import logging

import structlog
from helpers import FAKE_OPENAI_KEY


def test_logs_a_key_through_stdlib():
    logging.getLogger("some.app").debug("calling with %s", FAKE_OPENAI_KEY)


def test_logs_a_key_through_structlog():
    structlog.get_logger().info("calling", key=FAKE_OPENAI_KEY)


def test_logs_nothing_secret():
    logging.getLogger("some.app").info("all fine")


def test_logs_a_marked_value_through_the_background_writer():
    import io
    from typed_llm import configure_logging

    configure_logging(stream=io.StringIO())  # queued: written by the writer, after the test's body
    structlog.get_logger().info("calling", note="SEEDED, not key-shaped, so not redacted")
"""


def test_the_log_guard_fails_a_test_that_logs_a_key(pytester: pytest.Pytester) -> None:
    """The suite-wide guard itself: a test that logs a seeded key fails, through stdlib or structlog,
    also when configure_logging's writer writes the line after the test's body ended."""
    tests = Path(__file__).parent
    pytester.makeconftest((tests / "conftest.py").read_text())
    pytester.makepyfile(helpers=(tests / "helpers.py").read_text(), test_guarded=GUARDED_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*a seeded key reached a log line: some.app: calling with sk-test-*",
            "*a seeded key reached a log line: *note=*SEEDED, not key-shaped*",
        ]
    )


def test_redaction_is_safe_under_threads(fake: FakeAPI) -> None:
    """Token providers register every token while other threads log: no call fails, none leaks."""
    import threading  # noqa: PLC0415

    counter = iter(range(1_000_000))
    tokens: list[str] = []

    def token() -> str:
        value = f"fresh-token-{next(counter):08d}-abcdef"
        tokens.append(value)
        return value

    client = AzureClient(endpoint=fake.url, token_provider=token)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(40):
                client.complete(REQUEST)
        except BaseException as exc:  # noqa: BLE001  (the failure under test is any exception)
            failures.append(exc)

    with capture_logs() as logs:
        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    text = repr(logs)
    assert not any(value in text for value in tokens[-50:])


@BACKGROUND
def test_objects_and_tracebacks_are_redacted(background: bool) -> None:
    """An object whose text holds a key, and a traceback whose message does, are redacted too.

    In the background the exception is rendered after the ``except`` block ended: the writer must
    have been handed it where it was logged.
    """
    secret = "sk-proj-abcdefghijklmnopqrstuvwxyz"

    class Holder:
        def __repr__(self) -> str:
            return f"Holder({secret})"

    with configured_logging(json=False, level="info", background=background) as stream:
        emit(logging.INFO, "custom", thing=Holder(), things={secret})
        try:
            raise ValueError(f"bad key {secret}")  # noqa: TRY301  (a traceback to render)
        except ValueError:
            structlog.get_logger("app").exception("failed")
            logging.getLogger("app.stdlib").exception("failed too")
    out = stream.getvalue()
    assert "failed" in out
    assert "failed too" in out
    assert "ValueError" in out
    assert secret not in out
    assert "sk-proj-abcdefghijklmnop" not in out


@BACKGROUND
def test_context_bound_by_the_application_is_redacted_in_library_events(background: bool) -> None:
    """A secret the application bound in structlog's context is redacted in the library's events too.

    The context is cleared before the background writer renders the event: it must have been taken
    where the event was logged.
    """
    with configured_logging(json=True, level="info", background=background) as stream:
        structlog.contextvars.bind_contextvars(session="Bearer abcdefghijklmnopqrstuv")
        try:
            emit(logging.INFO, "response", request_key="k", provider="openai", model="m")
        finally:
            structlog.contextvars.clear_contextvars()
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["session"] == "Bearer [redacted]"
    assert "_typed_llm_redacted" not in line


def test_fields_added_by_the_applications_processors_are_redacted_in_library_events() -> None:
    """A processor of the application's that runs before ``redact`` and adds a secret to a library
    event: the field is scanned (only the fields ``emit`` cleaned itself are skipped), and the mark
    ``emit`` sets for ``redact`` never reaches the output.
    """

    def add_header(_: object, __: str, event_dict: EventDict) -> EventDict:
        event_dict["upstream"] = "Authorization: Bearer abcdefghijklmnopqrstuv"
        return event_dict

    with_capture = structlog.testing.LogCapture()
    structlog.configure(processors=[add_header, redact, with_capture])
    try:
        emit(
            logging.INFO,
            "response",
            request_key="k",
            provider="openai",
            model="m",
            note="sk-abcdefghijklmnop",
        )
    finally:
        structlog.reset_defaults()
    (event,) = with_capture.entries
    assert event["upstream"] == "Authorization: Bearer [redacted]"
    assert event["note"] == "sk-abc[redacted]"
    assert not [key for key in event if key.startswith("_typed_llm")]


@BACKGROUND
def test_fields_named_with_an_underscore_are_redacted_too(background: bool) -> None:
    """An application's ``_private`` fields and bound context are printed by both renderers: scanned too."""
    for json_lines in (True, False):
        with configured_logging(json=json_lines, level="info", background=background) as stream:
            structlog.get_logger("app").info("call", _key="sk-abcdefghijklmnopqrstuvwxyz")
            structlog.contextvars.bind_contextvars(_auth="Bearer abcdefghijklmnopqrstuv")
            try:
                structlog.get_logger("app").info("bound")
            finally:
                structlog.contextvars.clear_contextvars()
        out = stream.getvalue()
        assert ("sk-abc[redacted]" in out, "Bearer [redacted]" in out) == (True, True)
        assert "abcdefghijklmnop" not in out
