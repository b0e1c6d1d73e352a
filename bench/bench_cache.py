"""Lookup cost of ``SQLiteCache`` as it grows, against the SQLite floor and a pickled-dict store.

The cache is worth having only if a hit is nearly free at any size a long simulation reaches: a
TinyTroupe-style run can collect a million cached answers, and a lookup that slowed down with the
file, or cost much more than SQLite's own primary-key read, would eat the time the cache saves.
This benchmark checks that, in one run, on one file grown 1,000 -> 100,000 -> 1,000,000 entries:

1. ``SQLiteCache.get`` of existing random keys (p50, p90) at each size;
2. the floor: a plain ``SELECT value FROM entries WHERE key = ?`` through ``sqlite3`` on the same
   file and keys, with its own connection and the same pragmas. Target: get within 2x the floor;
3. a cache-hit ``OpenAIClient.complete`` end to end (key, lookup, parse) at each size. Targets:
   p50 under 100 µs at the largest size, and p50(largest) / p50(smallest) under 1.5 for both get
   and complete;
4. one write at 10,000 entries: TinyTroupe's store (a dict pickled whole to its file after each
   write) against ``SQLiteCache.set``.

Entries are bulk-inserted with ``sqlite3`` into the table ``SQLiteCache`` created (one
transaction per growth step), because a million ``set`` calls would take minutes. The keys the
client looks up are the real ``cache_key`` of generated requests; the others are SHA-256 hex of
an index, so every key has the real shape. All files live under ``/tmp/typed-llm-bench/`` and are
deleted at the end.

Run it from the project root::

    .venv/bin/python bench/bench_cache.py [--sizes 1000,100000,1000000] [--samples N]
        [--json PATH] [--profile K]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import pickle
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pydantic

from _common import (
    add_output_options,
    new_parser,
    percentile,
    print_header,
    print_listing,
    profile_listing,
    verdict,
    write_figures,
)
from typed_llm import ChatRequest, ChatResponse, NoRetry, OpenAIClient, SQLiteCache, UserMessage, cache_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

API_KEY = "sk-test-bench"
BASE_URL = "http://127.0.0.1:9/v1"
"""Port 9 (discard) has no server: a lookup that misses fails at once instead of being answered."""
NAMESPACE = f"openai {BASE_URL}"
"""The namespace ``OpenAIClient`` puts into its cache keys for ``BASE_URL``."""
MODEL = "gpt-4o-mini"
WORK_ROOT = Path(tempfile.gettempdir()) / "typed-llm-bench"
"""Every file of a run goes into a fresh folder here (``/tmp/typed-llm-bench`` on Linux)."""
DEFAULT_SIZES = (1_000, 100_000, 1_000_000)
DEFAULT_SAMPLES = 2000
WARMUP = 200
"""Untimed calls before each timed series."""
MAX_REQUESTS = 1000
"""Most distinct requests primed for the client (fewer if the smallest size is smaller)."""
WRITE_ENTRIES = 10_000
"""Entries in both stores when one write is timed."""
PICKLE_WRITES = 50
SET_WRITES = 500
BYTES_PER_ENTRY = 2500
"""Disk needed per entry, generously: the table, its index and the WAL while a step commits."""

TARGET_FLOOR_RATIO = 2.0
"""``get`` p50 may be at most this many times the floor's, at every size."""
TARGET_COMPLETE_US = 100.0
"""A cache-hit ``complete`` p50 must stay under this, at the largest size."""
TARGET_GROWTH = 1.5
"""p50 at the largest size over p50 at the smallest, for ``get`` and for ``complete``."""
VERSIONS = {"sqlite": sqlite3.sqlite_version, "pydantic": pydantic.VERSION}
"""The libraries whose versions the report and its figures name."""

ANSWER = (
    "A cache keyed by the content of each request returns the stored answer without asking the "
    "model again, so a rerun of the same simulation costs nothing and gives the same result. "
    "Keep the file next to the run and delete it when prompts change."
)
"""The stored answer's text (~240 characters)."""


