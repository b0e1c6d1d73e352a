"""Suite-wide guards: no connection leaves the loopback interface; no seeded key reaches a log line."""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, Any

import pytest
import structlog

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import flush_logs
from typed_llm._log_setup import _Handler

if TYPE_CHECKING:
    from collections.abc import Iterator

    from structlog.typing import EventDict, Processor

    from typed_llm.testing._fake import FakeAPI

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(sock: socket.socket, address: object) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) else str(address)
    try:
        allowed = ipaddress.ip_address(host).is_loopback
    except ValueError:
        allowed = host == "localhost"
    if not allowed:
        raise ConnectionRefusedError(f"the test suite may not connect beyond loopback (to {host})")


def _guarded_connect(sock: socket.socket, address: object) -> None:
    _loopback_only(sock, address)
    _real_connect(sock, address)  # type: ignore[arg-type]  # same argument socket.connect took


def _guarded_connect_ex(sock: socket.socket, address: object) -> int:
    _loopback_only(sock, address)
    return _real_connect_ex(sock, address)  # type: ignore[arg-type]  # same argument socket.connect_ex took


@pytest.fixture(autouse=True)
def _no_network_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own keys in the environment must not leak into tests or change their outcome."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_VERSION",
        "OPENAI_API_VERSION",
        "AZURE_OPENAI_AD_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake(llm_fake: FakeAPI) -> FakeAPI:
    """The loopback fake for one test: the plugin's own ``llm_fake``, so the suite uses what users get."""
    return llm_fake


# --- the whole-suite guard: no seeded key in any log line ----------------------------------------------

pytest_plugins = ("pytester",)

SEEDED_MARK = "SEEDED"
"""Every fake key and token the tests seed contains this; no log line may."""


class _KeyWatcher(logging.Handler):
    """Sees every stdlib record (the openai package's, httpx2's, the library's fallback)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.name}: {record.getMessage()} {record.__dict__}"
        if SEEDED_MARK in line or FAKE_OPENAI_KEY in line or FAKE_AZURE_KEY in line:
            self.leaks.append(line)


def _structlog_watcher(leaks: list[str]) -> Processor:
    def watch(logger: object, method: str, event_dict: EventDict) -> EventDict:  # noqa: ARG001  (a processor)
        line = repr(event_dict)
        if SEEDED_MARK in line:
            leaks.append(line)
        return event_dict

    return watch


@pytest.fixture(autouse=True)
def _no_key_in_any_log_line(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Watch every structlog event and stdlib record at every level; fail the test if a key shows.

    structlog is configured for the test with the watcher first (then the events are dropped), and
    a handler on the root logger at DEBUG sees every stdlib line, so the library's events, the
    openai package's debug lines and anything a test logs all pass under the watcher.
    """
    watcher = _KeyWatcher()
    # Also what tests capture with capture_logs(), every line configure_logging()'s handler writes
    # (structlog events and stdlib records), and what a plain structlog WriteLogger writes.
    capture_call = structlog.testing.LogCapture.__call__
    write_msg = structlog.WriteLogger.msg
    handler_write = _Handler.write_line

    def watched_capture(
        self: structlog.testing.LogCapture, logger: object, method: str, event: EventDict
    ) -> Any:
        if SEEDED_MARK in repr(event):
            watcher.leaks.append(repr(event))
        return capture_call(self, logger, method, event)

    def watched_write(self: structlog.WriteLogger, message: str) -> None:
        if SEEDED_MARK in message:
            watcher.leaks.append(message)
        write_msg(self, message)

    def watched_handler(self: _Handler, line: str) -> None:
        if SEEDED_MARK in line:
            watcher.leaks.append(line)
        handler_write(self, line)

    monkeypatch.setattr(structlog.testing.LogCapture, "__call__", watched_capture)
    monkeypatch.setattr(structlog.WriteLogger, "msg", watched_write)
    monkeypatch.setattr(_Handler, "write_line", watched_handler)
    root = logging.getLogger()
    old_level, old_handlers = root.level, list(root.handlers)
    vcr_level = logging.getLogger("vcr").level
    root.addHandler(watcher)
    root.setLevel(logging.DEBUG)
    structlog.configure(
        processors=[_structlog_watcher(watcher.leaks), structlog.processors.KeyValueRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    try:
        yield watcher.leaks
    finally:
        flush_logs()
        # Also undoes a configure_logging() a test made (the CLI's, for one).
        root.handlers = old_handlers
        root.setLevel(old_level)
        logging.getLogger("vcr").setLevel(vcr_level)
        structlog.reset_defaults()
    if watcher.leaks:
        pytest.fail(f"a seeded key reached a log line: {watcher.leaks[0][:300]}", pytrace=False)
