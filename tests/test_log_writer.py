"""configure_logging's writer: lines written later in batches, yet in order, complete, and never lost.

The writer is driven through ``configure_logging`` where a user would see its behaviour, and built
directly (``LogWriter``) where a test needs an interval it can outwait: a writer that waits a minute
between batches shows which lines were written for another reason (a warning, a full queue).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING

import pytest
import structlog
from structlog.testing import capture_logs

from helpers import FAKE_OPENAI_KEY, configured_logging, logging_restored
from typed_llm import ChatRequest, OpenAIClient, UserMessage, cache_key, configure_logging, flush_logs
from typed_llm._fake import FakeAPI
from typed_llm._log_writer import LogWriter, capture, format_time
from typed_llm._logging import Later, emit, redact

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from structlog.typing import EventDict

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="log me later"),))
A_MINUTE = 60.0
"""An interval no test waits out: lines written before it were written for another reason."""


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with FakeAPI() as running:
        yield running


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _run_python(*arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run Python in a child process, which must succeed: a hang there fails the test by its timeout."""
    result = subprocess.run(  # noqa: PLW1510  (the exit status is checked below)
        [sys.executable, *arguments], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def slow_writer() -> Iterator[tuple[LogWriter, io.StringIO]]:
    """A background writer that waits a minute between batches, behind a structlog pipeline."""
    stream = io.StringIO()
    writer = LogWriter(
        stream, [format_time, redact, structlog.processors.JSONRenderer()], background=True, interval=A_MINUTE
    )
    structlog.configure(
        processors=[structlog.processors.add_log_level, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=writer,
        cache_logger_on_first_use=False,
    )
    try:
        yield writer, stream
    finally:
        writer.close()
        structlog.reset_defaults()


def test_the_background_thread_writes_without_being_asked(fake: FakeAPI) -> None:
    """A call's response line reaches the stream on its own, soon, with the key the writer computed."""
    with configured_logging(json=True, level="info") as stream:
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url).complete(REQUEST)
        assert _wait_for(lambda: '"response"' in stream.getvalue())
    (line,) = _json_lines(stream)
    assert line["request_key"] == cache_key(REQUEST, f"openai {fake.openai_base_url}")
    assert "Later" not in stream.getvalue()


def test_info_lines_wait_for_the_batch(slow_writer: tuple[LogWriter, io.StringIO]) -> None:
    """An info event is queued, not written, until its batch (here: flush) comes."""
    writer, stream = slow_writer
    structlog.get_logger().info("queued", n=1)
    time.sleep(0.2)
    assert stream.getvalue() == ""
    writer.flush()
    assert [line["event"] for line in _json_lines(stream)] == ["queued"]


def test_a_warning_wakes_the_writer_at_once(slow_writer: tuple[LogWriter, io.StringIO]) -> None:
    """A warning (and what was queued before it) is written long before the next batch was due."""
    _, stream = slow_writer
    log = structlog.get_logger()
    log.info("before")
    log.warning("trouble", code="x")
    assert _wait_for(lambda: "trouble" in stream.getvalue())
    assert [line["event"] for line in _json_lines(stream)] == ["before", "trouble"]


def test_a_full_queue_is_written_by_the_thread_that_logs() -> None:
    """Past max_pending queued items, logging writes them itself: memory stays bounded."""
    stream = io.StringIO()
    writer = LogWriter(
        stream, [structlog.processors.JSONRenderer()], background=True, interval=A_MINUTE, max_pending=3
    )
    try:
        for n in range(3):
            writer.msg(("info", {"event": "e", "n": n}))
        assert [line["n"] for line in _json_lines(stream)] == [0, 1, 2]
    finally:
        writer.close()


def test_structlog_and_stdlib_lines_keep_the_order_they_were_logged_in() -> None:
    """Events and stdlib records share one queue: the output is in logging order."""
    with configured_logging(json=True, level="debug") as stream:
        for n in range(20):
            emit(logging.INFO, "library", n=n)
            logging.getLogger("some.lib").info("stdlib %d", n)
            structlog.get_logger("app").debug("app", n=n)
    events = [line["event"] for line in _json_lines(stream)]
    expected = [name for n in range(20) for name in ("library", f"stdlib {n}", "app")]
    assert events == expected


def test_the_timestamp_is_when_the_event_was_logged() -> None:
    """A line written later still says when it was logged (structlog's ISO 8601 UTC text)."""
    with configured_logging(json=True, level="info") as stream:
        before = dt.datetime.now(tz=dt.UTC)
        emit(logging.INFO, "response", request_key="k")
        after = dt.datetime.now(tz=dt.UTC)
        time.sleep(0.3)
    (line,) = _json_lines(stream)
    stamp = str(line["timestamp"])
    assert stamp.endswith("Z")
    assert before <= dt.datetime.fromisoformat(stamp) <= after


def test_reconfiguring_writes_the_old_lines_to_the_old_stream() -> None:
    """configure_logging again: what was queued goes where it was meant to, nothing twice or lost."""
    first = io.StringIO()
    with configured_logging(json=True, level="info") as second:
        configure_logging(json=True, level="info", stream=first)
        emit(logging.INFO, "one")
        configure_logging(json=True, level="info", stream=second)
        emit(logging.INFO, "two")
    assert [line["event"] for line in _json_lines(first)] == ["one"]
    assert [line["event"] for line in _json_lines(second)] == ["two"]


def test_an_event_that_cannot_be_rendered_is_replaced_not_lost() -> None:
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
    assert (lines[1]["original_event"], lines[1]["error_class"]) == ("broken", "RuntimeError")


class _BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(f"disk full ({len(text)} characters lost)")


def test_a_stream_that_cannot_be_written_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    """Logging never raises into the application: a failed write is said on standard error."""
    with logging_restored():
        configure_logging(json=True, level="info", stream=_BrokenStream())
        emit(logging.INFO, "lost")
        structlog.get_logger().error("also lost")  # written at once by the woken thread
    assert "log line(s) could not be written: OSError: disk full" in capsys.readouterr().err


def test_many_threads_logging_at_once_lose_and_duplicate_nothing() -> None:
    """8 threads x 250 events: every line once, whole (no two lines mixed), each thread's in order."""

    def work(thread: int) -> None:
        log = structlog.get_logger()
        for n in range(250):
            log.info("tick", thread=thread, n=n, text="x" * (n % 50))

    with configured_logging(json=True, level="info") as stream:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = _json_lines(stream)
    assert len(lines) == 2000
    for t in range(8):
        assert [line["n"] for line in lines if line["thread"] == t] == list(range(250))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_writes_its_own_lines_and_not_its_parents(tmp_path: Path) -> None:
    """Queued before a fork: written once, by the parent. Logged in the child: written by the child."""
    path = tmp_path / "log.jsonl"
    with path.open("a", encoding="utf-8") as stream, logging_restored():
        configure_logging(json=True, level="info", stream=stream)
        emit(logging.INFO, "parent, before the fork")
        pid = os.fork()
        if pid == 0:  # the child: log, write, and leave without running the parent's clean-up
            emit(logging.INFO, "child")
            flush_logs()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        emit(logging.INFO, "parent, after the fork")
    assert os.waitstatus_to_exitcode(status) == 0
    events = sorted(json.loads(line)["event"] for line in path.read_text(encoding="utf-8").splitlines())
    assert events == ["child", "parent, after the fork", "parent, before the fork"]


EXITING = """
import logging, sys
from typed_llm import configure_logging
from typed_llm._logging import emit

configure_logging(json=True, level="info", stream=sys.stdout)
for n in range(100):
    emit(logging.INFO, "queued", n=n)
logging.getLogger("app").info("stdlib too")
{ending}
"""


@pytest.mark.parametrize(
    "ending",
    ["pass", "raise SystemExit(3)", "raise RuntimeError('crash')", "logging.getLogger().handlers.clear()"],
    ids=["normal exit", "sys.exit", "uncaught exception", "stdlib handler removed"],
)
def test_queued_lines_are_written_at_exit(ending: str) -> None:
    """A process that ends, however it ends short of being killed, writes what it queued first."""
    script = textwrap.dedent(EXITING).format(ending=ending)
    result = subprocess.run(  # noqa: PLW1510  (the exit status is checked below)
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("n") for line in lines[:100]] == list(range(100))
    assert [line["event"] for line in lines[100:]] == ["stdlib too"]
    assert result.returncode in {0, 1, 3}


def test_at_once_writes_before_the_logging_call_returns() -> None:
    """background=False: the line is in the stream as soon as the call that logged it returns."""
    with configured_logging(json=True, level="info", background=False) as stream:
        emit(logging.INFO, "now")
        assert [line["event"] for line in _json_lines(stream)] == ["now"]


def test_an_exception_is_taken_where_it_was_logged() -> None:
    """exc_info=True means the exception being handled then; the writer renders it later, outside."""
    with configured_logging(json=True, level="info") as stream:
        try:
            raise ValueError("the cause")  # noqa: TRY301  (an exception being handled)
        except ValueError:
            structlog.get_logger().info("handled", exc_info=True)
        structlog.get_logger().info("no exception now", exc_info=True)
    handled, calm = _json_lines(stream)
    assert "ValueError: the cause" in str(handled["exception"])
    assert "exception" not in calm
    assert "exc_info" not in calm


# --- what a review of the first version found -------------------------------------------------------


def test_an_applications_processor_in_front_sees_library_events_redacted() -> None:
    """A processor the application puts before configure_logging's gets redacted fields and the key.

    Only the exact pipeline configure_logging installed lets its writer do the redaction later.
    """
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


def test_capture_logs_over_configure_logging_captures_redacted_events() -> None:
    """structlog's capture_logs keeps configure_logging's factory: the library still redacts first."""
    with configured_logging(json=True, level="info"), capture_logs() as logs:
        emit(logging.INFO, "response", request_key=Later(lambda: "k"), note="Bearer abcdefghijklmnopqrstuv")
    assert [(log["request_key"], log["note"]) for log in logs] == [("k", "Bearer [redacted]")]


REENTRANT = """
import io, json, logging, sys, threading, time
import structlog
from typed_llm import configure_logging, flush_logs

class LogsWhenShown:
    # A value whose text logs, through structlog and stdlib, while it is being rendered.
    def __repr__(self):
        time.sleep(0.02)
        structlog.get_logger().info("logged from repr")
        logging.getLogger("from.repr").warning("stdlib from repr")
        return "shown"

stream = io.StringIO()
configure_logging(json=True, level="info", stream=stream, background={background})
stop = threading.Event()

def chatter():
    while not stop.is_set():
        logging.getLogger("busy").warning("tick")

if {with_chatter}:
    busy = threading.Thread(target=chatter)
    busy.start()
for _ in range(5):
    structlog.get_logger().info("outer", thing=LogsWhenShown())
stop.set()
if {with_chatter}:
    busy.join()
flush_logs()
events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
print(json.dumps([event for event in events if event != "tick"]))
"""


@pytest.mark.parametrize(
    ("background", "with_chatter"),
    [(True, False), (False, False), (True, True), (False, True)],
    ids=[
        "background",
        "at-once",
        "background, stdlib from another thread",
        "at-once, stdlib from another thread",
    ],
)
def test_a_value_that_logs_while_rendered_does_not_deadlock(background: bool, with_chatter: bool) -> None:
    """Logging from inside a rendering queues the line behind the one being written, while another
    thread logs through stdlib too (stdlib's handler lock must not be held around the writer's).

    Run in a child process: a deadlock fails the test by its timeout instead of hanging the suite.
    """
    script = textwrap.dedent(REENTRANT).format(background=background, with_chatter=with_chatter)
    result = _run_python("-c", script, timeout=60)
    events = json.loads(result.stdout)
    if background:  # the value is shown when its line is rendered, after the five were queued
        assert events == ["outer"] * 5 + ["logged from repr", "stdlib from repr"] * 5
    else:
        assert events == ["outer", "logged from repr", "stdlib from repr"] * 5


class _NoText:
    def __str__(self) -> str:
        raise RuntimeError("no text")

    __repr__ = __str__


def test_the_writer_thread_survives_an_event_it_cannot_even_name() -> None:
    """An event whose very name cannot become text: replaced, and the thread goes on writing."""
    with configured_logging(json=True, level="info") as stream:
        structlog.get_logger().info("before")
        structlog.get_logger().info(_NoText())
        structlog.get_logger().warning("after")  # wakes the thread, which must still be there
        assert _wait_for(lambda: "after" in stream.getvalue())
    events = [(line["event"], line.get("original_event")) for line in _json_lines(stream)]
    assert events == [("before", None), ("log_event_not_rendered", "?"), ("after", None)]


def test_a_line_the_stream_cannot_encode_costs_only_itself(capsys: pytest.CaptureFixture[str]) -> None:
    """An ASCII stream and a line with 'café': the other lines of the batch are written."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    with logging_restored():
        configure_logging(json=False, level="info", stream=stream)
        for name in ("first", "café", "last"):
            emit(logging.INFO, name)
    written = raw.getvalue().decode("ascii")
    assert ("first" in written, "caf" in written, "last" in written) == (True, False, True)
    assert "1 log line(s) could not be encoded" in capsys.readouterr().err


def _log_in_a_child() -> None:
    emit(logging.INFO, "from the multiprocessing child")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_multiprocessing_child_writes_its_queue_before_it_ends(tmp_path: Path) -> None:
    """multiprocessing ends a forked child with os._exit (no atexit): its lines are written anyway."""
    path = tmp_path / "log.jsonl"
    with path.open("a", encoding="utf-8") as stream, logging_restored():
        configure_logging(json=True, level="info", stream=stream)
        child = multiprocessing.get_context("fork").Process(target=_log_in_a_child)
        child.start()
        child.join(60)
    assert child.exitcode == 0
    events = [json.loads(line)["event"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert events == ["from the multiprocessing child"]


def test_reconfiguring_stops_the_old_writers_thread() -> None:
    """Each configure_logging closes the writer before it: one writer thread at most stays."""

    def writer_threads() -> int:
        return sum(thread.name == "typed_llm-log-writer" for thread in threading.enumerate())

    with configured_logging(json=True, level="info"):
        for n in range(4):
            configure_logging(json=True, level="info", stream=io.StringIO())
            emit(logging.INFO, "starts a thread", n=n)
        assert _wait_for(lambda: writer_threads() <= 1)


def test_a_logger_bound_before_reconfiguring_writes_at_once_to_its_old_stream() -> None:
    """A logger bound under an earlier configure_logging keeps writing where it did, with no loss."""
    first = io.StringIO()
    with configured_logging(json=True, level="info") as second:
        configure_logging(json=True, level="info", stream=first)
        bound = structlog.get_logger().bind(worker=1)
        configure_logging(json=True, level="info", stream=second)
        bound.info("late")
        assert [line["event"] for line in _json_lines(first)] == ["late"]
    assert second.getvalue() == ""


# --- what a second review found ---------------------------------------------------------------------


def _exit_status_of(pid: int, seconds: float) -> int | None:
    """The child's exit code, or None if it had not ended within ``seconds`` (then it is killed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


class _LockedStream(io.StringIO):
    """A stream that holds a lock of its own while it writes, slowly, as a buffered file does."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.writing = threading.Event()

    def write(self, text: str) -> int:
        with self.lock:
            self.writing.set()
            time.sleep(0.2)
            return super().write(text)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_fork_waits_for_the_batch_being_written() -> None:
    """A child forked while the writer thread writes would inherit the stream's lock held, and wait
    for it forever on its first line: the fork waits for the batch to be written instead."""
    stream = _LockedStream()
    writer = LogWriter(stream, [structlog.processors.JSONRenderer()], background=True, interval=A_MINUTE)
    try:
        writer.submit_line("parent", urgent=True)  # wakes the thread, which writes for 0.2 s
        assert stream.writing.wait(5)
        pid = os.fork()
        if pid == 0:  # the child: one line of its own, written at once, then leave
            writer.submit_line("child", urgent=False)
            writer.flush()
            os._exit(0)
        status = _exit_status_of(pid, seconds=10)
    finally:
        writer.close()
    assert status == 0
    assert stream.getvalue() == "parent\n"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_fork_does_not_wait_for_a_batch_being_rendered() -> None:
    """Only a write in progress holds a fork back: here the rendering waits for the fork to return
    (for 10 s at most), so a fork that waited for the rendering would leave it waiting in vain."""
    rendering, forked = threading.Event(), threading.Event()
    saw_the_fork: list[bool] = []

    def render_after_the_fork(_: object, __: str, event_dict: EventDict) -> EventDict:
        rendering.set()
        saw_the_fork.append(forked.wait(10))
        return event_dict

    stream = io.StringIO()
    writer = LogWriter(
        stream,
        [render_after_the_fork, structlog.processors.JSONRenderer()],
        background=True,
        interval=A_MINUTE,
    )
    try:
        writer.msg(("warning", {"event": "rendered slowly"}))  # a warning: the thread renders it now
        assert rendering.wait(5)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        forked.set()
        status = _exit_status_of(pid, seconds=10)
    finally:
        writer.close()
    assert (status, saw_the_fork) == (0, [True])
    assert [line["event"] for line in _json_lines(stream)] == ["rendered slowly"]


INTERRUPTED_FORK = """
import io, json, os, signal, sys, threading, time
from typed_llm._log_writer import LogWriter, _writers

class SlowStream(io.StringIO):
    delay = 0.0

    def __init__(self):
        super().__init__()
        self.writing = threading.Event()

    def write(self, text):
        self.writing.set()
        time.sleep(self.delay)
        return super().write(text)

a = LogWriter(SlowStream(), [], background=True, interval=60)
b = LogWriter(SlowStream(), [], background=True, interval=60)
first, second = [writer for writer in list(_writers) if writer in (a, b)]  # the order the fork takes them in
first._stream.delay, second._stream.delay = 0.2, 2.0
first.submit_line("first", urgent=True)
second.submit_line("second", urgent=True)
assert first._stream.writing.wait(5) and second._stream.writing.wait(5)  # both threads are writing now
threading.Timer(0.6, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)).start()
pid = os.fork()  # waits for the first write, then is interrupted waiting for the second
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
first.submit_line("after the fork", urgent=False)
done = threading.Thread(target=first.flush, daemon=True)
done.start()
done.join(5)
print(json.dumps({"flush_returned": not done.is_alive(), "lines": first._stream.getvalue().split()}))
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_an_interrupt_while_a_fork_waits_for_a_write_leaves_no_lock_held() -> None:
    """Ctrl-C while the fork waits for a second writer's write: the first writer's lock, already
    taken, is given back (CPython swallows the interrupt and forks anyway)."""
    result = _run_python("-c", INTERRUPTED_FORK, timeout=60)
    assert json.loads(result.stdout) == {"flush_returned": True, "lines": ["first", "after", "the", "fork"]}
    assert "an interrupt came while a fork waited for a log write" in result.stderr


