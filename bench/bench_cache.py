"""Lookup and write cost of ``SQLiteCache`` as it grows, against ``diskcache``, the SQLite floor and a pickle.

The cache is worth having only if a hit is nearly free at any size a long simulation reaches: a
TinyTroupe-style run can collect a million cached answers, and a lookup that slowed down with the
file, or cost much more than SQLite's own read or than ``diskcache`` (the usual embedded cache),
would eat the time the cache saves. This benchmark checks that, in one run, on one file grown
1,000 -> 100,000 -> 1,000,000 entries (and a ``diskcache.Cache`` grown alongside with the same keys
and values, ~1,126-byte entries shaped like the fake's ordinary answer, as the cache stores them):

1. ``SQLiteCache.get``, ``diskcache.Cache.get`` and the floor (a plain ``SELECT value FROM entries
   WHERE key = ?`` through ``sqlite3`` on our file, own connection, same pragmas) of existing random
   keys, interleaved, at each size. Targets: get <= 1.5x diskcache and <= 2x the floor at every size;
2. file bytes per entry (the database and its WAL) against the bytes stored (key + value).
   Target: <= 1.6x;
3. ``SQLiteCache.set`` (and ``diskcache.set``) of a new key at each size. Target: p50 <= 100 µs;
4. a cache-hit ``OpenAIClient.complete`` end to end (key, lookup, parse) at each size. Targets:
   p50 under 100 µs at the largest size, and p50(largest) / p50(smallest) under 1.5 for complete;
   for get, its growth p50(largest) / p50(smallest) at most 1.25x the floor's growth measured in
   the same run. SQLite's own read grows 3.5-4.2x from a 1.5 MB file that sits in its page cache
   to a 1.5 GB one that does not (a deeper B-tree, pages from the OS cache), so no absolute bound
   on get's growth can hold on this hardware; what the SDK controls is what it adds on top;
5. one write at 10,000 entries: TinyTroupe's store (a dict pickled whole to its file after each
   write) against ``SQLiteCache.set``.

Entries are bulk-inserted with ``sqlite3`` into the table ``SQLiteCache`` created (one
transaction per growth step), because a million ``set`` calls would take minutes; diskcache's
through its own ``set`` inside ``transact()`` blocks. The keys the client looks up are the real
``cache_key`` of generated requests; the others are SHA-256 hex of an index, so every key has the
real shape. All files live under ``/tmp/typed-llm-bench/`` and are deleted at the end.

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

import diskcache
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
from typed_llm._cache.entry import encode_entry

if TYPE_CHECKING:
    import contextlib
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
BYTES_PER_ENTRY = 5000
"""Disk needed per entry, generously: both stores' tables, indexes and WALs while a step commits."""
VALUE_BYTES = 1126
"""Each stored value's size: the fake's ordinary answer in its provenance envelope."""
SETS_PER_SIZE = 300
"""Timed ``set`` calls of new keys at each size, per store."""
DISKCACHE_BATCH = 10_000
"""diskcache ``set`` calls per ``transact()`` block while it grows."""

TARGET_FLOOR_RATIO = 2.0
"""``get`` p50 may be at most this many times the floor's, at every size."""
TARGET_DISKCACHE_RATIO = 1.5
"""``get`` p50 may be at most this many times ``diskcache.get``'s, at every size."""
TARGET_FILE_RATIO = 1.6
"""File bytes (database and WAL) may be at most this many times the bytes stored (keys and values)."""
TARGET_SET_US = 100.0
"""A ``set`` of a new key: p50 at most this, at every size."""
TARGET_COMPLETE_US = 100.0
"""A cache-hit ``complete`` p50 must stay under this, at the largest size."""
TARGET_GROWTH = 1.5
"""p50 at the largest size over p50 at the smallest, for ``complete`` (its key and parse dominate)."""
TARGET_GET_GROWTH_OVER_FLOOR = 1.25
"""``get``'s growth (p50 largest / p50 smallest) over the floor's growth in the same run, at most.

The floor (plain SQLite on the same file) grows 3.5-4.2x from 1k to 1M entries on the development
machine; ``get`` may grow with it, not beyond it by more than this margin (noise of two ratios)."""
VERSIONS = {
    "sqlite": sqlite3.sqlite_version,
    "pydantic": pydantic.VERSION,
    "diskcache": diskcache.__version__,
}
"""The libraries whose versions the report and its figures name."""

