"""A per-call timeout bounds the whole attempt; a deadline bounds the whole call (issue 15 item 5).

A hostile loopback server trickles one byte every 40 ms, in the headers or in the body, and never
stops: httpx's timeouts, applied to each read separately, would never fire. The attempt must end
at its timeout as an ``APITimeoutError``, the call at its retry deadline, sync and async.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import (
    APITimeoutError,
    AsyncOpenAIClient,
    AzureClient,
    ChatRequest,
    ExponentialBackoff,
    NoRetry,
    OpenAIClient,
    RetriesExhaustedError,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"


@contextlib.contextmanager
def _trickler(where: str) -> Iterator[str]:
    """A server that answers every request by trickling one byte every 40 ms, for ever."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            if where == "body":
                conn.sendall(HEAD)
            stream = (HEAD if where == "headers" else b"") + b"x" * 100_000
            for byte in stream:
                if stop.wait(0.04):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_trickle_ends_at_the_attempts_timeout(where: str) -> None:
    """timeout=1.0, no retries: the attempt ends near 1 s however slowly the server trickles."""
    with _trickler(where) as url:
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=f"{url}/v1", timeout=1.0, backoff=NoRetry())
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.complete(REQUEST)
        took = time.monotonic() - started
    assert 0.9 < took < 1.6, f"the attempt took {took:.2f} s against a 1 s timeout"


def test_a_trickle_ends_at_the_calls_deadline() -> None:
    """timeout=1.0 per attempt and a 1.5 s deadline: the whole call, retries and all, ends near 1.5 s."""
    backoff = ExponentialBackoff(wait_initial=0.05, wait_jitter=0.0, timeout=1.5)
    with _trickler("body") as url:
        client = AzureClient(endpoint=url, api_key=FAKE_AZURE_KEY, timeout=1.0, backoff=backoff)
        started = time.monotonic()
        with pytest.raises(RetriesExhaustedError) as caught:
            client.complete(REQUEST)
        took = time.monotonic() - started
    assert isinstance(caught.value.last_error, APITimeoutError)
    assert len(caught.value.attempts) == 2
    assert 1.3 < took < 2.1, f"the call took {took:.2f} s against a 1.5 s deadline"


@pytest.mark.parametrize("where", ["headers", "body"])
def test_the_async_client_ends_a_trickle_at_its_timeout(where: str) -> None:
    """The async client bounds the whole attempt too."""

    async def call(url: str) -> None:
        async with AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=f"{url}/v1", timeout=1.0, backoff=NoRetry()
        ) as client:
            await client.complete(REQUEST)

    with _trickler(where) as url:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="within the attempt's 1 s"):
            asyncio.run(call(url))
        took = time.monotonic() - started
    assert 0.9 < took < 1.6, f"the attempt took {took:.2f} s against a 1 s timeout"


def test_the_clients_pools_are_bounded() -> None:
    """Every client built by the SDK bounds its attempts (the flag a custom HTTP client would lower)."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url="http://127.0.0.1:9/v1")
    assert client._transport.bounded
