"""The pytest plugin itself: options, the cassette fixture, the fakes, the drift report (needs pytest)."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from typed_llm._backoff import describe
from typed_llm.testing._cassette import shown_path
from typed_llm.testing._clock import VirtualClock
from typed_llm.testing._drift import DriftReport
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._vcr import RecordMode, make_vcr, record_command

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

    from vcr.cassette import Cassette

    from typed_llm.testing._cassette import TypedCassette


__all__ = [
    "cassette_name",
    "llm_base_url",
    "llm_cassette",
    "llm_clock",
    "llm_fake",
    "llm_replay_speed",
    "pytest_addoption",
    "pytest_configure",
    "pytest_runtest_call",
    "pytest_terminal_summary",
]

_MODES: tuple[RecordMode, ...] = ("none", "once", "new_episodes", "all", "rewrite")
_DEAD_URL = "http://127.0.0.1:9/v1"  # the discard port: replay never connects
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\[\]-]+")
_OPEN: pytest.StashKey[TypedCassette] = pytest.StashKey()
_DRIFT: pytest.StashKey[DriftReport] = pytest.StashKey()
_CLOCK: pytest.StashKey[VirtualClock] = pytest.StashKey()


def cassette_name(module: str, test: str) -> str:
    """``module_stem/test_name[param-id]``, unique per test id.

    A test id whose characters are all safe in a file name is used as it is. Any other is made safe
    and gets 8 hex digits of the id's SHA-256 appended, so ``test_q[a/b]``, ``test_q[a b]`` and
    ``test_q[a:b]`` no longer share ``test_q[a_b]`` (which keeps its own, plain name).
    """
    safe = _UNSAFE.sub("_", test)
    if safe != test:
        safe += "-" + hashlib.sha256(test.encode()).hexdigest()[:8]
    return f"{Path(module).stem}/{safe}"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--llm-record-mode``, ``--llm-drift-report``, ``--llm-replay-speed`` and the ini options."""
    group = parser.getgroup("typed-llm", "typed-llm replay testing")
    group.addoption(
        "--llm-record-mode",
        choices=_MODES,
        default="none",
        help="typed-llm cassettes: none (replay only, the default), once (record missing cassettes), "
        "new_episodes, all, or rewrite (re-record what misses, drop what the test no longer sends)",
    )
    group.addoption(
        "--llm-drift-report",
        action="store_true",
        default=False,
        help="after the run, list the cassettes that missed, the typed fields that changed, and how "
        "many tests share each change",
    )
    group.addoption(
        "--llm-replay-speed",
        type=_speed,
        default=None,
        metavar="FACTOR",
        help="pace of replayed streams: 0 hands every recorded frame over at once (the default), 1.0 "
        "replays them at the pace they were recorded, 2.0 twice as fast (overrides the ini llm_replay_speed)",
    )
    parser.addini(
        "llm_replay_speed",
        "pace of replayed streams: 0 at once (the default), 1.0 as recorded, or any factor",
        default="0",
    )
    parser.addini(
        "llm_cassette_dir", "folder of typed-llm cassettes, relative to the root", default="cassettes"
    )
    parser.addini(
        "llm_fail_on_unplayed",
        "fail a replayed test that leaves recorded interactions unplayed (default true)",
        type="bool",
        default=True,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``llm_cassette`` marker and start the run's drift report."""
    config.addinivalue_line(
        "markers",
        "llm_cassette(name=None, *, allow_unplayed=False, validate=True, replay_speed=None): name the "
        "test's typed-llm cassette explicitly; allow_unplayed=True lets it leave recorded interactions "
        "unplayed; validate=False loads it without reading each recorded answer into its typed model; "
        "replay_speed replays its streams at that pace (0 at once, 1.0 as recorded)",
    )
    config.stash[_DRIFT] = DriftReport()


def _speed(text: str) -> float:
    """A replay speed from the command line or the ini file: 0, or a positive factor."""
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not speed >= 0 or speed == float("inf"):
        raise argparse.ArgumentTypeError(f"0 (at once) or a positive factor, got {text!r}")
    return speed


def _mode(config: pytest.Config) -> RecordMode:
    return cast("RecordMode", config.getoption("--llm-record-mode"))


def _folder(config: pytest.Config) -> Path:
    return Path(config.rootpath) / str(config.getini("llm_cassette_dir"))


def _name(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("llm_cassette")
    if marker is not None and marker.args:
        return str(marker.args[0])
    return cassette_name(str(request.node.path), request.node.name)


def _recording(request: pytest.FixtureRequest) -> bool:
    mode = _mode(request.config)
    path = _folder(request.config) / f"{_name(request)}.yaml"
    return mode in {"all", "new_episodes", "rewrite"} or (mode == "once" and not path.exists())


REPLAY_PLACEHOLDERS = {
    "OPENAI_API_KEY": "sk-replay-placeholder-not-a-key",
    "AZURE_OPENAI_API_KEY": "replay-placeholder-not-a-key",
}
"""Set while a cassette replays, for each variable the environment lacks: replay sends nothing, so
``OpenAIClient()`` or ``AzureClient(endpoint=...)`` built from the environment needs no real key."""


def rewrite_command(nodeids: list[str]) -> str:
    """The command that re-records exactly these tests."""
    return "pytest --llm-record-mode=rewrite " + " ".join(shlex.quote(nodeid) for nodeid in nodeids)


@pytest.fixture
def llm_replay_speed(request: pytest.FixtureRequest) -> float:
    """The pace at which the test's cassette replays streams: 0 at once, 1.0 as recorded.

    ``@pytest.mark.llm_cassette(replay_speed=...)`` for one test, else ``--llm-replay-speed``, else
    the ini option ``llm_replay_speed`` (default 0). A suite may override this fixture.
    """
    marker = request.node.get_closest_marker("llm_cassette")
    if marker is not None and "replay_speed" in marker.kwargs:
        return _speed(str(marker.kwargs["replay_speed"]))
    given = request.config.getoption("--llm-replay-speed")
    if given is not None:
        return float(given)
    try:
        return _speed(str(request.config.getini("llm_replay_speed")))
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini option llm_replay_speed: {exc}") from None


@pytest.fixture
def llm_cassette(request: pytest.FixtureRequest, llm_replay_speed: float) -> Iterator[Cassette]:
    """The test's cassette, replayed (or recorded, with ``--llm-record-mode``).

    In replay (mode ``none``, or ``once`` with the cassette present) the test fails when it leaves
    recorded interactions unplayed, unless the ini option ``llm_fail_on_unplayed`` is false or the
    test is marked ``@pytest.mark.llm_cassette(allow_unplayed=True)``. Every recorded answer is read
    into its typed model as the cassette loads: one that no longer fits fails the test's set-up with
    ``CassetteValidationError`` naming the file and interaction (``validate=False`` on the marker,
    or ``typed_llm: {validate: false}`` in a recorded response, opts out).
    """
    folder = _folder(request.config)
    drift = request.config.stash[_DRIFT]
    nodeid = request.node.nodeid
    marker = request.node.get_closest_marker("llm_cassette")
    validate = marker is None or bool(marker.kwargs.get("validate", True))
    recorder = make_vcr(
        folder,
        _mode(request.config),
        test=nodeid,
        on_miss=drift.add_miss,
        validate=validate,
        replay_speed=llm_replay_speed,
    )
    token = record_command.set(rewrite_command([nodeid]))
    environment = pytest.MonkeyPatch()
    if not _recording(request):  # a replay sends nothing: a client built from the environment needs no key
        for variable, placeholder in REPLAY_PLACEHOLDERS.items():
            if not os.environ.get(variable):
                environment.setenv(variable, placeholder)
    try:
        with recorder.use_cassette(f"{_name(request)}.yaml") as cassette:
            request.node.stash[_OPEN] = cassette
            yield cassette
            clock = request.node.stash.get(_CLOCK, None)
            if clock is not None and clock.strategies:
                cassette.note_backoff([describe(strategy) for strategy in clock.strategies])
        if cassette.stale:
            drift.add_stale(nodeid, shown_path(str(cassette.path)), len(cassette.stale))
    finally:
        environment.undo()
        record_command.reset(token)
        if _OPEN in request.node.stash:
            del request.node.stash[_OPEN]


def _allows_unplayed(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("llm_cassette")
    if marker is not None and "allow_unplayed" in marker.kwargs:
        return bool(marker.kwargs["allow_unplayed"])
    return not item.config.getini("llm_fail_on_unplayed")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail a replayed test that passed but left recorded interactions of its cassette unplayed."""
    result = yield
    cassette = item.stash.get(_OPEN, None)
    if cassette is not None and cassette.write_protected and not _allows_unplayed(item):
        unplayed = cassette.unplayed
        if unplayed:
            item.config.stash[_DRIFT].add_unplayed(item.nodeid, shown_path(str(cassette.path)), len(unplayed))
            numbers = ", ".join(str(i + 1) for i in unplayed)
            pytest.fail(
                f"cassette {shown_path(str(cassette.path))} has {len(unplayed)} recorded interaction(s) "
                "this test did not "
                f"play (interaction {numbers} of {len(cassette)}): the test sends fewer requests than "
                f"when it was recorded. Re-record it: {rewrite_command([item.nodeid])} "
                "(or mark it @pytest.mark.llm_cassette(allow_unplayed=True))",
                pytrace=False,
            )
    return result


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """With ``--llm-drift-report``, the suite's drift: what changed, in how many tests, and the fix."""
    if not config.getoption("--llm-drift-report"):
        return
    terminalreporter.section("typed-llm drift report")
    for line in config.stash[_DRIFT].render(rewrite_command).splitlines():
        terminalreporter.write_line(line)


@pytest.fixture
def llm_clock(request: pytest.FixtureRequest) -> Iterator[VirtualClock]:
    """Virtual time for the test: every retry layer without a clock of its own waits on it, at once.

    Its ``waits`` are the waits asked for; the responses' ``attempts`` carry exact virtual offsets
    and waits. With ``llm_cassette``, the retry strategies that ran are written into the cassette's
    metadata when recording, and compared when replaying (``BackoffChangedWarning``).
    """
    clock = VirtualClock()
    request.node.stash[_CLOCK] = clock
    with clock.installed():
        yield clock


@pytest.fixture
def llm_fake() -> Iterator[FakeAPI]:
    """The loopback fake of the OpenAI and Azure APIs, running for the test."""
    with FakeAPI() as fake:
        yield fake


@pytest.fixture
def llm_base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Where a client under test should point: the fake while recording, a dead URL while replaying."""
    if not _recording(request):
        yield _DEAD_URL
        return
    fake: FakeAPI = request.getfixturevalue("llm_fake")
    yield fake.openai_base_url
