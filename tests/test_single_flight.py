"""Single-flight: identical concurrent calls make one API call, in one process and across processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest
import redis

from helpers import FAKE_OPENAI_KEY
from redis_helpers import CHAT_BODY, RedisServer, needs_redis
from typed_llm import (
    AsyncOpenAIClient,
    BadRequestError,
    CachePolicy,
    ChatRequest,
    ChatResponse,
    MemoryCache,
    NoRetry,
    OpenAIClient,
    UserMessage,
    cache_key,
)
from typed_llm._layers.singleflight import PROCESS_FLIGHTS, SingleFlight
from typed_llm.testing._replies import FakeReply

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="asked by everyone at once"),))
WORKER = Path(__file__).resolve().parent / "flight_worker.py"


def _slow(delay: float = 0.5) -> FakeReply:
    return FakeReply(status=200, body=CHAT_BODY, delay=delay)


def _client(fake: FakeAPI, cache: MemoryCache, **options: object) -> OpenAIClient:
    return OpenAIClient(
        api_key=FAKE_OPENAI_KEY,
        base_url=fake.openai_base_url,
        cache=cache,
        backoff=NoRetry(),
        **options,  # type: ignore[arg-type]  # the options are the constructor's own
    )


def _in_threads(count: int, call: object) -> list[object]:
    results: list[object] = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = call()  # type: ignore[operator]  # a zero-argument callable
        except Exception as exc:  # noqa: BLE001  (collected and asserted on)
            results[index] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_twenty_threads_make_one_request(fake: FakeAPI) -> None:
    """20 threads asking the same thing at once: the fake sees 1 request; all get the same answer."""
    fake.enqueue(_slow())
    with _client(fake, MemoryCache()) as client:
        results = _in_threads(20, lambda: client.complete(REQUEST))
    assert len(fake.received) == 1
    assert all(isinstance(r, ChatResponse) and r.text == "the one answer" for r in results)
    assert len(PROCESS_FLIGHTS) == 0


def test_twenty_tasks_make_one_request(fake: FakeAPI) -> None:
    """20 asyncio tasks asking the same thing at once: 1 request."""
    fake.enqueue(_slow())

    async def main() -> list[ChatResponse]:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=MemoryCache(), backoff=NoRetry()
        ) as client:
            return list(await asyncio.gather(*(client.complete(REQUEST) for _ in range(20))))

    results = asyncio.run(main())
    assert len(fake.received) == 1
    assert {r.text for r in results} == {"the one answer"}


def test_threads_and_tasks_share_one_flight(fake: FakeAPI) -> None:
    """A sync client in threads and an async one in a task, same cache: still one request."""
    fake.enqueue(_slow(0.8))
    cache = MemoryCache()

    async def one() -> ChatResponse:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache, backoff=NoRetry()
        ) as client:
            return await client.complete(REQUEST)

    with _client(fake, cache) as client:
        results = _in_threads(5, lambda: client.complete(REQUEST))
        results.append(asyncio.run(one()))
    assert len(fake.received) == 1
    assert all(isinstance(r, ChatResponse) for r in results)


def test_the_leaders_error_reaches_every_waiter(fake: FakeAPI) -> None:
    """The one call fails: every waiter gets the typed error (not None, not a hang), and nothing is stored."""
    fake.enqueue(
        FakeReply(
            status=400,
            body={"error": {"message": "bad", "type": "x", "param": None, "code": None}},
            delay=0.5,
        )
    )
    cache = MemoryCache()
    with _client(fake, cache) as client:
        results = _in_threads(20, lambda: client.complete(REQUEST))
    assert len(fake.received) == 1
    assert all(isinstance(r, BadRequestError) for r in results)
    assert len({id(r) for r in results}) == 20  # each waiter its own copy
    assert cache.stats().entries == 0


def test_the_leaders_error_reaches_every_task(fake: FakeAPI) -> None:
    fake.enqueue(
        FakeReply(
            status=400,
            body={"error": {"message": "bad", "type": "x", "param": None, "code": None}},
            delay=0.3,
        )
    )

    async def main() -> list[BaseException | ChatResponse]:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=MemoryCache(), backoff=NoRetry()
        ) as client:
            return list(
                await asyncio.gather(*(client.complete(REQUEST) for _ in range(10)), return_exceptions=True)
            )

    results = asyncio.run(main())
    assert len(fake.received) == 1
    assert all(isinstance(r, BadRequestError) for r in results)


def test_waiters_give_up_after_the_bound(fake: FakeAPI) -> None:
    """A waiter waits at most its bound, then calls the API itself."""
    fake.enqueue(_slow(1.0))
    with _client(fake, MemoryCache()) as client:
        # the bound is the layer's (600 s by default): made short on this client's own layer
        layers = client._pipeline.layers
        flight = next(layer for layer in layers if isinstance(layer, SingleFlight))
        client._pipeline = attrs.evolve(
            client._pipeline,
            layers=tuple(attrs.evolve(layer, wait=0.1) if layer is flight else layer for layer in layers),
        )
        started = time.monotonic()
        results = _in_threads(3, lambda: client.complete(REQUEST))
    assert len(fake.received) == 3
    assert all(isinstance(r, ChatResponse) for r in results)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("request_", "stochastic"),
    [
        pytest.param(REQUEST, True, id="temperature-unset"),
        pytest.param(REQUEST.model_copy(update={"temperature": 0.0}), False, id="temperature-0"),
        pytest.param(REQUEST.model_copy(update={"temperature": 0.7, "seed": 1}), False, id="seeded"),
        pytest.param(REQUEST.model_copy(update={"temperature": 0.0, "n": 2}), True, id="n-2"),
    ],
)
def test_the_policy_for_stochastic_calls(fake: FakeAPI, request_: ChatRequest, stochastic: bool) -> None:
    """Default: every call is cached. bypass: stochastic calls go to the API every time, uncoalesced."""
    with _client(fake, MemoryCache()) as client:
        client.complete(request_)
        client.complete(request_)
    assert len(fake.received) == 1
    bypassing = CachePolicy(stochastic="bypass")
    with _client(fake, MemoryCache(), cache_policy=bypassing) as client:
        client.complete(request_)
        client.complete(request_)
    assert len(fake.received) == (3 if stochastic else 2)


def test_the_key_of_n_covers_n() -> None:
    """A call for 2 choices never shares a key with a call for 1 or 3 (n=1 is the default)."""
    keys = {cache_key(REQUEST.model_copy(update={"n": n}), "ns") for n in (2, 3)}
    keys.add(cache_key(REQUEST, "ns"))
    assert len(keys) == 3
    assert cache_key(REQUEST.model_copy(update={"n": 1}), "ns") == cache_key(REQUEST, "ns")


def test_a_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="stochastic"):
        CachePolicy(stochastic="sometimes")  # type: ignore[arg-type]


# --- across processes, through Redis ---------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path)
    running.start()
    yield running
    running.stop()


def _workers(
    count: int, server: RedisServer, fake: FakeAPI, folder: Path, lease: float, go: Path | None = None
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    """Start ``count`` worker processes; with ``go``, each waits, ready, until that file exists."""
    started = []
    for n in range(count):
        out = folder / f"out{n}.json"
        gate = [] if go is None else [str(go)]
        process = subprocess.Popen(
            [sys.executable, str(WORKER), server.url, fake.openai_base_url, str(lease), str(out), *gate],
            env={**os.environ, "PYTHONPATH": str(WORKER.parent)},
        )
        started.append((process, out))
    return started


def _until(condition: Callable[[], bool], what: str, within: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail saying ``what`` did not happen ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {within:g} s"
        time.sleep(0.01)


@needs_redis
def test_four_processes_make_one_request(fake: FakeAPI, server: RedisServer, tmp_path: Path) -> None:
    """4 processes sharing one Redis ask the same thing: the fake sees exactly 1 request."""
    fake.enqueue(_slow(3.0))
    workers = _workers(4, server, fake, tmp_path, lease=30.0)
    for process, _out in workers:
        assert process.wait(timeout=60) == 0
    results = [json.loads(out.read_text()) for _process, out in workers]
    assert len(fake.received) == 1
    assert all(result == {"text": "the one answer", "id": "chatcmpl-shared"} for result in results)


@needs_redis
def test_a_killed_leader_is_taken_over_once(fake: FakeAPI, server: RedisServer, tmp_path: Path) -> None:
    """The leader is SIGKILLed mid-call: after its lease, exactly one waiter takes over; all answer.

    Synchronised on events, not sleeps: the waiters start up (interpreter, imports, client) before
    the leader calls, and are let go only once the leader's request has arrived, so the lease is
    held when they look; the leader is killed only once Redis shows all three subscribed to the
    flight's wake-up channel (a waiter subscribes after finding the lease taken). The lease (6 s)
    only has to outlast those few steps, whatever the machine's load did to start-up.
    """
    fake.enqueue(_slow(60.0))  # the leader's call hangs until it is killed
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    go = tmp_path / "go"
    waiters = _workers(3, server, fake, tmp_path / "b", lease=6.0, go=go)
    _until(lambda: len(list((tmp_path / "b").glob("*.ready"))) == 3, "the waiters' start-up")
    ((leader, _out),) = _workers(1, server, fake, tmp_path / "a", lease=6.0)
    _until(lambda: bool(fake.received), "the leader's request")
    lock = redis.Redis.from_url(server.url)
    (found,) = lock.keys("typed-llm:v2:flight:*:lock")
    lease = found.decode() if isinstance(found, bytes) else found
    wake = lease.removesuffix(":lock") + ":wake"
    go.touch()

    def all_waiting() -> bool:
        ((_channel, subscribers),) = lock.pubsub_numsub(wake)
        return int(subscribers) == 3

    _until(all_waiting, "the three waiters waiting on the lease")
    leader.send_signal(signal.SIGKILL)
    leader.wait()
    assert lock.exists(lease)  # the dead leader's lease is still there...
    assert len(fake.received) == 1
    for process, _out in waiters:
        assert process.wait(timeout=60) == 0
    results = [json.loads(out.read_text()) for _process, out in waiters]
    assert all("text" in result for result in results)
    assert len(fake.received) == 2  # ...until it expired and exactly one waiter took over