ANSWER = (
    "A cache keyed by the content of each request returns the stored answer without asking the "
    "model again, so a rerun of the same simulation costs nothing and gives the same result. "
    "Keep the file next to the run and delete it when prompts change."
)
"""The stored answer's text (~240 characters, padded to make ``VALUE_BYTES``)."""


def _response(index: int, answer: str) -> ChatResponse:
    return ChatResponse.model_validate(
        {
            "request_id": f"req_bench{index:023d}",
            "id": f"chatcmpl-bench{index:015d}",
            "object": "chat.completion",
            "created": 1_760_000_000 + index,
            "model": "gpt-4o-mini-2024-07-18",
            "system_fingerprint": "fp_560af6e559",
            "service_tier": "default",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer}}
            ],
            "usage": {
                "prompt_tokens": 31,
                "completion_tokens": 52,
                "total_tokens": 83,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
        }
    )


def response_value(index: int) -> bytes:
    """A realistic stored value: a ChatResponse in its provenance envelope, as the cache keeps it.

    Args:
        index: makes the id unique, so a hit can be checked to be this entry.

    Returns:
        The JSON bytes, ``VALUE_BYTES`` long (the fake's ordinary answer is about that size).
    """
    short = len(encode_entry(_response(index, ANSWER), now=1_760_000_000.0))
    answer = (ANSWER + " " + ANSWER)[: len(ANSWER) + VALUE_BYTES - short]
    return encode_entry(_response(index, answer), now=1_760_000_000.0)


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


def open_diskcache(folder: Path) -> DiskCache:
    """A ``diskcache.Cache`` in ``folder``, with its defaults but for the size limit.

    diskcache's default ``size_limit`` (1 GB) would cull entries of the million-entry step; the
    SDK's cache has no such limit by default, so neither has the baseline.

    Args:
        folder: the cache's directory.

    Returns:
        The cache.
    """
    return DiskCache(diskcache.Cache(str(folder), size_limit=2**42))


