"""The cache backends, and the caching layer through real clients against the loopback fake."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
import threading
from typing import TYPE_CHECKING

import pytest
from structlog.testing import capture_logs

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import (
    AsyncOpenAIClient,
    AzureClient,
    BadRequestError,
    Cache,
    CacheStats,
    ChatRequest,
    EmbeddingRequest,
    ExponentialBackoff,
    MemoryCache,
    NoRetry,
    OpenAIClient,
    ServerError,
    SQLiteCache,
    UserMessage,
    cache_key,
)
from typed_llm.testing._replies import FakeReply

if TYPE_CHECKING:
    from pathlib import Path

    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="cache me"),))


@pytest.fixture(params=["memory", "sqlite"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Cache:
    return MemoryCache() if request.param == "memory" else SQLiteCache(tmp_path / "cache.sqlite3")


# --- backends ------------------------------------------------------------------------------------


def test_backend_get_set_clear_stats(cache: Cache) -> None:
    """Bytes in, the same bytes out; counts of hits and misses; clear empties it."""
    assert cache.get("k") is None
    cache.set("k", b'{"a": 1}')
    cache.set("k", b'{"a": 2}')
    assert cache.get("k") == b'{"a": 2}'
    stats = cache.stats()
    assert (stats.entries, stats.hits, stats.misses) == (1, 1, 1)
    cache.clear()
    assert cache.get("k") is None
    assert cache.stats().entries == 0


def test_memory_cache_evicts_least_recently_used() -> None:
    """Past max_entries, the entry used longest ago goes; a read counts as a use."""
    cache = MemoryCache(max_entries=2)
    cache.set("a", b"1")
    cache.set("b", b"2")
    assert cache.get("a") == b"1"
    cache.set("c", b"3")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1", None, b"3")


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    """The database (and its WAL) are readable and writable by the owner only: they hold prompts."""
    cache = SQLiteCache(tmp_path / "sub" / "cache.sqlite3")
    cache.set("k", b"{}")
    for path in (cache.path, cache.path.with_name(cache.path.name + "-wal")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_sqlite_stores_json_not_pickle(tmp_path: Path) -> None:
    """What is on disk is the JSON given, readable by any SQLite client."""
    cache = SQLiteCache(tmp_path / "c.sqlite3")
    cache.set("k", b'{"id": "x"}')
    with sqlite3.connect(cache.path) as raw:
        (value,) = raw.execute("SELECT value FROM entries WHERE key = 'k'").fetchone()
    assert json.loads(value) == {"id": "x"}


def test_sqlite_ttl_expires_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry older than ttl is a miss."""
    now = [1000.0]
    monkeypatch.setattr("typed_llm._cache.sqlite.time.time", lambda: now[0])
    cache = SQLiteCache(tmp_path / "c.sqlite3", ttl=60)
    cache.set("k", b"{}")
    now[0] += 59
    assert cache.get("k") == b"{}"
    now[0] += 2
    assert cache.get("k") is None


def test_sqlite_size_bound_drops_oldest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With max_entries, the oldest entries go as new ones arrive."""
    now = [1000.0]
    monkeypatch.setattr("typed_llm._cache.sqlite.time.time", lambda: now[0])
    cache = SQLiteCache(tmp_path / "c.sqlite3", max_entries=50)
    for index in range(200):
        now[0] += 1
        cache.set(f"k{index}", b"{}")
    entries = cache.stats().entries
    assert 50 <= entries < 50 + 64
    assert cache.get("k0") is None
    assert cache.get("k199") == b"{}"


def test_sqlite_shared_by_threads(tmp_path: Path) -> None:
    """Eight threads writing and reading one cache: every value reads back whole."""
    cache = SQLiteCache(tmp_path / "c.sqlite3")
    errors: list[str] = []

    def work(worker: int) -> None:
        for index in range(200):
            key = f"k{(worker * 37 + index) % 300}"
            cache.set(key, key.encode() * 50)
            value = cache.get(key)
            if value != key.encode() * 50:
                errors.append(f"{key}: {value!r:.40}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache.stats().entries == 300


def test_seed_settings_turn_the_cache_on(tmp_path: Path) -> None:
    """CACHE_API_CALLS / CACHE_FILE_NAME: off gives None; on gives an SQLiteCache (never the pickle)."""
    assert SQLiteCache.from_seed(cache_api_calls=False, cache_file_name=tmp_path / "x.pickle") is None
    cache = SQLiteCache.from_seed(cache_api_calls=True, cache_file_name=tmp_path / "openai_api_cache.pickle")
    assert cache is not None
    assert cache.path == tmp_path / "openai_api_cache.sqlite3"


def test_bad_backend_settings_are_refused(tmp_path: Path) -> None:
    """Nonsense bounds fail at construction."""
    with pytest.raises(ValueError, match="max_entries"):
        MemoryCache(max_entries=0)
    for ttl in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="ttl must be a positive, finite number"):
            SQLiteCache(tmp_path / "c.sqlite3", ttl=ttl)
    for busy_timeout in (-1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="busy_timeout must be a finite number"):
            SQLiteCache(tmp_path / "c.sqlite3", busy_timeout=busy_timeout)
    assert not (tmp_path / "c.sqlite3").exists(), "refused before any file is made"


# --- the caching layer, through real clients ----------------------------------------------------------


def test_second_identical_call_is_served_from_the_cache(fake: FakeAPI, cache: Cache) -> None:
    """Two identical calls: the fake sees one request; the answers are equal."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
    first = client.complete(REQUEST)
    second = client.complete(REQUEST.model_copy(update={"temperature": 1.0}))  # the API default: same key
    assert second == first
    assert len(fake.received) == 1
    client.complete(REQUEST.model_copy(update={"temperature": 0.5}))
    assert len(fake.received) == 2