def response_value(index: int) -> bytes:
    """A realistic stored value: a ChatResponse as the cache keeps it (JSON bytes, ~750 bytes).

    Args:
        index: makes the id unique, so a hit can be checked to be this entry.

    Returns:
        The JSON bytes.
    """
    response = ChatResponse.model_validate(
        {
            "id": f"chatcmpl-bench{index:015d}",
            "object": "chat.completion",
            "created": 1_760_000_000 + index,
            "model": "gpt-4o-mini-2024-07-18",
            "system_fingerprint": "fp_560af6e559",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}
            ],
            "usage": {"prompt_tokens": 31, "completion_tokens": 52, "total_tokens": 83},
        }
    )
    return response.model_dump_json().encode()


def make_request(index: int) -> ChatRequest:
    """A distinct, ordinary chat request.

    Args:
        index: makes the prompt unique.

    Returns:
        The request.
    """
    return ChatRequest(
        model=MODEL,
        messages=(UserMessage(content=f"Agent {index} asks: what does a response cache buy a simulation?"),),
        temperature=0.7,
        max_tokens=120,
    )


def filler_key(index: int) -> str:
    """The key of an entry no request looks up: SHA-256 hex of its index, shaped like a real key.

    Args:
        index: the entry's index.

    Returns:
        64 hex characters.
    """
    return hashlib.sha256(f"typed-llm-bench entry {index}".encode()).hexdigest()


@dataclass
class Keys:
    """The keys of entries ``0 .. n-1``: request keys first, then filler keys."""

    request_keys: list[str]

    def at(self, index: int) -> str:
        """The key of entry ``index``.

        Args:
            index: the entry's index.

        Returns:
            Its key.
        """
        return self.request_keys[index] if index < len(self.request_keys) else filler_key(index)


