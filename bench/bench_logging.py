"""Per-call overhead of typed-llm's structured logging, on the loopback fake.

Every call through ``OpenAIClient.complete`` emits a ``request`` event (debug) and a ``response``
event (info), each redacted before it is written. Logging must be cheap enough to leave on in
production: with ``configure_logging(json=True, level="info")`` writing JSON lines, a call should
take at most 5% longer than the same call with the pipeline set up but every event filtered out.
This benchmark checks that promise, and also compares with a process where logging was never
configured.

Three modes, one client, one ``FakeAPI``, one process:

- ``info``: ``configure_logging(json=True, level="info", stream=/dev/null)``, the default set-up:
  the ``response`` event's request key is computed, it is redacted, rendered and written before
  ``complete`` returns; ``request`` is filtered out.
- ``disabled``: the same pipeline at level ``CRITICAL``, so every event is filtered out.
- ``unconfigured``: ``structlog.reset_defaults()``, no handler on the root logger, level WARNING.

The target is on the median time of a call (``info`` against ``disabled``). The report also gives
the CPU time per call of each mode, counted over whole blocks of calls (all threads: the client's
and the in-process fake's, which is the same in every mode).

Switching modes calls ``configure_logging`` (or resets it), which is too costly to do per call, so
the modes run in blocks of calls (250 by default). Each round runs one block per mode, rotating
the order so every mode takes every position alike, and drift (CPU frequency, the fake's state,
GC) hits all modes alike. Switching and clearing the fake's record are untimed. Each mode is
warmed up first.

This machine's speed drifts by several percent from one second to the next (the two modes that log
nothing differ by up to 5% in one run), as much as the target allows. So the whole comparison is
repeated (3 times by default), each repetition's ratio is reported, and the target is on their
median; the ratio of the two modes that log nothing is printed alongside, to show the noise.

Run it from the project root::

    .venv/bin/python bench/bench_logging.py [--calls N] [--block B] [--warmup W] [--repeat R]
        [--json PATH] [--profile K]
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import statistics
import sys
import time
from typing import IO, TYPE_CHECKING, Final, Literal

import attrs
import openai
import structlog

from _common import (
    add_output_options,
    new_parser,
    print_header,
    print_listing,
    print_table,
    profile_fake_calls,
    report_ratio,
    summarise,
    time_ns,
    write_figures,
)
from typed_llm import ChatRequest, OpenAIClient, UserMessage, configure_logging
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

Mode = Literal["info", "disabled", "unconfigured"]
MODES: Final[tuple[Mode, ...]] = ("info", "disabled", "unconfigured")
ORDERS: Final[tuple[tuple[Mode, ...], ...]] = tuple(MODES[i:] + MODES[:i] for i in range(len(MODES)))
"""The orders the modes run in, one per round, in turn: each mode takes each position once."""

API_KEY = "sk-test-bench"
MODEL = "gpt-4o-mini"
PROMPT = "Say hello to the benchmark."
MAX_TOKENS = 50
TARGET_RATIO = 1.05
"""The info median may be at most this many times the disabled one's."""
VERSIONS = {"structlog": structlog.__version__, "openai": openai.__version__}
"""The packages whose versions the report and its figures name."""


def make_call(client: OpenAIClient) -> Callable[[], str]:
    """One call through typed-llm, as a user writes it: build the request, complete, read the text.

    Args:
        client: the typed client, built once.

    Returns:
        A function making one call and returning the answer's text.
    """

    def call() -> str:
        request = ChatRequest(
            model=MODEL,
            messages=(UserMessage(content=PROMPT),),
            max_tokens=MAX_TOKENS,
        )
        return client.complete(request).text

    return call


def set_mode(mode: Mode, stream: IO[str]) -> None:
    """Set logging up for one mode (untimed, between blocks).

    Args:
        mode: ``info``, ``disabled`` or ``unconfigured``.
        stream: where the configured modes write their lines.
    """
    if mode == "info":
        configure_logging(json=True, level="info", stream=stream)
    elif mode == "disabled":
        configure_logging(json=True, level=logging.CRITICAL, stream=stream)
    else:
        structlog.reset_defaults()
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.setLevel(logging.WARNING)


