"""Time per replayed request from vcrpy cassettes of 1, 100 and 1,000 interactions, SDK vs stock vcrpy.

Tests replay recorded traffic from vcrpy cassettes, and a long simulation's cassette can hold
thousands of interactions. vcrpy finds the recording for a request by scanning the cassette and
running every matcher against each recorded request in turn, so replaying from a cassette of 1,000
interactions can cost far more than replaying from a cassette of one. The requirement: a replay from
1,000 interactions must not cost 1,000 times a replay from one. This benchmark measures that, in one
run, for two configurations:

- **sdk**: ``typed_llm.testing._vcr.make_vcr``, whose cassette looks a request up in a dict keyed by
  method, normalised path, query and the JSON body in canonical form (computed once per request
  object), ignoring host and port: the requirement since issue 21 is a flat cost, at most 1.5 ms
  per request at 1,000 interactions;
- **stock**: a plain ``vcr.VCR`` matching on method, scheme, host, port, path, query and body (its
  ``body`` matcher parses both JSON bodies on every comparison).

Each configuration records its own cassettes (one per size) against the in-process ``FakeAPI``, one
``OpenAIClient.complete`` per interaction, every body different (``question {i}``). Then the fake
stops, and a client with the same base URL replays from each cassette with
``allow_playback_repeats=True``: the timed requests are spread uniformly across the cassette
(the first and the last, the worst case for a linear scan, included), in shuffled order. Each
answer is checked to be the one recorded for its request. The two configurations run in ABBA
order at each size (two blocks each, which goes first alternating), so drift hits both alike.

All cassettes live in a temporary folder deleted at the end.

Run it from the project root::

    .venv/bin/python bench/bench_replay.py [--samples N] [--json PATH] [--profile K]
"""

from __future__ import annotations

import gc
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import openai
import vcr

from _common import (
    CLEAR_EVERY,
    add_output_options,
    new_parser,
    print_header,
    print_listing,
    profile_listing,
    summarise,
    write_figures,
)
from typed_llm import ChatRequest, NoRetry, OpenAIClient, UserMessage
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._vcr import RecordMode, make_vcr

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

Config = Literal["sdk", "stock"]
"""Which vcrpy configuration: the SDK's ``make_vcr`` or a stock ``vcr.VCR``."""

API_KEY = "sk-test-bench"
MODEL = "gpt-4o-mini"
CONFIGS: tuple[Config, ...] = ("sdk", "stock")
SIZES = (1, 100, 1_000)
"""Interactions per cassette."""
DEFAULT_SAMPLES = 300
WARMUP = 20
"""Untimed replays at the start of each timed block."""
BLOCKS = 2
"""Timed blocks per size and configuration: the configurations run A B B A at each size."""
SEED = 0
"""Seeds the shuffle of the timed requests' order."""
STOCK_MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "body")
VERSIONS = {"vcrpy": str(vcr.__version__), "openai": openai.__version__}
"""The packages whose versions the report and its figures name."""


def make_config(config: Config, folder: Path, *, record: bool) -> vcr.VCR:
    """The vcrpy configuration of one side, to record or to replay.

    Args:
        config: which side.
        folder: the cassettes' folder.
        record: record every request (``all``) if true; replay only (``none``) if false.

    Returns:
        The ``vcr.VCR``.
    """
    mode: RecordMode = "all" if record else "none"
    if config == "sdk":
        return make_vcr(folder, mode)
    return vcr.VCR(cassette_library_dir=str(folder), record_mode=mode, match_on=STOCK_MATCH_ON)


def cassette_name(config: Config, size: int) -> str:
    """The file name of one side's cassette of ``size`` interactions.

    Args:
        config: which side.
        size: interactions in the cassette.

    Returns:
        The name, relative to the cassettes' folder.
    """
    return f"{config}-{size}.yaml"