def test_embeddings_are_cached(fake: FakeAPI, cache: Cache) -> None:
    """Embedding calls are cached the same way."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
    request = EmbeddingRequest(model="text-embedding-3-small", input=("a", "b"))
    assert client.embed(request) == client.embed(request)
    assert len(fake.received) == 1


def test_a_hit_does_not_touch_network_or_backoff(fake: FakeAPI, tmp_path: Path) -> None:
    """A hit answers even when the server would now fail: no request, no retry."""
    cache = SQLiteCache(tmp_path / "c.sqlite3")
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
    expected = client.complete(REQUEST)
    fake.enqueue(*[FakeReply.error(503, "down")] * 10)
    assert client.complete(REQUEST) == expected
    assert len(fake.received) == 1


def test_errors_are_never_cached(fake: FakeAPI, cache: Cache) -> None:
    """A failed call stores nothing: the next identical call goes to the server again."""
    client = OpenAIClient(
        api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache, backoff=NoRetry()
    )
    fake.enqueue(FakeReply.error(400, "bad"), FakeReply.error(500, "down"))
    with pytest.raises(BadRequestError):
        client.complete(REQUEST)
    with pytest.raises(ServerError):
        client.complete(REQUEST)
    assert cache.stats().entries == 0
    assert client.complete(REQUEST).text == "Echo: cache me"
    assert len(fake.received) == 3


def test_retried_call_is_stored_once_it_succeeds(fake: FakeAPI, cache: Cache) -> None:
    """A call that succeeded after retries is stored; the next one is a hit."""
    backoff = ExponentialBackoff(wait_initial=0.001, wait_jitter=0.0)
    client = OpenAIClient(
        api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache, backoff=backoff
    )
    fake.enqueue(FakeReply.error(503, "down"))
    client.complete(REQUEST)
    client.complete(REQUEST)
    assert len(fake.received) == 2


def test_a_hit_keeps_azures_filter_verdicts(fake: FakeAPI, cache: Cache) -> None:
    """Azure's verdicts on the prompt and on each choice read back from the cache as they came."""
    safe = {
        "hate": {"filtered": False, "severity": "safe"},
        "violence": {"filtered": False, "severity": "low"},
    }
    answer = {
        "id": "chatcmpl-v",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "fine"},
                "content_filter_results": safe,
            }
        ],
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": safe}],
    }
    fake.enqueue(FakeReply(status=200, body=answer))
    client = AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, cache=cache)
    paid, hit = client.complete(REQUEST), client.complete(REQUEST)
    assert len(fake.received) == 1
    assert hit.attempts[0].kind == "cache"
    verdicts = [(r.category, r.severity) for r in hit.choices[0].content_filter_results]
    assert verdicts == [("hate", "safe"), ("violence", "low")]
    assert hit.prompt_filter_results == paid.prompt_filter_results != ()
    assert hit.choices == paid.choices


