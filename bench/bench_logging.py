"""Per-call overhead of typed-llm's structured logging, on the loopback fake.

Every call through ``OpenAIClient.complete`` emits a ``request`` event (debug) and a ``response``
event (info), each redacted before it reaches the application's pipeline. Logging must be cheap
enough to leave on in production: with ``configure_logging(json=True, level="info")`` writing JSON
lines, a call should cost at most 5% more than the same call with the pipeline set up but every
event filtered out. This benchmark checks that promise, and also compares with a process where
logging was never configured (the library then talks to a silent stdlib logger).

Three modes, one client, one ``FakeAPI``, one process:

- ``info``: ``configure_logging(json=True, level="info", stream=/dev/null)``. The ``response``
  event is redacted, rendered to JSON and written (and so is httpx's own info record of the
  request, which the configured root handler also receives); ``request`` is filtered out.
- ``disabled``: the same pipeline at level ``CRITICAL``, so every event is filtered out.
- ``unconfigured``: ``structlog.reset_defaults()``, no handler on the root logger, level WARNING.

Switching modes calls ``configure_logging`` (or resets it), which is too costly to do per call, so
the modes run in blocks of calls (50 by default). Each round runs one block per mode, cycling
through the six orders so every mode goes first, second and third alike, and drift (CPU
frequency, the fake's state, GC) hits all modes alike. Switching and clearing the fake's record
are untimed. Each mode is warmed up first.

Run it from the project root::

    .venv/bin/python bench/bench_logging.py [--calls N] [--block B] [--warmup W] [--json PATH]
        [--profile K]
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import sys
from typing import IO, TYPE_CHECKING, Final, Literal

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
from typed_llm._fake import FakeAPI

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

Mode = Literal["info", "disabled", "unconfigured"]
MODES: Final[tuple[Mode, ...]] = ("info", "disabled", "unconfigured")
ORDERS: Final[tuple[tuple[Mode, ...], ...]] = tuple(itertools.permutations(MODES))
"""The six orders the modes run in, one per round, in turn."""

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
    lines = captured.getvalue().splitlines()
    events = [json.loads(line) for line in lines]
    if not any(event.get("event") == "response" for event in events):
        raise RuntimeError(f"info mode wrote no JSON 'response' event: {lines!r}")
    captured = io.StringIO()
    set_mode("disabled", captured)
    call()
    if captured.getvalue():
        raise RuntimeError(f"disabled mode wrote lines: {captured.getvalue()!r}")
    return len(lines)


def run(
    fake: FakeAPI, call: Callable[[], str], stream: IO[str], *, calls: int, block: int, warmup: int
) -> dict[Mode, list[int]]:
    """Warm up every mode, then time them in interleaved blocks.

    Args:
        fake: the fake the client talks to (its record of requests is cleared between blocks).
        call: one call through typed-llm.
        stream: where the configured modes write (``/dev/null``).
        calls: timed calls per mode.
        block: calls per block between mode switches.
        warmup: untimed calls per mode first.

    Returns:
        Nanoseconds per call, per mode, in call order.
    """
    for mode in MODES:
        set_mode(mode, stream)
        for _ in range(warmup):
            call()
        fake.received.clear()
    timings: dict[Mode, list[int]] = {mode: [] for mode in MODES}
    done = 0
    for round_ in itertools.count():
        if done >= calls:
            break
        size = min(block, calls - done)
        for mode in ORDERS[round_ % len(ORDERS)]:
            set_mode(mode, stream)
            samples = timings[mode]
            for _ in range(size):
                samples.append(time_ns(call))
            fake.received.clear()
        done += size
    return timings


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
    parser.add_argument("--block", type=int, default=50, help="calls per block between switches (default 50)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls per mode first (default 100)")
    add_output_options(
        parser, "afterwards, cProfile K calls in info mode and list typed_llm/structlog/logging hot spots"
    )
    args = parser.parse_args(argv)
    if args.calls < 2:
        parser.error("--calls must be at least 2")
    if args.block < 1:
        parser.error("--block must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        0 if the info / disabled ratio meets the target, 1 if not.
    """
    args = parse_args(argv)
    calls: int = args.calls
    block: int = args.block
    warmup: int = args.warmup
    with open(os.devnull, "w", encoding="utf-8") as devnull, FakeAPI() as fake:  # noqa: PTH123  (a text stream, not a path)
        client = OpenAIClient(api_key=API_KEY, base_url=fake.openai_base_url)
        with client:
            call = make_call(client)
            lines_per_call = check_output(call)
            timings = run(fake, call, devnull, calls=calls, block=block, warmup=warmup)
            listing = profile(fake, call, devnull, args.profile) if args.profile > 0 else ""
            set_mode("unconfigured", devnull)

    median_us, p90_us = summarise(timings)
    ratio = median_us["info"] / median_us["disabled"]
    ratio_unconfigured = median_us["info"] / median_us["unconfigured"]

    print_header(
        "bench_logging: OpenAIClient.complete with JSON logging at info vs logging off (loopback fake)",
        VERSIONS,
    )
    print(
        f"calls     {calls} per mode, in interleaved blocks of {block}, after {warmup} warm-up calls per mode"
    )
    print(f"info mode writes {lines_per_call} JSON line(s) per call (checked before timing)")
    print()
    print_table(median_us, p90_us, width=14)
    print()
    passed = report_ratio("ratio of medians (info / disabled):     ", ratio, TARGET_RATIO)
    print(f"ratio of medians (info / unconfigured): {ratio_unconfigured:.3f}  (no target)")

    if args.json is not None:
        figures = {
            "calls": calls,
            "block": block,
            "warmup": warmup,
            "lines_per_call": lines_per_call,
            "median_us": median_us,
            "p90_us": p90_us,
            "ratio": ratio,
            "ratio_unconfigured": ratio_unconfigured,
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
