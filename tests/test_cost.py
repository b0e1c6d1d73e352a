"""What a call cost: ``response.cost`` on every recorded real answer, hand-checked on three of them.

Every chat, stream, embeddings and Responses interaction under ``cassettes/real-traffic/`` (copies of
the shared set, with their manifests) is replayed through the SDK's clients as a user calls them,
and its cost is compared with the price data's own calculator (``genai_prices.calc_price``, a code
path independent of ours); three are also computed by hand from the providers' published prices,
written below as literals with their source. A model without a price has no cost, and says why.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import genai_prices
import pytest
import yaml
from pydantic import BaseModel, ValidationError
from structlog.testing import capture_logs

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    AsyncOpenAIClient,
    AzureClient,
    ChatRequest,
    ChatResponse,
    ConfigurationError,
    Cost,
    EmbeddingRequest,
    EmbeddingResponse,
    MemoryCache,
    ModelPrice,
    OpenAIClient,
    Response,
    ResponsesRequest,
    UserMessage,
    _prices,
)
from typed_llm._cost import BilledTokens, tag_price
from typed_llm._prices import PriceTag
from typed_llm.testing import FakeReply
from typed_llm.testing._vcr import make_vcr

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typed_llm.testing import FakeAPI

Entry = dict[str, Any]  # a manifest entry: JSON of a documented but loose shape
MILLION = Decimal(1_000_000)
VERSION = f"genai-prices {genai_prices.__version__}"


def _manifest(name: str) -> list[Entry]:
    entries: list[Entry] = json.loads((REAL_TRAFFIC / name).read_text())
    return entries


def _recorded(entry: Entry) -> Mapping[str, Any]:
    interactions = yaml.safe_load((REAL_TRAFFIC / entry["file"]).read_text())["interactions"]
    recorded: Mapping[str, Any] = interactions[int(entry["interaction"])]
    return recorded


def _kind(entry: Entry) -> str:
    """``chat``, ``chat_stream``, ``embeddings``, ``responses``, ``responses_stream`` or ``error``."""
    kind = entry.get("endpoint_kind") or entry.get("kind")
    if kind is None:  # the stream batch names no kind: every entry of it is a chat stream
        return "chat_stream"
    return str(kind)


INTERACTIONS = [
    entry
    for name in ("manifest.json", "manifest-streams.json", "manifest-responses.json")
    for entry in _manifest(name)
    if _kind(entry) not in {"error", "responses_error"} and "error" not in entry["file"]
]


def _client(uri: str, model: str) -> OpenAIClient | AzureClient:
    """The client a user would build for the recorded URL (an Azure deployment maps from ``model``)."""
    url = urlsplit(uri)
    if "/openai/deployments/" in url.path:
        deployment = url.path.split("/openai/deployments/")[1].split("/")[0]
        return AzureClient(
            endpoint=f"{url.scheme}://{url.netloc}",
            api_version=url.query.split("api-version=")[1].split("&")[0],
            api_key=FAKE_AZURE_KEY,
            deployments={} if deployment == model else {model: deployment},
        )
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=f"{url.scheme}://{url.netloc}/v1")


Answer = ChatResponse | EmbeddingResponse | Response


def _model(entry: Entry) -> str:
    """The model the recorded request named (the manifest's, else the recorded body's)."""
    named = (entry.get("request") or {}).get("model")
    return str(named or json.loads(_recorded(entry)["request"]["body"])["model"])


def _replay(entry: Entry) -> Answer:
    """The recorded interaction, through the verb it used (matching on method and path)."""
    recorded = _recorded(entry)
    body = json.loads(recorded["request"]["body"])
    kind = _kind(entry)
    model = _model(entry)
    client = _client(recorded["request"]["uri"], model)
    path = REAL_TRAFFIC / entry["file"]
    with make_vcr(path.parent, "none", match_body=False).use_cassette(path.name, allow_playback_repeats=True):
        if kind.startswith("responses"):
            request = ResponsesRequest.model_validate(body)
            if kind == "responses":
                return client.respond(request)
            with client.stream(request) as stream:
                return stream.final_response()
        if kind == "embeddings":
            inputs = tuple(f"input {i}" for i in range(int(entry["request"]["input_count"])))
            return client.embed(EmbeddingRequest(model=model, input=inputs))
        chat = ChatRequest(model=model, messages=(UserMessage(content="replayed"),))
        if kind == "chat":
            return client.complete(chat)
        with client.stream(chat) as stream:
            return stream.final_response()


def _independent(answer: Answer, provider: str, model: str) -> Decimal:
    """The total as genai-prices' own calculator computes it from the answer's usage."""
    if isinstance(answer, Response):
        assert answer.usage is not None
        usage = genai_prices.Usage(
            input_tokens=answer.usage.input_tokens,
            cache_read_tokens=answer.usage.cached_tokens,
            output_tokens=answer.usage.output_tokens,
        )
        at = datetime.fromtimestamp(answer.created_at, UTC)
    elif isinstance(answer, EmbeddingResponse):
        assert answer.usage is not None
        usage = genai_prices.Usage(input_tokens=answer.usage.prompt_tokens)
        at = None
    else:
        assert answer.usage is not None
        usage = genai_prices.Usage(
            input_tokens=answer.usage.prompt_tokens,
            cache_read_tokens=answer.usage.cached_tokens or 0,
            output_tokens=answer.usage.completion_tokens,
        )
        at = datetime.fromtimestamp(answer.created, UTC)
    calculation = genai_prices.calc_price(usage, model, provider_id=provider, genai_request_timestamp=at)
    return calculation.total_price


@pytest.mark.parametrize("entry", INTERACTIONS, ids=[f"{e['file']}#{e['interaction']}" for e in INTERACTIONS])
def test_every_recorded_answer_is_priced(entry: Entry) -> None:
    """Each recorded answer with usage has a cost equal to genai-prices' own total; without usage, None."""
    answer = _replay(entry)
    provider = "azure" if "openai.azure.com" in _recorded(entry)["request"]["uri"] else "openai"
    if answer.usage is None:  # a stream asked without usage: nothing to price, and it says so
        assert answer.cost is None
        assert answer.cost_unknown is not None
        assert "reports no usage" in answer.cost_unknown
        return
    cost = answer.cost
    assert cost is not None, answer.cost_unknown
    assert answer.cost_unknown is None
    assert (cost.currency, cost.provider, cost.prices_version) == ("USD", provider, VERSION)
    assert cost.total > 0  # every recorded model has a price: never a silent zero
    assert cost.total == cost.input + cost.cached_input + cost.output
    assert cost.reasoning <= cost.output
    model = (entry.get("request") or {}).get("model") or json.loads(_recorded(entry)["request"]["body"])[
        "model"
    ]
    assert cost.total == _independent(answer, provider, model)


