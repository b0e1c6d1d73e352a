"""Cost of ``count_message_tokens`` against raw ``encoding.encode`` over the same texts.

The pre-flight context-window check counts every prompt before it is sent, so counting must cost
little more than tokenizing: target at most 1.2x raw ``encode`` over a 200-message conversation, in
the same run. Both sides tokenize the same strings (each message's role and text); the difference
is the SDK's walk over typed messages and the formula.

Run it from the project root::

    .venv/bin/python bench/bench_tokens.py [--messages 200] [--repeat 300] [--model gpt-4o-mini]
"""

from __future__ import annotations

import random
import statistics
import sys
from typing import TYPE_CHECKING

import tiktoken

from _common import new_parser, report_ratio, time_ns
from typed_llm import (
    AssistantMessage,
    Message,
    SystemMessage,
    UserMessage,
    count_message_tokens,
    encoding_for_model,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

TARGET_RATIO = 1.2
WORDS = (
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "typed",
    "requests",
    "replay",
    "cassettes",
    "offline",
    "tokens",
    "window",
    "model",
    "answer",
    "question",
    "context",
    "Paris",
    "weather",
    "42",
    "1,024",
    "retry",
    "Schönheit",
    "naïve",
    "café",
    "ünïcödé",
    "東京",
    "😀",
)


def conversation(size: int, seed: int = 7) -> list[Message]:
    """A system prompt, then alternating user and assistant turns of 10 to 80 words."""
    rng = random.Random(seed)  # noqa: S311  (a reproducible text, not a secret)
    messages: list[Message] = [SystemMessage(content="You are a concise assistant.")]
    for index in range(size - 1):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 80)))
        messages.append(UserMessage(content=text) if index % 2 == 0 else AssistantMessage(content=text))
    return messages


def raw_count(encoding: tiktoken.Encoding, texts: Sequence[str]) -> int:
    """The floor: encode each text, add the lengths."""
    return sum(len(encoding.encode(text, disallowed_special=())) for text in texts)


def time_us(call: Callable[[], int], repeat: int) -> list[float]:
    """Per-call times in microseconds of ``repeat`` calls of ``call``."""
    return [time_ns(call) / 1000 for _ in range(repeat)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report; 0 if the ratio meets the target."""
    parser = new_parser(__doc__)
    parser.add_argument("--messages", type=int, default=200, help="conversation length (default 200)")
    parser.add_argument("--repeat", type=int, default=300, help="timed repetitions per side (default 300)")
    parser.add_argument("--model", default="gpt-4o-mini", help="model whose tokenizer to use")
    args = parser.parse_args(argv)
    messages = conversation(args.messages)
    texts = [part for message in messages for part in (message.role, str(message.content))]
    encoding = encoding_for_model(args.model)
    model: str = args.model

    def ours() -> int:
        return count_message_tokens(messages, model)

    def raw() -> int:
        return raw_count(encoding, texts)

    for _ in range(20):
        ours()
        raw()
    ours_times: list[float] = []
    raw_times: list[float] = []
    for _ in range(args.repeat // 10):  # interleave blocks of 10 so drift hits both sides
        ours_times += time_us(ours, 10)
        raw_times += time_us(raw, 10)
    median_ours, median_raw = statistics.median(ours_times), statistics.median(raw_times)
    ratio = median_ours / median_raw
    print("bench_tokens: count_message_tokens vs raw encoding.encode over the same texts")
    version = getattr(tiktoken, "__version__", "?")
    print(f"python   {sys.version.split()[0]}; tiktoken {version}")
    print(f"model    {args.model} ({encoding.name}); {len(messages)} messages; {ours()} tokens counted")
    print(f"repeat   {args.repeat} per side, interleaved")
    print(f"count_message_tokens median {median_ours:9.1f} µs")
    print(f"raw encoding.encode median  {median_raw:9.1f} µs")
    passed = report_ratio("ratio (ours / raw): ", ratio, TARGET_RATIO, target_format="")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
