"""Cached ``complete()``: µs per hit, and the peak memory of a process whose calls are all hits.

Two measurements, both against the same baseline, **openai + diskcache**: what a user writes by
hand (the request's parameters hashed as sorted JSON, ``diskcache.Cache.get``, the stored JSON
validated into openai's ``ChatCompletion``, its text read).

1. **µs per hit**, in one process, in rounds rotating between ``MemoryCache``, ``SQLiteCache`` and
   the baseline; each primed by one call to the loopback fake.
2. **Peak RSS of a hit-only process** (``VmHWM``): a fresh interpreter that imports the library,
   builds the client and makes ``--rss-calls`` (10,000) hits of a request stored by an earlier
   process, for our ``OpenAIClient`` with ``SQLiteCache`` and for the baseline, alternating, 3
   processes each; medians. Goal: ours <= 1.2x the baseline. The child also reports whether it
   loaded an encoding or imported tiktoken (a hit must do neither).

The typed-llm side uses only the public API (and the loopback fake for the calls that fill the
caches), so the µs part runs against any tree's ``typed_llm``: run it with each tree's interpreter to
compare releases (``bench/README.md`` shows the before/after of the pipeline redesign).

Run it from the project root::

    .venv/bin/python bench/bench_cached_complete.py [--calls N] [--rounds R] [--rss-calls N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import diskcache
import openai
from openai.types.chat import ChatCompletion

from typed_llm import ChatRequest, MemoryCache, OpenAIClient, SQLiteCache, UserMessage

try:
    from typed_llm.testing import FakeAPI
except ImportError:  # trees before the wave-2 layout kept the fake at the top level
    from typed_llm._fake import FakeAPI  # type: ignore[import-not-found,no-redef,unused-ignore]  # older trees only

if TYPE_CHECKING:
    from collections.abc import Callable

KEY = "sk-test-bench-cached-0123456789"
PROMPT = "Name one reason to type-check LLM calls."
PARAMS: dict[str, object] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}
"""The baseline's request: the same one as ``REQUEST``."""
TARGET_RSS_RATIO = 1.2
RSS_PROCESSES = 3
"""Hit-only processes per side; the median peak counts."""


class Baseline:
    """openai + diskcache, cached by hand: the sorted-JSON hash of the parameters is the key."""

    def __init__(self, folder: str, base_url: str) -> None:
        self._client = openai.OpenAI(api_key=KEY, base_url=base_url)
        cache = diskcache.Cache(folder)
        self._get: Callable[[str], bytes | None] = cache.get
        self._set: Callable[[str, bytes], bool] = cache.set

    def complete(self) -> str:
        """The stored answer's text, or the API's (stored) on a miss."""
        key = hashlib.sha256(json.dumps(PARAMS, sort_keys=True).encode()).hexdigest()
        raw = self._get(key)
        if raw is not None:
            return ChatCompletion.model_validate_json(raw).choices[0].message.content or ""
        answer = self._client.chat.completions.create(**PARAMS)  # type: ignore[call-overload]  # a plain dict of the documented parameters
        self._set(key, answer.model_dump_json().encode())
        return str(answer.choices[0].message.content or "")


def request() -> ChatRequest:
    """The request every typed-llm side asks."""
    return ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=PROMPT),))


CHILD = """
import json, resource, sys
from pathlib import Path

side, store, base_url, key, calls = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
answers = set()
if side == "ours":
    from typed_llm import ChatRequest, OpenAIClient, SQLiteCache, UserMessage

    client = OpenAIClient(api_key=key, base_url=base_url, cache=SQLiteCache(store))
    ask = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=PROMPT),))
    for _ in range(calls):
        answers.add(client.complete(ask).text)
else:
    import hashlib
    import diskcache, openai
    from openai.types.chat import ChatCompletion

    client = openai.OpenAI(api_key=key, base_url=base_url)
    cache = diskcache.Cache(store)
    params = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}
    for _ in range(calls):
        raw = cache.get(hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest())
        answers.add(ChatCompletion.model_validate_json(raw).choices[0].message.content)
try:  # ru_maxrss would keep the parent's peak across exec; VmHWM is this process's own
    peak = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0])
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
loaded = getattr(sys.modules.get("typed_llm._tokens"), "_load", None)
print(json.dumps({
    "peak_rss_kb": peak,
    "answers": sorted(answers),
    "encodings_loaded": loaded.cache_info().currsize if loaded is not None else None,
    "tiktoken_imported": "tiktoken" in sys.modules,
}))
""".replace("PROMPT", repr(PROMPT))
"""A hit-only process: imports only its side's libraries, makes the hits, reports its peak RSS.

Run as ``python -c``, not as this script, so that neither side carries the other's imports."""


