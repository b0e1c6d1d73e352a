"""``typed-llm respond``: one Responses API call from the command line, against the loopback fake."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm._cli import main

if TYPE_CHECKING:
    from typed_llm.testing import FakeAPI

Capture = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", FAKE_AZURE_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _respond(fake: FakeAPI, *args: str) -> int:
    return main(["--log-level", "warning", "respond", *args, "--base-url", fake.openai_base_url])


def test_respond_prints_the_output_text(fake: FakeAPI, capsys: Capture) -> None:
    """The answer's text on standard output; the request is POST /v1/responses with the input."""
    assert _respond(fake, "hello there", "--model", "gpt-4o-mini", "--instructions", "Be brief.") == 0
    assert capsys.readouterr().out == "Echo: hello there\n"
    (sent,) = fake.received
    assert sent.path == "/v1/responses"
    assert sent.json() == {"model": "gpt-4o-mini", "input": "hello there", "instructions": "Be brief."}


def test_respond_streams_the_text(fake: FakeAPI, capsys: Capture) -> None:
    """--stream: the same text, written as the deltas arrive; the request asked to stream."""
    assert _respond(fake, "say four words please", "--model", "gpt-4o-mini", "--stream") == 0
    assert capsys.readouterr().out == "Echo: say four words please\n"
    assert fake.received[0].json()["stream"] is True


def test_respond_json_prints_the_typed_response(fake: FakeAPI, capsys: Capture) -> None:
    """--json: the whole Response (output items, usage), as the SDK typed it."""
    assert _respond(fake, "hi", "--model", "gpt-5-mini", "--json") == 0
    answer = json.loads(capsys.readouterr().out)
    assert [item["type"] for item in answer["output"]] == ["reasoning", "message"]
    assert answer["usage"]["output_tokens_details"]["reasoning_tokens"] == 64
    assert answer["request_id"].startswith("req_")


def test_respond_on_azure_uses_the_v1_path(fake: FakeAPI, capsys: Capture) -> None:
    """--azure ENDPOINT: /openai/v1/responses, the deployment as model, the key from the environment."""
    assert main(["--log-level", "warning", "respond", "hi", "--model", "my-mini", "--azure", fake.url]) == 0
    assert capsys.readouterr().out == "Echo: hi\n"
    (sent,) = fake.received
    assert (sent.path, sent.json()["model"], sent.headers["api-key"]) == (
        "/openai/v1/responses",
        "my-mini",
        FAKE_AZURE_KEY,
    )


def test_respond_reports_typed_errors_and_sends_nothing(
    fake: FakeAPI, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too big for the window: exit 1, the typed error named; a bad argument: exit 2; no key: exit 1."""
    assert _respond(fake, "hi", "--model", "gpt-4o-mini", "--max-output-tokens", "200000") == 1
    assert (
        "typed-llm: ContextWindowExceededError: gpt-4o-mini reads at most 128000" in capsys.readouterr().err
    )
    assert _respond(fake, "hi", "--model", "gpt-4o-mini", "--max-output-tokens", "0") == 2
    assert "not a valid request: max_output_tokens" in capsys.readouterr().err
    monkeypatch.delenv("OPENAI_API_KEY")
    assert _respond(fake, "hi", "--model", "gpt-4o-mini") == 1
    assert "ConfigurationError" in capsys.readouterr().err
    assert fake.received == []
