"""The seed facade's bookkeeping: ``get_cost_stats`` counts hits apart, its per-call clients close."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typed_llm
from helpers import FAKE_OPENAI_KEY
from seed_fixtures import seed_fake, seed_registry  # noqa: F401  (fixtures: pytest finds them here)
from typed_llm import openai_utils
from typed_llm._compat import registry as _registry

if TYPE_CHECKING:
    from pathlib import Path

    import openai

    from typed_llm.testing._fake import FakeAPI


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


def _pool_of(client: object) -> openai.OpenAI:
    """The openai client underneath a typed client (what holds its connection pool)."""
    assert isinstance(client, typed_llm.OpenAIClient)
    return client._transport.openai


def _variants(seed: openai_utils.SeedClient) -> list[object]:
    return list(seed._variants.values())


def test_close_closes_the_per_call_clients_and_the_client_it_built(fake: FakeAPI) -> None:
    """Per-call options build a client; close() closes it and the seed's own; a later call works."""
    seed = openai_utils.OpenAIClient()
    seed.send_message([{"role": "user", "content": "hi"}])
    seed.send_message([{"role": "user", "content": "hi"}], timeout=7.0)
    (variant,) = _variants(seed)
    own = seed.client
    pools = [_pool_of(variant), _pool_of(own)]
    assert [pool.is_closed() for pool in pools] == [False, False]
    seed.close()
    assert [pool.is_closed() for pool in pools] == [True, True]
    assert seed.send_message([{"role": "user", "content": "again"}], timeout=7.0)["content"]
    assert len(fake.received) == 3
    assert not _pool_of(_variants(seed)[0]).is_closed()
    seed.close()


def test_clients_set_api_cache_replaced_are_closed_by_close(fake: FakeAPI, tmp_path: Path) -> None:
    """set_api_cache rebuilds; the replaced clients stay open while held (a call may be using them)
    until close() (tests/test_seed_lifetime.py: unheld ones are let go)."""
    seed = openai_utils.OpenAIClient()
    seed.send_message([{"role": "user", "content": "hi"}])
    seed.send_message([{"role": "user", "content": "hi"}], timeout=7.0)
    held = [seed.client, _variants(seed)[0]]  # as a call still under way holds them
    replaced = [_pool_of(client) for client in held]
    seed.set_api_cache(True, str(tmp_path / "c.sqlite3"))
    assert not any(pool.is_closed() for pool in replaced)
    seed.send_message([{"role": "user", "content": "hi"}])
    current = _pool_of(seed.client)
    seed.close()
    assert all(pool.is_closed() for pool in [*replaced, current])
    assert len(fake.received) == 3


def test_the_registry_closes_what_the_facade_built_and_not_a_given_client(fake: FakeAPI) -> None:
    """openai_utils.close() (and the registry's reset) closes the default client and its wrapper's
    per-call clients; a client the caller registered stays open: its owner closes it."""
    facade = openai_utils.client()
    facade.send_message([{"role": "user", "content": "hi"}], timeout=7.0)
    pools = [_pool_of(openai_utils.typed_client()), _pool_of(_variants(facade)[0])]
    given = typed_llm.OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    openai_utils.register_client("mine", given)
    openai_utils.force_api_type("mine")
    openai_utils.client().send_message([{"role": "user", "content": "mine"}])
    assert not any(pool.is_closed() for pool in pools)
    openai_utils.close()
    assert all(pool.is_closed() for pool in pools)
    assert not _pool_of(given).is_closed()
    assert openai_utils.client().send_message([{"role": "user", "content": "still"}])["content"]
    openai_utils.force_api_type(None)
    rebuilt = openai_utils.client()
    assert rebuilt is facade  # the default client stays (tests/test_seed_identity.py); its clients are new
    rebuilt.send_message([{"role": "user", "content": "anew"}], timeout=7.0)
    fresh = [_pool_of(openai_utils.typed_client()), _pool_of(_variants(rebuilt)[0])]
    assert not any(pool.is_closed() or any(pool is old for old in pools) for pool in fresh)
    _registry._reset()
    assert all(pool.is_closed() for pool in fresh)
    given.close()