def check_output(call: Callable[[], str]) -> int:
    """Check that info mode really writes the ``response`` event as JSON, and disabled mode nothing.

    Args:
        call: one call through typed-llm.

    Returns:
        Lines info mode writes per call.

    Raises:
        RuntimeError: if info mode wrote no JSON ``response`` event, or disabled mode wrote anything.
    """
    captured = io.StringIO()
    set_mode("info", captured)
    call()
    lines = captured.getvalue().splitlines()  # written before complete() returned, no flush needed
    events = [json.loads(line) for line in lines]
    if not any(event.get("event") == "response" and len(event["request_key"]) == 64 for event in events):
        raise RuntimeError(f"info mode wrote no JSON 'response' event with its key: {lines!r}")
    captured = io.StringIO()
    set_mode("disabled", captured)
    call()
    if captured.getvalue():
        raise RuntimeError(f"disabled mode wrote lines: {captured.getvalue()!r}")
    return len(lines)


def run(
    fake: FakeAPI, call: Callable[[], str], stream: IO[str], *, calls: int, block: int, warmup: int
) -> tuple[dict[Mode, list[int]], dict[Mode, float]]:
    """Warm up every mode, then time them in interleaved blocks.

    Args:
        fake: the fake the client talks to (its record of requests is cleared between blocks).
        call: one call through typed-llm.
        stream: where the configured modes write (``/dev/null``).
        calls: timed calls per mode.
        block: calls per block between mode switches.
        warmup: untimed calls per mode first.

    Returns:
        Nanoseconds per call, per mode, in call order; and CPU seconds per mode over its blocks.
    """
    for mode in MODES:
        set_mode(mode, stream)
        for _ in range(warmup):
            call()
        fake.received.clear()
    timings: dict[Mode, list[int]] = {mode: [] for mode in MODES}
    cpu: dict[Mode, float] = dict.fromkeys(MODES, 0.0)
    done = 0
    for round_ in itertools.count():
        if done >= calls:
            break
        size = min(block, calls - done)
        for mode in ORDERS[round_ % len(ORDERS)]:
            set_mode(mode, stream)
            samples = timings[mode]
            started = time.process_time()
            for _ in range(size):
                samples.append(time_ns(call))
            cpu[mode] += time.process_time() - started
            fake.received.clear()
        done += size
    return timings, cpu


