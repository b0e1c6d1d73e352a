"""Run one benchmark of this tree and of another checkout against the same fake, pairs alternating.

Each tree's benchmark normally talks to its own tree's in-process ``FakeAPI``. When the fakes
differ (this tree's validates and counts each request, which the fake of the tree before the
pipeline redesign did not), the ratio against raw openai moves for a reason that is not the
client: the same extra fake time on both sides pulls a ratio below 1 towards 1. This command
starts this tree's fake once, in a process of its own, and runs the benchmark of each tree
against it (its ``FakeAPI`` replaced by a stand-in naming the shared fake's URL), the trees
alternating and the first of each pair alternating too. It reports each run's ratio, the
medians per tree and the median of the paired differences.

Run it from the project root, the other tree bootstrapped (its own ``.venv``)::

    .venv/bin/python bench/compare_trees.py --other ../old-tree [--pairs 6] [--calls 800]
        [--bench bench_complete.py]

The benchmark must accept ``--calls`` and ``--json PATH`` and write ``ratio`` there (every
``bench_complete.py`` since issue 4 does) and build its fake as ``FakeAPI()`` used in ``with``.
"""

from __future__ import annotations

import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from types import TracebackType

HERE = Path(__file__).resolve().parent
CLEAR_EVERY_S = 5.0
"""Seconds between clearings of the shared fake's record of requests (it grows otherwise)."""


class SharedFake:
    """What a benchmark's ``with FakeAPI() as fake`` gets instead: the shared fake's URL, no server.

    ``received`` stays empty (the benchmark clears it; the serving process clears its own).
    """

    url = ""

    def __init__(self) -> None:
        self.openai_base_url = SharedFake.url
        self.received: list[object] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None


def serve() -> int:
    """Serve this tree's fake until standard input closes; print its OpenAI base URL first."""
    import threading  # noqa: PLC0415  (only the serving process needs it)

    from typed_llm.testing._fake import FakeAPI  # noqa: PLC0415  (only the serving process needs it)

    with FakeAPI() as fake:
        print(fake.openai_base_url, flush=True)
        done = threading.Event()

        def wait_for_eof() -> None:
            sys.stdin.read()
            done.set()

        threading.Thread(target=wait_for_eof, daemon=True).start()
        while not done.wait(CLEAR_EVERY_S):
            fake.received.clear()
    return 0


def against(bench: Path, url: str, argv: list[str]) -> int:
    """Run ``bench`` (any tree's, by that tree's python) with its fake replaced by the shared one."""
    sys.path[:] = [str(bench.parent), *(entry for entry in sys.path if Path(entry or ".").resolve() != HERE)]
    module = importlib.import_module(bench.stem)
    SharedFake.url = url
    setattr(module, "FakeAPI", SharedFake)  # noqa: B010  (a module the type checker cannot see)
    result: int = module.main(argv)
    return result


def run_one(tree: Path, bench: str, url: str, calls: int) -> float:
    """One run of ``tree``'s ``bench`` against the fake at ``url``: its ratio."""
    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "figures.json"
        command = [
            str(tree / ".venv" / "bin" / "python"),
            str(HERE / "compare_trees.py"),
            "--against",
            url,
            str(tree / "bench" / bench),
            "--calls",
            str(calls),
            "--json",
            str(figures),
        ]
        subprocess.run(command, cwd=tree, check=False, capture_output=True, text=True)  # noqa: S603  (our own command)
        if not figures.exists():
            raise RuntimeError(f"{tree / 'bench' / bench} wrote no figures")
        ratio: float = json.loads(figures.read_text(encoding="utf-8"))["ratio"]
        return ratio


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    from _common import new_parser  # noqa: PLC0415  (not in --against mode: the other tree's benchmark imports its own)

    parser = new_parser(__doc__)
    parser.add_argument("--other", type=Path, required=True, help="the other checkout (bootstrapped)")
    parser.add_argument("--pairs", type=int, default=6, help="runs per tree (default 6)")
    parser.add_argument("--calls", type=int, default=800, help="the benchmark's --calls (default 800)")
    parser.add_argument("--bench", default="bench_complete.py", help="default bench_complete.py")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Compare the two trees; print every run and the medians."""
    args = parse_args(argv)
    this, other = HERE.parent, args.other.resolve()
    server = subprocess.Popen(  # noqa: S603  (our own command)
        [sys.executable, str(HERE / "compare_trees.py"), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        time.sleep(0.5)
        ratios: dict[str, list[float]] = {"this": [], "other": []}
        print(f"compare_trees: {args.bench} --calls {args.calls}, one shared fake in its own process")
        print(f"this  {this}\nother {other}\n")
        print("pair   this    other   this - other")
        for pair in range(args.pairs):
            order = (
                (("this", this), ("other", other)) if pair % 2 == 0 else (("other", other), ("this", this))
            )
            for name, tree in order:
                ratios[name].append(run_one(tree, args.bench, url, args.calls))
            mine, theirs = ratios["this"][-1], ratios["other"][-1]
            print(f"{pair + 1:4d}   {mine:.3f}   {theirs:.3f}   {mine - theirs:+.3f}", flush=True)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    differences = [a - b for a, b in zip(ratios["this"], ratios["other"], strict=True)]
    print(
        f"\nmedian ratio: this {statistics.median(ratios['this']):.3f}, "
        f"other {statistics.median(ratios['other']):.3f}; "
        f"median of the paired differences {statistics.median(differences):+.3f}"
    )
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(serve())
    if sys.argv[1:2] == ["--against"]:
        sys.exit(against(Path(sys.argv[3]), sys.argv[2], sys.argv[4:]))
    sys.exit(main())
