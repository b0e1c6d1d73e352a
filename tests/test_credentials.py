"""A token provider's bad token is refused before sending, by an error that never quotes it (issue 15 item 2).

A provider returning ``bytes``, or a token with a trailing newline, used to put the token into a
``ConfigurationError`` / ``APIConnectionError`` message, and the newline case was retried as a
connection failure although nothing had been sent.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from typed_llm import (
    AsyncAzureClient,
    AzureClient,
    ChatRequest,
    ConfigurationError,
    ExponentialBackoff,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
SECRET = "eyJhbGciOiJSUzI1NiJ9.SEEDED-token-body.c2lnbmF0dXJl"
BACKOFF = ExponentialBackoff(attempts=4, wait_initial=0.0, wait_jitter=0.0)
"""Retries on, so a test sees it if a bad token were retried."""


BAD_TOKENS: dict[str, tuple[object, str]] = {
    "bytes": (SECRET.encode(), "returned bytes, not a str token"),
    "bytearray": (bytearray(SECRET.encode()), "returned bytes, not a str token"),
    "trailing-newline": (SECRET + "\n", "characters an HTTP header cannot carry"),
    "inner-space": (SECRET.replace(".", " ", 1), "characters an HTTP header cannot carry"),
    "non-ascii": (SECRET + "\u201d", "characters an HTTP header cannot carry"),
    "carriage-return-header-injection": (SECRET + "\r\nX-Evil: 1", "characters an HTTP header cannot carry"),
    "empty": ("", "returned an empty token"),
    "int": (12345, "returned a int, not a str token"),
}


@pytest.mark.parametrize("api_version", ["2024-10-21", "v1"])
@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_bad_token_is_refused_once_without_quoting_it(fake: FakeAPI, case: str, api_version: str) -> None:
    """ConfigurationError naming the problem, not the value; asked once (not retried); nothing sent."""
    value, problem = BAD_TOKENS[case]
    calls: list[int] = []

    def provider() -> str:
        calls.append(1)
        return value  # type: ignore[return-value]  # the misuse under test

    client = AzureClient(endpoint=fake.url, api_version=api_version, token_provider=provider, backoff=BACKOFF)
    with pytest.raises(ConfigurationError, match=problem) as caught:
        client.complete(REQUEST)
    text = f"{caught.value} {caught.value!r} {caught.value.__cause__!r}"
    assert "SEEDED" not in text
    assert calls == [1]
    assert fake.received == []


def test_the_async_client_refuses_a_bad_token_too(fake: FakeAPI) -> None:
    """The async Azure clients (classic and v1) check the token the same way; nothing sent."""

    async def main(api_version: str, provider: Callable[[], str]) -> ConfigurationError:
        async with AsyncAzureClient(
            endpoint=fake.url, api_version=api_version, token_provider=provider, backoff=BACKOFF
        ) as client:
            with pytest.raises(ConfigurationError) as caught:
                await client.complete(REQUEST)
            return caught.value

    for api_version in ("2024-10-21", "v1"):
        error = asyncio.run(main(api_version, lambda: SECRET + "\n"))
        assert "SEEDED" not in str(error)
        assert "cannot carry" in str(error)
    assert fake.received == []


def test_a_good_token_still_goes_out_as_the_bearer(fake: FakeAPI) -> None:
    """The checks refuse only what a header cannot carry: a JWT-shaped token is sent as it is."""
    AzureClient(endpoint=fake.url, token_provider=lambda: SECRET).complete(REQUEST)
    assert fake.received[0].headers["authorization"] == f"Bearer {SECRET}"
