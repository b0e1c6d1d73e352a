"""Who closes an SQLite cache, and what closing it does, counted in the process's open descriptors.

The rule is httpx's and openai's for an HTTP client: what a client builds, its ``close()`` closes
(a cache from a path, or the one the seed settings build for it); a cache you pass in is yours.
``SQLiteCache.close()`` closes the connection of every thread that used it, waits for an operation
in flight in another thread instead of closing the file under it, may be called again, and leaves
a cache whose every later use is a ``CacheError`` saying it is closed (it never reopens by itself).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from seed_fixtures import seed_fake, seed_registry  # noqa: F401  (fixtures: pytest finds them here)
from typed_llm import (
    AsyncAzureClient,
    AsyncOpenAIClient,
    AzureClient,
    CacheError,
    ChatRequest,
    OpenAIClient,
    SQLiteCache,
    UserMessage,
    openai_utils,
)
from typed_llm._compat import registry as _registry

if TYPE_CHECKING:
    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="cache me"),))


def open_descriptors(path: Path) -> int:
    """How many of this process's file descriptors are on the cache file, its -wal or its -shm."""
    names = {str(path.resolve()) + suffix for suffix in ("", "-wal", "-shm")}
    count = 0
    for entry in os.scandir("/proc/self/fd"):
        try:
            target = str(Path(entry.path).readlink())
        except OSError:  # the descriptor scandir itself used, closed by now
            continue
        count += target in names
    return count


def _use_from_threads(cache: SQLiteCache, threads: int = 3) -> None:
    """Each of ``threads`` threads reads and writes, so each opens a connection of its own."""

    def work(n: int) -> None:
        cache.set(f"thread {n}", b"1")
        assert cache.get(f"thread {n}") == b"1"

    runners = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()


def test_close_closes_the_connection_of_every_thread_and_is_idempotent(tmp_path: Path) -> None:
    """Connections of threads still alive (a pool's workers) are closed too; a second close is quiet."""
    path = tmp_path / "cache.sqlite3"
    cache = SQLiteCache(path)
    gate = threading.Event()
    ready = threading.Barrier(4)

    def worker(n: int) -> None:
        cache.set(f"worker {n}", b"1")
        ready.wait()
        gate.wait()  # alive, its connection held in its thread-local, when close() runs

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for runner in workers:
        runner.start()
    ready.wait()
    assert open_descriptors(path) >= 4  # the file and the -wal of each connection, the -shm
    cache.close()
    assert open_descriptors(path) == 0
    cache.close()
    gate.set()
    for runner in workers:
        runner.join()
    assert open_descriptors(path) == 0


@pytest.mark.parametrize(
    ("name", "use"),
    [
        ("get", lambda cache: cache.get("k")),
        ("set", lambda cache: cache.set("k", b"v")),
        ("stats", lambda cache: cache.stats()),
        ("clear", lambda cache: cache.clear()),
        ("invalidate", lambda cache: cache.invalidate(model="gpt-4o")),
    ],
)
def test_a_closed_cache_is_a_cache_error_and_opens_nothing(tmp_path: Path, name: str, use: object) -> None:
    """From the thread that closed it and from a new thread alike: the same typed error, no file opened."""
    path = tmp_path / "cache.sqlite3"
    cache = SQLiteCache(path)
    cache.set("k", b"v")
    cache.close()
    assert callable(use)
    errors: list[BaseException] = []
    for where in ("this thread", "a new thread"):

        def attempt() -> None:
            try:
                use(cache)
            except BaseException as exc:  # noqa: BLE001  (asserted below)
                errors.append(exc)

        if where == "this thread":
            attempt()
        else:
            runner = threading.Thread(target=attempt)
            runner.start()
            runner.join()
    assert [type(error) for error in errors] == [CacheError, CacheError], name
    for error in errors:
        assert isinstance(error, CacheError)
        assert str(error).startswith(f"SQLiteCache({path}) is closed")
        assert error.path == str(path)
    assert open_descriptors(path) == 0
    with sqlite3.connect(path) as raw:  # the entry is still in the file: closing deleted nothing
        assert raw.execute("SELECT count(*) FROM entries").fetchone() == (1,)


