"""How long the facade keeps the clients it built once they are superseded (a cache change, a registration).

A long-running process that toggles ``force_api_cache`` (or ``set_api_cache``) must not collect
open connection pools: a superseded client nobody holds any more is let go (its pool closes), one a
caller still holds keeps working (a call may be under way) until ``close()``, and a client the caller
registered is never closed by the facade.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from typing import TYPE_CHECKING

import pytest

import typed_llm
from helpers import FAKE_OPENAI_KEY
from seed_fixtures import SLOW_ANSWER, seed_fake, seed_registry  # noqa: F401  (fixtures: pytest finds them here)
from typed_llm import ChatRequest, UserMessage, openai_utils
from typed_llm.testing._replies import FakeReply

if TYPE_CHECKING:
    from pathlib import Path

    import openai

    from typed_llm.testing._fake import FakeAPI

TURNS = 20


def _pool_of(client: object) -> openai.OpenAI:
    """The openai client underneath a typed client (what holds its connection pool)."""
    assert isinstance(client, typed_llm.OpenAIClient)
    return client._transport.openai


def _open(pools: list[weakref.ref[openai.OpenAI]]) -> int:
    """How many of these pools still exist and are open (after a collection)."""
    gc.collect()
    return sum(1 for ref in pools if (pool := ref()) is not None and not pool.is_closed())


def test_toggling_force_api_cache_leaves_only_the_current_pools_open(fake: FakeAPI, tmp_path: Path) -> None:
    """Each toggle replaces the typed clients under the default client (which stays the same object,
    as in the seed): the replaced ones are let go."""
    pools: list[weakref.ref[openai.OpenAI]] = []
    wrappers: list[weakref.ref[openai_utils.SeedClient]] = []
    for turn in range(TURNS):
        openai_utils.force_api_cache(turn % 2 == 0, str(tmp_path / "toggled.sqlite3"))
        facade = openai_utils.client()
        # timeout=: the wrapper builds a per-call client too
        facade.send_message([{"role": "user", "content": f"turn {turn}"}], timeout=7.0)
        pools.append(weakref.ref(_pool_of(openai_utils.typed_client())))
        pools.extend(weakref.ref(_pool_of(variant)) for variant in facade._variants.values())
        wrappers.append(weakref.ref(facade))
        del facade
    assert len(pools) == 2 * TURNS
    assert _open(pools) == 2  # the current client and its wrapper's per-call client
    assert {id(ref()) for ref in wrappers} == {id(openai_utils.client())}  # one client throughout
    openai_utils.close()
    assert _open(pools) == 0
    assert len(fake.received) == TURNS


def test_a_typed_client_still_held_across_cache_changes_keeps_working_until_close(
    fake: FakeAPI, tmp_path: Path
) -> None:
    """A caller's old ``typed_client()`` is not closed under it by a cache change; ``close()`` closes it.

    The seed-style ``client()`` kept from before is the same object throughout, and goes on working.
    """
    kept = openai_utils.client()
    old = openai_utils.typed_client()
    old_pool = _pool_of(old)
    for turn in range(3):
        openai_utils.force_api_cache(turn % 2 == 0, str(tmp_path / "held.sqlite3"))
        openai_utils.client().send_message([{"role": "user", "content": f"new {turn}"}])
    assert openai_utils.client() is kept
    assert openai_utils.typed_client() is not old
    assert not old_pool.is_closed()
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="old"),))
    assert old.complete(request).choices[0].message.content == "Echo: old"
    assert kept.send_message([{"role": "user", "content": "kept"}])["content"] == "Echo: kept"
    openai_utils.close()
    assert old_pool.is_closed()
    assert len(fake.received) == 5


def test_a_call_in_flight_survives_a_cache_change_in_another_thread(fake: FakeAPI, tmp_path: Path) -> None:
    """Another thread toggles the cache while a call waits for its answer: the call still gets it."""
    fake.enqueue(FakeReply(status=200, body=SLOW_ANSWER, delay=0.5))
    answers: list[str] = []
    failures: list[Exception] = []

    def call() -> None:
        try:
            answer = openai_utils.client().send_message([{"role": "user", "content": "slow"}])
        except Exception as error:  # noqa: BLE001  (whatever it is, the assertion below reports it)
            failures.append(error)
        else:
            answers.append(answer["content"])

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5.0
    while not fake.received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.received  # the call is in flight
    for turn in range(4):
        openai_utils.force_api_cache(turn % 2 == 0, str(tmp_path / "flight.sqlite3"))
        openai_utils.client().send_message([{"role": "user", "content": f"meanwhile {turn}"}])
    gc.collect()
    caller.join(timeout=10.0)
    assert (answers, failures) == (["slow"], [])


@pytest.mark.usefixtures("fake")
def test_toggling_set_api_cache_leaves_only_the_current_pool_open(tmp_path: Path) -> None:
    """``SeedClient.set_api_cache`` rebuilds the seed's typed client; the replaced ones are let go."""
    seed = openai_utils.OpenAIClient()
    pools: list[weakref.ref[openai.OpenAI]] = []
    for turn in range(TURNS):
        seed.set_api_cache(turn % 2 == 0, str(tmp_path / "seed.sqlite3"))
        seed.send_message([{"role": "user", "content": f"turn {turn}"}])
        pools.append(weakref.ref(_pool_of(seed.client)))
    assert _open(pools) == 1
    seed.close()
    assert _open(pools) == 0


def test_registered_clients_are_never_closed_by_rebuilds_or_replacement(
    fake: FakeAPI, tmp_path: Path
) -> None:
    """A client the caller registered stays open through toggles, its replacement and ``close()``."""
    given = [typed_llm.OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url) for _ in range(2)]
    openai_utils.register_client("openai", given[0])
    for turn in range(4):
        openai_utils.force_api_cache(turn % 2 == 0, str(tmp_path / "given.sqlite3"))
        openai_utils.client().send_message([{"role": "user", "content": f"turn {turn}"}])
    openai_utils.register_client("openai", given[1])
    openai_utils.client().send_message([{"role": "user", "content": "second"}])
    gc.collect()
    openai_utils.close()
    assert [_pool_of(client).is_closed() for client in given] == [False, False]
    assert len(fake.received) == 5
    for client in given:
        client.close()


def test_a_built_client_replaced_by_register_client_is_let_go(fake: FakeAPI) -> None:
    """Registering over a client the registry built drops it (its pool closes once nobody holds it)."""
    built = weakref.ref(_pool_of(openai_utils.typed_client()))
    openai_utils.client().send_message([{"role": "user", "content": "built"}])
    given = typed_llm.OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    openai_utils.register_client("openai", given)
    openai_utils.client().send_message([{"role": "user", "content": "given"}])
    assert _open([built]) == 0
    openai_utils.close()
    assert not _pool_of(given).is_closed()
    given.close()
