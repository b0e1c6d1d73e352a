"""Fixtures the seed facade's test files share: a fresh registry in an empty folder, and the fake.

Imported into each file that uses them (``from seed_fixtures import seed_fake, seed_registry``); pytest
knows them as ``fake`` and ``_fresh_registry``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_OPENAI_KEY
from typed_llm._compat import registry as _registry
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SLOW_ANSWER = {
    "id": "chatcmpl-slow",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "slow"}, "finish_reason": "stop"}],
}
"""An answer the tests enqueue with a delay: a call kept in flight while the registry changes."""


@pytest.fixture(autouse=True, name="_fresh_registry")
def seed_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts from the registry as imported, in an empty folder (no config.ini)."""
    monkeypatch.chdir(tmp_path)
    _registry._reset()
    yield
    _registry._reset()


@pytest.fixture(name="fake")
def seed_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAPI]:
    """The loopback fake, with the environment pointing the default OpenAI client at it."""
    with FakeAPI() as api:
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", api.openai_base_url)
        yield api
