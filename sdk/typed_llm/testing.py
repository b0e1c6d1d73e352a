"""Replay testing for applications that use typed-llm: a pytest plugin, the loopback fake, a scanner.

Installing typed-llm registers this module as a pytest plugin (entry point ``pytest11``). It gives
a test suite:

- ``llm_cassette``: wraps the test in a vcrpy cassette named after the test module and the test
  (parametrized ids included), under ``llm_cassette_dir`` (an ini option, default ``cassettes``).
  ``@pytest.mark.llm_cassette("name")`` names it explicitly. Requests match on method, path, query
  and the JSON body in canonical form, never on host or port. Credentials are scrubbed before
  anything is written, key-shaped strings in bodies included.
- ``--llm-record-mode``: ``none`` (the default: replay only; an unrecorded request fails with the
  request and the command that records it), ``once``, ``new_episodes``, ``all``.
- ``llm_fake``: the loopback fake of the OpenAI and Azure APIs (``FakeAPI``), started for the test,
  with scriptable faults (``FakeReply``: error statuses, Retry-After, dropped or cut connections,
  slow answers) to test retry paths.
- ``llm_base_url``: the fake's OpenAI base URL while recording, and a dead loopback URL while
  replaying (nothing is contacted: the cassette answers).

``typed-llm cassettes check DIR`` (and ``scan``) finds anything in cassettes that looks like a key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from typed_llm._fake import FakeAPI, FakeReply, Fault, ReceivedRequest
from typed_llm._vcr import RecordMode, make_vcr, record_command, scan

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vcr.cassette import Cassette

__all__ = [
    "FakeAPI",
    "FakeReply",
    "Fault",
    "ReceivedRequest",
    "RecordMode",
    "cassette_name",
    "make_vcr",
    "record_command",
    "scan",
]

_MODES: tuple[RecordMode, ...] = ("none", "once", "new_episodes", "all")
_DEAD_URL = "http://127.0.0.1:9/v1"  # the discard port: replay never connects
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\[\]-]+")


def cassette_name(module: str, test: str) -> str:
    """``module_stem/test_name[param-id]`` with characters unsafe in file names replaced."""
    safe = _UNSAFE.sub("_", test)
    return f"{Path(module).stem}/{safe}"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--llm-record-mode`` and the ``llm_cassette_dir`` ini option."""
    parser.addoption(
        "--llm-record-mode",
        choices=_MODES,
        default="none",
        help="typed-llm cassettes: none (replay only, the default), once, new_episodes or all",
    )
    parser.addini(
        "llm_cassette_dir", "folder of typed-llm cassettes, relative to the root", default="cassettes"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``llm_cassette`` marker."""
    config.addinivalue_line("markers", "llm_cassette(name): name the test's typed-llm cassette explicitly")


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
    return mode in {"all", "new_episodes"} or (mode == "once" and not path.exists())


@pytest.fixture
def llm_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """The test's cassette, replayed (or recorded, with ``--llm-record-mode``)."""
    folder = _folder(request.config)
    recorder: Any = make_vcr(folder, _mode(request.config))
    token = record_command.set(f"pytest --llm-record-mode=once {request.node.nodeid!r}")
    try:
        with recorder.use_cassette(f"{_name(request)}.yaml") as cassette:
            yield cassette
    finally:
        record_command.reset(token)


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
