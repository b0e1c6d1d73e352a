"""RedisCache against a real redis-server: hits, TTL, one format with SQLite, outages, async, loops."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import pytest
import redis
from structlog.testing import capture_logs

from helpers import FAKE_OPENAI_KEY
from redis_helpers import RedisServer, needs_redis
from typed_llm import (
    AsyncOpenAIClient,
    Cache,
    ChatRequest,
    ChatResponse,
    MemoryCache,
    NoRetry,
    OpenAIClient,
    RedisCache,
    SQLiteCache,
    UserMessage,
)
from typed_llm._cache.entry import decode_entry
from typed_llm._cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from typed_llm.testing._fake import FakeAPI

pytestmark = needs_redis

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="cache me in redis"),))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path_factory.mktemp("redis"))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def url(server: RedisServer) -> str:
    server.flush()
    return server.url


def _client(fake: FakeAPI, cache: Cache) -> OpenAIClient:
    return OpenAIClient(
        api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache, backoff=NoRetry()
    )


def _key(cache: RedisCache) -> str:
    (name,) = cast("list[bytes]", redis.Redis.from_url(cache.url).keys(f"{cache.prefix}:e:*"))
    return name.decode().rsplit(":", 1)[1]


def test_miss_then_hit_through_a_client(fake: FakeAPI, url: str) -> None:
    """The second identical call is answered from Redis: one request, under the versioned prefix."""
    cache = RedisCache(url)
    with _client(fake, cache) as client:
        first = client.complete(REQUEST)
        second = client.complete(REQUEST)
    assert second == first
    assert len(fake.received) == 1
    assert cache.stats().entries == 1
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)
    assert cast("list[bytes]", redis.Redis.from_url(url).keys("typed-llm:v2:e:*")) == [
        f"typed-llm:v2:e:{_key(cache)}".encode()
    ]


def test_entries_expire_with_the_ttl(url: str) -> None:
    """A TTL is set with the write itself; Redis expires the entry."""
    cache = RedisCache(url, ttl=0.3)
    cache.set("k", b"v")
    assert cache.get("k") == b"v"
    ttl_ms = redis.Redis.from_url(url).pttl(cache.entry_key("k"))
    assert 0 < ttl_ms <= 300
    time.sleep(0.4)
    assert cache.get("k") is None


def test_a_write_keeps_the_first_answer(url: str) -> None:
    """SET NX: a second writer of the same key does not replace the first answer."""
    cache = RedisCache(url)
    cache.set("k", b"first")
    cache.set("k", b"second")
    assert cache.get("k") == b"first"


def test_values_are_one_format_with_sqlite(fake: FakeAPI, url: str, tmp_path: Path) -> None:
    """An entry written through Redis answers from SQLite under the same key, and the other way round."""
    redis_cache = RedisCache(url)
    with _client(fake, redis_cache) as client:
        answer = client.complete(REQUEST)
    key = _key(redis_cache)
    raw = redis_cache.get(key)
    assert raw is not None
    assert decode_entry(raw, ChatResponse)[0] == answer
    sqlite = SQLiteCache(tmp_path / "c.sqlite3")
    sqlite.set(key, raw)
    with _client(fake, sqlite) as client:
        assert client.complete(REQUEST) == answer
    assert len(fake.received) == 1
    # and back: an entry SQLite holds answers from Redis
    other = REQUEST.model_copy(update={"messages": (UserMessage(content="stored in sqlite first"),)})
    with _client(fake, sqlite) as client:
        from_sqlite = client.complete(other)
    redis_cache.clear()
    with _client(fake, redis_cache) as client:
        client.complete(other)  # to learn its key, then replace its value with SQLite's
    other_key = _key(redis_cache)
    redis.Redis.from_url(url).delete(redis_cache.entry_key(other_key))
    sqlite_raw = sqlite.get(other_key)
    assert sqlite_raw is not None
    redis_cache.set(other_key, sqlite_raw)
    with _client(fake, redis_cache) as client:
        assert client.complete(other) == from_sqlite
    assert len(fake.received) == 3


def test_provenance_is_stored(fake: FakeAPI, url: str) -> None:
    """Each entry says when it was written, the model snapshot, fingerprint, request id and versions."""
    cache = RedisCache(url)
    before = time.time()
    with _client(fake, cache) as client:
        answer = client.complete(REQUEST)
    raw = cache.get(_key(cache))
    assert raw is not None
    _value, provenance = decode_entry(raw, ChatResponse)
    assert provenance is not None
    assert before <= provenance.written_at <= time.time()
    assert provenance.model == answer.model
    assert provenance.system_fingerprint == answer.system_fingerprint
    assert provenance.request_id == answer.request_id is not None
    assert provenance.key_version == 2
    assert provenance.sdk_version == "0.2.0"


def test_redis_killed_mid_run(fake: FakeAPI, tmp_path: Path) -> None:
    """Calls go on with a warning while Redis is down, and the cache is used again once it is back."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        cache = RedisCache(server.url, down_for=0.2, timeout=0.2)
        with _client(fake, cache) as client:
            client.complete(REQUEST)
            server.stop()
            with capture_logs() as logs:
                during = [client.complete(REQUEST.model_copy(update={"seed": n})) for n in range(3)]
            assert all(answer.text for answer in during)
            warnings = [e for e in logs if e["event"] == "cache_error"]
            assert warnings
            assert all(e["log_level"] == "warning" for e in warnings)
            server.start()
            time.sleep(0.25)
            client.complete(REQUEST.model_copy(update={"seed": 99}))
            client.complete(REQUEST.model_copy(update={"seed": 99}))
        assert len(fake.received) == 1 + 3 + 1
    finally:
        server.stop()


