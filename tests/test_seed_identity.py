"""What seed code sees of ``openai_utils.client()`` across ``force_api_cache``, ``force_api_type``, ``close``.

The seed (TinyTroupe's ``openai_utils``) registered one ``OpenAIClient()`` and one ``AzureClient()``
at import; ``client()`` returned the one of the API type in force, and ``force_api_cache`` called
``set_api_cache`` on every registered client, changing it in place. So a client kept in a variable
before ``force_api_cache`` is the one ``client()`` returns after it, and takes the new cache
setting on its next call. Each test counts the requests the fake received: a cache hit sends none.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from typing import TYPE_CHECKING

import typed_llm
from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from seed_fixtures import SLOW_ANSWER, seed_fake, seed_registry  # noqa: F401  (fixtures: pytest finds them here)
from typed_llm import openai_utils
from typed_llm._cache.sqlite_inspect import DEFAULT_CACHE_FILE
from typed_llm.testing._replies import FakeReply

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from typed_llm.testing._fake import FakeAPI

QUESTION = [{"role": "user", "content": "What is a tiny troupe?"}]


def _twice(client: openai_utils.SeedClient, fake: FakeAPI, timeout: float | None = None) -> int:
    """Ask the same question twice through ``client``; how many requests that sent (1: the second hit).

    ``timeout``: the call's own, which has the client build a per-call client for it.
    """
    before = len(fake.received)
    first = client.send_message(QUESTION, timeout=timeout)
    second = client.send_message(QUESTION, timeout=timeout)
    assert first["content"] == second["content"] == "Echo: What is a tiny troupe?"
    return len(fake.received) - before


def test_a_client_kept_from_before_force_api_cache_takes_the_cache_on_its_next_call(
    fake: FakeAPI, tmp_path: Path
) -> None:
    """``c = client()``, then ``force_api_cache(True)``: ``c`` is still ``client()``, and its repeats hit."""
    kept = openai_utils.client()
    assert _twice(kept, fake) == 2  # no cache yet: both sent
    openai_utils.force_api_cache(True, str(tmp_path / "kept.sqlite3"))
    assert openai_utils.client() is kept
    assert _twice(kept, fake) == 1  # the first fills the cache, the second is answered by it
    assert kept.get_cost_stats()["cached_calls"] == 1
    assert openai_utils.typed_client() is kept.client  # the typed client underneath, with the cache
    openai_utils.force_api_cache(False)
    assert openai_utils.client() is kept
    assert _twice(kept, fake) == 2  # off again: the entry is there, but nothing reads it
    assert (tmp_path / "kept.sqlite3").exists()


def test_force_api_cache_reaches_a_kept_clients_per_call_options(fake: FakeAPI, tmp_path: Path) -> None:
    """A call with its own ``timeout`` goes through a client built for it: that one takes the cache too."""
    kept = openai_utils.client()
    assert _twice(kept, fake, timeout=7.0) == 2
    openai_utils.force_api_cache(True, str(tmp_path / "options.sqlite3"))
    assert _twice(kept, fake, timeout=7.0) == 1
    assert fake.received[-1].json()["messages"] == QUESTION


def test_force_api_type_picks_among_clients_that_keep_their_identity(
    fake: FakeAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One client per API type, as the seed registered them: switching back gives the same object,
    and ``force_api_cache`` changes both in place, the one not in force too."""
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", FAKE_AZURE_KEY)
    openai_kept = openai_utils.client()
    openai_utils.force_api_type("azure")
    azure_kept = openai_utils.client()
    assert type(azure_kept) is openai_utils.AzureClient
    assert isinstance(azure_kept.client, typed_llm.AzureClient)
    openai_utils.force_api_type(None)
    assert openai_utils.client() is openai_kept
    openai_utils.force_api_type("openai")
    assert openai_utils.client() is openai_kept
    openai_utils.force_api_type("azure")
    assert openai_utils.client() is azure_kept
    openai_utils.force_api_cache(True, str(tmp_path / "both.sqlite3"))
    assert openai_utils.client() is azure_kept
    assert _twice(azure_kept, fake) == 1
    assert fake.received[-1].path.startswith("/openai/deployments/")
    assert _twice(openai_kept, fake) == 1  # not in force when the cache was turned on, and cached too
    assert fake.received[-1].path == "/v1/chat/completions"
    openai_utils.force_api_type(None)
    assert openai_utils.client() is openai_kept


def test_a_seed_client_registered_keeps_its_identity_and_takes_the_cache(
    fake: FakeAPI, tmp_path: Path
) -> None:
    """Registered as an instance, or as the class that builds it: ``force_api_cache`` sets it in place."""
    mine = openai_utils.OpenAIClient()
    openai_utils.register_client("mine", mine)
    openai_utils.register_client("openai", openai_utils.OpenAIClient)  # built on first use, then kept
    built = openai_utils.client()
    openai_utils.force_api_cache(True, str(tmp_path / "registered.sqlite3"))
    assert openai_utils.client() is built
    assert _twice(built, fake) == 1
    openai_utils.force_api_type("mine")
    assert openai_utils.client() is mine
    assert _twice(mine, fake) == 0  # the same question, the same cache file: answered by it


