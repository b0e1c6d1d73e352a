"""Per-call overhead of ``OpenAIClient.complete`` against the raw openai client, on the loopback fake.

typed-llm promises typed requests, typed responses and typed errors for (almost) nothing: a call
through ``OpenAIClient.complete`` should cost at most 10% more than the same call made directly with
``openai.OpenAI().chat.completions.create``. This benchmark checks that promise. Both clients talk to
the same in-process ``FakeAPI`` over loopback HTTP, so network latency is small and the same for
both sides, and what differs is the client-side work: building the request, serialising it, sending
it, parsing the answer and reading the text.

The two sides run in the same process, interleaved: each round times one call of each, alternating
which goes first, so drift (CPU frequency, the fake's state, GC) hits both sides alike.

Run it from the project root::

    .venv/bin/python bench/bench_complete.py [--calls N] [--warmup W] [--json PATH]
        [--profile K]
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import openai
import pydantic

from _common import (
    add_output_options,
    new_parser,
    print_header,
    print_listing,
    print_table,
    profile_fake_calls,
    report_ratio,
    run_interleaved,
    summarise,
    write_figures,
)
from typed_llm import ChatRequest, OpenAIClient, UserMessage
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

API_KEY = "sk-test-bench"
MODEL = "gpt-4o-mini"
PROMPT = "Say hello to the benchmark."
TEMPERATURE = 0.5
MAX_TOKENS = 50
TARGET_RATIO = 1.10
"""Our median may be at most this many times the raw client's."""
VERSIONS = {"openai": openai.__version__, "pydantic": pydantic.VERSION}
"""The packages whose versions the report and its figures name."""


def make_ours(client: OpenAIClient) -> Callable[[], str]:
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
            temperature=TEMPERATURE,
            max_tokens=MAX_TOKENS,
        )
        return client.complete(request).text

    return call


def make_raw(raw: openai.OpenAI) -> Callable[[], str]:
    """The same call with the openai package directly.

    Args:
        raw: the openai client, built once, retries off.

    Returns:
        A function making one call and returning the answer's text.
    """

    def call() -> str:
        completion = raw.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": PROMPT}],
            temperature=TEMPERATURE,
            max_tokens=MAX_TOKENS,
        )
        text = completion.choices[0].message.content
        if text is None:
            raise RuntimeError("the fake answered without text")
        return text

    return call


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        The parsed options.
    """
    parser = new_parser(__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per side (default 2000)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls per side first (default 100)")
    add_output_options(
        parser, "afterwards, cProfile K calls of our side and list typed_llm/pydantic hot spots"
    )
    args = parser.parse_args(argv)
    if args.calls < 2:
        parser.error("--calls must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report.

    Args:
        argv: the arguments, None for ``sys.argv``.

    Returns:
        0 if the ratio meets the target, 1 if not.
    """
    args = parse_args(argv)
    calls: int = args.calls
    warmup: int = args.warmup
    with FakeAPI() as fake:
        client = OpenAIClient(api_key=API_KEY, base_url=fake.openai_base_url)
        raw_client = openai.OpenAI(api_key=API_KEY, base_url=fake.openai_base_url, max_retries=0)
        with client, raw_client:
            ours, raw = make_ours(client), make_raw(raw_client)
            if ours() != raw():
                raise RuntimeError("the two sides got different answers")
            timings = run_interleaved(fake, ours, raw, calls, warmup)
            listing = (
                profile_fake_calls(fake, ours, args.profile, r"typed_llm|pydantic", top=25)
                if args.profile > 0
                else ""
            )

    median_us, p90_us = summarise(timings)
    ratio = median_us["ours"] / median_us["raw"]

    print_header(
        "bench_complete: OpenAIClient.complete vs openai chat.completions.create (loopback fake)", VERSIONS
    )
    print(f"calls    {calls} per side, interleaved, after {warmup} warm-up calls per side")
    print()
    print_table(median_us, p90_us, width=8)
    print()
    passed = report_ratio("ratio of medians (ours / raw): ", ratio, TARGET_RATIO)

    if args.json is not None:
        figures = {
            "calls": calls,
            "warmup": warmup,
            "median_us": median_us,
            "p90_us": p90_us,
            "ratio": ratio,
            "target": TARGET_RATIO,
            "passed": passed,
        }
        write_figures(args.json, VERSIONS, figures)

    print_listing(
        f"cProfile, {args.profile} calls of our side only, typed_llm and pydantic by cumulative time:",
        listing,
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
