"""Where the info-level logging cost of a call goes: the request key, and the event itself.

A diagnostic companion to ``bench_logging.py`` (no target): it times the same calls on the same
loopback fake in four modes, in interleaved blocks, and for two of them takes one part of the
logging layer's work away, by replacing a function inside ``typed_llm._layers``. Every mode writes
its lines before the logging call returns (as ``configure_logging`` always does), so each part is
paid inside the call:

- ``disabled``: the pipeline at CRITICAL (nothing is computed or written), the baseline.
- ``info``: ``configure_logging(json=True, level="info")`` to /dev/null, as in ``bench_logging``'s
  ``info`` mode.
- ``info, no emit``: the same, but the ``response`` event is not emitted (its fields are still built).
- ``info, no key``: the same, but the request key is a constant instead of the SHA-256 of the request.

The difference between ``info`` and each diagnostic mode is the in-call cost of the part taken
away. Comparing it with the same work timed in a tight loop (printed at the end) shows how much
more the work costs when it runs just after the wait for the answer.

Run it from the project root::

    .venv/bin/python bench/breakdown_logging.py [--calls N] [--block B]
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import timeit
from typing import TYPE_CHECKING, Final

import typed_llm._layers.log
import typed_llm._layers.pipeline
from _common import new_parser, print_table, summarise, time_ns
from bench_logging import MAX_TOKENS, MODEL, PROMPT, make_call
from typed_llm import ChatRequest, OpenAIClient, UserMessage, configure_logging
from typed_llm._cache.key import cache_key
from typed_llm._logging import emit
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import IO


MODES: Final = ("disabled", "info", "info, no emit", "info, no key")
CONSTANT_KEY: Final = "0" * 64


def _no_emit(level: int, event: str, **fields: object) -> None:
    """Emit nothing."""


def _constant_key(call: object, namespace: str) -> str:  # noqa: ARG001
    """A key that costs nothing."""
    return CONSTANT_KEY


_real_key = typed_llm._layers.pipeline.Call.key  # noqa: SLF001  (a diagnostic takes the layer apart)


def _replace(name: str, value: object) -> None:
    """Replace a function the logging layer calls (by the name it imported it under)."""
    setattr(typed_llm._layers.log, name, value)  # noqa: SLF001  (a diagnostic takes the layer apart)


def set_mode(mode: str, stream: IO[str]) -> None:
    """Configure logging for ``mode`` and put back or take away the parts the mode names.

    Args:
        mode: one of ``MODES``.
        stream: where lines go (``/dev/null``).
    """
    _replace("emit", _no_emit if mode == "info, no emit" else emit)
    key = _constant_key if mode == "info, no key" else _real_key
    typed_llm._layers.pipeline.Call.key = key  # type: ignore[method-assign,assignment]  # noqa: SLF001  (a diagnostic takes the layer apart)
    level = logging.CRITICAL if mode == "disabled" else logging.INFO
    configure_logging(json=True, level=level, stream=stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Time the four modes and print the differences.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        0.
    """
    parser = new_parser(__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per mode (default 2000)")
    parser.add_argument("--block", type=int, default=50, help="calls per block between switches (default 50)")
    args = parser.parse_args(argv)
    timings: dict[str, list[int]] = {mode: [] for mode in MODES}
    with open(os.devnull, "w", encoding="utf-8") as devnull, FakeAPI() as fake:  # noqa: PTH123  (a text stream)
        with OpenAIClient(api_key="sk-test-bench", base_url=fake.openai_base_url) as client:
            call: Callable[[], str] = make_call(client)
            for mode in MODES:  # warm up
                set_mode(mode, devnull)
                for _ in range(100):
                    call()
            for round_ in range(max(1, args.calls // args.block)):
                order = MODES[round_ % len(MODES) :] + MODES[: round_ % len(MODES)]
                for mode in order:
                    set_mode(mode, devnull)
                    timings[mode].extend(time_ns(call) for _ in range(args.block))
                    fake.received.clear()
            set_mode("info", devnull)
            request = ChatRequest(model=MODEL, messages=(UserMessage(content=PROMPT),), max_tokens=MAX_TOKENS)
            key_loop = statistics.median(
                timeit.repeat(lambda: cache_key(request, "ns"), number=1000, repeat=7)
            )
            event_loop = statistics.median(
                timeit.repeat(
                    lambda: emit(
                        logging.INFO, "response", request_key=CONSTANT_KEY, provider="openai", model="m"
                    ),
                    number=1000,
                    repeat=7,
                )
            )
            set_mode("disabled", devnull)
        _replace("emit", emit)
        _replace("cache_key", cache_key)
    median_us, p90_us = summarise(timings)
    print(f"breakdown_logging: {args.calls} calls per mode in interleaved blocks of {args.block}")
    print()
    print_table(median_us, p90_us, width=16)
    print()
    info = median_us["info"]
    print(f"info - disabled        {info - median_us['disabled']:7.1f} µs  (all of it)")
    print(f"info - (info, no emit) {info - median_us['info, no emit']:7.1f} µs  (the event, in the call)")
    print(
        f"info - (info, no key)  {info - median_us['info, no key']:7.1f} µs  (the request key, in the call)"
    )
    print(f"request key in a tight loop          {key_loop * 1000:7.1f} µs")
    print(f"a short INFO event in a tight loop   {event_loop * 1000:7.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
