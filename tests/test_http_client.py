"""Your own HTTP client (``http_client=``), and environment proxies, through a real loopback proxy.

The proxy is a small forward proxy on 127.0.0.1 (stdlib ``http.server``) in front of the loopback
fake: a request that went through it is one the proxy saw in absolute form.
"""

from __future__ import annotations

import asyncio
import http.client
import http.server
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx2
import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import (
    AsyncAzureClient,
    AsyncOpenAIClient,
    AzureClient,
    ChatRequest,
    ConfigurationError,
    OpenAIClient,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te"})


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: _Proxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (stdlib's name)
        """Quiet: the tests read ``seen``."""

    def do_POST(self) -> None:
        """Forward an absolute-form request to its origin and relay the answer."""
        self.server.seen.append(self.path)
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            upstream.request("POST", path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-via-test-proxy", "1")
        self.end_headers()
        self.wfile.write(payload)


class _Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    """A forward proxy on loopback, for the length of one test."""
    server = _Proxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch, proxy: _Proxy) -> _Proxy:
    """The proxy set in the environment, as a company network sets ``HTTP(S)_PROXY``."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    return proxy


def test_your_own_client_is_used_with_its_hooks_and_headers(fake: FakeAPI) -> None:
    """Event hooks see the SDK's request; the client's default headers reach the server."""
    hooked: list[str] = []
    answered: list[int] = []
    own = httpx2.Client(
        headers={"X-Team": "search"},
        event_hooks={
            "request": [lambda request: hooked.append(str(request.url))],
            "response": [lambda response: answered.append(response.status_code)],
        },
    )
    with OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, http_client=own) as client:
        answer = client.complete(REQUEST)
    assert answer.text
    assert hooked == [f"{fake.openai_base_url}/chat/completions"]
    assert answered == [200]
    assert fake.received[-1].headers["x-team"] == "search"
    assert fake.received[-1].headers["authorization"] == f"Bearer {FAKE_OPENAI_KEY}"  # the SDK's own
    assert not own.is_closed  # the caller's client: the caller closes it
    own.close()


def test_azure_and_async_clients_take_their_own_client_too(fake: FakeAPI) -> None:
    """AzureClient takes an httpx2.Client; the async clients an httpx2.AsyncClient."""
    own = httpx2.Client(headers={"X-Team": "search"})
    with AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, http_client=own) as azure:
        azure.complete(REQUEST)
    assert fake.received[-1].headers["x-team"] == "search"
    assert not own.is_closed
    own.close()

    async def calls() -> list[bool]:
        closed: list[bool] = []
        for build in (
            lambda own: AsyncOpenAIClient(
                api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, http_client=own
            ),
            lambda own: AsyncAzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, http_client=own),
        ):
            own_async = httpx2.AsyncClient(headers={"X-Team": "async"})
            async with build(own_async) as client:
                await client.complete(REQUEST)
            assert fake.received[-1].headers["x-team"] == "async"
            closed.append(own_async.is_closed)
            await own_async.aclose()
        return closed

    assert asyncio.run(calls()) == [False, False]


def test_a_client_of_the_wrong_kind_is_refused_at_construction() -> None:
    """An async HTTP client for a sync client (or anything else) is a ConfigurationError saying what fits."""
    own_async = httpx2.AsyncClient()
    with pytest.raises(ConfigurationError, match=r"an httpx2\.AsyncClient goes to AsyncOpenAIClient"):
        OpenAIClient(api_key=FAKE_OPENAI_KEY, http_client=own_async)  # type: ignore[arg-type]  # wrong kind on purpose
    own = httpx2.Client()
    with pytest.raises(ConfigurationError, match=r"an httpx2\.Client goes to AzureClient"):
        AsyncAzureClient(endpoint="https://r.openai.azure.com", api_key=FAKE_AZURE_KEY, http_client=own)  # type: ignore[arg-type]  # wrong kind on purpose
    with pytest.raises(ConfigurationError, match=r"takes an httpx2\.Client"):
        OpenAIClient(api_key=FAKE_OPENAI_KEY, http_client=object())  # type: ignore[arg-type]  # wrong kind on purpose
    own.close()
    asyncio.run(own_async.aclose())


def test_environment_proxies_are_used_by_default(fake: FakeAPI, proxy_env: _Proxy) -> None:
    """With HTTP_PROXY set, the SDK's own client goes through the proxy (httpx2's trust_env)."""
    with OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url) as client:
        answer = client.complete(REQUEST)
    assert proxy_env.seen == [f"{fake.openai_base_url}/chat/completions"]
    assert answer.http is not None
    assert answer.http.headers["x-via-test-proxy"] == "1"
    assert len(fake.received) == 1


def test_no_proxy_and_trust_env_false_bypass_it(
    fake: FakeAPI, proxy_env: _Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``NO_PROXY`` excludes a host; your own client with ``trust_env=False`` ignores the environment."""
    own = httpx2.Client(trust_env=False)
    with OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, http_client=own) as client:
        client.complete(REQUEST)
    own.close()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url) as client:
        client.complete(REQUEST)
    assert proxy_env.seen == []
    assert len(fake.received) == 2


def test_an_explicit_proxy_on_your_own_client(fake: FakeAPI, proxy: _Proxy) -> None:
    """``httpx2.Client(proxy=...)`` sends the SDK's calls through that proxy, streams included."""
    own = httpx2.Client(proxy=proxy.url, trust_env=False)
    with OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, http_client=own) as client:
        client.complete(REQUEST)
        with client.stream(REQUEST) as stream:
            assert stream.final_response().text
    own.close()
    assert proxy.seen == [f"{fake.openai_base_url}/chat/completions"] * 2
