"""Per-chunk cost of ``OpenAIClient.stream`` against the raw openai client's ``stream=True``.

Both read the same 1,000-frame stream from the in-process loopback fake (one word per frame), in
interleaved rounds (alternating which goes first), so both pay the same server and loopback
costs; what differs is the client's work per frame: ours decodes each frame into a typed chunk and
its events and assembles the answer, raw openai builds its ``ChatCompletionChunk`` objects.
Also timed: a cached stream (a ``MemoryCache`` hit replayed as events), per call.

Also timed (issue 17 item 5): time to first event of a paced stream (10 frames 50 ms apart) read
live from the fake, against the same stream read while the SDK's cassette records it (the
frame-faithful recorder tees each frame to the caller), interleaved, medians; goal: within 5 ms.

Run it from the project root::

    .venv/bin/python bench/bench_stream.py [--rounds N] [--words W] [--ttfe-rounds K]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import openai

from _common import time_ns
from typed_llm import ChatRequest, MemoryCache, OpenAIClient, TextDelta, UserMessage
from typed_llm.testing import FakeAPI, FakeReply
from typed_llm.testing._vcr import make_vcr

KEY = "sk-test-bench-stream-0123456789"


def main() -> None:
    """Time both sides and print the medians and the ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30, help="streams read per side (default 30)")
    parser.add_argument("--words", type=int, default=995, help="words in the answer: frames = words + 5")
    parser.add_argument("--ttfe-rounds", type=int, default=15, help="paced streams per side (default 15)")
    args = parser.parse_args()
    prompt = " ".join(f"w{i}" for i in range(args.words - 1))
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=prompt),))
    with FakeAPI() as fake:
        ours = OpenAIClient(api_key=KEY, base_url=fake.openai_base_url)
        raw = openai.OpenAI(api_key=KEY, base_url=fake.openai_base_url, max_retries=0)
        cached = OpenAIClient(api_key=KEY, base_url=fake.openai_base_url, cache=MemoryCache())
        cached.complete(request)

        def read_ours() -> None:
            with ours.stream(request) as stream:
                texts = [event.text for event in stream if isinstance(event, TextDelta)]
            assert len(texts) == args.words

        def read_raw() -> None:
            stream = raw.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": prompt}],
                stream=True,
                stream_options={"include_usage": True},
            )
            texts = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
            assert len(texts) == args.words

        def read_cached() -> None:
            with cached.stream(request) as stream:
                assert sum(1 for _ in stream) > 0

        timings: dict[str, list[int]] = {"ours": [], "raw": [], "cached": []}
        for _ in range(3):
            read_ours()
            read_raw()
        for number in range(args.rounds):
            sides = [("ours", read_ours), ("raw", read_raw)]
            for name, read in sides if number % 2 == 0 else reversed(sides):
                timings[name].append(time_ns(read))
            timings["cached"].append(time_ns(read_cached))
            fake.received.clear()
    frames = args.words + 5
    median = {name: statistics.median(values) for name, values in timings.items()}
    print(f"{frames} frames per stream, {args.rounds} rounds per side, interleaved")
    for name in ("ours", "raw"):
        spread = statistics.quantiles(timings[name], n=4)
        per_frame = median[name] / frames / 1000
        print(
            f"  {name:5s} median {median[name] / 1e6:8.2f} ms per stream, {per_frame:6.2f} us per frame"
            f" (quartiles {spread[0] / 1e6:.2f}-{spread[2] / 1e6:.2f} ms)"
        )
    print(f"  ratio ours / raw per frame: {median['ours'] / median['raw']:.3f} (goal <= 1.10)")
    print(f"  cached stream (a hit replayed as events): {median['cached'] / 1000:.1f} us per call")
    time_to_first_event(args.ttfe_rounds)


def time_to_first_event(rounds: int) -> None:
    """Time to the first event of a paced stream, live and while recording, interleaved."""
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="a b c d e f"),))
    firsts: dict[str, list[float]] = {"live": [], "recording": []}
    with FakeAPI() as fake, tempfile.TemporaryDirectory() as folder:
        client = OpenAIClient(api_key=KEY, base_url=fake.openai_base_url)

        def first_event(name: str) -> None:
            fake.enqueue(FakeReply.streamed(frame_delay=0.05))
            start = time.perf_counter()
            with client.stream(request) as stream:
                for _ in stream:
                    firsts[name].append(time.perf_counter() - start)
                    break
                stream.final_response()

        first_event("live")  # warm up: connections, token counting
        firsts["live"].clear()
        for number in range(rounds):
            sides = ["live", "recording"] if number % 2 == 0 else ["recording", "live"]
            for name in sides:
                if name == "live":
                    first_event(name)
                    continue
                cassette = Path(folder) / f"r{number}.yaml"
                with make_vcr(cassette.parent, "all").use_cassette(cassette.name):
                    first_event(name)
    live, recording = (statistics.median(firsts[name]) * 1000 for name in ("live", "recording"))
    print(
        f"time to first event, paced stream (10+ frames 50 ms apart), {rounds} rounds per side, interleaved"
    )
    print(f"  live {live:.2f} ms, while recording {recording:.2f} ms (median)")
    print(f"  recording - live: {recording - live:+.2f} ms (goal within 5 ms)")


if __name__ == "__main__":
    main()