def run_child(side: str, store: str, base_url: str, calls: int) -> dict[str, object]:
    """One hit-only process's report (it fails unless every call was a hit with the primed answer)."""
    done = subprocess.run(  # noqa: S603  (this interpreter, with a program and arguments built here)
        [sys.executable, "-c", CHILD, side, store, base_url, KEY, str(calls)],
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict[str, object] = json.loads(done.stdout)
    return report


def main() -> None:
    """Fill each cache once, time hits in rounds, then measure hit-only processes' peak memory."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="hits per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per cache (default 7)")
    parser.add_argument(
        "--rss-calls", type=int, default=10_000, help="hits per hit-only process (default 10000)"
    )
    args = parser.parse_args()
    with FakeAPI() as fake, tempfile.TemporaryDirectory() as folder:
        sqlite_path = str(Path(folder) / "bench.sqlite3")
        diskcache_folder = str(Path(folder) / "diskcache")
        clients = {
            name: OpenAIClient(api_key=KEY, base_url=fake.openai_base_url, cache=cache)
            for name, cache in (("memory", MemoryCache()), ("sqlite", SQLiteCache(sqlite_path)))
        }
        baseline = Baseline(diskcache_folder, fake.openai_base_url)
        ask = request()
        sides: dict[str, Callable[[], object]] = {
            "memory": lambda: clients["memory"].complete(ask),
            "sqlite": lambda: clients["sqlite"].complete(ask),
            "openai+diskcache": baseline.complete,
        }
        for call in sides.values():
            call()
        rounds: dict[str, list[float]] = {name: [] for name in sides}
        names = list(sides)
        for turn in range(args.rounds):
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                call = sides[name]
                started = time.perf_counter()
                for _ in range(args.calls):
                    call()
                rounds[name].append((time.perf_counter() - started) / args.calls * 1e6)
        assert len(fake.received) == len(sides), "a timed call was not a hit"
        reports: dict[str, list[dict[str, object]]] = {"ours": [], "openai+diskcache": []}
        stores = {"ours": sqlite_path, "openai+diskcache": diskcache_folder}
        for _ in range(RSS_PROCESSES):
            for side, reported in reports.items():
                reported.append(run_child(side, stores[side], fake.openai_base_url, args.rss_calls))
        assert len(fake.received) == len(sides), "a hit-only process sent a request"
        answers = {json.dumps(r["answers"]) for reported in reports.values() for r in reported}
        assert len(answers) == 1, f"the sides' answers differ: {answers}"
    baseline_us = statistics.median(rounds["openai+diskcache"])
    for name, values in rounds.items():
        median = statistics.median(values)
        print(
            f"cached complete(), {name:16s} hit: {median:7.2f} us per call "
            f"(rounds {min(values):.2f}-{max(values):.2f}; {median / baseline_us:.2f}x openai+diskcache)"
        )
    peaks = {
        side: statistics.median(int(str(r["peak_rss_kb"])) for r in reported) / 1024
        for side, reported in reports.items()
    }
    ratio = peaks["ours"] / peaks["openai+diskcache"]
    ours = reports["ours"][0]
    print(
        f"peak RSS of a hit-only process, {args.rss_calls:,} hits, median of {RSS_PROCESSES}: "
        f"ours (SQLiteCache) {peaks['ours']:.1f} MB, openai+diskcache {peaks['openai+diskcache']:.1f} MB"
    )
    verdict = "PASS" if ratio <= TARGET_RSS_RATIO else "FAIL"
    print(
        f"  ratio {ratio:.3f}  target <= {TARGET_RSS_RATIO}  {verdict}; "
        f"ours loaded {ours['encodings_loaded']} encodings, tiktoken imported: {ours['tiktoken_imported']}"
    )


if __name__ == "__main__":
    main()