INTERRUPT_AS_THE_LOCK_IS_TAKEN = """
import io, json, os, signal, sys, threading, time
import structlog
from typed_llm._log_writer import LogWriter

MAIN, PARENT = threading.main_thread().ident, os.getpid()

class SlowStream(io.StringIO):
    writing = threading.Event()

    def write(self, text):
        if '"a"' in text:
            self.writing.set()
            time.sleep(0.3)
        return super().write(text)

def interrupt_on_b(_, __, event_dict):
    # Rendered just after "a" was written: the fork's wait for writes in progress has just ended.
    if event_dict["event"] == "b" and os.getpid() == PARENT:
        signal.pthread_kill(MAIN, signal.SIGINT)
        time.sleep(0.05)
    return event_dict

tail = [interrupt_on_b, structlog.processors.JSONRenderer()]
writer = LogWriter(SlowStream(), tail, background=True, interval=60)
writer.msg(("warning", {"event": "a"}))
assert SlowStream.writing.wait(5)
writer.msg(("info", {"event": "b"}))
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
writer.msg(("info", {"event": "c"}))
done = threading.Thread(target=writer.flush, daemon=True)
done.start()
done.join(5)
events = [json.loads(line)["event"] for line in writer._stream.getvalue().splitlines()]
print(json.dumps({"flush_returned": not done.is_alive(), "events": events}))
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_an_interrupt_just_as_the_forks_wait_ends_leaves_logging_working() -> None:
    """Ctrl-C raised right after the fork's wait for writes in progress ended: nothing stays held."""
    result = _run_python("-c", INTERRUPT_AS_THE_LOCK_IS_TAKEN, timeout=60)
    assert json.loads(result.stdout) == {"flush_returned": True, "events": ["a", "b", "c"]}


