"""Helpers the benchmarks share: timing, percentiles, the report's header, verdicts, JSON and cProfile.

Each benchmark runs as ``python bench/<name>.py``, which puts ``bench/`` first on ``sys.path``, so
they import this module as ``from _common import ...``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from typed_llm.testing._fake import FakeAPI

Name = TypeVar("Name", bound=str)
"""The name of a side or mode of a benchmark (``ours``, ``raw``, ``info`` ...)."""

CLEAR_EVERY = 250
"""Calls (or rounds) between clearings of ``FakeAPI.received``, which otherwise grows forever."""


def time_ns(call: Callable[[], object]) -> int:
    """Time one call.

    Args:
        call: the call to time.

    Returns:
        Nanoseconds it took.
    """
    start = time.perf_counter_ns()
    call()
    return time.perf_counter_ns() - start


def percentile(samples: Sequence[int], q: int) -> float:
    """The q-th percentile in microseconds (linear interpolation between the closest ranks).

    Args:
        samples: at least two timings, in nanoseconds.
        q: the percentile, 1 to 99.

    Returns:
        The percentile, in microseconds.
    """
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] / 1000


def summarise(timings: Mapping[Name, Sequence[int]]) -> tuple[dict[Name, float], dict[Name, float]]:
    """The median and the 90th percentile of each side's timings, in microseconds.

    Args:
        timings: nanoseconds per call, per side (at least two each).

    Returns:
        The medians and the 90th percentiles, per side, in the order of ``timings``.
    """
    median_us = {name: statistics.median(samples) / 1000 for name, samples in timings.items()}
    p90_us = {name: percentile(samples, 90) for name, samples in timings.items()}
    return median_us, p90_us


def new_parser(doc: str | None) -> argparse.ArgumentParser:
    """A command-line parser described by the first line of a benchmark's docstring.

    Args:
        doc: the benchmark's ``__doc__``.

    Returns:
        The parser, without options yet.
    """
    return argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)


def add_output_options(parser: argparse.ArgumentParser, profile_help: str) -> None:
    """Add ``--json PATH`` and ``--profile K``, the options every timing benchmark ends with.

    Args:
        parser: the benchmark's parser.
        profile_help: the help of ``--profile``: what gets profiled.
    """
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    parser.add_argument("--profile", type=int, default=0, metavar="K", help=profile_help)


def print_header(title: str, versions: Mapping[str, str]) -> None:
    """Print the report's first lines: its title, then Python's version and each package's.

    Labels are padded to one column, one character wider than the longest.

    Args:
        title: the first line.
        versions: package name to version, in the order to print them.
    """
    width = max(len(name) for name in ("python", *versions)) + 1
    python = f"{platform.python_version()} ({platform.python_implementation()}, {sys.platform})"
    print(title)
    print(f"{'python':<{width}}{python}")
    for name, version in versions.items():
        print(f"{name:<{width}}{version}")


def print_table(median_us: Mapping[Name, float], p90_us: Mapping[Name, float], width: int) -> None:
    """Print the median and p90 of each side, one row each.

    Args:
        median_us: the medians, per side, in row order.
        p90_us: the 90th percentiles, per side.
        width: the width of the first column (the side's name).
    """
    print(f"{'':{width}}{'median µs':>12}{'p90 µs':>12}")
    for name, median in median_us.items():
        print(f"{name:{width}}{median:>12.1f}{p90_us[name]:>12.1f}")


def verdict(passed: bool) -> str:  # noqa: FBT001  (the verdict of one check, read as a value)
    """The word a report prints for a check.

    Args:
        passed: whether the target holds.

    Returns:
        ``PASS`` or ``FAIL``.
    """
    return "PASS" if passed else "FAIL"


def report_ratio(label: str, ratio: float, target: float, target_format: str = ".2f") -> bool:
    """Print a ratio against its upper bound, with the verdict.

    Args:
        label: what comes before the ratio, padded as the report wants it.
        ratio: the measured ratio.
        target: the highest ratio that passes.
        target_format: the format spec of ``target`` ("" prints it as ``str`` does).

    Returns:
        Whether the ratio meets the target.
    """
    passed = ratio <= target
    print(f"{label}{ratio:.3f}  target <= {target:{target_format}}  {verdict(passed)}")
    return passed


def write_figures(path: Path, versions: Mapping[str, str], figures: Mapping[str, object]) -> None:
    """Write a run's figures as JSON, after Python's version and the packages', and say so.

    Args:
        path: the file to write.
        versions: package name to version, as in the header.
        figures: the rest of the report.
    """
    report = {"python": platform.python_version(), **versions, **figures}
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {path}")


def profile_listing(work: Callable[[], object], pattern: str, top: int) -> str:
    """cProfile one run of ``work`` and list the costliest functions by cumulative time.

    Args:
        work: what to profile.
        pattern: a regular expression; only functions whose ``file:line(name)`` matches are listed.
        top: functions to list.

    Returns:
        The ``pstats`` listing.
    """
    profiler = cProfile.Profile()
    profiler.enable()
    work()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(pattern, top)
    return out.getvalue()


def profile_fake_calls(fake: FakeAPI, call: Callable[[], object], calls: int, pattern: str, top: int) -> str:
    """cProfile ``calls`` calls against the loopback fake, clearing its record of requests as they go.

    Args:
        fake: the fake the call talks to.
        call: one call.
        calls: calls to profile.
        pattern: a regular expression; only functions whose ``file:line(name)`` matches are listed.
        top: functions to list.

    Returns:
        The ``pstats`` listing by cumulative time.
    """

    def work() -> None:
        for index in range(calls):
            call()
            if index % CLEAR_EVERY == CLEAR_EVERY - 1:
                fake.received.clear()

    listing = profile_listing(work, pattern, top)
    fake.received.clear()
    return listing


def print_listing(title: str, listing: str) -> None:
    """Print a profile listing under its title, after a blank line; nothing if there is none.

    Args:
        title: what was profiled.
        listing: the listing, or "" when no profile was asked for.
    """
    if listing:
        print()
        print(title)
        print(listing)


def run_interleaved(
    fake: FakeAPI, ours: Callable[[], object], raw: Callable[[], object], calls: int, warmup: int
) -> dict[str, list[int]]:
    """Warm up both sides, then time them interleaved, alternating which goes first each round.

    Args:
        fake: the fake both clients talk to (its record of requests is cleared as we go).
        ours: one call through typed-llm.
        raw: one call through the openai package.
        calls: timed calls per side.
        warmup: untimed calls per side first.

    Returns:
        Nanoseconds per call, per side (``ours``, ``raw``), in round order.
    """
    for _ in range(warmup):
        ours()
        raw()
    fake.received.clear()
    timings: dict[str, list[int]] = {"ours": [], "raw": []}
    for round_ in range(calls):
        order = (("ours", ours), ("raw", raw)) if round_ % 2 == 0 else (("raw", raw), ("ours", ours))
        for name, call in order:
            timings[name].append(time_ns(call))
        if round_ % CLEAR_EVERY == CLEAR_EVERY - 1:
            fake.received.clear()
    fake.received.clear()
    return timings