def test_an_unreachable_redis_costs_a_bounded_time(fake: FakeAPI) -> None:
    """A Redis that never answers (nothing listening) fails fast, and the call is answered."""
    cache = RedisCache("redis://127.0.0.1:1/0", timeout=0.2)
    started = time.monotonic()
    with capture_logs() as logs, _client(fake, cache) as client:
        assert client.complete(REQUEST).text
    assert time.monotonic() - started < 2
    assert {e["event"] for e in logs} >= {"cache_error"}


def test_async_clients_in_two_event_loops(fake: FakeAPI, url: str) -> None:
    """One RedisCache serves async clients in two event loops (a pool per loop), and sync clients."""
    cache = RedisCache(url)

    async def ask() -> ChatResponse:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache, backoff=NoRetry()
        ) as client:
            answer = await client.complete(REQUEST)
        await cache.aclose()  # this loop's pool: it cannot outlive the loop
        return answer

    first = asyncio.run(ask())
    second = asyncio.run(ask())
    assert first == second
    assert len(fake.received) == 1
    with _client(fake, cache) as client:
        assert client.complete(REQUEST) == first
    assert len(fake.received) == 1


def test_stats_and_clear_are_namespace_scoped(url: str) -> None:
    """stats counts, and clear removes, only this prefix's entries; other data stays."""
    mine, theirs = RedisCache(url, prefix="app-a"), RedisCache(url, prefix="app-b")
    for n in range(1200):  # more than one SCAN batch
        mine.set(f"k{n}", b"x" * 10)
    theirs.set("k0", b"y")
    plain = redis.Redis.from_url(url)
    plain.set("someone-else", b"z")
    stats = mine.stats()
    assert (stats.entries, stats.size_bytes) == (1200, 12000)
    assert "127.0.0.1" in stats.location
    mine.clear()
    assert mine.stats().entries == 0
    assert theirs.get("k0") == b"y"
    assert plain.get("someone-else") == b"z"


def test_the_location_hides_a_password() -> None:
    assert "hunter2" not in RedisCache("redis://user:hunter2@127.0.0.1:6379/0").location


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_invalidate_by_model_and_age(backend: str, url: str, tmp_path: Path, fake: FakeAPI) -> None:
    """invalidate(model=...) drops one snapshot's entries; older_than drops the old ones."""
    cache: MemoryCache | SQLiteCache | RedisCache
    if backend == "memory":
        cache = MemoryCache()
    elif backend == "sqlite":
        cache = SQLiteCache(tmp_path / "c.sqlite3")
    else:
        cache = RedisCache(url)
    with _client(fake, cache) as client:
        a = client.complete(REQUEST)
        client.complete(REQUEST.model_copy(update={"model": "gpt-4o"}))
    by_model = cache.entries_by_model()
    assert sorted(by_model.values()) == [1, 1]
    assert a.model in by_model
    with pytest.raises(ValueError, match="model= or older_than="):
        cache.invalidate()
    assert cache.invalidate(older_than=datetime.now(UTC) - timedelta(hours=1)) == 0
    assert cache.invalidate(model="no-such-snapshot") == 0
    assert cache.invalidate(model=a.model) == 1
    assert a.model not in cache.entries_by_model()
    assert cache.invalidate(older_than=timedelta(0)) == 1
    assert cache.entries_by_model() == {}
    with _client(fake, cache) as client:
        client.complete(REQUEST)
    assert len(fake.received) == 3  # the invalidated entry is asked again


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="seconds"):
        RedisCache(ttl=0)
    with pytest.raises(ValueError, match="seconds"):
        RedisCache(timeout=float("inf"))
    with pytest.raises(ValueError, match="seconds"):
        RedisCache(lease=-1)
    with pytest.raises(ValueError, match="seconds"):
        RedisCache(down_for=float("nan"))


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_command_line_stats_by_model_and_invalidate(
    backend: str, url: str, tmp_path: Path, fake: FakeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """`typed-llm cache stats` lists entries by model; `cache invalidate --model` removes one snapshot's."""
    path = tmp_path / "c.sqlite3"
    cache = SQLiteCache(path) if backend == "sqlite" else RedisCache(url)
    where = ["--file", str(path)] if backend == "sqlite" else ["--redis", url]
    with _client(fake, cache) as client:
        a = client.complete(REQUEST)
        client.complete(REQUEST.model_copy(update={"model": "gpt-4o"}))
    assert main(["cache", "stats", *where]) == 0
    out = capsys.readouterr().out
    assert "entries  2" in out
    assert f"       1  {a.model}" in out
    assert main(["cache", "invalidate", *where]) == 2
    assert main(["cache", "invalidate", "--model", a.model, *where]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert main(["cache", "invalidate", "--older-than", "0s", *where]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert main(["cache", "stats", *where]) == 0
    assert "entries  0" in capsys.readouterr().out
