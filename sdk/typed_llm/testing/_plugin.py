"""The pytest plugin itself: options, the cassette fixture, the fake fixtures (needs pytest)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._vcr import RecordMode, make_vcr, record_command

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vcr.cassette import Cassette

__all__ = [
    "cassette_name",
    "llm_base_url",
    "llm_cassette",
    "llm_fake",
    "pytest_addoption",
    "pytest_configure",
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