def open_plain(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection to the cache file, with the pragmas ``SQLiteCache`` sets.

    Args:
        path: the database file (already in WAL mode).

    Returns:
        The connection, in autocommit mode.
    """
    connection = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    connection.execute("PRAGMA busy_timeout = 30000")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


def grow(path: Path, keys: Keys, start: int, stop: int, filler: bytes) -> None:
    """Bulk-insert entries ``start .. stop-1`` in one transaction, then empty the WAL.

    Request entries get their own response (unique id); filler entries share ``filler``.

    Args:
        path: the cache file (schema already created by ``SQLiteCache``).
        keys: the keys of the entries.
        start: first index to insert.
        stop: one past the last index.
        filler: the value of filler entries.
    """
    requests = len(keys.request_keys)
    now = time.time()

    def rows() -> Iterator[tuple[str, bytes, float]]:
        for index in range(start, stop):
            yield keys.at(index), (response_value(index) if index < requests else filler), now

    connection = open_plain(path)
    try:
        # A large page cache for the loader only: random-order inserts otherwise spill to the
        # WAL over and over. The connections being measured keep SQLite's default.
        connection.execute("PRAGMA cache_size = -2000000")
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO entries (key, value, created) VALUES (?, ?, ?)", rows())
        connection.execute("COMMIT")
        # Checkpoint and truncate: readers then see a settled file, as in steady use.
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def time_lookups(
    cache: SQLiteCache, floor: sqlite3.Connection, keys: Sequence[str], warmup_keys: Sequence[str]
) -> tuple[list[int], list[int]]:
    """Time ``cache.get`` and the plain SELECT on the same keys, interleaved.

    Each key is looked up by both; which goes first alternates, so neither profits more from the
    other having just read the same pages.

    Args:
        cache: the cache under test.
        floor: the plain connection.
        keys: the keys to time (all present).
        warmup_keys: keys looked up untimed first.

    Returns:
        Nanoseconds per ``get`` and per SELECT, in key order.
    """
    sql = "SELECT value FROM entries WHERE key = ?"

    def get(key: str) -> bytes | None:
        return cache.get(key)

    def plain(key: str) -> bytes | None:
        row: tuple[bytes] | None = floor.execute(sql, (key,)).fetchone()
        return None if row is None else row[0]

    for key in warmup_keys:
        if get(key) is None or plain(key) is None:
            raise RuntimeError(f"warm-up key {key} is missing: the file was not grown as planned")
    gets: list[int] = []
    plains: list[int] = []
    gc.collect()
    clock = time.perf_counter_ns
    for turn, key in enumerate(keys):
        order: tuple[tuple[Callable[[str], bytes | None], list[int]], ...] = (
            ((get, gets), (plain, plains)) if turn % 2 == 0 else ((plain, plains), (get, gets))
        )
        for call, timings in order:
            start = clock()
            value = call(key)
            timings.append(clock() - start)
            if value is None:
                raise RuntimeError(f"key {key} is missing: the file was not grown as planned")
    return gets, plains


def time_completes(
    client: OpenAIClient, requests: Sequence[ChatRequest], picks: Sequence[int], warmup: Sequence[int]
) -> list[int]:
    """Time cache-hit ``client.complete`` calls and check each answer is the primed entry.

    Args:
        client: the client, whose cache holds every request's response.
        requests: the primed requests, built beforehand.
        picks: indices into ``requests`` to time.
        warmup: indices called untimed first.

    Returns:
        Nanoseconds per call.
    """
    for index in warmup:
        check_hit(client, requests, index)
    timings: list[int] = []
    gc.collect()
    clock = time.perf_counter_ns
    for index in picks:
        request = requests[index]
        start = clock()
        response = client.complete(request)
        timings.append(clock() - start)
        if response.created != 1_760_000_000 + index:
            raise RuntimeError(f"request {index} got another entry's response: {response.id}")
    return timings


def check_hit(client: OpenAIClient, requests: Sequence[ChatRequest], index: int) -> None:
    """Call ``complete`` once and fail loudly unless the cache answered with the primed entry.

    Args:
        client: the client.
        requests: the primed requests.
        index: which one.

    Raises:
        RuntimeError: the call went to the network (so the key is not the client's), or the
            answer is not the primed entry.
    """
    try:
        response = client.complete(requests[index])
    except Exception as exc:
        raise RuntimeError(
            f"request {index} was not a cache hit (the client tried the network: {exc!r}); "
            f"the benchmark's keys do not match the client's"
        ) from exc
    if response.id != f"chatcmpl-bench{index:015d}":
        raise RuntimeError(f"request {index} got another entry's response: {response.id}")


def time_pickle_writes(workdir: Path, value: bytes, entries: int, writes: int) -> list[int]:
    """TinyTroupe's store: add one entry to a dict, then pickle the whole dict to its file.

    Values are the same bytes the SQLite cache stores (bytes pickle faster than the response
    objects TinyTroupe keeps, so this favours the pickle store).

    Args:
        workdir: where the pickle file goes.
        value: each entry's value.
        entries: entries in the dict before the timed writes.
        writes: timed writes (each adds a new entry).

    Returns:
        Nanoseconds per write (the dict update, open, dump and close).
    """
    path = workdir / "tinytroupe_cache.pickle"
    store: dict[str, bytes] = {filler_key(index): value for index in range(entries)}

    def write(key: str) -> None:
        store[key] = value
        with path.open("wb") as file:
            pickle.dump(store, file)

    for turn in range(5):
        write(filler_key(10_000_000 + turn))
    timings: list[int] = []
    gc.collect()
    for turn in range(writes):
        key = filler_key(20_000_000 + turn)
        start = time.perf_counter_ns()
        write(key)
        timings.append(time.perf_counter_ns() - start)
    return timings


def time_sqlite_sets(workdir: Path, value: bytes, entries: int, writes: int) -> list[int]:
    """``SQLiteCache.set`` of new keys on a cache already holding ``entries`` entries.

    Args:
        workdir: where the database file goes.
        value: each entry's value.
        entries: entries before the timed writes.
        writes: timed writes (each adds a new entry).

    Returns:
        Nanoseconds per ``set``.
    """
    path = workdir / "set_bench.sqlite3"
    cache = SQLiteCache(path)
    try:
        grow(path, Keys([]), 0, entries, value)
        for turn in range(WARMUP):
            cache.set(filler_key(10_000_000 + turn), value)
        timings: list[int] = []
        gc.collect()
        for turn in range(writes):
            key = filler_key(20_000_000 + turn)
            start = time.perf_counter_ns()
            cache.set(key, value)
            timings.append(time.perf_counter_ns() - start)
        return timings
    finally:
        cache.close()


def profile_hits(
    targets: tuple[SQLiteCache, sqlite3.Connection, OpenAIClient],
    requests: Sequence[ChatRequest],
    keys: Sequence[str],
    top: int,
) -> str:
    """cProfile ``cache.get``, the plain SELECT and cache-hit ``complete``; list the costliest functions.

    Args:
        targets: the cache, the plain connection to its file, and the client using the cache.
        requests: primed requests, called round-robin.
        keys: keys to look up (as many calls are made of each kind).
        top: functions to list per profile.

    Returns:
        The three ``pstats`` listings by cumulative time, filtered to typed_llm, pydantic and sqlite.
    """
    cache, floor, client = targets
    sql = "SELECT value FROM entries WHERE key = ?"
    runs: tuple[tuple[str, Callable[[], object]], ...] = (
        ("SQLiteCache.get", lambda: [cache.get(key) for key in keys]),
        ("plain SELECT (the floor)", lambda: [floor.execute(sql, (key,)).fetchone() for key in keys]),
        (
            "OpenAIClient.complete (hit)",
            lambda: [client.complete(requests[i % len(requests)]) for i in range(len(keys))],
        ),
    )
    return "".join(
        f"--- {name}, {len(keys)} calls, by cumulative time ---\n"
        + profile_listing(run, r"typed_llm|pydantic|sqlite", top)
        for name, run in runs
    )


def parse_sizes(text: str) -> tuple[int, ...]:
    """Read ``--sizes``.

    Args:
        text: comma-separated entry counts, such as ``1000,100000,1000000``.

    Returns:
        The counts, ascending.

    Raises:
        argparse.ArgumentTypeError: not positive integers.
    """
    try:
        sizes = tuple(sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--sizes takes comma-separated integers, got {text!r}") from exc
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"--sizes must be positive integers, got {text!r}")
    return sizes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        The parsed options.
    """
    parser = new_parser(__doc__)
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=DEFAULT_SIZES,
        help="entry counts to measure at, comma-separated (default 1000,100000,1000000)",
    )
    parser.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, help="timed lookups per size and kind (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random key choice (default 0)")
    add_output_options(
        parser, "afterwards, at the largest size, cProfile K gets, K plain SELECTs and K hit completes"
    )
    args = parser.parse_args(argv)
    if args.samples < 2:
        parser.error("--samples must be at least 2")
    return args