def test_close_waits_for_an_operation_in_flight_in_another_thread(tmp_path: Path) -> None:
    """A write waiting for SQLite's lock is not broken by close() in another thread: it ends, then close."""
    path = tmp_path / "cache.sqlite3"
    cache = SQLiteCache(path, busy_timeout=10.0)
    cache.get("warm")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock: the set below waits
    outcome: list[object] = []
    writing = threading.Event()

    def write() -> None:
        writing.set()
        try:
            cache.set("in flight", b"paid")
        except BaseException as exc:  # noqa: BLE001  (asserted below)
            outcome.append(exc)
        else:
            outcome.append("stored")
        outcome.append(time.monotonic())

    writer = threading.Thread(target=write)
    writer.start()
    writing.wait()
    time.sleep(0.2)  # the set is inside SQLite's busy wait now
    closer = threading.Thread(target=cache.close)
    closer.start()
    time.sleep(0.3)
    assert closer.is_alive()  # close() waits for the write in flight
    blocker.execute("COMMIT")
    blocker.close()
    closer.join(timeout=10)
    closed_at = time.monotonic()
    writer.join(timeout=10)
    assert outcome[0] == "stored"
    assert isinstance(outcome[1], float)
    assert outcome[1] <= closed_at
    assert open_descriptors(path) == 0
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT value FROM entries WHERE key = 'in flight'").fetchone() == (b"paid",)
    with pytest.raises(CacheError, match="is closed"):
        cache.get("in flight")


def test_a_thread_hammering_the_cache_while_it_closes_sees_only_the_closed_error(tmp_path: Path) -> None:
    """Whatever an operation was doing when close() ran, it ends whole or as CacheError('... is closed')."""
    path = tmp_path / "cache.sqlite3"
    cache = SQLiteCache(path)
    stop = threading.Event()
    seen: list[BaseException] = []
    done = [0]

    def hammer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                cache.set(f"k{n % 50}", os.urandom(200))
                cache.get(f"k{(n * 7) % 50}")
            except BaseException as exc:  # noqa: BLE001  (asserted below)
                seen.append(exc)
                return
            done[0] = n

    runners = [threading.Thread(target=hammer, daemon=True) for _ in range(3)]
    for runner in runners:
        runner.start()
    try:
        while done[0] < 100 and not seen:
            time.sleep(0.005)
        cache.close()
        for runner in runners:
            runner.join(timeout=10)
    finally:  # a close() that stopped nothing must fail this test, not hang the run
        stop.set()
    assert len(seen) == len(runners)
    for error in seen:
        assert isinstance(error, CacheError), repr(error)
        assert "is closed" in str(error)
    assert open_descriptors(path) == 0


@pytest.mark.parametrize("given", [Path, str], ids=["Path", "str"])
@pytest.mark.parametrize("kind", [OpenAIClient, AzureClient], ids=["openai", "azure"])
def test_a_client_closes_the_cache_it_built_from_a_path(
    tmp_path: Path, fake: FakeAPI, kind: type[OpenAIClient | AzureClient], given: type[Path | str]
) -> None:
    """cache=PATH (Path or str): the client builds the SQLiteCache, uses it from every thread, closes it."""
    path = tmp_path / "cache.sqlite3"
    where = given(path)
    if kind is OpenAIClient:
        client: OpenAIClient | AzureClient = OpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=where
        )
    else:
        client = AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="v1", cache=where)
    with client:
        first = client.complete(REQUEST)
        answers: list[object] = []
        runner = threading.Thread(target=lambda: answers.append(client.complete(REQUEST)))
        runner.start()
        runner.join()
        assert answers == [first]  # a hit, from the other thread's own connection
        assert open_descriptors(path) > 0
    assert len(fake.received) == 1
    assert open_descriptors(path) == 0
    client.close()  # again: nothing left to close, no error
    assert SQLiteCache(path).stats().entries == 1  # the file is still a cache for whoever opens it next


def test_a_cache_you_pass_stays_yours(tmp_path: Path, fake: FakeAPI) -> None:
    """cache=SQLiteCache(path): the client's close() leaves it open; you close it."""
    path = tmp_path / "cache.sqlite3"
    cache = SQLiteCache(path)
    with OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache) as client:
        client.complete(REQUEST)
        copy = client.with_options(timeout=30)
    copy.close()
    assert cache.stats().entries == 1
    _use_from_threads(cache)
    assert open_descriptors(path) > 0
    cache.close()
    assert open_descriptors(path) == 0


def test_a_from_seed_cache_belongs_to_the_first_client_given_it(tmp_path: Path, fake: FakeAPI) -> None:
    """from_seed (the settings' cache): the first client given it closes it, a second does not."""
    path = tmp_path / "seed.pickle"
    cache = SQLiteCache.from_seed(cache_api_calls=True, cache_file_name=path)
    assert cache is not None
    owner = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
    borrower = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
    borrower.complete(REQUEST)
    borrower.close()
    assert owner.complete(REQUEST).request_id is not None  # a hit: the borrower closed nothing
    assert len(fake.received) == 1
    owner.close()
    assert open_descriptors(cache.path) == 0