class DiskCache:
    """A typed face of ``diskcache.Cache`` (which ships no type information): the calls measured."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.get: Callable[[str], bytes | None] = getattr(inner, "get")  # noqa: B009  (typed here)
        self.set: Callable[[str, bytes], bool] = getattr(inner, "set")  # noqa: B009
        self.transact: Callable[[], contextlib.AbstractContextManager[None]] = getattr(inner, "transact")  # noqa: B009
        self.close: Callable[[], None] = getattr(inner, "close")  # noqa: B009
        self.directory = Path(getattr(inner, "directory"))  # noqa: B009

    def file_bytes(self) -> int:
        """Bytes of its database and WAL (values this small sit in the database, not in files)."""
        return sum(path.stat().st_size for path in self.directory.rglob("*") if path.is_file())


def file_bytes(path: Path) -> int:
    """Bytes of an SQLite file and its WAL.

    Args:
        path: the database file.

    Returns:
        The sum of both sizes.
    """
    return sum(
        candidate.stat().st_size
        for candidate in (path, path.with_name(path.name + "-wal"))
        if candidate.exists()
    )


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


def grow_diskcache(store: DiskCache, keys: Keys, start: int, stop: int, filler: bytes) -> None:
    """The same entries into diskcache, through its own ``set``, ``DISKCACHE_BATCH`` per transaction.

    Args:
        store: the diskcache.
        keys: the keys of the entries.
        start: first index to insert.
        stop: one past the last index.
        filler: the value of filler entries.
    """
    requests = len(keys.request_keys)
    for block in range(start, stop, DISKCACHE_BATCH):
        with store.transact():
            for index in range(block, min(stop, block + DISKCACHE_BATCH)):
                store.set(keys.at(index), response_value(index) if index < requests else filler)


Lookup = tuple[str, "Callable[[str], bytes | None]"]


def time_lookups(
    lookups: Sequence[Lookup], keys: Sequence[str], warmup_keys: Sequence[str]
) -> dict[str, list[int]]:
    """Time each way of looking a key up on the same keys, interleaved.

    Each key is looked up by every way; the order rotates from key to key, so none profits more
    from another having just read the same key.

    Args:
        lookups: (name, lookup) pairs.
        keys: the keys to time (all present).
        warmup_keys: keys looked up untimed first.

    Returns:
        Nanoseconds per lookup, per name, in key order.
    """
    for key in warmup_keys:
        for name, lookup in lookups:
            if lookup(key) is None:
                raise RuntimeError(f"warm-up key {key} is missing from {name}: not grown as planned")
    timings: dict[str, list[int]] = {name: [] for name, _ in lookups}
    gc.collect()
    clock = time.perf_counter_ns
    count = len(lookups)
    for turn, key in enumerate(keys):
        for step in range(count):
            name, lookup = lookups[(turn + step) % count]
            start = clock()
            value = lookup(key)
            timings[name].append(clock() - start)
            if value is None:
                raise RuntimeError(f"key {key} is missing from {name}: the file was not grown as planned")
    return timings


def time_sets(cache: SQLiteCache, store: DiskCache, value: bytes, first: int) -> tuple[list[int], list[int]]:
    """``SQLiteCache.set`` and ``diskcache.set`` of new keys, alternating, ``SETS_PER_SIZE`` each.

    Args:
        cache: the SDK's cache.
        store: the diskcache.
        value: the value written.
        first: the index of the first new filler key (unique per size).

    Returns:
        Nanoseconds per SQLiteCache.set and per diskcache.set.
    """
    ours: list[int] = []
    theirs: list[int] = []
    gc.collect()
    clock = time.perf_counter_ns
    for turn in range(SETS_PER_SIZE):
        key = filler_key(first + turn)
        pair = ((cache.set, ours), (store.set, theirs))
        for write, timings in pair if turn % 2 == 0 else pair[::-1]:
            start = clock()
            write(key, value)
            timings.append(clock() - start)
    return ours, theirs


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
    """The figures measured at one size, in microseconds (sizes in bytes per entry)."""

    entries: int
    get_p50: float
    get_p90: float
    diskcache_p50: float
    diskcache_p90: float
    floor_p50: float
    floor_p90: float
    set_p50: float
    set_p90: float
    diskcache_set_p50: float
    complete_p50: float
    complete_p90: float
    file_bytes_per_entry: float
    diskcache_bytes_per_entry: float
    stored_bytes_per_entry: float
    ratio: float = field(init=False)
    diskcache_ratio: float = field(init=False)
    file_ratio: float = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = self.get_p50 / self.floor_p50
        self.diskcache_ratio = self.get_p50 / self.diskcache_p50
        self.file_ratio = self.file_bytes_per_entry / self.stored_bytes_per_entry


def measure(
    workdir: Path, sizes: Sequence[int], samples: int, seed: int, profile: int
) -> tuple[list[SizeFigures], int, str]:
    """Grow one cache file (and one diskcache) through ``sizes`` and measure lookups at each.

    Args:
        workdir: where the files go.
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
    store = open_diskcache(workdir / "diskcache")
    floor = open_plain(path)
    client = OpenAIClient(api_key=API_KEY, base_url=BASE_URL, cache=cache, backoff=NoRetry(), timeout=5.0)
    sql = "SELECT value FROM entries WHERE key = ?"

    def plain(key: str) -> bytes | None:
        row: tuple[bytes] | None = floor.execute(sql, (key,)).fetchone()
        return None if row is None else row[0]

    lookups: tuple[Lookup, ...] = (("get", cache.get), ("diskcache", store.get), ("floor", plain))
    figures: list[SizeFigures] = []
    listing = ""
    try:
        grown = written = 0
        for size in sizes:
            started = time.perf_counter()
            grow(path, keys, grown, size, filler)
            middle = time.perf_counter()
            grow_diskcache(store, keys, grown, size, filler)
            grown = size
            print(
                f"  grew both stores to {size:,} entries: ours {middle - started:.1f} s, "
                f"diskcache {time.perf_counter() - middle:.1f} s",
                flush=True,
            )
            for index in range(primed):  # every primed request must be a hit through the client
                check_hit(client, requests, index)
            lookup = [keys.at(rng.randrange(size)) for _ in range(samples)]
            warm = [keys.at(rng.randrange(size)) for _ in range(WARMUP)]
            timings = time_lookups(lookups, lookup, warm)
            picks = [rng.randrange(primed) for _ in range(samples)]
            completes = time_completes(
                client, requests, picks, [rng.randrange(primed) for _ in range(WARMUP)]
            )
            # Measured before the timed sets add their entries (a few hundred, on top of ``size``).
            entries = size + written
            stored = sum(len(keys.at(index)) for index in range(min(size, 1000))) / min(size, 1000)
            ours_bytes, theirs_bytes = file_bytes(path), store.file_bytes()
            sets, disk_sets = time_sets(cache, store, filler, 30_000_000 + written)
            written += SETS_PER_SIZE
            figures.append(
                SizeFigures(
                    entries=size,
                    get_p50=percentile(timings["get"], 50),
                    get_p90=percentile(timings["get"], 90),
                    diskcache_p50=percentile(timings["diskcache"], 50),
                    diskcache_p90=percentile(timings["diskcache"], 90),
                    floor_p50=percentile(timings["floor"], 50),
                    floor_p90=percentile(timings["floor"], 90),
                    set_p50=percentile(sets, 50),
                    set_p90=percentile(sets, 90),
                    diskcache_set_p50=percentile(disk_sets, 50),
                    complete_p50=percentile(completes, 50),
                    complete_p90=percentile(completes, 90),
                    file_bytes_per_entry=ours_bytes / entries,
                    diskcache_bytes_per_entry=theirs_bytes / entries,
                    stored_bytes_per_entry=stored + len(filler),
                )
            )
        if profile > 0:
            chosen = [keys.at(rng.randrange(grown)) for _ in range(profile)]
            listing = profile_hits((cache, floor, client), requests, chosen, 25)
    finally:
        client.close()
        floor.close()
        cache.close()
        store.close()
    return figures, primed, listing


