"""``typed-llm demo``: real SDK calls, answered offline from a recording bundled with the package.

The demo builds an ``OpenAIClient`` exactly as user code does and calls it; vcrpy answers each HTTP
request from ``_data/demo.yaml`` (recorded from the loopback fake), so the request is built, sent
through the openai package and translated back by the same code as a live call. A request the
recording does not hold fails instead of reaching the network.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import attrs
from pydantic import BaseModel

from typed_llm._cache.memory import MemoryCache
from typed_llm._client import OpenAIClient
from typed_llm._errors import QuotaExceededError
from typed_llm._models.messages import SystemMessage, UserMessage
from typed_llm._models.requests import ChatRequest, EmbeddingRequest
from typed_llm._models.responses import ChatResponse, EmbeddingResponse, ParsedChatResponse
from typed_llm._models.responses_api import Response
from typed_llm._models.responses_request import ResponsesRequest
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._replies import FakeReply
from typed_llm.testing._vcr import RecordMode, make_vcr

if TYPE_CHECKING:
    from collections.abc import Callable


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


class City(BaseModel):
    """A city and the country it is in."""

    name: str
    country: str
    population: int


RESPOND = ResponsesRequest(
    model="gpt-4o-mini",
    instructions="Answer in one sentence.",
    input="Name one reason to use the Responses API.",
    max_output_tokens=64,
)
CITY = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="Name a large city."),))
LIMITED = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="One call too many"),))
BROKE = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="And one on an empty account"),))
RATE_LIMITED = FakeReply.error(
    429,
    "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3.",
    code="rate_limit_exceeded",
    type="requests",
    headers={"retry-after-ms": "300"},
)
NO_QUOTA = FakeReply.error(
    429, "You exceeded your current quota.", code="insufficient_quota", type="insufficient_quota"
)


@attrs.frozen
class _Results:
    chat: ChatResponse
    cached: ChatResponse
    cached_micros: float
    http_requests: int
    embedding: EmbeddingResponse
    city: ParsedChatResponse[City]
    responded: Response
    retried: ChatResponse
    quota: QuotaExceededError


def _calls(client: OpenAIClient, fake: FakeAPI | None, plays: Callable[[], int]) -> _Results:
    chat = client.complete(CHAT)
    before = plays()
    started = time.perf_counter()
    cached = client.complete(CHAT)  # the same request again: answered by the client's cache
    cached_micros = (time.perf_counter() - started) * 1e6
    http_requests = plays() - before
    embedding = client.embed(EMBED)
    city = client.parse(CITY, City)
    responded = client.respond(RESPOND)  # the Responses API: POST /v1/responses
    if fake is not None:
        fake.enqueue(RATE_LIMITED)
    retried = client.complete(LIMITED)  # a 429, then the client's retry layer tries again
    if fake is not None:
        fake.enqueue(NO_QUOTA)
    try:
        client.complete(BROKE)
    except QuotaExceededError as quota:
        return _Results(
            chat, cached, cached_micros, http_requests, embedding, city, responded, retried, quota
        )
    raise AssertionError("the recording answers the last call with insufficient_quota")


def _with_cassette(mode: RecordMode, base_url: str | None, fake: FakeAPI | None) -> _Results:
    # The cache is in memory, so the demo writes no file.
    with (
        OpenAIClient(api_key=DEMO_KEY, base_url=base_url, cache=MemoryCache()) as client,
        make_vcr(DATA, mode).use_cassette(CASSETTE) as cassette,
    ):
        plays: Callable[[], int] = (
            (lambda: len(fake.received)) if fake is not None else (lambda: int(cassette.play_count))
        )
        return _calls(client, fake, plays)


def run(out: TextIO) -> None:
    """Make the demo's calls against the bundled recording and print what came back."""
    results = _with_cassette("none", None, None)
    chat, embedding = results.chat, results.embedding
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
    print("      ", _cost_line(chat), file=out)
    print("      ", f"request_id={chat.request_id}", file=out)
    same = "the same response" if results.cached == chat else "A DIFFERENT RESPONSE"
    print(
        "cache ",
        f"the same call again: {same} from the cache in {results.cached_micros:.0f} µs,",
        f"{results.http_requests} HTTP requests",
        file=out,
    )
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
    print("      ", _cost_line(embedding), file=out)
    city = results.city
    print(
        "parse ", f"{type(city.parsed).__name__}: {city.parsed!r} (strict json_schema, validated)", file=out
    )
    responded = results.responded
    print(
        "respond",
        f"model={responded.model} status={responded.status}",
        f"output={[item.type for item in responded.output]}",
        file=out,
    )
    print("       ", f"output_text={responded.output_text!r}", file=out)
    print(
        "retry ",
        "429 rate_limit_exceeded, retried after the wait the server asked for (retry-after-ms 300):",
        file=out,
    )
    print("      ", f"text={results.retried.text!r}", file=out)
    quota = results.quota
    print("error ", f"{type(quota).__name__}: {quota}", file=out)
    print("      ", "not retried: waiting does not buy credit", file=out)


def _cost_line(response: ChatResponse | EmbeddingResponse) -> str:
    """What the call cost, part by part, and whose prices say so (or why it is not known)."""
    cost = response.cost
    if cost is None:
        return f"cost: unknown ({response.cost_unknown})"
    return (
        f"cost: ${cost.total:f} (input ${cost.input:f}, cached ${cost.cached_input:f}, "
        f"output ${cost.output:f}; {cost.model} at {cost.prices_version})"
    )


def record() -> None:
    """Re-record the bundled cassette from the loopback fake (maintainers only)."""
    with FakeAPI(embedding_dimensions=8) as fake:
        (DATA / CASSETTE).unlink(missing_ok=True)
        _with_cassette("all", fake.openai_base_url, fake)


if __name__ == "__main__":
    record()