def test_filtered_completion_is_not_cached(fake: FakeAPI, cache: Cache) -> None:
    """A completion Azure's filter cut short is returned, but not kept."""
    filtered = {
        "id": "chatcmpl-f",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "finish_reason": "content_filter", "message": {"role": "assistant", "content": "x"}}
        ],
    }
    fake.enqueue(FakeReply(status=200, body=filtered))
    client = AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, cache=cache)
    assert client.complete(REQUEST).choices[0].finish_reason == "content_filter"
    assert client.complete(REQUEST).choices[0].finish_reason == "stop"
    assert len(fake.received) == 2


@pytest.mark.parametrize(
    "damage",
    [
        b"not json at all",
        b'{"id": "x"}',
        b'{"truncated": ',
        b'{"provenance":{"written_at":1,"sdk_version":"x","key_version":2},"response":{"id":"x"}}',
        b'{"provenance":{"written_at":1,"sdk_version":"x","key_version":2},"request":{"a":1},"resp',
    ],
    ids=["not-json", "wrong-schema", "cut-short", "enveloped-wrong-schema", "enveloped-cut-short"],
)
def test_damaged_entry_is_a_miss_and_a_warning(fake: FakeAPI, tmp_path: Path, damage: bytes) -> None:
    """A damaged entry: a warning, a call to the server, and the entry replaced by a good one."""
    cache = SQLiteCache(tmp_path / "c.sqlite3")
    namespace = f"openai {fake.openai_base_url}"
    key = cache_key(REQUEST, namespace)
    cache.set(key, damage)
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
    with capture_logs() as logs:
        assert client.complete(REQUEST).text == "Echo: cache me"
    damaged = [(log["log_level"], log["request_key"]) for log in logs if log["event"] == "cache_damaged"]
    assert damaged == [("warning", key)]
    assert len(fake.received) == 1
    assert client.complete(REQUEST).text == "Echo: cache me"
    assert len(fake.received) == 1


def test_namespaces_keep_clients_apart(fake: FakeAPI, cache: Cache) -> None:
    """OpenAI and Azure clients sharing one cache do not answer each other's requests."""
    OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache).complete(REQUEST)
    AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, cache=cache).complete(REQUEST)
    AzureClient(
        endpoint=fake.url, api_key=FAKE_AZURE_KEY, cache=cache, deployments={"gpt-4o-mini": "d2"}
    ).complete(REQUEST)
    assert len(fake.received) == 3


def test_async_clients_use_the_same_cache(fake: FakeAPI, cache: Cache) -> None:
    """The async client reads what the sync client stored, and stores what it fetched."""
    OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache).complete(REQUEST)
    other = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="async"),))

    async def calls() -> None:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache
        ) as client:
            await client.complete(REQUEST)
            await client.complete(other)
            await client.complete(other)

    asyncio.run(calls())
    assert len(fake.received) == 2


class _BrokenCache:
    """A backend that fails every read and write, as a locked or full disk does."""

    def get(self, key: str) -> bytes | None:
        raise sqlite3.OperationalError("database is locked")

    def set(self, key: str, value: bytes) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    def stats(self) -> CacheStats:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError


def test_a_failing_backend_never_loses_the_answer(fake: FakeAPI) -> None:
    """A backend that raises on get and set: the call still answers, with cache_error warnings."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=_BrokenCache())
    with capture_logs() as logs:
        assert client.complete(REQUEST).text == "Echo: cache me"
    errors = [(log["operation"], log["log_level"]) for log in logs if log["event"] == "cache_error"]
    assert errors == [("get", "warning"), ("set", "warning")]
    assert len(fake.received) == 1


def test_sqlite_ttl_deletes_expired_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a TTL and no size bound, expired rows are deleted as writes go on: no endless growth."""
    now = [1000.0]
    monkeypatch.setattr("typed_llm._cache.sqlite.time.time", lambda: now[0])
    cache = SQLiteCache(tmp_path / "c.sqlite3", ttl=10)
    for index in range(64):
        cache.set(f"old{index}", b"{}")
    now[0] += 100
    for index in range(65):
        cache.set(f"new{index}", b"{}")
    assert cache.stats().entries == 65


def test_azure_keys_depend_on_the_models_deployment_only(fake: FakeAPI, cache: Cache) -> None:
    """Mapping another model to a deployment does not change this model's keys: entries stay shared."""
    AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, cache=cache).complete(REQUEST)
    more = {"text-embedding-3-small": "embed-prod"}
    AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, cache=cache, deployments=more).complete(REQUEST)
    assert len(fake.received) == 1
