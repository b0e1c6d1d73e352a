"""``typed-llm demo``: real SDK calls, answered offline from a recording bundled with the package.

The demo builds an ``OpenAIClient`` exactly as user code does and calls it; vcrpy answers each HTTP
request from ``_data/demo.yaml`` (recorded from the loopback fake), so the request is built, sent
through the openai package and translated back by the same code as a live call. A request the
recording does not hold fails instead of reaching the network.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from typed_llm._client import OpenAIClient
from typed_llm._errors import RateLimitError
from typed_llm._messages import SystemMessage, UserMessage
from typed_llm._requests import ChatRequest, EmbeddingRequest
from typed_llm._vcr import RecordMode, make_vcr

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_llm._responses import ChatResponse, EmbeddingResponse

__all__ = ["record", "run"]

DATA = Path(__file__).parent / "_data"
CASSETTE = "demo.yaml"
DEMO_KEY = "demo-key-not-a-secret"  # the recording answers whatever key is sent

CHAT = ChatRequest(
    model="gpt-4o-mini",
    messages=(
        SystemMessage(content="You are a concise assistant."),
        UserMessage(content="Name one reason to type-check LLM calls."),
    ),
    temperature=0.2,
    max_tokens=64,
)
EMBED = EmbeddingRequest(model="text-embedding-3-small", input=("typed", "replayed", "offline"), dimensions=8)
LIMITED = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="One call too many"),))


Results = tuple["ChatResponse", "EmbeddingResponse", RateLimitError]


def _calls(client: OpenAIClient, before_limited: Callable[[], None]) -> Results:
    chat = client.complete(CHAT)
    embedding = client.embed(EMBED)
    before_limited()
    try:
        client.complete(LIMITED)
    except RateLimitError as error:
        return chat, embedding, error
    raise AssertionError("the recording answers the third call with a 429")


def _with_cassette(client: OpenAIClient, mode: RecordMode, before_limited: Callable[[], None]) -> Results:
    with make_vcr(DATA, mode).use_cassette(CASSETTE):
        return _calls(client, before_limited)


def run(out: TextIO) -> None:
    """Make the demo's calls against the bundled recording and print what came back."""
    with OpenAIClient(api_key=DEMO_KEY) as client:
        chat, embedding, error = _with_cassette(client, "none", lambda: None)
    usage = chat.usage
    print("chat  ", f"model={chat.model}", f"finish_reason={chat.choices[0].finish_reason}", file=out)
    print("      ", f"text={chat.text!r}", file=out)
    if usage is not None:
        print(
            "      ",
            f"usage: prompt={usage.prompt_tokens} completion={usage.completion_tokens}",
            f"total={usage.total_tokens} cached={usage.cached_tokens} reasoning={usage.reasoning_tokens}",
            file=out,
        )
    print("      ", f"request_id={chat.request_id}", file=out)
    norms = ", ".join(f"{math.sqrt(sum(x * x for x in v)):.3f}" for v in embedding.vectors)
    print(
        "embed ",
        f"model={embedding.model} vectors={len(embedding.vectors)} dimension={embedding.dimension}",
        file=out,
    )
    print(
        "      ",
        f"first vector starts {[round(x, 4) for x in embedding.vectors[0][:3]]}; norms {norms}",
        file=out,
    )
    print("error ", f"{type(error).__name__}: {error}", file=out)
    print("      ", f"retry_after={error.retry_after}s code={error.code}", file=out)


def record() -> None:
    """Re-record the bundled cassette from the loopback fake (maintainers only)."""
    from typed_llm._fake import FakeAPI, FakeReply  # noqa: PLC0415  (never needed by the demo itself)

    limited = FakeReply.error(
        429,
        "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3.",
        code="rate_limit_exceeded",
        type="requests",
        headers={"retry-after": "20", "retry-after-ms": "20000"},
    )
    with FakeAPI(embedding_dimensions=8) as fake:
        client = OpenAIClient(api_key=DEMO_KEY, base_url=fake.openai_base_url)
        (DATA / CASSETTE).unlink(missing_ok=True)
        _with_cassette(client, "all", lambda: fake.enqueue(limited))


if __name__ == "__main__":
    record()
