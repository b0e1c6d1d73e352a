"""The async adapters send the same bytes and give the same typed results as the sync ones.

They replay the very cassettes the sync tests recorded: replay matches on the JSON body, so a
request built differently by the async path would not find its recording.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, replay
from typed_llm import (
    AsyncAzureClient,
    AsyncClient,
    AsyncClientWithOptions,
    AsyncOpenAIClient,
    AzureClient,
    ChatRequest,
    ChatResponse,
    ChatStream,
    Client,
    ClientWithOptions,
    ContentFilterError,
    EmbeddingRequest,
    EmbeddingResponse,
    OpenAIClient,
    ParsedChatResponse,
    QuotaExceededError,
    SystemMessage,
    UserMessage,
)
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._replies import FakeReply

if TYPE_CHECKING:
    from pydantic import BaseModel

REQUEST = ChatRequest(
    model="gpt-4o-mini",
    messages=(SystemMessage(content="Be brief."), UserMessage(content="Say hello")),
    temperature=0.2,
    top_p=0.9,
    max_tokens=20,
    seed=7,
    stop=("END",),
    user="user-1",
)


def test_async_openai_chat_replays_the_sync_recording() -> None:
    """AsyncOpenAIClient.complete sends what OpenAIClient sends and parses the same answer."""

    async def call(base_url: str) -> str:
        async with AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=base_url) as client:
            return (await client.complete(REQUEST)).text

    with replay("adapters/openai_chat") as endpoints:
        assert asyncio.run(call(endpoints.openai_base_url)) == "Echo: Say hello"


def test_async_embeddings_replay_the_sync_recording() -> None:
    """AsyncOpenAIClient.embed: same request bytes, same vectors in input order."""
    request = EmbeddingRequest(model="text-embedding-3-small", input=("alpha", "beta", "gamma"), dimensions=8)

    async def call(base_url: str) -> int:
        async with AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=base_url) as client:
            return len((await client.embed(request)).vectors)

    with replay("adapters/openai_embeddings") as endpoints:
        assert asyncio.run(call(endpoints.openai_base_url)) == 3


def test_async_errors_are_the_same_typed_errors() -> None:
    """An error status maps to the same class through the async path."""

    async def call(base_url: str) -> None:
        async with AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=base_url) as client:
            await client.complete(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),)))

    with replay("errors/429_insufficient_quota") as endpoints, pytest.raises(QuotaExceededError):
        asyncio.run(call(endpoints.openai_base_url))


def test_async_azure_classic_and_v1() -> None:
    """Async Azure: deployment paths with api-version, v1 with a token provider, the prompt filter."""
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))

    async def calls(fake: FakeAPI) -> None:
        async with AsyncAzureClient(
            endpoint=fake.url, api_key=FAKE_AZURE_KEY, deployments={"gpt-4o-mini": "dep"}
        ) as classic:
            assert (await classic.complete(request)).text == "Echo: hi"
            fake.enqueue(FakeReply.azure_prompt_filter("hate", "high"))
            with pytest.raises(ContentFilterError) as caught:
                await classic.complete(request)
            assert caught.value.categories == ("hate",)
        async with AsyncAzureClient(endpoint=fake.url, api_version="v1", token_provider=lambda: "tok") as v1:
            assert (await v1.complete(request)).text == "Echo: hi"

    with FakeAPI() as fake:
        asyncio.run(calls(fake))
    first, _, v1 = fake.received
    assert (first.path, first.query["api-version"]) == (
        "/openai/deployments/dep/chat/completions",
        "2024-10-21",
    )
    assert (v1.path, v1.headers["authorization"], v1.json()["model"]) == (
        "/openai/v1/chat/completions",
        "Bearer tok",
        "gpt-4o-mini",
    )


def test_adapters_satisfy_the_protocols() -> None:
    """The sync adapters are Clients, the async ones AsyncClients (checked by mypy and at runtime)."""
    sync: Client = OpenAIClient(api_key=FAKE_OPENAI_KEY)
    asynchronous: AsyncClient = AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY)
    assert isinstance(sync, Client)
    assert isinstance(asynchronous, AsyncClient)


def test_the_four_clients_have_with_options_through_its_protocols(fake: FakeAPI) -> None:
    """OpenAIClient and AzureClient (and the async twins) are ClientWithOptions (AsyncClientWithOptions),
    and a copy made through the protocol sends its options; a double with only the verbs is a
    Client but not a ClientWithOptions, which is why with_options stays out of Client."""
    clients: list[ClientWithOptions] = [
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url),
        AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="2024-10-21"),
    ]
    for client in clients:
        assert isinstance(client, ClientWithOptions)
        tenant = client.with_options(extra_headers={"X-Tenant": "acme"})
        assert type(tenant) is type(client)
        tenant.complete(REQUEST)
        assert fake.received[-1].headers["x-tenant"] == "acme"
    for asynchronous in (
        AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY),
        AsyncAzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="2024-10-21"),
    ):
        assert isinstance(asynchronous, AsyncClientWithOptions)
        assert type(asynchronous.with_options(timeout=5)) is type(asynchronous)

    class ChatOnly:
        def complete(self, request: ChatRequest) -> ChatResponse:
            raise NotImplementedError

        def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
            raise NotImplementedError

        def parse(self, request: ChatRequest, output_type: type[BaseModel]) -> ParsedChatResponse[BaseModel]:
            raise NotImplementedError

        def stream(self, request: ChatRequest) -> ChatStream[ChatResponse]:
            raise NotImplementedError

        def stream_parse(
            self, request: ChatRequest, output_type: type[BaseModel]
        ) -> ChatStream[ParsedChatResponse[BaseModel]]:
            raise NotImplementedError

    assert isinstance(ChatOnly(), Client)
    assert not isinstance(ChatOnly(), ClientWithOptions)