def request_for(index: int) -> ChatRequest:
    """The request of interaction ``index`` (every one has a different body).

    Args:
        index: the interaction's index in its cassette.

    Returns:
        The request.
    """
    return ChatRequest(model=MODEL, messages=(UserMessage(content=f"question {index}"),))


def expected_text(index: int) -> str:
    """The answer the fake gives (and the cassette holds) for ``request_for(index)``.

    Args:
        index: the interaction's index.

    Returns:
        The answer's text.
    """
    return f"Echo: question {index}"


def record_all(folder: Path, fake: FakeAPI, sizes: Sequence[int]) -> dict[Config, list[float]]:
    """Record each side's cassette of each size against the fake, and time the recording.

    Args:
        folder: where the cassettes go.
        fake: the running fake.
        sizes: interactions per cassette.

    Returns:
        Seconds each recording took, per side, in the order of ``sizes``.
    """
    seconds: dict[Config, list[float]] = {config: [] for config in CONFIGS}
    client = OpenAIClient(api_key=API_KEY, base_url=fake.openai_base_url, backoff=NoRetry())
    with client:
        for config in CONFIGS:
            recorder = make_config(config, folder, record=True)
            for size in sizes:
                started = time.perf_counter()
                with recorder.use_cassette(cassette_name(config, size)):
                    for index in range(size):
                        text = client.complete(request_for(index)).text
                        if text != expected_text(index):
                            raise RuntimeError(f"the fake answered {text!r} to question {index}")
                        if index % CLEAR_EVERY == CLEAR_EVERY - 1:
                            fake.received.clear()
                seconds[config].append(time.perf_counter() - started)
                fake.received.clear()
                if not (folder / cassette_name(config, size)).is_file():
                    raise RuntimeError(f"{cassette_name(config, size)} was not written")
    return seconds


def spread_indexes(size: int, count: int) -> list[int]:
    """``count`` interaction indexes spread uniformly over a cassette, the first and the last included.

    Args:
        size: interactions in the cassette.
        count: indexes wanted (at least 2).

    Returns:
        The indexes, ascending (repeats when ``count`` exceeds ``size``).
    """
    return [round(k * (size - 1) / (count - 1)) for k in range(count)]


def replay_block(
    replayer: vcr.VCR,
    name: str,
    client: OpenAIClient,
    size: int,
    picks: Sequence[int],
) -> tuple[list[int], float]:
    """Enter a cassette, warm up, then time one replayed ``complete`` per pick and check each answer.

    Args:
        replayer: the side's replay-only configuration.
        name: the cassette's file name.
        client: a client with the base URL the cassette was recorded with.
        size: interactions the cassette must hold.
        picks: interaction indexes to replay, in order.

    Returns:
        Nanoseconds per replayed request, and milliseconds it took to load the cassette.
    """
    requests = [request_for(index) for index in picks]
    warmup = spread_indexes(size, WARMUP)
    started = time.perf_counter_ns()
    with replayer.use_cassette(name, allow_playback_repeats=True) as cassette:
        load_ms = (time.perf_counter_ns() - started) / 1e6
        if len(cassette) != size:
            raise RuntimeError(f"{name} holds {len(cassette)} interactions, not {size}")
        for index in warmup:
            client.complete(request_for(index))
        timings: list[int] = []
        gc.collect()
        clock = time.perf_counter_ns
        for index, request in zip(picks, requests, strict=True):
            start = clock()
            response = client.complete(request)
            timings.append(clock() - start)
            if response.text != expected_text(index):
                raise RuntimeError(f"{name}: question {index} got {response.text!r}")
    return timings, load_ms