@dataclass
class SizeFigures:
    """The figures measured at one size, in microseconds."""

    entries: int
    get_p50: float
    get_p90: float
    floor_p50: float
    floor_p90: float
    complete_p50: float
    complete_p90: float
    file_mb: float
    ratio: float = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = self.get_p50 / self.floor_p50


def measure(
    workdir: Path, sizes: Sequence[int], samples: int, seed: int, profile: int
) -> tuple[list[SizeFigures], int, str]:
    """Grow one cache file through ``sizes`` and measure lookups at each.

    Args:
        workdir: where the file goes.
        sizes: entry counts, ascending.
        samples: timed lookups per size and kind.
        seed: seeds the key choice.
        profile: calls to profile at the largest size (0: none).

    Returns:
        The figures per size, the number of primed requests, and the profile listing (or "").
    """
    rng = random.Random(seed)  # noqa: S311  # picks benchmark keys, not secrets
    path = workdir / "cache.sqlite3"
    primed = min(MAX_REQUESTS, sizes[0])
    requests = [make_request(index) for index in range(primed)]
    keys = Keys([cache_key(request, NAMESPACE) for request in requests])
    filler = response_value(10**9)
    cache = SQLiteCache(path)
    floor = open_plain(path)
    client = OpenAIClient(api_key=API_KEY, base_url=BASE_URL, cache=cache, backoff=NoRetry(), timeout=5.0)
    figures: list[SizeFigures] = []
    listing = ""
    try:
        grown = 0
        for size in sizes:
            started = time.perf_counter()
            grow(path, keys, grown, size, filler)
            grown = size
            print(f"  grew the file to {size:,} entries in {time.perf_counter() - started:.1f} s", flush=True)
            for index in range(primed):  # every primed request must be a hit through the client
                check_hit(client, requests, index)
            lookup = [keys.at(rng.randrange(size)) for _ in range(samples)]
            warm = [keys.at(rng.randrange(size)) for _ in range(WARMUP)]
            gets, plains = time_lookups(cache, floor, lookup, warm)
            picks = [rng.randrange(primed) for _ in range(samples)]
            completes = time_completes(
                client, requests, picks, [rng.randrange(primed) for _ in range(WARMUP)]
            )
            size_mb = sum(
                candidate.stat().st_size
                for candidate in (path, path.with_name(path.name + "-wal"))
                if candidate.exists()
            )
            figures.append(
                SizeFigures(
                    entries=size,
                    get_p50=percentile(gets, 50),
                    get_p90=percentile(gets, 90),
                    floor_p50=percentile(plains, 50),
                    floor_p90=percentile(plains, 90),
                    complete_p50=percentile(completes, 50),
                    complete_p90=percentile(completes, 90),
                    file_mb=size_mb / 1e6,
                )
            )
        if profile > 0:
            chosen = [keys.at(rng.randrange(grown)) for _ in range(profile)]
            listing = profile_hits((cache, floor, client), requests, chosen, 25)
    finally:
        client.close()
        floor.close()
        cache.close()
    return figures, primed, listing