def _entry(file: str) -> Entry:
    (entry,) = [e for e in INTERACTIONS if e["file"] == file]
    return entry


# Published prices, USD per 1M tokens, written by hand (not read from the package):
# o3-mini: $1.10 input, $4.40 output -- https://openai.com/api/pricing/ (o3-mini row).
O3_MINI_INPUT, O3_MINI_OUTPUT = Decimal("1.10"), Decimal("4.40")
# gpt-4o-mini on Azure OpenAI, Global deployment: $0.15 input, $0.60 output --
# https://azure.microsoft.com/en-us/pricing/details/cognitive-services/openai-service/ (GPT-4o mini).
AZURE_4O_MINI_INPUT, AZURE_4O_MINI_OUTPUT = Decimal("0.15"), Decimal("0.60")
# gpt-5.5 (prompts up to 272K tokens): $5.00 input, $30.00 output --
# https://developers.openai.com/api/docs/pricing (gpt-5.5 row, standard tier).
GPT_55_INPUT, GPT_55_OUTPUT = Decimal("5.00"), Decimal("30.00")


def test_three_costs_computed_by_hand() -> None:
    """o3-mini (reasoning), Azure gpt-4o-mini and a gpt-5.5 Responses call, from the published prices."""
    reasoning = _replay(_entry("openai/chat_reasoning_o3_mini.yaml"))
    # 13 prompt tokens; 238 completion tokens, 192 of them reasoning.
    assert reasoning.cost == Cost(
        input=13 * O3_MINI_INPUT / MILLION,  # $0.0000143
        cached_input=Decimal(0),
        output=238 * O3_MINI_OUTPUT / MILLION,  # $0.0010472
        reasoning=192 * O3_MINI_OUTPUT / MILLION,  # $0.0008448, inside output
        total=Decimal("0.0010615"),
        prices_version=VERSION,
        model="o3-mini",
        provider="openai",
        rates=ModelPrice(input=O3_MINI_INPUT, output=O3_MINI_OUTPUT, cached_input=Decimal("0.55")),
    )
    azure = _replay(_entry("azure/chat_gpt4o_mini.yaml"))
    assert azure.cost is not None
    # 16 prompt tokens, 11 completion tokens.
    assert azure.cost.total == Decimal("0.000009")
    assert azure.cost.total == 16 * AZURE_4O_MINI_INPUT / MILLION + 11 * AZURE_4O_MINI_OUTPUT / MILLION
    # The deployment is named like the model and not configured: the registry learned what served it.
    assert (azure.cost.provider, azure.cost.model) == ("azure", "gpt-4o-mini-2024-07-18")
    responses = _replay(_entry("responses/responses_basic_gpt55.yaml"))
    assert responses.cost is not None
    # 11 input tokens, 5 output tokens.
    assert responses.cost.total == Decimal("0.000205")
    assert responses.cost.total == 11 * GPT_55_INPUT / MILLION + 5 * GPT_55_OUTPUT / MILLION


