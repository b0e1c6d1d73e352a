"""Import time of ``import typed_llm`` against ``import openai``, each in fresh processes.

Each round starts one new interpreter per side, alternating which goes first, and times the
import statement alone inside it (``time.perf_counter`` around ``import``; interpreter start-up
is the same for both and left out). The headline is the ratio of the medians; the target is
``typed_llm`` at most 1.10 x ``openai``. ``--breakdown`` runs ``python -X importtime`` once and
sums the self time by top-level package, to show where the time goes.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from _common import new_parser, print_header, report_ratio, write_figures

if TYPE_CHECKING:
    from collections.abc import Sequence

TARGET = 1.10
"""``import typed_llm`` may take at most this many times ``import openai`` (issue 22)."""

_TIMED = (
    "import sys, time\n"
    "start = time.perf_counter()\n"
    "import {module}\n"
    "elapsed = time.perf_counter() - start\n"
    "print(elapsed, int('openai' in sys.modules))\n"
)


def time_import(module: str) -> tuple[float, bool]:
    """Seconds ``import module`` took in a fresh interpreter, and whether openai got loaded."""
    command = [sys.executable, "-c", _TIMED.format(module=module)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603  (our own code)
    seconds, loaded = done.stdout.split()
    return float(seconds), loaded == "1"


def breakdown(module: str, top: int) -> list[tuple[str, float]]:
    """Self time of each top-level package while importing ``module`` (``-X importtime``), in ms."""
    done = subprocess.run(  # noqa: S603  (our own interpreter and arguments)
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        parts = name.strip().split(".")
        key = ".".join(parts[:2]) if parts[0] == "typed_llm" else parts[0]  # our modules one by one
        totals[key] += int(self_us) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rounds, print the medians and the verdict; 0 on PASS, 1 on FAIL."""
    parser = new_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="fresh processes per side (default 10)")
    parser.add_argument(
        "--breakdown", type=int, default=0, metavar="N", help="also list the N costliest packages"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    import openai  # noqa: PLC0415  (its version, for the header)
    import pydantic  # noqa: PLC0415

    versions = {"openai": openai.__version__, "pydantic": pydantic.VERSION}
    print_header("import typed_llm vs import openai", versions)
    times: dict[str, list[float]] = {"typed_llm": [], "openai": []}
    loads_openai = False
    for index in range(args.rounds):
        order = ("typed_llm", "openai") if index % 2 == 0 else ("openai", "typed_llm")
        for module in order:
            seconds, loaded = time_import(module)
            times[module].append(seconds)
            if module == "typed_llm":
                loads_openai = loads_openai or loaded
    medians = {module: statistics.median(samples) * 1000 for module, samples in times.items()}
    for module, median in medians.items():
        spread = f"{min(times[module]) * 1000:.0f}-{max(times[module]) * 1000:.0f}"
        print(f"{module:<10} median {median:7.1f} ms   range {spread} ms   ({args.rounds} fresh processes)")
    print(f"import typed_llm loads openai: {'yes' if loads_openai else 'no'}")
    ratio = medians["typed_llm"] / medians["openai"]
    passed = report_ratio("ratio of medians (typed_llm / openai): ", ratio, TARGET)
    if args.breakdown:
        print("\nwhere import typed_llm spends its time (self time, ms, one run of -X importtime):")
        for name, milliseconds in breakdown("typed_llm", args.breakdown):
            print(f"  {milliseconds:8.1f}  {name}")
    if args.json:
        write_figures(
            args.json, versions, {"median_ms": medians, "ratio": ratio, "loads_openai": loads_openai}
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
