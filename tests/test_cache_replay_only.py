"""A replay-only cache (issue 21 item 1, last sentence): a miss says what changed, as a cassette's does.

A cache is filled against the loopback fake, then replayed with ``CachePolicy(replay_only=True)``:
hits answer (complete and stream, sync and async, memory and SQLite) with nothing sent; a miss
raises ``CacheMissError`` (an ``UnrecordedRequestError``) naming the nearest stored request and
the typed fields that changed, and still sends nothing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_OPENAI_KEY
from test_replay_drift import _CITY, RECORDED
from typed_llm import (
    AsyncOpenAIClient,
    CacheMissError,
    CachePolicy,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    FunctionDefinition,
    FunctionTool,
    MemoryCache,
    OpenAIClient,
    SQLiteCache,
    UnrecordedRequestError,
    UserMessage,
)
from typed_llm._cache.entry import decode_entry, encode_entry
from typed_llm.testing import FakeAPI

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from typed_llm import Cache

REPLAY = CachePolicy(replay_only=True)


@pytest.fixture(params=["memory", "sqlite"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Cache:
    return MemoryCache() if request.param == "memory" else SQLiteCache(tmp_path / "cache.sqlite3")


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with FakeAPI() as running:
        yield running


def _filled(cache: Cache, fake: FakeAPI) -> tuple[OpenAIClient, ChatResponse]:
    """The cache filled with RECORDED and one embedding; a replay-only client over it, and the answer."""
    filling = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
    answer = filling.complete(RECORDED)
    filling.embed(EmbeddingRequest(model="text-embedding-3-small", input=("a",)))
    fake.received.clear()
    client = OpenAIClient(
        api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache, cache_policy=REPLAY
    )
    return client, answer


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        pytest.param(
            RECORDED.model_copy(
                update={"messages": (RECORDED.messages[0], UserMessage(content="Summarize the report"))}
            ),
            ["messages[1].content: 'Summarise the report' → 'Summarize the report'"],
            id="message",
        ),
        pytest.param(
            RECORDED.model_copy(update={"temperature": 0.3}), ["temperature: 0.2 → 0.3"], id="parameter"
        ),
        pytest.param(
            RECORDED.model_copy(
                update={
                    "tools": (FunctionTool(function=FunctionDefinition(name="weather", parameters=_CITY)),)
                }
            ),
            ['tools[0].function.parameters.properties.city added: {"type": "string"}'],
            id="tool-schema",
        ),
    ],
)
def test_a_miss_names_the_nearest_stored_request_and_the_typed_fields_that_changed(
    cache: Cache, fake: FakeAPI, changed: ChatRequest, expected: list[str]
) -> None:
    """The miss is typed, lists exactly the changed fields, and nothing reaches the API."""
    client, answer = _filled(cache, fake)
    assert client.complete(RECORDED) == answer
    with pytest.raises(CacheMissError) as caught:
        client.complete(changed)
    assert isinstance(caught.value, UnrecordedRequestError)
    summary = caught.value.request_summary
    assert "nearest stored request: entry 1 of 1 ChatRequest entries" in summary
    changes = [line.strip() for line in summary.splitlines()[2:]]
    assert changes == expected
    assert "replay-only cache holds no answer" in str(caught.value)
    assert "CachePolicy(replay_only=False)" in caught.value.command
    assert fake.received == []


def test_a_stream_hits_and_misses_the_same_way(cache: Cache, fake: FakeAPI) -> None:
    """``stream()`` replays a stored answer, and misses with the same diagnostics."""
    client, answer = _filled(cache, fake)
    with client.stream(RECORDED) as stream:
        assert stream.final_response() == answer
    with (
        pytest.raises(CacheMissError, match=r"temperature: 0\.2 → 0\.5"),
        client.stream(RECORDED.model_copy(update={"temperature": 0.5})) as stream,
    ):
        stream.final_response()
    assert fake.received == []


def test_the_async_client_misses_the_same_way(fake: FakeAPI) -> None:
    """The async driver takes the same path (one layer, both drivers)."""
    cache = MemoryCache()
    _, answer = _filled(cache, fake)
    client = AsyncOpenAIClient(
        api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache, cache_policy=REPLAY
    )

    async def ask() -> None:
        assert await client.complete(RECORDED) == answer
        await client.complete(RECORDED.model_copy(update={"temperature": 0.3}))

    with pytest.raises(CacheMissError, match=r"temperature: 0\.2 → 0\.3"):
        asyncio.run(ask())
    assert fake.received == []


def test_another_endpoint_or_provider_shows_as_the_namespace_that_changed(fake: FakeAPI) -> None:
    """The same request against another base URL misses on the namespace, not on a field."""
    cache = MemoryCache()
    _filled(cache, fake)
    other = OpenAIClient(
        api_key=FAKE_OPENAI_KEY, base_url="http://127.0.0.1:9/v1", cache=cache, cache_policy=REPLAY
    )
    with pytest.raises(CacheMissError) as caught:
        other.complete(RECORDED)
    assert "namespace: 'openai http://127.0.0.1:" in caught.value.request_summary
    assert "→ 'openai http://127.0.0.1:9/v1'" in caught.value.request_summary


def test_an_empty_cache_or_one_of_old_entries_says_there_is_nothing_to_compare(fake: FakeAPI) -> None:
    """Entries stored before requests were kept still answer, but cannot be compared with."""
    empty = OpenAIClient(
        api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=MemoryCache(), cache_policy=REPLAY
    )
    with pytest.raises(CacheMissError, match="the cache holds no stored ChatRequest to compare with"):
        empty.complete(RECORDED)
    cache = MemoryCache()
    client, answer = _filled(cache, fake)
    # Each entry rewritten in the format from before entries kept their request.
    for key, value in list(cache._entries.items()):
        kind = ChatResponse if b'"ChatRequest"' in value else EmbeddingResponse
        assert b'"request":' in value
        cache.set(key, encode_entry(decode_entry(value, kind)[0]))
    assert client.complete(RECORDED) == answer
    with pytest.raises(CacheMissError, match="no stored ChatRequest"):
        client.complete(RECORDED.model_copy(update={"temperature": 0.9}))
    assert fake.received == []


def test_replay_only_cannot_bypass_stochastic_calls() -> None:
    """A replay-only cache must answer every call: a policy that sends some to the API is refused."""
    with pytest.raises(ValueError, match="replay-only"):
        CachePolicy(replay_only=True, stochastic="bypass")
