"""The pre-flight token count of a Responses request's input, and the context-window check.

Counted against the API's own ``usage.input_tokens`` on every recorded Responses request; the
check refuses an input that cannot fit before anything is sent, on ``respond()`` and ``stream()``,
sync and async.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from pydantic import BaseModel

from helpers import FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    AsyncOpenAIClient,
    ChatRequest,
    ContextWindowExceededError,
    FormatJSONSchema,
    FunctionCallOutput,
    InputImage,
    InputMessage,
    InputText,
    OpenAIClient,
    Response,
    ResponseFunctionCall,
    ResponsesRequest,
    TextConfig,
    UserMessage,
    count_request_tokens,
    count_responses_tokens,
    strict_schema,
)

if TYPE_CHECKING:
    from typed_llm.testing import FakeAPI

ENTRIES: list[dict[str, Any]] = [
    e for e in json.loads((REAL_TRAFFIC / "manifest-responses.json").read_text()) if e["kind"] != "error"
]
ESTIMATE_WITHIN = 10
"""Tokens an estimate may be off on the recorded cases (the forced tool call: 64 against 72)."""


def _recorded(entry: dict[str, Any]) -> tuple[ResponsesRequest, int]:
    interaction = yaml.safe_load((REAL_TRAFFIC / entry["file"]).read_text())["interactions"][
        entry["interaction"]
    ]
    facts = entry["facts"].get("final", entry["facts"])
    return ResponsesRequest.model_validate(json.loads(interaction["request"]["body"])), facts["usage"][
        "input_tokens"
    ]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"].removeprefix("responses/") for e in ENTRIES])
def test_the_count_matches_the_apis_on_recorded_traffic(entry: dict[str, Any]) -> None:
    """Exact where it says so (plain messages), within a few tokens where it estimates (tools)."""
    request, api = _recorded(entry)
    count = count_responses_tokens(request)
    if count.exact:
        assert count.value == api
    else:
        assert abs(count.value - api) <= ESTIMATE_WITHIN
    assert count.exact == (request.tools is None)


def test_a_string_input_counts_as_the_same_chat_message() -> None:
    """input="..." is a user message: the count is chat's for that one message."""
    for model in ("gpt-4o-mini", "gpt-5-mini", "gpt-4"):
        text = "Summarise the quarterly report in three bullet points."
        chat = count_request_tokens(ChatRequest(model=model, messages=(UserMessage(content=text),)))
        assert count_responses_tokens(ResponsesRequest(model=model, input=text)) == chat


def test_every_part_of_the_request_adds_to_the_count() -> None:
    """Instructions, items sent back, images, tool outputs and a text format each add tokens."""
    base = ResponsesRequest(model="gpt-4o-mini", input="hello")
    call = ResponseFunctionCall(call_id="call_1", name="weather", arguments='{"city": "Paris"}')
    richer = [
        base.model_copy(update={"instructions": "Answer in French."}),
        base.model_copy(
            update={
                "input": (
                    InputMessage(
                        role="user",
                        content=(InputText(text="hello"), InputImage(image_url="https://x/y.png")),
                    ),
                )
            }
        ),
        base.model_copy(
            update={
                "input": (
                    *base.next_turn(_answer(), "more").input,
                    call,
                    FunctionCallOutput(call_id="call_1", output="sunny"),
                )
            }
        ),
        base.model_copy(update={"text": TextConfig(format=_format())}),
    ]
    plain = count_responses_tokens(base)
    assert plain.exact
    for request in richer:
        count = count_responses_tokens(request)
        assert count.value > plain.value
    assert count_responses_tokens(richer[0]).exact  # instructions are plain text
    assert not any(count_responses_tokens(r).exact for r in richer[1:])


def test_a_request_on_server_state_is_a_lower_bound() -> None:
    """previous_response_id: the earlier turns are on the server, so the count is not exact."""
    request = ResponsesRequest(model="gpt-4o-mini", input="hello", previous_response_id="resp_1")
    assert not count_responses_tokens(request).exact


# --- the check ---------------------------------------------------------------------------------

TOO_MUCH = ResponsesRequest(model="gpt-4o-mini", input="hello", max_output_tokens=128_000)
"""gpt-4o-mini reads 128,000 tokens: the input and the room asked for cannot both fit."""


def test_an_input_that_cannot_fit_is_refused_before_sending(fake: FakeAPI) -> None:
    """respond() and stream(): ContextWindowExceededError with the counts; the fake saw nothing."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    with pytest.raises(ContextWindowExceededError) as caught:
        client.respond(TOO_MUCH)
    error = caught.value
    assert (error.model, error.context_window, error.max_output_tokens) == ("gpt-4o-mini", 128_000, 128_000)
    assert error.prompt_tokens == count_responses_tokens(TOO_MUCH).value
    with pytest.raises(ContextWindowExceededError), client.stream(TOO_MUCH) as stream:
        list(stream)

    async def run() -> None:
        async with AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url) as aclient:
            with pytest.raises(ContextWindowExceededError):
                await aclient.respond(TOO_MUCH)

    asyncio.run(run())
    assert fake.received == []


def test_what_fits_is_sent_and_truncation_auto_is_left_to_the_server(fake: FakeAPI) -> None:
    """Room for 1,000 tokens is sent; truncation="auto" (the server drops old items) is never refused."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    client.respond(TOO_MUCH.model_copy(update={"max_output_tokens": 1_000}))
    client.respond(TOO_MUCH.model_copy(update={"truncation": "auto"}))
    assert len(fake.received) == 2


def test_a_refusal_on_server_state_says_the_count_is_a_lower_bound(fake: FakeAPI) -> None:
    """On a stored response: the input alone cannot fit, and the message says more is on the server."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    with pytest.raises(ContextWindowExceededError, match="lower bound"):
        client.respond(TOO_MUCH.model_copy(update={"previous_response_id": "resp_1"}))
    assert fake.received == []


class City(BaseModel):
    name: str
    population: int


def _format() -> FormatJSONSchema:
    return FormatJSONSchema(name="City", schema_=strict_schema(City), strict=True)


def _answer() -> Response:
    return Response.model_validate(
        {
            "id": "resp_1",
            "created_at": 0,
            "model": "gpt-4o-mini",
            "output": [
                {
                    "type": "message",
                    "id": "msg_1",
                    "content": [{"type": "output_text", "text": "Hi, how can I help?"}],
                }
            ],
        }
    )
