"""Cached ``complete()``: µs per call answered by a ``MemoryCache`` or an ``SQLiteCache`` hit.

Uses only the public API (and the loopback fake for the one call that fills the cache), so the same
script runs against any tree's ``typed_llm``: run it with each tree's interpreter to compare
releases on one machine (``bench/README.md`` shows the before/after of the pipeline redesign).

Run it from the project root::

    .venv/bin/python bench/bench_cached_complete.py [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from typed_llm import ChatRequest, MemoryCache, OpenAIClient, SQLiteCache, UserMessage

try:
    from typed_llm.testing import FakeAPI
except ImportError:  # trees before the wave-2 layout kept the fake at the top level
    from typed_llm._fake import FakeAPI  # type: ignore[import-not-found,no-redef,unused-ignore]  # older trees only

KEY = "sk-test-bench-cached-0123456789"


def main() -> None:
    """Fill each cache once, then time hits in rounds; print the median per-call time of each."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="hits per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per cache (default 7)")
    args = parser.parse_args()
    request = ChatRequest(
        model="gpt-4o-mini", messages=(UserMessage(content="Name one reason to type-check LLM calls."),)
    )
    with FakeAPI() as fake, tempfile.TemporaryDirectory() as folder:
        caches: dict[str, MemoryCache | SQLiteCache] = {
            "memory": MemoryCache(),
            "sqlite": SQLiteCache(Path(folder) / "bench.sqlite3"),
        }
        clients = {
            name: OpenAIClient(api_key=KEY, base_url=fake.openai_base_url, cache=cache)
            for name, cache in caches.items()
        }
        for client in clients.values():
            client.complete(request)
        rounds: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(args.rounds):
            for name, client in clients.items():
                started = time.perf_counter()
                for _ in range(args.calls):
                    client.complete(request)
                rounds[name].append((time.perf_counter() - started) / args.calls * 1e6)
        assert len(fake.received) == len(clients)
    for name, values in rounds.items():
        print(
            f"cached complete(), {name:6s} hit: {statistics.median(values):7.2f} us per call "
            f"(rounds {min(values):.2f}-{max(values):.2f})"
        )


if __name__ == "__main__":
    main()
