"""The pytest plugin itself: options, the cassette fixture, the fakes, the drift report (needs pytest)."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from typed_llm.testing._cassette import shown_path
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
    "llm_fake",
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
    """``--llm-record-mode``, ``--llm-drift-report`` and the ini options."""
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
        "llm_cassette(name=None, *, allow_unplayed=False): name the test's typed-llm cassette "
        "explicitly; allow_unplayed=True lets it leave recorded interactions unplayed",
    )
    config.stash[_DRIFT] = DriftReport()


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
def llm_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """The test's cassette, replayed (or recorded, with ``--llm-record-mode``).

    In replay (mode ``none``, or ``once`` with the cassette present) the test fails when it leaves
    recorded interactions unplayed, unless the ini option ``llm_fail_on_unplayed`` is false or the
    test is marked ``@pytest.mark.llm_cassette(allow_unplayed=True)``.
    """
    folder = _folder(request.config)
    drift = request.config.stash[_DRIFT]
    nodeid = request.node.nodeid
    recorder = make_vcr(folder, _mode(request.config), test=nodeid, on_miss=drift.add_miss)
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