INTERRUPTED_FORK_CHILD = """
import io, os, signal, sys, threading, time
from typed_llm._log_writer import LogWriter

class SlowRaw(io.RawIOBase):
    writing = threading.Event()

    def writable(self):
        return True

    def write(self, data):
        self.writing.set()
        time.sleep(1.0)
        return len(data)

# A real buffered stream: it holds a lock of its own while it writes.
stream = io.TextIOWrapper(io.BufferedWriter(SlowRaw(), buffer_size=8), write_through=True)
writer = LogWriter(stream, [], background=True, interval=60)
writer.submit_line("parent", urgent=True)
assert SlowRaw.writing.wait(5)
threading.Timer(0.3, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)).start()
pid = os.fork()  # waits for the write in progress; Ctrl-C comes while it waits
if pid == 0:
    writer.submit_line("child", urgent=False)
    writer.flush()
    os._exit(0)
deadline = time.monotonic() + 10
while not os.waitpid(pid, os.WNOHANG)[0]:
    if time.monotonic() > deadline:
        os.kill(pid, signal.SIGKILL)
        print("the child hung on its first line")
        break
    time.sleep(0.05)
else:
    print("the child wrote its line")
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_an_interrupt_does_not_end_the_forks_wait_for_a_write() -> None:
    """CPython ignores an exception in a fork hook and forks anyway: had Ctrl-C ended the wait, the
    child would inherit the stream mid-write and hang on its first line."""
    result = _run_python("-c", INTERRUPTED_FORK_CHILD, timeout=60)
    assert result.stdout.strip() == "the child wrote its line"


STREAM_THAT_LOGS = """
import io, logging, os, sys, threading, time
import structlog
from typed_llm import configure_logging