def test_a_recorded_stream_and_its_unstreamed_twin_cost_the_same() -> None:
    """The parallel-tool-call stream and the same call unstreamed (75 in, 51 out, gpt-4o-mini)."""
    streamed = _replay(_entry("streams/openai_stream_parallel_tool_calls.yaml"))
    unstreamed = next(
        _replay(e) for e in INTERACTIONS if e["file"] == "openai/chat_parallel_tool_calls_roundtrip.yaml"
    )
    assert streamed.cost is not None
    assert streamed.cost == unstreamed.cost


# --- the loopback fake ------------------------------------------------------------------------------


def _openai(fake: FakeAPI, **options: Any) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, **options)


FINETUNE = ChatRequest(model="my-finetune", messages=(UserMessage(content="what does this cost"),))


def test_an_unknown_model_has_no_cost_and_the_log_says_why(fake: FakeAPI) -> None:
    """No price for the model: ``cost`` is None (not 0), and ``cost_unknown`` names the lookup made."""
    with capture_logs() as logs:
        response = _openai(fake).complete(FINETUNE)
    assert response.cost is None
    reason = f"no price for model 'my-finetune' under provider 'openai' in {VERSION}"
    assert response.cost_unknown == reason
    (event,) = [log for log in logs if log["event"] == "response"]
    assert event["cost"] is None
    assert event["cost_unknown"] == reason


def test_a_price_given_to_the_client_prices_it(fake: FakeAPI) -> None:
    """``prices={"my-finetune": ModelPrice(...)}``: the override's rates, named as such."""
    price = ModelPrice(input=Decimal("0.30"), output=Decimal("1.20"), cached_input=Decimal("0.15"))
    with capture_logs() as logs:
        response = _openai(fake, prices={"my-finetune": price}).complete(FINETUNE)
    assert response.usage is not None
    cost = response.cost
    assert cost is not None
    assert (cost.prices_version, cost.model, cost.rates) == ("prices override", "my-finetune", price)
    usage = response.usage
    assert (
        cost.total
        == (usage.prompt_tokens * Decimal("0.30") + usage.completion_tokens * Decimal("1.20")) / MILLION
    )
    (event,) = [log for log in logs if log["event"] == "response"]
    assert event["cost"]["total"] == float(cost.total)
    assert event["cost"]["prices_version"] == "prices override"
    assert "cost_unknown" not in event


def test_prices_must_be_model_prices(fake: FakeAPI) -> None:
    with pytest.raises(ConfigurationError, match="must be a ModelPrice"):
        _openai(fake, prices={"my-finetune": 0.3})  # what the check refuses (a float is no ModelPrice)
    with pytest.raises(ConfigurationError, match="non-empty string"):
        _openai(fake, prices={"": ModelPrice(input=Decimal(1))})
    with pytest.raises(ValidationError):
        ModelPrice(input=Decimal(-1))
    with pytest.raises(ValidationError):
        ModelPrice(input=Decimal("NaN"))