def profile(fake: FakeAPI, call: Callable[[], str], stream: IO[str], calls: int, top: int = 30) -> str:
    """Profile info mode alone and list the costliest functions inside typed_llm, structlog and logging.

    Args:
        fake: the fake (its record of requests is cleared as we go).
        call: one call through typed-llm.
        stream: where info mode writes (``/dev/null``).
        calls: calls to profile.
        top: functions to list.

    Returns:
        The ``pstats`` listing by cumulative time, filtered to typed_llm, structlog and logging.
    """
    set_mode("info", stream)
    return profile_fake_calls(fake, call, calls, r"typed_llm|structlog|logging", top)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        The parsed options.
    """
    parser = new_parser(__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per mode (default 2000)")
    parser.add_argument(
        "--block", type=int, default=250, help="calls per block between mode switches (default 250)"
    )
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls per mode first (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of --calls calls per mode (default 3)")
    add_output_options(
        parser, "afterwards, cProfile K calls in info mode and list typed_llm/structlog/logging hot spots"
    )
    args = parser.parse_args(argv)
    if args.calls < 2:
        parser.error("--calls must be at least 2")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.block < 1:
        parser.error("--block must be at least 1")
    return args


@attrs.frozen
class Repetition:
    """The figures of one run of ``--calls`` calls per mode."""

    median_us: dict[Mode, float]
    p90_us: dict[Mode, float]
    cpu_us: dict[Mode, float]
    """CPU microseconds per call (all threads)."""

    @classmethod
    def of(cls, timings: dict[Mode, list[int]], cpu: dict[Mode, float]) -> Repetition:
        """Summarise one run's timings and CPU seconds."""
        median_us, p90_us = summarise(timings)
        return cls(median_us, p90_us, {mode: cpu[mode] / len(timings[mode]) * 1e6 for mode in MODES})

    def ratios(self) -> dict[str, float]:
        """Each ratio the report gives, by its label."""
        median, cpu = self.median_us, self.cpu_us
        return {
            "info / disabled": median["info"] / median["disabled"],
            "info / unconfigured": median["info"] / median["unconfigured"],
            "unconfigured / disabled": median["unconfigured"] / median["disabled"],
            "CPU info / disabled": cpu["info"] / cpu["disabled"],
        }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        0 if the median over repetitions of the info / disabled ratio meets the target, 1 if not.
    """
    args = parse_args(argv)
    calls: int = args.calls
    block: int = args.block
    warmup: int = args.warmup
    repeat: int = args.repeat
    repetitions: list[Repetition] = []
    with open(os.devnull, "w", encoding="utf-8") as devnull, FakeAPI() as fake:  # noqa: PTH123  (a text stream, not a path)
        client = OpenAIClient(api_key=API_KEY, base_url=fake.openai_base_url)
        with client:
            call = make_call(client)
            lines_per_call = check_output(call)
            for index in range(repeat):
                timings, cpu = run(
                    fake, call, devnull, calls=calls, block=block, warmup=warmup if index == 0 else 0
                )
                repetitions.append(Repetition.of(timings, cpu))
            listing = profile(fake, call, devnull, args.profile) if args.profile > 0 else ""
            set_mode("unconfigured", devnull)

    ratios = [repetition.ratios() for repetition in repetitions]
    labels = list(ratios[0])
    medians = {label: statistics.median(r[label] for r in ratios) for label in labels}

    print_header(
        "bench_logging: OpenAIClient.complete with JSON logging at info vs logging off (loopback fake)",
        VERSIONS,
    )
    print(
        f"calls     {calls} per mode, in interleaved blocks of {block}, after {warmup} warm-up calls per"
        f" mode; {repeat} repetitions"
    )
    print(f"info mode writes {lines_per_call} JSON line(s) per call (checked before timing)")
    for number, repetition in enumerate(repetitions, start=1):
        print()
        print(f"repetition {number}")
        print_table(repetition.median_us, repetition.p90_us, width=15)
        print(f"{'':15}{'CPU µs/call':>12}  (all threads)")
        for mode in MODES:
            print(f"{mode:15}{repetition.cpu_us[mode]:>12.1f}")
    print()
    width = max(len(label) for label in labels) + 2
    header = "".join(f"{f'rep {n}':>9}" for n in range(1, repeat + 1))
    print(f"{'ratio':{width}}{header}{'median':>9}")
    for label in labels:
        row = "".join(f"{r[label]:>9.3f}" for r in ratios)
        print(f"{label:{width}}{row}{medians[label]:>9.3f}")
    print("(unconfigured / disabled compares two modes that log nothing: it shows the noise)")
    print()
    passed = report_ratio(
        "median over repetitions of the ratio of medians (info / disabled): ",
        medians["info / disabled"],
        TARGET_RATIO,
    )

    if args.json is not None:
        figures = {
            "calls": calls,
            "block": block,
            "warmup": warmup,
            "repeat": repeat,
            "lines_per_call": lines_per_call,
            "repetitions": [attrs.asdict(repetition) for repetition in repetitions],
            "ratios": ratios,
            "median_ratios": medians,
            "ratio": medians["info / disabled"],
            "target": TARGET_RATIO,
            "passed": passed,
        }
        write_figures(args.json, VERSIONS, figures)

    print_listing(
        f"cProfile, {args.profile} calls in info mode, typed_llm/structlog/logging by cumulative time:",
        listing,
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