sink = logging.getLogger("sink")
sink.addHandler(logging.StreamHandler(io.StringIO()))
sink.propagate = False
writing = threading.Event()

class LoggerWriter:
    # A stream that forwards its lines to a stdlib logger, as some applications route output.
    def write(self, text):
        writing.set()
        time.sleep(0.3)
        for line in text.splitlines():
            sink.info(line)  # after a setLevel anywhere, this takes stdlib logging's module lock
        return len(text)

    def flush(self):
        pass

configure_logging(json=True, level="info", stream=LoggerWriter())
logging.getLogger("other").setLevel(logging.INFO)  # clears every logger's level cache
structlog.get_logger().warning("hello")  # written now, by the writer's thread
assert writing.wait(5)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("forked")
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_fork_while_a_stream_that_logs_is_written_does_not_deadlock() -> None:
    """A write may need stdlib logging's module lock: the fork holds no lock while it waits.

    Run in a child process: a deadlock fails the test by its timeout instead of hanging the suite.
    """
    result = _run_python("-c", STREAM_THAT_LOGS, timeout=30)
    assert result.stdout.strip() == "forked"


STUCK_WRITE = """
import os, sys, time
import structlog
from typed_llm import configure_logging

read_end, write_end = os.pipe()  # nobody reads: a long line fills the pipe and its write blocks for good
configure_logging(json=True, level="info", stream=os.fdopen(write_end, "w"))
structlog.get_logger().warning("x" * 200_000)
time.sleep(0.5)  # the writer's thread is stuck in that write now
pid = os.fork()
if pid == 0:
    os._exit(0)
print("forked")
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_write_that_never_ends_holds_a_fork_back_for_a_bounded_time() -> None:
    """A fork waits for writes in progress, but not for ever (FORK_WAIT): a stuck stream cannot
    hang it. Run in a child process: a hang fails the test by its timeout."""
    result = _run_python("-c", STUCK_WRITE, timeout=30)
    assert result.stdout.strip() == "forked"


FORK_INSIDE_EMIT = """
import logging, os, sys, threading, time
from typed_llm._log_writer import LogWriter