def test_gpt_4o_mini_is_priced_with_its_provider_never_at_zero(fake: FakeAPI) -> None:
    """genai-prices lists gpt-4o-mini at $0 under github-copilot: asked with the provider, it is OpenAI's."""
    copilot = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1000, output_tokens=1000), "gpt-4o-mini", provider_id="github-copilot"
    )
    assert copilot.total_price == 0  # the trap a lookup by name alone can fall into
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hello"),))
    cost = _openai(fake).complete(request).cost
    assert cost is not None
    assert (cost.provider, cost.rates.input, cost.rates.output) == ("openai", Decimal("0.15"), Decimal("0.6"))
    assert cost.total > 0


def test_streams_responses_embeddings_cache_hits_and_parsed_answers_are_priced(fake: FakeAPI) -> None:
    """Every verb's answer carries its cost; a cache hit the same; the cached JSON holds no price tag."""
    cache = MemoryCache()
    client = _openai(fake, cache=cache)
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="say four words please"),))
    first = client.complete(request)
    with capture_logs() as logs:
        hit = client.complete(request)
    assert first.cost is not None
    assert hit.cost == first.cost
    (event,) = [log for log in logs if log["event"] == "response"]
    assert event["cache_hit"] is True
    assert event["cost"] == first.cost.log_fields()
    stored = cache.get(event["request_key"])
    assert stored is not None
    assert b"price_tag" not in stored
    assert b"prices_version" not in stored
    with client.stream(request.model_copy(update={"temperature": 0.5})) as stream:
        streamed = stream.final_response()
    assert streamed.cost is not None
    assert streamed.cost.model == "gpt-4o-mini"
    embedded = client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("a b c",)))
    assert embedded.cost is not None
    assert embedded.cost.total == 3 * Decimal("0.02") / MILLION  # the fake counts 3 tokens
    responded = client.respond(ResponsesRequest(model="gpt-4o-mini", input="hello there"))
    assert responded.cost is not None
    assert responded.usage is not None
    assert responded.cost.input == responded.usage.input_tokens * Decimal("0.15") / MILLION

    class City(BaseModel):
        name: str

    parsed = client.parse(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="a city"),)), City)
    assert parsed.cost is not None
    assert parsed.cost.model == "gpt-4o-mini"


def test_the_async_client_prices_alike(fake: FakeAPI) -> None:
    async def run() -> ChatResponse:
        async with AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url) as client:
            return await client.complete(FINETUNE.model_copy(update={"model": "gpt-4o-mini"}))

    cost = asyncio.run(run()).cost
    assert cost is not None
    assert cost.model == "gpt-4o-mini"


# --- the arithmetic, at the edges -------------------------------------------------------------------

AT = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_hand_built_answer_has_no_cost() -> None:
    answer = ChatResponse(id="x", created=1, model="gpt-4o-mini", choices=())
    assert answer.cost is None
    assert answer.cost_unknown == (
        "not priced: no price tag (an answer built by hand, or a hit of a Cached wrapper's cache)"
    )


def test_cached_input_and_reasoning_are_priced_at_their_rates() -> None:
    tag = PriceTag("openai", "o3-mini")
    cost = tag.price(BilledTokens(input=1000, cached_input=400, output=300, reasoning=200), AT, None)
    assert isinstance(cost, Cost)
    assert cost.input == 600 * Decimal("1.1") / MILLION
    assert cost.cached_input == 400 * Decimal("0.55") / MILLION
    assert cost.output == 300 * Decimal("4.4") / MILLION
    assert cost.reasoning == 200 * Decimal("4.4") / MILLION
    assert cost.total == cost.input + cost.cached_input + cost.output


def test_a_tiered_price_takes_the_tier_of_the_whole_prompt() -> None:
    """gpt-5.5 doubles its input rate past 272K prompt tokens, for the whole call."""
    tag = PriceTag("openai", "gpt-5.5")
    small = tag.price(BilledTokens(input=1000, output=10), AT, None)
    large = tag.price(BilledTokens(input=300_000, output=10), AT, None)
    assert isinstance(small, Cost)
    assert isinstance(large, Cost)
    assert (small.rates.input, large.rates.input) == (Decimal(5), Decimal(10))