def print_sizes(figures: Sequence[SizeFigures], primed: int) -> None:
    """Print the per-size tables.

    Args:
        figures: the figures per size, ascending.
        primed: how many distinct requests the complete timings drew from.
    """
    print(f"lookups of existing random keys; complete: {primed} primed requests, all hits; times in µs")
    print(
        f"{'entries':>10}{'get p50':>9}{'get p90':>9}{'dc p50':>8}{'dc p90':>8}{'get/dc':>8}"
        f"{'floor p50':>10}{'get/floor':>10}{'complete p50':>13}{'complete p90':>13}"
    )
    for row in figures:
        print(
            f"{row.entries:>10,}{row.get_p50:>9.1f}{row.get_p90:>9.1f}{row.diskcache_p50:>8.1f}"
            f"{row.diskcache_p90:>8.1f}{row.diskcache_ratio:>8.2f}{row.floor_p50:>10.1f}{row.ratio:>10.2f}"
            f"{row.complete_p50:>13.1f}{row.complete_p90:>13.1f}"
        )
    print()
    print("writes of a new key (µs) and bytes on disk per entry (database + WAL; dc: diskcache)")
    print(
        f"{'entries':>10}{'set p50':>9}{'set p90':>9}{'dc set p50':>11}"
        f"{'stored B':>10}{'file B':>9}{'file/stored':>12}{'dc file B':>10}"
    )
    for row in figures:
        print(
            f"{row.entries:>10,}{row.set_p50:>9.1f}{row.set_p90:>9.1f}{row.diskcache_set_p50:>11.1f}"
            f"{row.stored_bytes_per_entry:>10.0f}{row.file_bytes_per_entry:>9.0f}{row.file_ratio:>12.2f}"
            f"{row.diskcache_bytes_per_entry:>10.0f}"
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
        "worst_get_diskcache_ratio": max(row.diskcache_ratio for row in figures),
        "worst_get_floor_ratio": max(row.ratio for row in figures),
        "worst_file_ratio": max(row.file_ratio for row in figures),
        "worst_set_p50_us": max(row.set_p50 for row in figures),
        "complete_p50_largest_us": large.complete_p50,
        "get_growth": large.get_p50 / small.get_p50,
        "complete_growth": large.complete_p50 / small.complete_p50,
        "diskcache_growth": large.diskcache_p50 / small.diskcache_p50,
        "floor_growth": large.floor_p50 / small.floor_p50,
    }
    headline["get_growth_over_floor_growth"] = headline["get_growth"] / headline["floor_growth"]
    span = f"{large.entries:,}/{small.entries:,}"
    rows = (
        (
            "get / diskcache.get p50 (worst size)",
            "worst_get_diskcache_ratio",
            "",
            TARGET_DISKCACHE_RATIO,
            "<=",
        ),
        ("get / floor p50 (worst size)", "worst_get_floor_ratio", "", TARGET_FLOOR_RATIO, "<="),
        ("file / stored bytes (worst size)", "worst_file_ratio", "", TARGET_FILE_RATIO, "<="),
        ("set p50 (worst size)", "worst_set_p50_us", " µs", TARGET_SET_US, "<="),
        (f"complete p50 at {large.entries:,}", "complete_p50_largest_us", " µs", TARGET_COMPLETE_US, "<"),
        (
            f"get growth / floor's {span}",
            "get_growth_over_floor_growth",
            "",
            TARGET_GET_GROWTH_OVER_FLOOR,
            "<=",
        ),
        (f"complete growth p50 {span}", "complete_growth", "", TARGET_GROWTH, "<"),
    )
    checks: dict[str, bool] = {}
    for label, name, unit, target, relation in rows:
        value = headline[name]
        checks[name] = value <= target if relation == "<=" else value < target
        outcome = verdict(checks[name])
        print(f"{label:<38}{value:>9.2f}{unit:<3}  target {relation} {target:g}{unit:<3}  {outcome}")
    # No target of their own: the growths the relative check divides, and diskcache's, to compare.
    print(f"{f'get growth p50 {span}':<38}{headline['get_growth']:>9.2f}     (over the floor's: above)")
    print(f"{f'floor growth p50 {span}':<38}{headline['floor_growth']:>9.2f}     (SQLite's own)")
    print(
        f"{f'diskcache growth p50 {span}':<38}{headline['diskcache_growth']:>9.2f}     (baseline; no target)"
    )
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
                "get_diskcache_ratio": TARGET_DISKCACHE_RATIO,
                "file_ratio": TARGET_FILE_RATIO,
                "set_p50_us": TARGET_SET_US,
                "get_floor_ratio": TARGET_FLOOR_RATIO,
                "complete_p50_us": TARGET_COMPLETE_US,
                "complete_growth": TARGET_GROWTH,
                "get_growth_over_floor_growth": TARGET_GET_GROWTH_OVER_FLOOR,
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