def measure(
    folder: Path, base_url: str, sizes: Sequence[int], samples: int
) -> tuple[dict[int, dict[Config, list[int]]], dict[int, dict[Config, float]]]:
    """Replay from every cassette, both sides at each size in ABBA blocks.

    Args:
        folder: the cassettes' folder.
        base_url: the base URL the cassettes were recorded with.
        sizes: interactions per cassette.
        samples: timed replays per size and side.

    Returns:
        Nanoseconds per replayed request, per size and side; and the slowest cassette load, in ms.
    """
    rng = random.Random(SEED)  # noqa: S311  # orders benchmark requests, not secrets
    replayers = {config: make_config(config, folder, record=False) for config in CONFIGS}
    timings: dict[int, dict[Config, list[int]]] = {}
    load_ms: dict[int, dict[Config, float]] = {}
    client = OpenAIClient(api_key=API_KEY, base_url=base_url, backoff=NoRetry())
    with client:
        for turn, size in enumerate(sizes):
            picks = spread_indexes(size, samples)
            rng.shuffle(picks)
            chunks = [picks[block::BLOCKS] for block in range(BLOCKS)]
            first, second = CONFIGS if turn % 2 == 0 else CONFIGS[::-1]
            order = (first, second, second, first)
            timings[size] = {config: [] for config in CONFIGS}
            load_ms[size] = dict.fromkeys(CONFIGS, 0.0)
            seen: dict[Config, int] = dict.fromkeys(CONFIGS, 0)
            for config in order:
                chunk = chunks[seen[config]]
                seen[config] += 1
                block, load = replay_block(
                    replayers[config], cassette_name(config, size), client, size, chunk
                )
                timings[size][config].extend(block)
                load_ms[size][config] = max(load_ms[size][config], load)
    return timings, load_ms