class ForkingHandler(logging.Handler):
    # Forks from inside emit, holding this handler's lock.
    def emit(self, record):
        if record.name == "app":
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            print("forked")

logging.getLogger().addHandler(ForkingHandler())
logging.getLogger().setLevel(logging.INFO)
writing = threading.Event()

class StreamThatLogs:
    # Its write logs through that same handler, so it needs the handler's lock to end.
    def write(self, text):
        writing.set()
        time.sleep(0.3)
        logging.getLogger("stream").info("wrote %d characters", len(text))

    def flush(self):
        pass

writer = LogWriter(StreamThatLogs(), [], background=True)
writer.submit_line("hello", urgent=True)
assert writing.wait(5)
logging.getLogger("app").info("fork now")
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_fork_from_a_handler_that_a_write_waits_for_does_not_deadlock() -> None:
    """The write in progress waits for a lock the forking thread holds: the fork waits for it only
    FORK_WAIT seconds, then goes ahead. Run in a child process: a deadlock fails by timeout."""
    result = _run_python("-c", FORK_INSIDE_EMIT, timeout=30)
    assert result.stdout.strip() == "forked"


BUSY_WRITERS = """
import os, sys, threading, time
from typed_llm._log_writer import LogWriter

class SlowStream:
    def write(self, text):
        time.sleep(0.001)

    def flush(self):
        pass

# Three writers that write in the logging threads, 1 ms a line, and eight threads logging flat out:
# at any moment some write is in progress.
writers = [LogWriter(SlowStream(), [], background=False) for _ in range(3)]
stop = threading.Event()

def log(n):
    while not stop.is_set():
        writers[n % 3].submit_line("line", urgent=False)

threads = [threading.Thread(target=log, args=(n,), daemon=True) for n in range(8)]
for thread in threads:
    thread.start()
time.sleep(0.2)
for _ in range(10):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
stop.set()
print("forked 10 times")
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_forks_go_through_while_many_threads_write() -> None:
    """While a fork is pending no write starts, so the writes in progress end and the fork goes
    through, however many threads write. Run in a child process: a livelock fails by timeout."""
    result = _run_python("-c", BUSY_WRITERS, timeout=30)
    assert result.stdout.strip() == "forked 10 times"


FORKING_THREAD_WRITES = """
import os, signal, sys, threading, time
import typed_llm._log_writer as log_writer
from typed_llm._log_writer import LogWriter

