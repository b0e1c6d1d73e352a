"""The seed facade's bookkeeping: ``get_cost_stats`` counts hits apart, its per-call clients close."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_OPENAI_KEY
from typed_llm import openai_utils
from typed_llm._compat import registry as _registry
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts from the registry as imported, in an empty folder (no config.ini)."""
    monkeypatch.chdir(tmp_path)
    _registry._reset()
    yield
    _registry._reset()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAPI]:
    """The loopback fake, with the environment pointing the default OpenAI client at it."""
    with FakeAPI() as api:
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", api.openai_base_url)
        yield api


def test_cost_stats_count_the_calls_the_cache_answered(fake: FakeAPI, tmp_path: Path) -> None:
    """A miss is a model call, the same message again a cached call (no request), as in the seed."""
    seed = openai_utils.OpenAIClient(cache_api_calls=True, cache_file_name=str(tmp_path / "stats.sqlite3"))
    message = [{"role": "user", "content": "What is a tiny troupe?"}]
    first = seed.send_message(message)
    after_miss = seed.get_cost_stats()
    assert (after_miss["model_calls"], after_miss["cached_calls"]) == (1, 0)
    assert after_miss["total_tokens"] > 0
    second = seed.send_message(message)
    after_hit = seed.get_cost_stats()
    assert second == first
    assert len(fake.received) == 1  # the hit sent nothing
    assert (after_hit["model_calls"], after_hit["cached_calls"]) == (1, 1)
    assert after_hit["total_tokens"] == 2 * after_miss["total_tokens"]  # the seed counted a hit's tokens
    seed.send_message([{"role": "user", "content": "Another question"}])
    assert (seed.get_cost_stats()["model_calls"], seed.get_cost_stats()["cached_calls"]) == (2, 1)
    seed.reset_cost_stats()
    assert seed.get_cost_stats()["cached_calls"] == 0


def test_without_a_cache_every_call_is_a_model_call(fake: FakeAPI) -> None:
    """No cache: the same message twice is two requests and two model calls, no cached call."""
    seed = openai_utils.OpenAIClient(cache_api_calls=False)
    message = [{"role": "user", "content": "Hello"}]
    seed.send_message(message)
    seed.send_message(message)
    stats = seed.get_cost_stats()
    assert (stats["model_calls"], stats["cached_calls"]) == (2, 0)
    assert len(fake.received) == 2