def test_force_api_cache_without_a_file_name_is_the_configured_file(fake: FakeAPI, tmp_path: Path) -> None:
    """As the seed's default argument: a file named by an earlier call is not kept."""
    kept = openai_utils.client()
    openai_utils.force_api_cache(True, str(tmp_path / "named.sqlite3"))
    assert _twice(kept, fake) == 1
    openai_utils.force_api_cache(True)
    assert _twice(kept, fake) == 1  # another file: the first of the two is sent again
    assert (tmp_path / DEFAULT_CACHE_FILE).exists()  # the test runs in tmp_path, with no config.ini
    assert openai_utils.client() is kept


def test_a_call_in_flight_on_a_kept_client_finishes_as_force_api_cache_changes_it(
    fake: FakeAPI, tmp_path: Path
) -> None:
    """A thread's call through ``c`` waits for its answer while the main thread turns the cache on and
    calls through ``c``: the call gets its answer (its connection is not closed under it), the main
    thread's repeats hit, and the typed client the call used is let go once it is done."""
    kept = openai_utils.client()
    kept.send_message([{"role": "user", "content": "warm up"}])  # the typed client exists, and is held
    before = weakref.ref(openai_utils.typed_client())
    fake.enqueue(FakeReply(status=200, body=SLOW_ANSWER, delay=0.5))
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(kept.send_message([{"role": "user", "content": "slow"}])["content"])
        except Exception as error:  # noqa: BLE001  (whatever it is, the assertion below reports it)
            outcome.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5.0
    while len(fake.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(fake.received) == 2  # the slow call is in flight
    openai_utils.force_api_cache(True, str(tmp_path / "flight.sqlite3"))
    assert _twice(kept, fake) == 1  # during the slow call: the new setting is in force
    assert outcome == []  # still waiting
    caller.join(timeout=10.0)
    assert outcome == ["slow"]
    gc.collect()
    assert before() is None  # the replaced typed client, freed once the call let go of it
    assert openai_utils.client() is kept


def test_close_keeps_the_default_client_and_force_api_cache_still_reaches_it(
    fake: FakeAPI, tmp_path: Path
) -> None:
    """``close()`` closes the default client's connections, not the client: ``client()`` is still
    the one kept, its next call opens new ones, a later ``force_api_cache`` reaches it, and its cost
    statistics go on counting."""
    kept = openai_utils.client()
    kept.send_message(QUESTION)
    old_pool = openai_utils.typed_client()._transport.openai  # type: ignore[attr-defined]  # an OpenAIClient's
    openai_utils.close()
    assert old_pool.is_closed()
    assert openai_utils.client() is kept
    openai_utils.force_api_cache(True, str(tmp_path / "after-close.sqlite3"))
    assert _twice(kept, fake) == 1
    assert not openai_utils.typed_client()._transport.openai.is_closed()  # type: ignore[attr-defined]  # as above
    assert kept.get_cost_stats()["model_calls"] == 2
    assert kept.get_cost_stats()["cached_calls"] == 1


def test_a_cache_change_while_a_call_builds_its_per_call_client_is_kept_in_it(
    fake: FakeAPI, tmp_path: Path
) -> None:
    """``set_api_cache`` lands after a call with its own ``timeout`` read the settings and before it
    built the client for that timeout (as another thread's can): the client it builds has the new
    cache, and so do the later calls that reuse it, not the settings the call read first."""

    class Racing(openai_utils.OpenAIClient):
        racing = True

        def _variant(self, config: typed_llm.Settings, **options: float | None) -> typed_llm.Client | None:
            if self.racing:  # between the call's reading of the settings and the build, once
                self.racing = False
                self.set_api_cache(True, str(tmp_path / "race.sqlite3"))
            return super()._variant(config, **options)

    racing = Racing()
    assert _twice(racing, fake, timeout=7.0) == 1  # the first fills the new cache, the second hits
    assert _twice(racing, fake, timeout=7.0) == 0


def test_force_api_cache_rebuilds_a_built_client_that_cannot_take_it_in_place(fake: FakeAPI) -> None:
    """A builder registered for ``openai`` that wraps a typed client of its own in a ``SeedClient``:
    that client refuses ``set_api_cache`` (its typed client is the builder's), so ``force_api_cache``
    has the builder build it again on next use, as it does a builder's typed client."""
    built: list[openai_utils.SeedClient] = []

    def build() -> openai_utils.SeedClient:
        typed = typed_llm.OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
        built.append(openai_utils.SeedClient(typed))
        return built[-1]

    openai_utils.register_client("openai", build)
    assert openai_utils.client() is openai_utils.client() is built[0]
    openai_utils.force_api_cache(True)
    assert openai_utils.client() is built[1]
    assert openai_utils.client().send_message(QUESTION)["content"] == "Echo: What is a tiny troupe?"
    for seed in built:
        seed.client.close()  # type: ignore[union-attr]  # given to each: set
