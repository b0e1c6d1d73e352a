"""Structured logging: one event per thing that happens, with the documented fields, and no secret.

Events are captured with structlog's own ``capture_logs``; calls go to the loopback fake.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from structlog.testing import capture_logs

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, configured_logging, logging_restored
from typed_llm import (
    AzureClient,
    ChatRequest,
    ExponentialBackoff,
    MemoryCache,
    NotFoundError,
    OpenAIClient,
    RetriesExhaustedError,
    UserMessage,
    _logging,
    cache_key,
    configure_logging,
)
from typed_llm._logging import DEFAULT_MAX_CONTENT_LENGTH, Later, emit, set_max_content_length
from typed_llm._redaction import redact, register_secret
from typed_llm.testing._replies import FakeReply

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from structlog.typing import EventDict

    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="log me"),))
FAST = ExponentialBackoff(wait_initial=0.001, wait_jitter=0.0)
COMMON = {"request_key", "provider", "model"}


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
    assert (response["prompt_tokens"], response["completion_tokens"], response["cached_tokens"]) == (9, 3, 0)
    assert (response["prompt_tokens_estimate"], response["token_drift"]) == (9, 0)  # the fake counts as we do
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


def test_configure_logging_json_lines_route_stdlib_too() -> None:
    """configure_logging(json=True): library events and stdlib records (openai's) as redacted JSON lines."""
    with configured_logging(json=True, level="info") as stream:
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


def test_console_renderer() -> None:
    """configure_logging(json=False): readable lines with the event name and fields."""
    with configured_logging(json=False, level=logging.DEBUG) as stream:
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


class _Keeping(logging.Handler):
    """A stdlib handler that keeps the records it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_event_that_would_reach_no_handler_is_not_built() -> None:
    """With nothing configured, a library event would reach only the library's NullHandler: it is
    not built at all. A handler added anywhere up the tree (an application's, pytest's caplog)
    receives it, built and redacted."""
    structlog.reset_defaults()
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    built: list[str] = []

    def value() -> str:
        built.append("built")
        return "v"

    root.handlers = []
    root.setLevel(logging.WARNING)
    try:
        emit(logging.WARNING, "retry_scheduled", detail=Later(value))
        assert built == []
        listener = _Keeping()
        root.addHandler(listener)
        emit(logging.WARNING, "retry_scheduled", detail=Later(value), api_key=FAKE_OPENAI_KEY)
        assert built == ["built"]
        (record,) = listener.records
        assert "retry_scheduled" in record.getMessage()
        assert FAKE_OPENAI_KEY not in record.getMessage()
    finally:
        root.handlers = handlers
        root.setLevel(level)


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


def test_logs_a_marked_value_through_configure_logging():
    import io
    from typed_llm import configure_logging

    configure_logging(stream=io.StringIO())  # the line is seen where configure_logging's handler writes it
    structlog.get_logger().info("calling", note="SEEDED, not key-shaped, so not redacted")
"""


def test_the_log_guard_fails_a_test_that_logs_a_key(pytester: pytest.Pytester) -> None:
    """The suite-wide guard itself: a test that logs a seeded key fails, through stdlib or structlog,
    also when the line is written by configure_logging's handler."""
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


def test_objects_and_tracebacks_are_redacted() -> None:
    """An object whose text holds a key, and a traceback whose message does, are redacted too."""
    secret = "sk-proj-abcdefghijklmnopqrstuvwxyz"

    class Holder:
        def __repr__(self) -> str:
            return f"Holder({secret})"

    with configured_logging(json=False, level="info") as stream:
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


def test_context_bound_by_the_application_is_redacted_in_library_events() -> None:
    """A secret the application bound in structlog's context is redacted in the library's events too."""
    with configured_logging(json=True, level="info") as stream:
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


def test_fields_named_with_an_underscore_are_redacted_too() -> None:
    """An application's ``_private`` fields and bound context are printed by both renderers: scanned too."""
    for json_lines in (True, False):
        with configured_logging(json=json_lines, level="info") as stream:
            structlog.get_logger("app").info("call", _key="sk-abcdefghijklmnopqrstuvwxyz")
            structlog.contextvars.bind_contextvars(_auth="Bearer abcdefghijklmnopqrstuv")
            try:
                structlog.get_logger("app").info("bound")
            finally:
                structlog.contextvars.clear_contextvars()
        out = stream.getvalue()
        assert ("sk-abc[redacted]" in out, "Bearer [redacted]" in out) == (True, True)
        assert "abcdefghijklmnop" not in out


# --- configure_logging: how its lines are written -----------------------------------------------------


def _json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_line_is_written_before_the_logging_call_returns() -> None:
    """No thread, no queue: the line is in the stream as soon as the call that logged it returns."""
    with configured_logging(json=True, level="info") as stream:
        emit(logging.INFO, "response", request_key="k")
        assert [line["event"] for line in _json_lines(stream)] == ["response"]
        logging.getLogger("openai").warning("stdlib")
        assert [line["event"] for line in _json_lines(stream)] == ["response", "stdlib"]


def test_a_value_the_fast_encoder_refuses_still_gets_its_line() -> None:
    """orjson writes the lines; what it refuses (an integer past 64 bits, a non-text key) falls
    back to json.dumps, and the line is still whole JSON with the value in it."""
    with configured_logging(json=True, level="info") as stream:
        structlog.get_logger("app").info("wide", n=2**70, by_number={1: "one"}, price=Decimal("0.25"))
        emit(logging.INFO, "response", request_key="k", prompt_tokens=2**64)
    app, library = _json_lines(stream)
    assert (app["n"], app["by_number"], app["price"]) == (2**70, {"1": "one"}, "Decimal('0.25')")
    assert library["prompt_tokens"] == 2**64


def test_structlog_and_stdlib_lines_keep_the_order_they_were_logged_in() -> None:
    """Library events, application events and stdlib records interleave in logging order."""
    with configured_logging(json=True, level="debug") as stream:
        for n in range(20):
            emit(logging.INFO, "library", n=n)
            logging.getLogger("some.lib").info("stdlib %d", n)
            structlog.get_logger("app").debug("app", n=n)
    events = [line["event"] for line in _json_lines(stream)]
    assert events == [name for n in range(20) for name in ("library", f"stdlib {n}", "app")]


def test_many_threads_logging_at_once_lose_and_mix_nothing() -> None:
    """6 threads, structlog and stdlib: every line once, whole (valid JSON), each thread's in order."""

    def work(thread: int) -> None:
        for n in range(100):
            structlog.get_logger().info("tick", thread=thread, n=n, text="x" * (n % 50))
            logging.getLogger("app").info("stdlib %d %d", thread, n)

    with configured_logging(json=True, level="info") as stream:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = _json_lines(stream)
    assert len(lines) == 1200
    for t in range(6):
        assert [line["n"] for line in lines if line.get("thread") == t] == list(range(100))
        assert [line["event"] for line in lines if line["event"].startswith(f"stdlib {t} ")] == [
            f"stdlib {t} {n}" for n in range(100)
        ]


def test_the_level_filters_library_application_and_stdlib_lines() -> None:
    """At warning, info and debug lines of every source are left out; warnings and errors are written."""
    with configured_logging(json=True, level="warning") as stream:
        emit(logging.INFO, "response")
        emit(logging.WARNING, "retry_scheduled")
        structlog.get_logger("app").info("app info")
        structlog.get_logger("app").error("app error")
        logging.getLogger("openai").info("stdlib info")
        logging.getLogger("openai").warning("stdlib warning")
    lines = _json_lines(stream)
    assert [line["event"] for line in lines] == ["retry_scheduled", "app error", "stdlib warning"]
    assert [line["level"] for line in lines] == ["warning", "error", "warning"]


def test_the_timestamp_is_iso_utc_when_the_event_was_logged() -> None:
    """structlog's ISO 8601 UTC text, taken when the event was logged."""
    with configured_logging(json=True, level="info") as stream:
        before = dt.datetime.now(tz=dt.UTC)
        emit(logging.INFO, "response", request_key="k")
        after = dt.datetime.now(tz=dt.UTC)
    (line,) = _json_lines(stream)
    assert line["timestamp"].endswith("Z")
    assert before <= dt.datetime.fromisoformat(line["timestamp"]) <= after


@pytest.mark.parametrize(
    ("clock_ns", "expected"),
    [
        (1_796_610_273_123_456_789, "2026-12-07T02:24:33.123457Z"),  # rounded to the microsecond
        (1_796_610_273_000_000_000, "2026-12-07T02:24:33Z"),  # isoformat leaves out a zero fraction
        (1_796_610_273_999_999_600, "2026-12-07T02:24:34Z"),  # rounded up into the next second
        (1_796_610_273_000_002_500, "2026-12-07T02:24:33.000002Z"),  # half a microsecond: to even
        (1_796_610_273_000_003_500, "2026-12-07T02:24:33.000004Z"),
    ],
)
def test_the_timestamp_text_is_the_one_datetime_writes(
    monkeypatch: pytest.MonkeyPatch, clock_ns: int, expected: str
) -> None:
    """The stamp is what ``datetime.now(UTC).isoformat()`` (structlog's ``TimeStamper``) writes then."""
    with configured_logging(json=True, level="info") as stream:
        emit(logging.INFO, "warm", request_key="k")  # a second already known: the kept text is used
        monkeypatch.setattr(time, "time_ns", lambda: clock_ns)
        emit(logging.INFO, "response", request_key="k")
        emit(logging.INFO, "again", request_key="k")
        monkeypatch.undo()
    lines = _json_lines(stream)
    assert [line["timestamp"] for line in lines[1:]] == [expected, expected]
    micros = round(clock_ns / 1000)
    written = dt.datetime.fromtimestamp(micros // 10**6, tz=dt.UTC).replace(microsecond=micros % 10**6)
    assert expected == written.isoformat().replace("+00:00", "Z")


def test_reconfiguring_replaces_the_previous_setup_without_duplicating_lines() -> None:
    """A second configure_logging: each line once, in the stream configured when it was logged.

    A logger bound under the first set-up keeps writing where it did.
    """
    first = io.StringIO()
    with configured_logging(json=True, level="info") as second:
        configure_logging(json=True, level="info", stream=first)
        bound = structlog.get_logger().bind(worker=1)
        emit(logging.INFO, "one")
        logging.getLogger("openai").warning("stdlib one")
        configure_logging(json=False, level="info", stream=first)
        configure_logging(json=True, level="info", stream=second)
        emit(logging.INFO, "two")
        logging.getLogger("openai").warning("stdlib two")
        bound.info("late")
    assert [line["event"] for line in _json_lines(first)] == ["one", "stdlib one", "late"]
    assert [line["event"] for line in _json_lines(second)] == ["two", "stdlib two"]


def test_an_event_that_cannot_be_rendered_is_replaced_not_raised() -> None:
    """A value whose text cannot be made costs its own line a replacement, and no other line."""

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no text for you")

    with configured_logging(json=True, level="info") as stream:
        emit(logging.INFO, "first")
        structlog.get_logger().info("broken", thing=Broken())
        emit(logging.INFO, "last")
    lines = _json_lines(stream)
    assert [line["event"] for line in lines] == ["first", "log_event_not_rendered", "last"]
    assert (lines[1]["original_event"], lines[1]["error_class"], lines[1]["level"]) == (
        "broken",
        "RuntimeError",
        "error",
    )


def test_a_record_that_cannot_be_formatted_is_replaced_and_its_arguments_are_not_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """stdlib's handleError would print the record's arguments on standard error, secrets and all.

    The record goes to configure_logging's handler alone (the test runner's own handlers on the
    root logger would format it first, and fail the test).
    """
    register_secret("azure-token-0123456789-SEEDED")
    thirdparty = logging.getLogger("thirdparty")
    with configured_logging(json=True, level="info") as stream:
        thirdparty.handlers, thirdparty.propagate = [logging.getLogger().handlers[-1]], False
        try:
            thirdparty.warning("auth with %s failed: %d", "azure-token-0123456789-SEEDED", "not a number")
            thirdparty.warning("and the next record")
        finally:
            thirdparty.handlers, thirdparty.propagate = [], True
    replaced, following = _json_lines(stream)
    assert (replaced["event"], replaced["logger"], replaced["error_class"], replaced["level"]) == (
        "log_record_not_formatted",
        "thirdparty",
        "TypeError",
        "error",
    )
    assert replaced["original_event"] == "auth with %s failed: %d"
    assert replaced["timestamp"].endswith("Z")
    assert following["event"] == "and the next record"
    assert "azure-token" not in stream.getvalue() + capsys.readouterr().err


class _BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(f"disk full ({len(text)} characters lost)")


def test_a_stream_that_cannot_be_written_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    """Logging never raises into the application: a failed write is said on standard error."""
    with logging_restored():
        configure_logging(json=True, level="info", stream=_BrokenStream())
        emit(logging.INFO, "lost")
        logging.getLogger("openai").warning("also lost")
    assert capsys.readouterr().err.count("a log line could not be written: OSError: disk full") == 2


def test_a_line_the_stream_cannot_encode_costs_only_itself(capsys: pytest.CaptureFixture[str]) -> None:
    """An ASCII stream and a line with 'café': the lines around it are written."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    with logging_restored():
        configure_logging(json=False, level="info", stream=stream)
        for name in ("first", "café", "last"):
            emit(logging.INFO, name)
    written = raw.getvalue().decode("ascii")
    assert ("first" in written, "caf" in written, "last" in written) == (True, False, True)
    assert "a log line could not be written: UnicodeEncodeError" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_writes_its_own_lines_and_not_its_parents(tmp_path: Path) -> None:
    """Logged before a fork: written once, by the parent. Logged in the child: by the child.

    A thread of the parent logs all the while, so the fork may land while it writes: the child's
    line is still written (the handler's lock is renewed in the child).
    """
    path = tmp_path / "log.jsonl"
    stop = threading.Event()

    def chatter() -> None:
        while not stop.is_set():
            logging.getLogger("chatter").info("busy")

    with path.open("a", encoding="utf-8") as stream, logging_restored():
        configure_logging(json=True, level="info", stream=stream)
        emit(logging.INFO, "parent, before the fork")
        busy = threading.Thread(target=chatter)
        busy.start()
        try:
            statuses = []
            for _ in range(5):
                pid = os.fork()
                if pid == 0:  # pragma: no cover  (the child; coverage does not follow it)
                    emit(logging.INFO, "child")
                    os._exit(0)
                statuses.append(_exit_status_of(pid, seconds=10))
        finally:
            stop.set()
            busy.join()
        emit(logging.INFO, "parent, after the fork")
    events = [json.loads(line)["event"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert statuses == [0] * 5
    assert [event for event in events if event != "busy"] == [
        "parent, before the fork",
        *["child"] * 5,
        "parent, after the fork",
    ]


def _exit_status_of(pid: int, seconds: float) -> int | None:
    """The child's exit code, or None if it had not ended within ``seconds`` (then it is killed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def test_background_is_accepted_but_deprecated() -> None:
    """``background=`` (the former thread) still works, with a DeprecationWarning; lines come at once."""
    with configured_logging(json=True, level="info") as stream:
        with pytest.warns(DeprecationWarning, match="background"):
            configure_logging(json=True, level="info", stream=stream, background=True)
        emit(logging.INFO, "response")
        assert [line["event"] for line in _json_lines(stream)] == ["response"]


def test_an_applications_processor_in_front_sees_library_events_redacted() -> None:
    """A processor the application puts before configure_logging's gets redacted fields and the key."""
    seen: list[dict[str, object]] = []

    def spy(_: object, __: str, event_dict: EventDict) -> EventDict:
        seen.append(dict(event_dict))
        return event_dict

    with configured_logging(json=True, level="info") as stream:
        structlog.configure(processors=[spy, *structlog.get_config()["processors"]])
        emit(logging.INFO, "response", request_key=Later(lambda: "k" * 64), note="sk-abcdefghijklmnopqrstu")
    (event,) = seen
    assert (event["request_key"], event["note"]) == ("k" * 64, "sk-abc[redacted]")
    (line,) = _json_lines(stream)
    assert line["note"] == "sk-abc[redacted]"
    assert "_typed_llm_redacted" not in line


def test_the_library_events_short_cut_writes_the_line_structlog_writes() -> None:
    """``emit`` runs only the stamp and the renderer when nothing is bound: the same line, same order.

    With context bound (``structlog.contextvars``), the whole chain runs, so the bound values are
    merged and redacted as for any event.
    """
    fields = {
        "request_key": "ab" * 32,
        "model": "gpt-4o-mini",
        "latency_ms": 1.5,
        "cache_hit": False,
        "n": None,
    }
    with configured_logging(json=True, level="info") as stream:
        emit(logging.INFO, "response", **fields)
        with structlog.contextvars.bound_contextvars(tenant="t1", api_key="sk-test-bound0123456789abcdef"):
            emit(logging.INFO, "response", **fields)
        installed = _logging._installed  # the whole chain, run as emit ran it before the short cut
        assert installed is not None
        event: Any = {"logger": "typed_llm", **fields, "event": "response"}
        for processor in installed.chain:
            event = processor(None, "info", event)
    short_cut, bound = (json.loads(line) for line in stream.getvalue().splitlines())
    chain = json.loads(event)
    for line in (short_cut, chain, bound):
        del line["timestamp"]
    assert list(short_cut.items()) == list(chain.items())
    assert bound == {**chain, "tenant": "t1", "api_key": "[redacted]"}


def test_an_event_of_the_library_that_cannot_be_rendered_is_replaced_not_raised() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no text for you")

    with configured_logging(json=True, level="info") as stream:
        emit(logging.INFO, "broken", thing=Broken())
        emit(logging.INFO, "last")
    lines = _json_lines(stream)
    assert [line["event"] for line in lines] == ["log_event_not_rendered", "last"]
