"""Static checks of what a call cost, as a caller's type checker sees it: mypy --strict reads this file.

It is never run. ``cost`` is ``Cost | None`` on every answer (never a bare number that could be a
silent zero), ``ModelPrice`` and ``deployments`` are typed arguments of the clients.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, assert_type

from pydantic import BaseModel

from typed_llm import (
    AsyncAzureClient,
    AsyncOpenAIClient,
    AzureClient,
    ChatRequest,
    Cost,
    EmbeddingRequest,
    ModelPrice,
    OpenAIClient,
    ResponsesRequest,
    UserMessage,
)


class City(BaseModel):
    name: str


CHAT = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="a city"),))
EMBED = EmbeddingRequest(model="text-embedding-3-small", input=("a city",))
RESPONSES = ResponsesRequest(model="gpt-4o-mini", input="a city")
FINETUNE = ModelPrice(input=Decimal("0.30"), output=Decimal("1.20"), cached_input=Decimal("0.15"))


def sync_client() -> None:
    client = OpenAIClient(prices={"my-finetune": FINETUNE})
    resp = client.complete(CHAT)
    assert_type(resp.cost, Cost | None)
    assert_type(resp.cost_unknown, str | None)
    assert_type(client.embed(EMBED).cost, Cost | None)
    assert_type(client.respond(RESPONSES).cost, Cost | None)
    assert_type(client.parse(CHAT, City).cost, Cost | None)
    assert_type(client.parse(RESPONSES, City).cost, Cost | None)
    with client.stream(CHAT) as stream:
        assert_type(stream.final_response().cost, Cost | None)
    cost = resp.cost
    if cost is not None:
        assert_type(cost.total, Decimal)
        assert_type(cost.reasoning, Decimal)
        assert_type(cost.currency, Literal["USD"])
        assert_type(cost.prices_version, str)
        assert_type(cost.rates, ModelPrice)
        assert_type(cost.rates.cached_input, Decimal | None)


def azure_client() -> None:
    client = AzureClient(deployments={"gpt-4o-mini": "chat-prod"}, prices={"gpt-4o-mini": FINETUNE})
    assert_type(client.complete(CHAT).cost, Cost | None)


async def async_clients() -> None:
    async with AsyncOpenAIClient() as client:
        assert_type((await client.complete(CHAT)).cost, Cost | None)
        async with client.stream(RESPONSES) as stream:
            assert_type((await stream.final_response()).cost, Cost | None)
    async with AsyncAzureClient(deployments={"gpt-4o-mini": "chat-prod"}) as azure:
        assert_type((await azure.embed(EMBED)).cost, Cost | None)