def test_remembered_lookups_follow_a_price_that_changes_on_a_date() -> None:
    """gpt-4o-mini's priority tier got new rates on 2026-10-12: each side of the date keeps its own,
    whichever was asked first (lookups are remembered per UTC day for such a price)."""
    tag = PriceTag("openai", "gpt-4o-mini")
    tokens = BilledTokens(input=1000, output=10)
    before, after = datetime(2026, 10, 11, 23, 59, tzinfo=UTC), datetime(2026, 10, 12, 0, 1, tzinfo=UTC)
    for order in ((before, after), (after, before)):
        _prices._looked_up.clear()
        rates = {at: tag.price(tokens, at, "priority") for at in order}
        assert all(isinstance(cost, Cost) for cost in rates.values())
        early, late = (cast("Cost", rates[at]).rates.input for at in (before, after))
        assert early != late
        assert late == Decimal("0.25")


def test_remembered_lookups_follow_an_off_peak_price_by_the_second() -> None:
    """deepseek-chat is cheaper from 16:30 to 00:30 UTC: two answers of one day, either side of
    16:30, are priced apart."""
    tag = PriceTag("deepseek", "deepseek-chat")
    tokens = BilledTokens(input=1000, output=10)
    peak, off_peak = datetime(2026, 6, 1, 16, 29, 59, tzinfo=UTC), datetime(2026, 6, 1, 16, 30, 1, tzinfo=UTC)
    _prices._looked_up.clear()
    costs = [tag.price(tokens, at, None) for at in (peak, off_peak, peak)]
    assert all(isinstance(cost, Cost) for cost in costs)
    totals = [cast("Cost", cost).total for cost in costs]
    assert totals[0] == totals[2] > totals[1]


def test_a_service_tier_has_its_own_rates() -> None:
    tag = PriceTag("openai", "gpt-5.5")
    default = tag.price(BilledTokens(input=1000, output=10), AT, "default")
    flex = tag.price(BilledTokens(input=1000, output=10), AT, "flex")
    assert isinstance(default, Cost)
    assert isinstance(flex, Cost)
    assert flex.total < default.total


def test_a_part_without_a_price_leaves_the_call_unpriced() -> None:
    """An output price missing, or audio tokens (text prices do not cover them): None, never 0."""
    embedding_only = ModelPrice(input=Decimal("0.1"))
    tag = PriceTag("openai", "my-embedder", embedding_only)
    assert isinstance(tag.price(BilledTokens(input=10), AT, None), Cost)
    assert tag.price(BilledTokens(input=10, output=5), AT, None) == (
        "no output token price for model 'my-embedder' under provider 'openai' (prices override)"
    )
    answer = ChatResponse.model_validate(
        {
            "id": "x",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
                "prompt_tokens_details": {"audio_tokens": 10},
            },
        }
    )
    tag_price(answer, PriceTag("openai", "gpt-4o-mini"))
    assert answer.cost is None
    assert answer.cost_unknown == "10 audio tokens: typed-llm prices text tokens only"


def test_an_answer_with_a_tag_still_equals_and_dumps_as_without() -> None:
    """The tag is bookkeeping: not in ``==``, ``repr``, ``model_dump`` or the JSON."""
    body = {"id": "x", "created": 1, "model": "m", "choices": []}
    tagged, plain = ChatResponse.model_validate(body), ChatResponse.model_validate(body)
    tag_price(tagged, PriceTag("openai", "m"))
    assert tagged == plain
    assert repr(tagged) == repr(plain)
    assert tagged.model_dump_json() == plain.model_dump_json()
    assert tagged.model_copy().cost_unknown == tagged.cost_unknown != plain.cost_unknown


def test_a_reply_without_usage_is_unpriced(fake: FakeAPI) -> None:
    fake.enqueue(
        FakeReply(
            status=200,
            body={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1_780_000_000,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
                ],
            },
        )
    )
    response = _openai(fake).complete(FINETUNE.model_copy(update={"model": "gpt-4o-mini"}))
    assert response.cost is None
    assert response.cost_unknown is not None
    assert "reports no usage" in response.cost_unknown
