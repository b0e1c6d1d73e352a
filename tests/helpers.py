"""Test helpers: replaying cassettes recorded from the loopback fake, and the fake keys tests use."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import attrs
import structlog

from typed_llm import configure_logging, flush_logs
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._vcr import RecordMode, make_vcr

if TYPE_CHECKING:
    from collections.abc import Iterator

    from typed_llm.testing._replies import FakeReply

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
REAL_TRAFFIC = CASSETTES / "real-traffic"

FAKE_OPENAI_KEY = "sk-test-typedllm-0123456789abcdefSEEDED"
"""Seeded into every client the tests build; must never reach a cassette or a log."""
FAKE_AZURE_KEY = "azuretestkey0123456789abcdefSEEDED"

_MODES = ("none", "once", "new_episodes", "all")
_mode = os.environ.get("TYPED_LLM_RECORD_MODE", "none")
if _mode not in _MODES:
    raise RuntimeError(f"TYPED_LLM_RECORD_MODE must be one of {_MODES}, got {_mode!r}")
RECORD_MODE = cast("RecordMode", _mode)
_DEAD_URL = "http://127.0.0.1:9"  # the discard port: replay never connects, vcrpy answers


@attrs.define
class Endpoints:
    """Where the clients under test point; the fake behind them only while recording."""

    url: str
    fake: FakeAPI | None

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def enqueue(self, *replies: FakeReply) -> None:
        """Script the fake's next answers (only matters while recording; replay has them on disk)."""
        if self.fake is not None:
            self.fake.enqueue(*replies)


@contextlib.contextmanager
def replay(name: str) -> Iterator[Endpoints]:
    """Run the block inside cassette ``cassettes/NAME.yaml``.

    In record mode ``none`` (the default, and CI's) the cassette is replayed and every interaction
    in it must be played. With ``TYPED_LLM_RECORD_MODE=all`` (or ``once`` for a missing cassette)
    the loopback fake is started and the cassette is recorded from it.
    """
    path = CASSETTES / f"{name}.yaml"
    recording = RECORD_MODE == "all" or (RECORD_MODE != "none" and not path.exists())
    with contextlib.ExitStack() as stack:
        fake = stack.enter_context(FakeAPI()) if recording else None
        endpoints = Endpoints(url=fake.url if fake else _DEAD_URL, fake=fake)
        cassette = stack.enter_context(make_vcr(CASSETTES, RECORD_MODE).use_cassette(f"{name}.yaml"))
        yield endpoints
        if not recording:
            assert cassette.all_played, f"cassette {name} has interactions the test did not play"


@contextlib.contextmanager
def logging_restored() -> Iterator[None]:
    """The block may call ``configure_logging``: its effects are undone after the block.

    Every queued line is written before the block's end (``flush_logs``), so streams can be read
    after it; the root logger's handlers and level, and structlog's defaults, are restored.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        flush_logs()
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level


@contextlib.contextmanager
def configured_logging(**options: Any) -> Iterator[io.StringIO]:
    """``configure_logging(**options)`` into a fresh stream for the block, undone after it."""
    stream = io.StringIO()
    with logging_restored():
        configure_logging(stream=stream, **options)
        yield stream