log_writer.FORK_WAIT = 60.0  # a fork that waited for a write that cannot end would outlast the test

class Slow:
    def write(self, text):
        time.sleep(1.0)

    def flush(self):
        pass

forked = []

class ForksWhileWriting:
    # A stream whose write forks: its own write is in progress during the fork, and in the child.
    def write(self, text):
        forked.append(os.fork())

    def flush(self):
        pass

# 1. The forking thread's signal handler writes, at once, while the fork waits for another write.
slow = LogWriter(Slow(), [], background=True, interval=60)
at_once = LogWriter(Slow(), [], background=False)
signal.signal(signal.SIGUSR1, lambda *_: at_once.submit_line("from the handler", urgent=True))
slow.submit_line("a slow write", urgent=True)
time.sleep(0.2)
threading.Timer(0.3, signal.pthread_kill, (threading.main_thread().ident, signal.SIGUSR1)).start()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("forked while its signal handler wrote")
# 2. A fork from inside a write does not wait for that write; nor does a fork in the child, once
# the write it inherited has ended there.
LogWriter(ForksWhileWriting(), [], background=False).submit_line("forks", urgent=False)
if forked[0] == 0:
    grandchild = os.fork()
    if grandchild == 0:
        os._exit(0)
    os.waitpid(grandchild, 0)
    os._exit(0)
_, status = os.waitpid(forked[0], 0)
print("forked from inside a write, and again in the child:", os.waitstatus_to_exitcode(status))
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_fork_does_not_wait_for_its_own_threads_writes() -> None:
    """The forking thread's own writes (from its signal handler during the wait, or the write it
    forks from) pass the gate and are not waited for. Run in a child process with a wait of a
    minute: a fork that waited for them fails the test by its timeout."""
    result = _run_python("-c", FORKING_THREAD_WRITES, timeout=30)
    assert result.stdout.splitlines() == [
        "forked while its signal handler wrote",
        "forked from inside a write, and again in the child: 0",
    ]


