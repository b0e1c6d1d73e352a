"""No credential and no prompt ever reaches an origin other than the configured one (issue 15 item 1).

A hostile server on 127.0.0.1 answers every request with a redirect to a second server on
127.0.0.2 (another origin). Every client kind, sync and async, must raise ``RedirectError`` and the
second origin must receive nothing at all: not the key, not the token, not the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import threading
from typing import TYPE_CHECKING

import attrs
import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import (
    AsyncAzureClient,
    AsyncOpenAIClient,
    AzureClient,
    ChatRequest,
    EmbeddingRequest,
    ExponentialBackoff,
    OpenAIClient,
    RedirectError,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TOKEN = "entra-token-SEEDED-redirect-0123456789"
PROMPT = "the secret plan of record 4711"
REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=PROMPT),))
BACKOFF = ExponentialBackoff(attempts=3, wait_initial=0.0, wait_jitter=0.0)
"""Retries on: a redirect must still be sent once, and never retried."""


@attrs.define
class _Origin:
    """A loopback HTTP server that records what it gets and answers with ``status`` (+ Location)."""

    host: str
    status: int = 200
    location: str | None = None
    received: list[tuple[str, str, dict[str, str], bytes]] = attrs.field(factory=list)
    url: str = ""


def _serve(origin: _Origin) -> tuple[http.server.ThreadingHTTPServer, threading.Thread]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (stdlib's name)
            """Silent: the test reads ``received``."""

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            origin.received.append((self.command, self.path, dict(self.headers.items()), body))
            self.send_response(origin.status)
            if origin.location is not None:
                self.send_header("Location", origin.location)
            payload = b'{"moved": true}'
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_GET = _any  # noqa: N815  (http.server's naming)

    server = http.server.ThreadingHTTPServer((origin.host, 0), Handler)
    origin.url = f"http://{origin.host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return server, thread


@contextlib.contextmanager
def _two_origins(status: int, *, same_origin: bool = False) -> Iterator[tuple[_Origin, _Origin]]:
    """A redirecting server on 127.0.0.1 and the target it points at (127.0.0.2 unless same_origin)."""
    target = _Origin(host="127.0.0.1" if same_origin else "127.0.0.2")
    target_server, target_thread = _serve(target)
    hostile = _Origin(host="127.0.0.1", status=status)
    hostile.location = f"{target.url}/steal?api-key=leaked-location-value#frag"
    hostile_server, hostile_thread = _serve(hostile)
    try:
        yield hostile, target
    finally:
        for server, thread in ((hostile_server, hostile_thread), (target_server, target_thread)):
            server.shutdown()
            server.server_close()
            thread.join()


SYNC_KINDS: dict[str, Callable[[str], OpenAIClient | AzureClient]] = {
    "openai": lambda url: OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=f"{url}/v1", backoff=BACKOFF),
    "azure-classic-key": lambda url: AzureClient(endpoint=url, api_key=FAKE_AZURE_KEY, backoff=BACKOFF),
    "azure-v1-key": lambda url: AzureClient(
        endpoint=url, api_key=FAKE_AZURE_KEY, api_version="v1", backoff=BACKOFF
    ),
    "azure-classic-entra": lambda url: AzureClient(
        endpoint=url, token_provider=lambda: TOKEN, backoff=BACKOFF
    ),
    "azure-v1-entra": lambda url: AzureClient(
        endpoint=url, token_provider=lambda: TOKEN, api_version="v1", backoff=BACKOFF
    ),
}

ASYNC_KINDS: dict[str, Callable[[str], AsyncOpenAIClient | AsyncAzureClient]] = {
    "openai": lambda url: AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=f"{url}/v1", backoff=BACKOFF),
    "azure-classic-key": lambda url: AsyncAzureClient(endpoint=url, api_key=FAKE_AZURE_KEY, backoff=BACKOFF),
    "azure-v1-key": lambda url: AsyncAzureClient(
        endpoint=url, api_key=FAKE_AZURE_KEY, api_version="v1", backoff=BACKOFF
    ),
    "azure-classic-entra": lambda url: AsyncAzureClient(
        endpoint=url, token_provider=lambda: TOKEN, backoff=BACKOFF
    ),
    "azure-v1-entra": lambda url: AsyncAzureClient(
        endpoint=url, token_provider=lambda: TOKEN, api_version="v1", backoff=BACKOFF
    ),
}

SECRETS = (FAKE_OPENAI_KEY, FAKE_AZURE_KEY, TOKEN, PROMPT, "leaked-location-value")


def _check(error: RedirectError, status: int, hostile: _Origin, target: _Origin) -> None:
    assert error.status_code == status
    assert error.location == f"{target.url}/steal"  # no query (it may carry a key), no fragment
    for secret in SECRETS:
        assert secret not in str(error)
    assert "never follows redirects" in str(error)
    assert len(hostile.received) == 1  # sent once, not retried
    assert target.received == []  # the other origin got nothing: no key, no token, no prompt


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("kind", list(SYNC_KINDS))
def test_sync_clients_never_follow_a_redirect_to_another_origin(kind: str, status: int) -> None:
    """Every sync client kind raises RedirectError; the second origin receives nothing."""
    with _two_origins(status) as (hostile, target), SYNC_KINDS[kind](hostile.url) as client:
        with pytest.raises(RedirectError) as caught:
            client.complete(REQUEST)
        _check(caught.value, status, hostile, target)


@pytest.mark.parametrize("kind", list(ASYNC_KINDS))
def test_async_clients_never_follow_a_redirect_to_another_origin(kind: str) -> None:
    """Every async client kind raises RedirectError; the second origin receives nothing."""

    async def main(url: str) -> RedirectError:
        async with ASYNC_KINDS[kind](url) as client:
            with pytest.raises(RedirectError) as caught:
                await client.complete(REQUEST)
            return caught.value

    with _two_origins(307) as (hostile, target):
        _check(asyncio.run(main(hostile.url)), 307, hostile, target)


def test_embeddings_are_not_redirected_either() -> None:
    """The embeddings path goes through the same transport: a 308 is refused, the target sees nothing."""
    with (
        _two_origins(308) as (hostile, target),
        AzureClient(
            endpoint=hostile.url, api_key=FAKE_AZURE_KEY, api_version="v1", backoff=BACKOFF
        ) as client,
    ):
        with pytest.raises(RedirectError):
            client.embed(EmbeddingRequest(model="text-embedding-3-small", input=(PROMPT,)))
        assert target.received == []


def test_a_redirect_to_the_same_host_is_not_followed_either() -> None:
    """The APIs never redirect a POST: even a redirect to the same host is an error, not a second POST."""
    with (
        _two_origins(307, same_origin=True) as (hostile, target),
        SYNC_KINDS["openai"](hostile.url) as client,
    ):
        with pytest.raises(RedirectError):
            client.complete(REQUEST)
        assert target.received == []