def test_the_seed_facade_closes_the_cache_files_it_opened(tmp_path: Path, fake: FakeAPI) -> None:
    """openai_utils with the cache on, used from several threads: openai_utils.close() closes it all."""
    path = tmp_path / "facade.sqlite3"
    openai_utils.force_api_cache(True, str(path))

    def ask(n: int) -> None:
        openai_utils.client().send_message([{"role": "user", "content": f"question {n % 2}"}])

    runners = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    ask(0)  # this thread's connection stays open until close()
    assert open_descriptors(path) > 0
    openai_utils.close()
    assert open_descriptors(path) == 0
    assert len(fake.received) <= 5
    _registry._reset()


@pytest.mark.parametrize("kind", [AsyncOpenAIClient, AsyncAzureClient], ids=["openai", "azure"])
def test_an_async_client_closes_the_cache_it_built(
    tmp_path: Path, fake: FakeAPI, kind: type[AsyncOpenAIClient | AsyncAzureClient]
) -> None:
    """``async with`` on a client given a path: the cache closes with the client; one you pass stays open."""
    built, given = tmp_path / "built.sqlite3", tmp_path / "given.sqlite3"
    yours = SQLiteCache(given)

    def make(cache: Path | SQLiteCache) -> AsyncOpenAIClient | AsyncAzureClient:
        if kind is AsyncOpenAIClient:
            return AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
        return AsyncAzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="v1", cache=cache)

    async def run() -> None:
        async with make(built) as client:
            await client.complete(REQUEST)
            assert (await client.complete(REQUEST)).request_id is not None
            assert open_descriptors(built) > 0
        await client.close()  # again
        async with make(yours) as other:
            await other.complete(REQUEST)

    asyncio.run(run())
    assert open_descriptors(built) == 0
    assert yours.stats().entries == 1
    assert open_descriptors(given) > 0
    yours.close()
    assert open_descriptors(given) == 0


def test_a_client_that_fails_to_build_closes_the_cache_it_opened(tmp_path: Path, fake: FakeAPI) -> None:
    """A wrong http_client is a ConfigurationError at construction: the cache file opened is closed."""
    import httpx2  # noqa: PLC0415

    from typed_llm import ConfigurationError  # noqa: PLC0415

    path = tmp_path / "cache.sqlite3"
    wrong = httpx2.AsyncClient()
    try:
        with pytest.raises(ConfigurationError):
            OpenAIClient(
                api_key=FAKE_OPENAI_KEY,
                base_url=fake.openai_base_url,
                cache=path,
                http_client=wrong,  # type: ignore[arg-type]  # the wrong kind, on purpose
            )
    finally:
        asyncio.run(wrong.aclose())
    assert open_descriptors(path) == 0


@pytest.mark.parametrize("kind", [AsyncOpenAIClient, AsyncAzureClient], ids=["openai", "azure"])
def test_a_from_seed_cache_belongs_to_the_first_async_client_given_it(
    tmp_path: Path, fake: FakeAPI, kind: type[AsyncOpenAIClient | AsyncAzureClient]
) -> None:
    """from_seed with async clients: the first one given it closes it at ``close()``, a second does not."""
    cache = SQLiteCache.from_seed(cache_api_calls=True, cache_file_name=tmp_path / "seed.pickle")
    assert cache is not None

    def make() -> AsyncOpenAIClient | AsyncAzureClient:
        if kind is AsyncOpenAIClient:
            return AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
        return AsyncAzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="v1", cache=cache)

    async def run() -> None:
        owner, borrower = make(), make()
        async with borrower:
            await borrower.complete(REQUEST)
        assert (await owner.complete(REQUEST)).request_id is not None  # a hit: the borrower closed nothing
        assert open_descriptors(cache.path) > 0
        await owner.close()

    asyncio.run(run())
    assert len(fake.received) == 1
    assert open_descriptors(cache.path) == 0
    with pytest.raises(CacheError, match="is closed"):
        cache.get("anything")


def test_a_thread_that_ended_frees_its_connection_at_once(tmp_path: Path) -> None:
    """Short-lived threads, round after round, leave no connection behind, even with the collector off.

    SQLite keeps a closed connection's descriptors while another connection of the process holds
    the file (closing one would drop the process's locks) and reuses them for the next open, so
    freed connections hold at most what the most connections open at once do (this thread's and
    three more: a file and a -wal each, one -shm); leaked ones add two descriptors a thread a round.
    """
    import gc  # noqa: PLC0415

    path = tmp_path / "cache.sqlite3"
    cache = SQLiteCache(path)
    gc.disable()  # only the thread's end may free its connection here
    try:
        for _ in range(10):
            _use_from_threads(cache, threads=3)
        assert open_descriptors(path) <= 2 * (3 + 1) + 1
    finally:
        gc.enable()
    cache.close()
    assert open_descriptors(path) == 0