def profile_replays(folder: Path, base_url: str, config: Config, size: int, calls: int) -> str:
    """cProfile ``calls`` replays from one side's cassette, spread across it.

    Args:
        folder: the cassettes' folder.
        base_url: the base URL the cassettes were recorded with.
        config: which side.
        size: interactions in the cassette.
        calls: replays to profile (at least 2).

    Returns:
        The listing of vcr and typed_llm functions by cumulative time.
    """
    replayer = make_config(config, folder, record=False)
    requests = [request_for(index) for index in spread_indexes(size, calls)]
    client = OpenAIClient(api_key=API_KEY, base_url=base_url, backoff=NoRetry())
    with client, replayer.use_cassette(cassette_name(config, size), allow_playback_repeats=True):
        client.complete(requests[-1])

        def work() -> None:
            for request in requests:
                client.complete(request)

        return profile_listing(work, r"vcr|typed_llm", top=25)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        The parsed options.
    """
    parser = new_parser(__doc__)
    parser.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SAMPLES,
        help=f"timed replays per size and configuration (default {DEFAULT_SAMPLES})",
    )
    add_output_options(
        parser, "afterwards, cProfile K replays from each side's largest cassette (vcr, typed_llm)"
    )
    args = parser.parse_args(argv)
    if args.samples < 2 * BLOCKS:
        parser.error(f"--samples must be at least {2 * BLOCKS}")
    if args.profile == 1:
        parser.error("--profile must be 0 or at least 2")
    return args


def print_results(
    sizes: Sequence[int],
    median_us: dict[int, dict[Config, float]],
    p90_us: dict[int, dict[Config, float]],
    load_ms: dict[int, dict[Config, float]],
) -> dict[Config, float]:
    """Print the table, one row per size, and the growth of each side's median.

    Args:
        sizes: interactions per cassette, ascending.
        median_us: median µs per replayed request, per size and side.
        p90_us: 90th percentile µs, per size and side.
        load_ms: slowest cassette load, ms, per size and side.

    Returns:
        Each side's growth: median at the largest size over median at the smallest.
    """
    print("µs per replayed request (client.complete end to end); load = entering the cassette, ms")
    header = f"{'interactions':>12}"
    for config in CONFIGS:
        header += f"{config + ' p50':>12}{config + ' p90':>12}{config + ' load':>12}"
    print(header + f"{'stock/sdk':>11}")
    for size in sizes:
        row = f"{size:>12,}"
        for config in CONFIGS:
            row += (
                f"{median_us[size][config]:>12.1f}{p90_us[size][config]:>12.1f}{load_ms[size][config]:>12.1f}"
            )
        print(row + f"{median_us[size]['stock'] / median_us[size]['sdk']:>11.2f}")
    print()
    smallest, largest = sizes[0], sizes[-1]
    growth = {config: median_us[largest][config] / median_us[smallest][config] for config in CONFIGS}
    span = f"{largest:,}/{smallest:,}"
    for config in CONFIGS:
        per_size = (median_us[largest][config] - median_us[smallest][config]) / (largest - smallest)
        print(
            f"growth p50 {span} {config:<6}{growth[config]:>9.2f} x"
            f"   (+{per_size:.2f} µs per extra interaction; the cassettes differ {largest / smallest:,.0f} x)"
        )
    return growth


def main(argv: Sequence[str] | None = None) -> int:
    """Record the cassettes, replay from them, print the report, and delete the files.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        0 (the growth is reported, with no fixed target).
    """
    args = parse_args(argv)
    samples: int = args.samples
    sizes = SIZES

    print_header("bench_replay: vcrpy replay cost vs cassette size, SDK make_vcr vs stock vcr.VCR", VERSIONS)
    print(
        f"samples  {samples} per size and configuration, spread across the cassette, shuffled, "
        f"in {BLOCKS} ABBA blocks after {WARMUP} warm-up replays each"
    )
    print("sdk      make_vcr: index by method, norm_path, query, json_body (canonical, memoized)")
    print(f"stock    vcr.VCR: match_on {', '.join(STOCK_MATCH_ON)}")

    with tempfile.TemporaryDirectory(prefix="typed-llm-bench-replay-") as tmp:
        folder = Path(tmp)
        with FakeAPI() as fake:
            base_url = fake.openai_base_url
            record_s = record_all(folder, fake, sizes)
        # The fake is stopped: every answer below comes from a cassette.
        sizes_kb = {
            config: [(folder / cassette_name(config, size)).stat().st_size / 1024 for size in sizes]
            for config in CONFIGS
        }
        print(
            "recorded "
            + "; ".join(
                f"{config}: "
                + ", ".join(
                    f"{size:,} in {s:.1f} s ({kb:,.0f} KB)"
                    for size, s, kb in zip(sizes, record_s[config], sizes_kb[config], strict=True)
                )
                for config in CONFIGS
            )
        )
        print(flush=True)
        started = time.perf_counter()
        timings, load_ms = measure(folder, base_url, sizes, samples)
        elapsed = time.perf_counter() - started
        listings = (
            {config: profile_replays(folder, base_url, config, sizes[-1], args.profile) for config in CONFIGS}
            if args.profile > 0
            else {}
        )

    median_us: dict[int, dict[Config, float]] = {}
    p90_us: dict[int, dict[Config, float]] = {}
    for size in sizes:
        median_us[size], p90_us[size] = summarise(timings[size])
    growth = print_results(sizes, median_us, p90_us, load_ms)
    print()
    print(f"replay time {elapsed:.0f} s (cassettes deleted)")

    if args.json is not None:
        figures = {
            "samples": samples,
            "warmup": WARMUP,
            "blocks": BLOCKS,
            "sizes": list(sizes),
            "stock_match_on": list(STOCK_MATCH_ON),
            "median_us": {config: {str(s): median_us[s][config] for s in sizes} for config in CONFIGS},
            "p90_us": {config: {str(s): p90_us[s][config] for s in sizes} for config in CONFIGS},
            "load_ms": {config: {str(s): load_ms[s][config] for s in sizes} for config in CONFIGS},
            "record_s": {
                config: dict(zip(map(str, sizes), record_s[config], strict=True)) for config in CONFIGS
            },
            "growth": growth,
        }
        write_figures(args.json, VERSIONS, figures)

    for config, listing in listings.items():
        print_listing(
            f"cProfile, {args.profile} replays from the {sizes[-1]:,}-interaction {config} cassette, "
            "vcr and typed_llm by cumulative time:",
            listing,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