SIGNALS_WHILE_WRITING = """
import signal, sys, threading, time
from typed_llm._log_writer import LogWriter

class Null:
    def write(self, text):
        pass

    def flush(self):
        pass

logged, from_handler = LogWriter(Null(), [], background=False), LogWriter(Null(), [], background=False)
signal.signal(signal.SIGUSR1, lambda *_: from_handler.submit_line("from the handler", urgent=True))
main = threading.main_thread().ident

def ping():
    while True:
        signal.pthread_kill(main, signal.SIGUSR1)
        time.sleep(0.0002)

threading.Thread(target=ping, daemon=True).start()
deadline = time.monotonic() + 2
while time.monotonic() < deadline:  # some signal lands while this thread holds the write gate's lock
    logged.submit_line("line", urgent=False)
print("no hang")
"""


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_a_signal_handler_that_writes_while_its_thread_writes_does_not_deadlock() -> None:
    """Signals every 0.2 ms for 2 s, each handler writing a line, while the main thread writes
    lines (the gate's lock is re-entrant). Run in a child process: a deadlock fails by timeout."""
    result = _run_python("-c", SIGNALS_WHILE_WRITING, timeout=30)
    assert result.stdout.strip() == "no hang"


FORK_DURING_DICTCONFIG = """
import io, logging, logging.config, os, sys, threading, time
import structlog
import typed_llm._logging
from typed_llm import configure_logging

rendering = threading.Event()

def slow(_, __, event_dict):
    rendering.set()
    time.sleep(0.5)
    return event_dict

configure_logging(json=True, level="info", stream=io.StringIO())
writer = typed_llm._logging._writer
writer._tail = (slow, *writer._tail)  # the queued line renders for 0.5 s
structlog.get_logger().info("queued")
# dictConfig holds stdlib logging's module lock while it flushes (so renders and writes) handlers.
threading.Thread(target=logging.config.dictConfig, args=({"version": 1},), daemon=True).start()
assert rendering.wait(5)
pid = os.fork()  # stdlib's own fork hook waits for that module lock
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("forked")
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_fork_while_dictconfig_flushes_the_handler_does_not_deadlock() -> None:
    """dictConfig writes holding stdlib logging's lock, which stdlib's fork hook waits for: its write
    passes the gate a pending fork closed.

    Run in a child process: a deadlock fails the test by its timeout instead of hanging the suite.
    """
    result = _run_python("-c", FORK_DURING_DICTCONFIG, timeout=30)
    assert result.stdout.strip() == "forked"


SIGNAL_WHILE_STARTING = """
import io, json, signal, threading
import structlog
from typed_llm import configure_logging, flush_logs

start = threading.Thread.start

def start_with_a_signal(thread):
    if thread.name == "typed_llm-log-writer":
        signal.raise_signal(signal.SIGUSR1)  # handled while the writer's thread is being started
    start(thread)