def print_sizes(figures: Sequence[SizeFigures], primed: int) -> None:
    """Print the per-size table.

    Args:
        figures: the figures per size, ascending.
        primed: how many distinct requests the complete timings drew from.
    """
    print(f"lookups of existing random keys; complete: {primed} primed requests, all hits; times in µs")
    print(
        f"{'entries':>10}{'get p50':>10}{'get p90':>10}{'floor p50':>11}{'floor p90':>11}"
        f"{'get/floor':>11}{'get-floor':>11}{'complete p50':>14}{'complete p90':>14}{'file MB':>10}"
    )
    for row in figures:
        print(
            f"{row.entries:>10,}{row.get_p50:>10.1f}{row.get_p90:>10.1f}{row.floor_p50:>11.1f}"
            f"{row.floor_p90:>11.1f}{row.ratio:>11.2f}{row.get_p50 - row.floor_p50:>11.1f}"
            f"{row.complete_p50:>14.1f}{row.complete_p90:>14.1f}"
            f"{row.file_mb:>10.1f}"
        )


def check_targets(figures: Sequence[SizeFigures]) -> tuple[dict[str, float], dict[str, bool]]:
    """Compute the headline figures and print them against their targets.

    Args:
        figures: the figures per size, ascending.

    Returns:
        The headline figures by name, and whether each target holds, by name.
    """
    small, large = figures[0], figures[-1]
    headline = {
        "worst_get_floor_ratio": max(row.ratio for row in figures),
        "complete_p50_largest_us": large.complete_p50,
        "get_growth": large.get_p50 / small.get_p50,
        "complete_growth": large.complete_p50 / small.complete_p50,
        "floor_growth": large.floor_p50 / small.floor_p50,
    }
    span = f"{large.entries:,}/{small.entries:,}"
    rows = (
        ("get / floor p50 (worst size)", "worst_get_floor_ratio", "", TARGET_FLOOR_RATIO, "<="),
        (f"complete p50 at {large.entries:,}", "complete_p50_largest_us", " µs", TARGET_COMPLETE_US, "<"),
        (f"get growth p50 {span}", "get_growth", "", TARGET_GROWTH, "<"),
        (f"complete growth p50 {span}", "complete_growth", "", TARGET_GROWTH, "<"),
    )
    checks: dict[str, bool] = {}
    for label, name, unit, target, relation in rows:
        value = headline[name]
        checks[name] = value <= target if relation == "<=" else value < target
        outcome = verdict(checks[name])
        print(f"{label:<36}{value:>9.2f}{unit:<3}  target {relation} {target:g}{unit:<3}  {outcome}")
    # No target: SQLite's own growth, which get and complete cannot beat.
    print(f"{f'floor growth p50 {span}':<36}{headline['floor_growth']:>9.2f}     (SQLite itself; no target)")
    return headline, checks


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the report, and delete the files.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        0 if every target holds, 1 if not, 2 if the disk is too full to run.
    """
    args = parse_args(argv)
    sizes: tuple[int, ...] = args.sizes
    samples: int = args.samples
    value = response_value(0)

    print_header(
        "bench_cache: SQLiteCache.get / OpenAIClient.complete hits vs size, floor and a pickled dict",
        VERSIONS,
    )
    print(f"samples  {samples} per size and kind, after {WARMUP} warm-up calls; value {len(value)} bytes")

    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    need = max(sizes[-1], WRITE_ENTRIES) * BYTES_PER_ENTRY
    free = shutil.disk_usage(WORK_ROOT).free
    if free < need:
        print(f"not enough disk under {WORK_ROOT}: {free / 1e9:.1f} GB free, {need / 1e9:.1f} GB needed")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=WORK_ROOT))
    print(f"files    {workdir} (deleted at the end)")
    print(flush=True)
    started = time.perf_counter()
    try:
        figures, primed, listing = measure(workdir, sizes, samples, args.seed, args.profile)
        pickle_p50 = percentile(time_pickle_writes(workdir, value, WRITE_ENTRIES, PICKLE_WRITES), 50)
        set_p50 = percentile(time_sqlite_sets(workdir, value, WRITE_ENTRIES, SET_WRITES), 50)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started

    print()
    print_sizes(figures, primed)
    print()
    headline, checks = check_targets(figures)
    print()
    print(f"one write at {WRITE_ENTRIES:,} entries (new key), p50:")
    print(f"  pickled dict (TinyTroupe), {PICKLE_WRITES} writes  {pickle_p50:>10.1f} µs")
    print(f"  SQLiteCache.set, {SET_WRITES} writes           {set_p50:>10.1f} µs")
    print(f"  ratio pickle / set                   {pickle_p50 / set_p50:>10.0f} x")
    print()
    print(f"run time {elapsed:.0f} s (files deleted)")

    passed = all(checks.values())
    if args.json is not None:
        report = {
            "samples": samples,
            "value_bytes": len(value),
            "primed_requests": primed,
            "sizes": [vars(row) for row in figures],
            "headline": headline,
            "targets": {
                "get_floor_ratio": TARGET_FLOOR_RATIO,
                "complete_p50_us": TARGET_COMPLETE_US,
                "growth": TARGET_GROWTH,
            },
            "checks": checks,
            "passed": passed,
            "write_at_entries": WRITE_ENTRIES,
            "write_p50_us": {"pickle": pickle_p50, "sqlite_set": set_p50},
            "write_ratio": pickle_p50 / set_p50,
            "run_seconds": elapsed,
        }
        write_figures(args.json, VERSIONS, report)

    print_listing(
        f"cProfile at {figures[-1].entries:,} entries, typed_llm, pydantic and sqlite functions:", listing
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
