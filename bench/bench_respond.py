"""Per-call overhead of ``OpenAIClient.respond`` vs raw openai ``responses.create``, on the loopback fake.

The Responses API through typed-llm (a validated frozen request, the pipeline's layers, a typed
``Response`` with its output union) should cost about what the openai package's own call costs:
the issue's goal is a ratio of medians of at most 0.8 (as chat's on the same fake). Both clients
talk to the same in-process ``FakeAPI`` over loopback HTTP, interleaved round by round (alternating
which goes first), so drift hits both sides alike.

Run it from the project root::

    .venv/bin/python bench/bench_respond.py [--calls N] [--warmup W] [--json PATH] [--profile K]
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
from typed_llm import OpenAIClient, ResponsesRequest
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

API_KEY = "sk-test-bench"
MODEL = "gpt-4o-mini"
PROMPT = "Say hello to the benchmark."
MAX_OUTPUT_TOKENS = 50
TARGET_RATIO = 0.8
"""Our median may be at most this many times the raw client's (the issue's goal)."""
VERSIONS = {"openai": openai.__version__, "pydantic": pydantic.VERSION}


def make_ours(client: OpenAIClient) -> Callable[[], str]:
    """One call through typed-llm, as a user writes it: build the request, respond, read the text."""

    def call() -> str:
        request = ResponsesRequest(model=MODEL, input=PROMPT, max_output_tokens=MAX_OUTPUT_TOKENS)
        return client.respond(request).output_text

    return call


def make_raw(raw: openai.OpenAI) -> Callable[[], str]:
    """The same call with the openai package directly."""

    def call() -> str:
        return raw.responses.create(
            model=MODEL, input=PROMPT, max_output_tokens=MAX_OUTPUT_TOKENS
        ).output_text

    return call


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
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
    """Run the benchmark and print the report; 0 if the ratio meets the target, 1 if not."""
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
    print_header("bench_respond: OpenAIClient.respond vs openai responses.create (loopback fake)", VERSIONS)
    print(f"calls    {calls} per side, interleaved, after {warmup} warm-up calls per side")
    print()
    print_table(median_us, p90_us, width=8)
    print()
    passed = report_ratio("ratio of medians (ours / raw): ", ratio, TARGET_RATIO)
    if args.json is not None:
        figures = {"calls": calls, "warmup": warmup, "median_us": median_us, "p90_us": p90_us, "ratio": ratio}
        write_figures(args.json, VERSIONS, figures)
    if listing:
        print_listing("hot spots of our side", listing)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
