"""Where configure_logging's lines go: the former background writer against structlog's own.

Issue 16 replaced ``_log_writer.py`` (a writer of the SDK's own, with a thread, a queue and fork
handling) by structlog's processors and one stdlib handler, written in the thread that logs. This
benchmark is the comparison that decided it: the same library events (``emit`` of a ``response``
event with its usual fields), 100,000 of them, rendered by the same processors into the same JSON
lines written to ``/dev/null``, through four sinks:

- ``old background``: ``configure_logging(json=True)`` of the last commit that had the writer, its
  default (a thread renders and writes in batches);
- ``old at once``: the same with ``background=False``;
- ``structlog write``: plain structlog, ``WriteLoggerFactory`` with the same processors;
- ``new``: today's ``configure_logging(json=True)``.

Each sink runs in a fresh interpreter (the old one imports the SDK of that commit, taken out of git
history into a temporary folder). The report gives, per sink, the caller's time per event (wall
time of the loop of ``emit`` calls, divided by the events) and the process's CPU seconds over the
loop and the flush of what it queued (all threads: the old writer's thread too). Sinks run in
turn, the order rotating each round, and the median over rounds is reported. Before timing, each
sink's lines for three events are checked to carry the same fields.

Run it from the project root (about a minute)::

    .venv/bin/python bench/bench_log_sink.py [--events N] [--rounds R] [--old-rev REV]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

from _common import new_parser

if TYPE_CHECKING:
    from collections.abc import Sequence

ROOT: Final = Path(__file__).resolve().parent.parent
SINKS: Final = ("old background", "old at once", "structlog write", "new")

CHILD: Final = r"""
import io, json, logging, os, sys, time
sink, events = sys.argv[1], int(sys.argv[2])
import structlog
from typed_llm import configure_logging, flush_logs
from typed_llm._logging import emit, redact, resolve_later

FIELDS = dict(
    request_key="a" * 64, provider="openai", model="gpt-4o-mini", attempt=1, latency_ms=12.5,
    status_code=200, request_id="req_0123456789abcdef", response_model="gpt-4o-mini-2024-07-18",
    prompt_tokens=8, completion_tokens=3, cached_tokens=0, reasoning_tokens=0, finish_reason="stop",
)

def configure(stream):
    if sink == "old background":
        configure_logging(json=True, level="info", stream=stream)
    elif sink == "old at once":
        configure_logging(json=True, level="info", stream=stream, background=False)
    elif sink == "new":
        configure_logging(json=True, level="info", stream=stream)
    else:
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                resolve_later,
                structlog.processors.format_exc_info,
                redact,
                structlog.processors.JSONRenderer(),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.WriteLoggerFactory(stream),
            cache_logger_on_first_use=False,
        )

sample = io.StringIO()
configure(sample)
for _ in range(3):
    emit(logging.INFO, "response", **FIELDS)
flush_logs()
keys = sorted({key for line in sample.getvalue().splitlines() for key in json.loads(line)})
lines = len(sample.getvalue().splitlines())

with open(os.devnull, "w", encoding="utf-8") as devnull:
    configure(devnull)
    for _ in range(2000):
        emit(logging.INFO, "response", **FIELDS)
    flush_logs()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(events):
        emit(logging.INFO, "response", **FIELDS)
    caller = time.perf_counter() - wall
    flush_logs()
    cpu = time.process_time() - cpu
print(json.dumps({"caller_us": caller / events * 1e6, "cpu_s": cpu, "keys": keys, "lines": lines}))
"""


def _git(*args: str) -> bytes:
    """The output of ``git -C <project root> <args>``."""
    git = shutil.which("git")
    if git is None:
        raise SystemExit("git is needed to take the old writer out of history")
    return subprocess.run([git, "-C", str(ROOT), *args], check=True, capture_output=True).stdout  # noqa: S603  (our own arguments)


def old_sdk(rev: str, into: Path) -> Path:
    """The ``sdk`` folder of ``rev``, taken out of git history into ``into``.

    Args:
        rev: a commit that still has ``_log_writer.py``.
        into: an empty folder.

    Returns:
        The folder to put first on ``sys.path``.
    """
    tar = into / "sdk.tar"
    tar.write_bytes(_git("archive", "--format=tar", rev, "sdk"))
    with tarfile.open(tar) as opened:
        opened.extractall(into, filter="data")
    if not (into / "sdk" / "typed_llm" / "_log_writer.py").exists():
        raise SystemExit(f"{rev} has no sdk/typed_llm/_log_writer.py")
    return into / "sdk"


def last_rev_with_the_writer() -> str:
    """The parent of the commit that deleted ``_log_writer.py``."""
    deleting = _git("log", "-1", "--format=%H", "--diff-filter=D", "--", "sdk/typed_llm/_log_writer.py")
    if not deleting.strip():
        raise SystemExit("no commit deletes sdk/typed_llm/_log_writer.py yet: pass --old-rev")
    return f"{deleting.decode().strip()}^"


def run_sink(sink: str, events: int, old_path: Path) -> dict[str, object]:
    """One sink in a fresh interpreter: its figures and the fields of its lines."""
    path = old_path if sink.startswith("old") else ROOT / "sdk"
    env = {**os.environ, "PYTHONPATH": str(path)}
    command = [sys.executable, "-c", CHILD, sink, str(events)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)  # noqa: S603  (our own script)
    figures: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run every sink ``--rounds`` times and print the medians.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        0, or 1 if the sinks' lines do not carry the same fields.
    """
    parser = new_parser(__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="timed events per sink (default 100000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of every sink (default 3)")
    parser.add_argument(
        "--old-rev", default=None, help="commit with the old writer (default: before its removal)"
    )
    args = parser.parse_args(argv)
    rev = args.old_rev or last_rev_with_the_writer()
    caller: dict[str, list[float]] = {sink: [] for sink in SINKS}
    cpu: dict[str, list[float]] = {sink: [] for sink in SINKS}
    fields: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        old_path = old_sdk(rev, Path(folder))
        for round_ in range(args.rounds):
            for sink in SINKS[round_ % len(SINKS) :] + SINKS[: round_ % len(SINKS)]:
                figures = run_sink(sink, args.events, old_path)
                caller[sink].append(float(figures["caller_us"]))  # type: ignore[arg-type]  # JSON numbers
                cpu[sink].append(float(figures["cpu_s"]))  # type: ignore[arg-type]  # JSON numbers
                fields[sink] = (figures["keys"], figures["lines"])
    print(
        f"bench_log_sink: {args.events} JSON lines to /dev/null per sink, {args.rounds} rounds; old = {rev}"
    )
    print(f"{'sink':18}{'caller µs/event':>17}{'CPU s':>9}   (medians; CPU counts all threads and the flush)")
    for sink in SINKS:
        print(f"{sink:18}{statistics.median(caller[sink]):>17.2f}{statistics.median(cpu[sink]):>9.2f}")
    same = len({json.dumps(value) for value in fields.values()}) == 1
    print(f"every sink wrote the same fields, 3 lines for 3 events: {'yes' if same else f'NO {fields}'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
