"""RedisCache against raw redis-py, and what single-flight adds to a miss.

A shared cache earns its place only if a hit costs about what the GET under it costs, and
coalescing identical calls only if a call that has nothing to share pays almost nothing for it.
One run, on a redis-server this script starts on a free loopback port (Debian's binary):

1. ``RedisCache.get`` vs a raw ``redis.Redis.get`` of the same key (a real ~1.1 KB entry),
   interleaved. Target: median ratio <= 1.3;
2. a cache-hit ``OpenAIClient.complete`` through Redis vs raw GET + ``model_validate_json``
   (information: what key, envelope and layers add);
3. a miss (a new request each call, answered by the loopback fake) with and without single-flight,
   with ``MemoryCache`` (in-process flights only) and with ``RedisCache`` (the lease: two scripts).

Run it from the project root::

    .venv/bin/python bench/bench_redis.py [--samples N]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from typing import cast

import redis

from typed_llm import ChatRequest, ChatResponse, MemoryCache, NoRetry, OpenAIClient, RedisCache, UserMessage
from typed_llm._cache.entry import decode_entry
from typed_llm.testing._fake import FakeAPI


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


def _pair(a: object, b: object, n: int) -> tuple[float, float]:
    sa: list[int] = []
    sb: list[int] = []
    for _ in range(n):
        for call, out in ((a, sa), (b, sb)):
            start = time.perf_counter_ns()
            call()  # type: ignore[operator]
            out.append(time.perf_counter_ns() - start)
    return _us(sa), _us(sb)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    folder = tempfile.mkdtemp(prefix="typed-llm-bench-redis-")
    port = _port()
    server = subprocess.Popen(  # noqa: S603  (the binary found on PATH, our own arguments)
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            folder,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        raw = redis.Redis.from_url(url)
        for _ in range(200):
            try:
                raw.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        cache = RedisCache(url)
        with FakeAPI() as fake:
            request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="bench " * 150),))
            with OpenAIClient(api_key="sk-test-bench", base_url=fake.openai_base_url, cache=cache) as client:
                client.complete(request)
                (name,) = cast("list[bytes]", raw.keys(f"{cache.prefix}:e:*"))
                key = name.decode().rsplit(":", 1)[1]
                value = cast("bytes", raw.get(name))
                print(
                    f"redis-server {raw.info()['redis_version']}, entry {len(value)} bytes, "
                    f"{args.samples} samples"
                )
                ours, theirs = _pair(lambda: cache.get(key), lambda: raw.get(name), args.samples)
                print(
                    f"1. RedisCache.get {ours:.1f} µs vs raw GET {theirs:.1f} µs: "
                    f"ratio {ours / theirs:.2f} (target <= 1.3)"
                )
                hit, floor = _pair(
                    lambda: client.complete(request),
                    lambda: decode_entry(cast("bytes", raw.get(name)), ChatResponse),
                    args.samples,
                )
                print(
                    f"2. cached complete() {hit:.1f} µs vs raw GET + parse {floor:.1f} µs: "
                    f"ratio {hit / floor:.2f}"
                )
            counter = iter(range(10**9))
            misses = max(200, args.samples // 10)
            for label, make in (
                ("MemoryCache", MemoryCache),
                ("RedisCache", lambda: RedisCache(url, prefix=f"b{time.time_ns()}")),
            ):
                clients = {
                    flag: OpenAIClient(
                        api_key="sk-test-bench",
                        base_url=fake.openai_base_url,
                        cache=make(),
                        backoff=NoRetry(),
                        single_flight=flag,
                        preflight=False,
                    )
                    for flag in (True, False)
                }

                def miss(client: OpenAIClient) -> None:
                    content = f"miss {next(counter)}"
                    client.complete(
                        ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=content),))
                    )

                with_flight, without = clients[True], clients[False]
                on, off = _pair(lambda: miss(with_flight), lambda: miss(without), misses)  # noqa: B023
                fake.received.clear()
                print(
                    f"3. miss with {label}: single-flight {on:.1f} µs vs without {off:.1f} µs: "
                    f"+{on - off:.1f} µs"
                )
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
