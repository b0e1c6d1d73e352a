"""The loopback fake cleans up after itself: nothing of it outlives ``stop()``.

A slow scripted answer whose client already gave up used to wake in a later test and print a
``BrokenPipeError`` traceback into that test's output. These tests pin the clean-up.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from helpers import FAKE_OPENAI_KEY
from typed_llm import APITimeoutError, ChatRequest, NoRetry, OpenAIClient, UserMessage
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._replies import FakeReply

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hello"),))


def _fake_threads() -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread.name == "typed-llm-fake" or "process_request_thread" in thread.name
    ]


def test_stop_ends_a_slow_answer_whose_client_left(capfd: pytest.CaptureFixture[str]) -> None:
    """The client times out, the fake stops at once (not after the 30 s delay), and prints nothing."""
    before = set(_fake_threads())
    with FakeAPI() as fake:
        client = OpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, timeout=0.1, backoff=NoRetry()
        )
        fake.enqueue(FakeReply(status=200, body={}, delay=30.0))
        with pytest.raises(APITimeoutError):
            client.complete(REQUEST)
        started = time.monotonic()
    assert time.monotonic() - started < 10, "stop() waited out the scripted delay"
    assert set(_fake_threads()) <= before, "a thread of the fake outlived stop()"
    assert capfd.readouterr() == ("", "")


def test_a_client_hanging_up_mid_answer_is_not_an_error(capfd: pytest.CaptureFixture[str]) -> None:
    """A client that closes its connection before the answer is written: the fake stays quiet."""
    with FakeAPI() as fake:
        client = OpenAIClient(
            api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, timeout=0.1, backoff=NoRetry()
        )
        fake.enqueue(FakeReply(status=200, body={}, delay=0.3))
        with pytest.raises(APITimeoutError):
            client.complete(REQUEST)
        client.close()
        time.sleep(0.5)  # the handler wakes and writes into the closed connection
        assert client_reusable(fake)
    assert capfd.readouterr() == ("", "")


def test_stop_closes_idle_keep_alive_connections() -> None:
    """A pooled connection the client never closed does not keep stop() (or a thread) waiting."""
    before = set(_fake_threads())
    with FakeAPI() as fake:
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
        assert client.complete(REQUEST).text == "Echo: hello"
    assert set(_fake_threads()) <= before


def client_reusable(fake: FakeAPI) -> bool:
    """The fake still answers a new client after the broken exchange."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    return client.complete(REQUEST).text == "Echo: hello"


def test_a_client_resetting_mid_request_is_not_an_error(capfd: pytest.CaptureFixture[str]) -> None:
    """A client that sends half a request and resets the connection: no traceback, and the fake
    goes on answering."""
    with FakeAPI() as fake:
        host, port = fake.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
        assert client_reusable(fake)
    assert capfd.readouterr() == ("", "")


def test_the_fake_answers_plausibly() -> None:
    """A prompt the fake knows gets a model-like answer, JSON mode gets JSON, a schema plausible values."""
    import json  # noqa: PLC0415

    from pydantic import BaseModel  # noqa: PLC0415

    class City(BaseModel):
        name: str
        country: str
        population: int

    with FakeAPI() as fake, OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url) as client:
        known = client.complete(
            ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="Say hello in French."),))
        )
        assert known.text == "Bonjour !"
        other = client.complete(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="zebra 42"),)))
        assert other.text == "Echo: zebra 42"  # any other prompt: what arrived, for tests to check
        as_json = client.complete(
            ChatRequest.model_validate(
                {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": "Answer in JSON: say hello in French."}],
                    "response_format": {"type": "json_object"},
                }
            )
        )
        assert isinstance(json.loads(as_json.text), dict)
        city = client.parse(
            ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="A city?"),)), City
        )
        assert city.parsed == City(name="Paris", country="France", population=2102650)