threading.Thread.start = start_with_a_signal
signal.signal(signal.SIGUSR1, lambda *_: structlog.get_logger().info("from the signal handler"))
stream = io.StringIO()
configure_logging(json=True, level="info", stream=stream)
structlog.get_logger().info("starts the thread")
flush_logs()
print(json.dumps([json.loads(line)["event"] for line in stream.getvalue().splitlines()]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_a_signal_handler_that_logs_while_the_thread_starts_does_not_deadlock() -> None:
    """The first event starts the writer's thread; a signal handled meanwhile logs: both are written.

    Run in a child process: a deadlock fails the test by its timeout instead of hanging the suite.
    """
    result = _run_python("-c", SIGNAL_WHILE_STARTING, timeout=30)
    assert json.loads(result.stdout) == ["starts the thread", "from the signal handler"]


def test_reconfiguring_while_threads_log_loses_no_stdlib_record(capsys: pytest.CaptureFixture[str]) -> None:
    """A record logged while configure_logging swaps its handler finds the old one or the new one.

    With none, stdlib would print it on standard error, unredacted. Threads switch every
    microsecond here, so a gap between removing one handler and adding the next is found.
    """
    threads, records = 4, 2_000
    interval = sys.getswitchinterval()
    with configured_logging(json=True, level="info") as stream:

        def log() -> None:
            for n in range(records):
                logging.getLogger("app").warning("record %d with sk-abcdefghijklmnopqrstu", n)

        workers = [threading.Thread(target=log) for _ in range(threads)]
        sys.setswitchinterval(1e-6)
        try:
            for worker in workers:
                worker.start()
            while any(worker.is_alive() for worker in workers):
                configure_logging(json=True, level="info", stream=stream)
        finally:
            sys.setswitchinterval(interval)
            for worker in workers:
                worker.join()
    assert len(stream.getvalue().splitlines()) == threads * records
    assert "sk-abcdefghijklmnopqrstu" not in capsys.readouterr().err


UNFORMATTABLE = """
import io, logging, sys
from typed_llm import configure_logging, flush_logs
from typed_llm._logging import register_secret

register_secret("azure-token-0123456789")
stream = io.StringIO()
configure_logging(json=True, level="info", stream=stream)
logging.getLogger("thirdparty").warning("auth with %s failed: %d", "azure-token-0123456789", "not a number")
logging.getLogger("thirdparty").warning("and the next record")
flush_logs()
sys.stdout.write(stream.getvalue())
"""


def test_a_record_that_cannot_be_formatted_is_replaced_and_its_arguments_are_not_printed() -> None:
    """stdlib's handleError would print the record's arguments on standard error, secrets and all.

    Run in a child process, where no test runner's own handler sees the record first.
    """
    result = _run_python("-c", UNFORMATTABLE, timeout=60)
    assert "azure-token" not in result.stdout + result.stderr
    replaced, following = (json.loads(line) for line in result.stdout.splitlines())
    assert (replaced["event"], replaced["logger"], replaced["error_class"], replaced["level"]) == (
        "log_record_not_formatted",
        "thirdparty",
        "TypeError",
        "error",
    )
    assert replaced["original_event"] == "auth with %s failed: %d"
    assert following["event"] == "and the next record"


class _Interrupts:
    """Stands for Ctrl-C arriving (once) while this value is rendered."""

    def __init__(self) -> None:
        self.interrupted = False

    def __repr__(self) -> str:
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return "_Interrupts()"


def test_ctrl_c_during_a_flush_costs_only_the_line_being_rendered(
    slow_writer: tuple[LogWriter, io.StringIO],
) -> None:
    """Ctrl-C reaches the application; lines rendered before it are written, the rest stay queued."""
    writer, stream = slow_writer
    for n in range(10):
        structlog.get_logger().info("queued", n=n, value=_Interrupts() if n == 4 else 0)
    with pytest.raises(KeyboardInterrupt):
        writer.flush()
    assert [line["n"] for line in _json_lines(stream)] == [0, 1, 2, 3]
    writer.flush()
    assert [line["n"] for line in _json_lines(stream)] == [0, 1, 2, 3, 5, 6, 7, 8, 9]


class _Exits:
    def __repr__(self) -> str:
        if threading.current_thread().name == "typed_llm-log-writer":  # not in the test runner's report
            raise SystemExit(0)
        return "_Exits()"


def test_the_writer_thread_survives_a_value_that_calls_sys_exit(capsys: pytest.CaptureFixture[str]) -> None:
    """SystemExit would end the thread silently, and later lines would wait for the exit."""
    with configured_logging(json=True, level="info") as stream:
        structlog.get_logger().info("exits", value=_Exits())
        assert _wait_for(lambda: "the log writer failed: SystemExit" in capsys.readouterr().err)
        structlog.get_logger().warning("after")  # wakes the thread, which must still be there
        assert _wait_for(lambda: "after" in stream.getvalue())
    assert [line["event"] for line in _json_lines(stream)] == ["after"]


MULTIPROCESSING_CHILD = """
import multiprocessing, sys

def child(path):
    import structlog
    from typed_llm import configure_logging

    configure_logging(json=True, level="info", stream=open(path, "w", encoding="utf-8"))
    structlog.get_logger().info("from a child that set logging up itself")

if __name__ == "__main__":
    process = multiprocessing.get_context(sys.argv[1]).Process(target=child, args=(sys.argv[2],))
    process.start()
    process.join(60)
    assert "typed_llm" not in sys.modules, "the parent must not have loaded the library"
    sys.exit(process.exitcode)
"""


MAIN_MODULE_LOGS = """
import multiprocessing, pathlib, sys
import structlog
from typed_llm import configure_logging, flush_logs

log = pathlib.Path(__file__).with_name("log.jsonl")
configure_logging(json=True, level="info", stream=log.open("a", encoding="utf-8"))
structlog.get_logger().info("main module loaded")  # again in a child that imports it: before it is set up

def child():
    structlog.get_logger().info("from the child")

if __name__ == "__main__":
    process = multiprocessing.get_context(sys.argv[1]).Process(target=child)
    process.start()
    process.join(60)
    flush_logs()
    sys.exit(process.exitcode)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_a_multiprocessing_child_whose_main_module_logs_writes_its_lines(tmp_path: Path, method: str) -> None:
    """The main module logs as it loads, which a forkserver or spawn child does before multiprocessing
    has set it up as a child: the child's own lines are written when it ends all the same."""
    script = tmp_path / "main.py"
    script.write_text(MAIN_MODULE_LOGS, encoding="utf-8")
    _run_python(str(script), method, timeout=60)
    events = [
        json.loads(line)["event"]
        for line in (tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert events.count("from the child") == 1
    assert "main module loaded" in events


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_multiprocessing_child_that_configures_logging_itself_writes_its_lines(
    tmp_path: Path, method: str
) -> None:
    """The parent never loaded typed_llm: the child's own writer still drains when the child ends."""
    script, log = tmp_path / "parent.py", tmp_path / "child.jsonl"
    script.write_text(MULTIPROCESSING_CHILD, encoding="utf-8")
    _run_python(str(script), method, str(log), timeout=60)
    events = [json.loads(line)["event"] for line in log.read_text(encoding="utf-8").splitlines()]
    assert events == ["from a child that set logging up itself"]
