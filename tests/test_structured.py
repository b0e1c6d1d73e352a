"""Structured outputs, typed tools and reasoning models.

Real responses (cassettes/real-traffic) must yield the typed values of the manifest; failure paths
(refusal, invalid JSON, schema mismatch, cut-off, a type strict mode cannot express) are typed
errors; what a reasoning model is sent is checked on the recorded request body.
"""

from __future__ import annotations

import json

import pytest
import yaml
from pydantic import BaseModel, Field
from structlog.testing import capture_logs

from helpers import CASSETTES, FAKE_OPENAI_KEY, REAL_TRAFFIC, replay
from typed_llm import (
    AssistantMessage,
    ChatRequest,
    DeveloperMessage,
    MemoryCache,
    OpenAIClient,
    OutputTruncatedError,
    OutputValidationError,
    RefusalError,
    StrictSchemaError,
    ToolMessage,
    TypedTool,
    UserMessage,
    strict_schema,
)
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._replies import FakeReply
from typed_llm.testing._vcr import make_vcr


class CityLocation(BaseModel):
    """A city and its country."""

    city: str
    country: str


class GetCurrentWeather(BaseModel):
    """Get the current weather in a given location."""

    location: str = Field(description="The city and state, e.g. Boston, MA")


class GetUserCountry(BaseModel):
    """The user's country."""


ASK = ChatRequest(
    model="gpt-4o", messages=(UserMessage(content="What is the largest city in the user country?"),)
)


def _answer(content: str | None, finish_reason: str = "stop", refusal: str | None = None) -> FakeReply:
    message = {"role": "assistant", "content": content, "refusal": refusal}
    body = {
        "id": "chatcmpl-s",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": message}],
    }
    return FakeReply(status=200, body=body)


# --- real traffic --------------------------------------------------------------------------------------


def test_real_structured_output_parses_into_the_model() -> None:
    """The recorded json_schema answer parses into CityLocation with the manifest's values."""
    file = "openai/chat_tool_call_then_json_schema.yaml"
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url="https://api.openai.com/v1")
    country = TypedTool(GetUserCountry, name="get_user_country")
    with make_vcr(REAL_TRAFFIC, "none", match_body=False).use_cassette(file) as cassette:
        first = client.complete(ASK.model_copy(update={"tools": (country.definition,)}))
        call = first.choices[0].message.tool_calls
        assert call is not None
        assert country.parse(call[0]) == GetUserCountry()
        answer = client.parse(
            ASK.model_copy(
                update={
                    "messages": (
                        *ASK.messages,
                        AssistantMessage(tool_calls=call),
                        ToolMessage(content="Mexico", tool_call_id=call[0].id),
                    )
                }
            ),
            CityLocation,
        )
        assert cassette.all_played
    assert answer.parsed == CityLocation(city="Mexico City", country="Mexico")
    assert answer.id == "chatcmpl-D3aUuDsTkxAQqfZcsYn1iN3EZraNP"
    assert answer.text == '{"city":"Mexico City","country":"Mexico"}'


def test_real_parallel_tool_calls_parse_into_the_model() -> None:
    """Both recorded tool calls parse into GetCurrentWeather with the manifest's arguments."""
    file = "openai/chat_parallel_tool_calls_roundtrip.yaml"
    weather = TypedTool(GetCurrentWeather, name="get_current_weather")
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url="https://api.openai.com/v1")
    request = ChatRequest(
        model="gpt-4o-mini", messages=(UserMessage(content="Weather?"),), tools=(weather.definition,)
    )
    with make_vcr(REAL_TRAFFIC, "none", match_body=False).use_cassette(file):
        calls = client.complete(request).choices[0].message.tool_calls
        assert calls is not None
        followup = request.model_copy(
            update={
                "tools": None,
                "messages": (
                    *request.messages,
                    AssistantMessage(tool_calls=calls),
                    *(ToolMessage(content="sunny", tool_call_id=c.id) for c in calls),
                ),
            }
        )
        final = client.complete(followup)
    assert [weather.parse(c).location for c in calls] == ["Seattle, WA", "San Francisco, CA"]
    assert [c.id for c in calls] == ["call_6YvurIMPOgMo2q6V6KGJDA6g", "call_QSiqEulo25M3NtTLVbMGqY91"]
    assert final.text.startswith("Today, the weather in Seattle is 50 degrees")


# --- strict schemas ---------------------------------------------------------------------------------------


class Address(BaseModel):
    street: str
    zip_code: str | None = None


class Person(BaseModel):
    """Someone."""

    name: str
    age: int = 30
    tags: list[str]
    home: Address


def test_strict_schema_meets_strict_mode() -> None:
    """Every object closed, every property required (defaults too), titles and defaults dropped."""
    schema = strict_schema(Person)
    assert schema["required"] == ["name", "age", "tags", "home"]
    assert schema["additionalProperties"] is False
    address = schema["$defs"]["Address"]
    assert (address["required"], address["additionalProperties"]) == (["street", "zip_code"], False)
    assert address["properties"]["zip_code"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert "title" not in json.dumps(schema)
    assert "default" not in json.dumps(schema)


class Loose(BaseModel):
    scores: dict[str, int]


class Bounded(BaseModel):
    code: str = Field(max_length=3)


@pytest.mark.parametrize(
    ("model", "says"), [(Loose, "free-form mapping"), (Bounded, "maxLength")], ids=["dict", "max_length"]
)
def test_type_strict_mode_cannot_express_fails_before_sending(model: type[BaseModel], says: str) -> None:
    """A free-form dict or a string length bound: StrictSchemaError naming the place; nothing is sent."""
    with FakeAPI() as fake:
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
        with pytest.raises(StrictSchemaError, match=says) as caught:
            client.parse(ASK, model)
        assert fake.received == []
    assert caught.value.path.startswith("$.properties.")


# --- failure paths ----------------------------------------------------------------------------------------


def _client(fake: FakeAPI) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)


def test_parse_sends_a_strict_json_schema_and_validates(fake: FakeAPI) -> None:
    """parse asks for the model's strict schema and returns the answer as the model."""
    answer = _client(fake).parse(ASK, CityLocation)
    assert answer.parsed == CityLocation(city="Paris", country="France")
    sent = fake.received[0].json()["response_format"]
    assert sent == {
        "type": "json_schema",
        "json_schema": {
            "name": "CityLocation",
            "description": "A city and its country.",
            "schema": strict_schema(CityLocation),
            "strict": True,
        },
    }


def test_refusal_raises_refusal_error(fake: FakeAPI) -> None:
    """A refusal is RefusalError with the refusal's text and the whole response."""
    fake.enqueue(_answer(None, refusal="I can't help with that."))
    with pytest.raises(RefusalError) as caught:
        _client(fake).parse(ASK, CityLocation)
    assert caught.value.refusal == "I can't help with that."
    assert caught.value.response is not None


@pytest.mark.parametrize(
    ("content", "error_type"),
    [('{"city": "Paris", "country": ', "json_invalid"), ('{"city": "Paris"}', "missing")],
    ids=["invalid-json", "schema-mismatch"],
)
def test_output_that_does_not_validate(fake: FakeAPI, content: str, error_type: str) -> None:
    """Invalid JSON or a schema mismatch: OutputValidationError with the raw text and pydantic's errors."""
    fake.enqueue(_answer(content))
    with pytest.raises(OutputValidationError) as caught:
        _client(fake).parse(ASK, CityLocation)
    assert type(caught.value) is OutputValidationError
    assert caught.value.raw_text == content
    assert caught.value.errors[0]["type"] == error_type


def test_length_cut_off_is_reported_as_such(fake: FakeAPI) -> None:
    """finish_reason length: OutputTruncatedError (a kind of OutputValidationError), with the partial text."""
    fake.enqueue(_answer('{"city": "Par', finish_reason="length"))
    with pytest.raises(OutputTruncatedError, match="cut off at the token limit") as caught:
        _client(fake).parse(ASK, CityLocation)
    assert caught.value.raw_text == '{"city": "Par'


def test_structured_calls_are_cached_like_any_other(fake: FakeAPI) -> None:
    """parse goes through complete: a second identical parse is a cache hit."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=MemoryCache())
    assert client.parse(ASK, CityLocation).parsed == client.parse(ASK, CityLocation).parsed
    assert len(fake.received) == 1


# --- typed tools: a round trip, replayed ----------------------------------------------------------------


def test_tool_round_trip_replayed_from_a_cassette() -> None:
    """Request with a typed tool, its call, the tool's answer, the final text: replayed from a cassette."""
    weather = TypedTool(GetCurrentWeather, description="Weather now")
    request = ChatRequest(
        model="gpt-4o-mini", messages=(UserMessage(content="Weather in Paris?"),), tools=(weather.definition,)
    )
    with replay("structured/tool_round_trip") as endpoints:
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=endpoints.openai_base_url)
        first = client.complete(request)
        calls = first.choices[0].message.tool_calls
        assert calls is not None
        arguments = weather.parse(calls[0])
        answer = ToolMessage(content=f"Sunny in {arguments.location}", tool_call_id=calls[0].id)
        final = client.complete(
            request.model_copy(
                update={"messages": (*request.messages, AssistantMessage(tool_calls=calls), answer)}
            )
        )
    assert first.choices[0].finish_reason == "tool_calls"
    assert arguments == GetCurrentWeather(location="Paris")
    assert weather.definition.function.strict is True
    assert final.text == "Echo: Sunny in Paris"


def test_tool_arguments_that_do_not_validate() -> None:
    """Arguments not matching the tool's model: OutputValidationError with the raw arguments."""
    from typed_llm import FunctionCall, ToolCall  # noqa: PLC0415

    weather = TypedTool(GetCurrentWeather)
    bad = ToolCall(id="c", function=FunctionCall(name="GetCurrentWeather", arguments='{"place": 1}'))
    with pytest.raises(OutputValidationError) as caught:
        weather.parse(bad)
    assert caught.value.raw_text == '{"place": 1}'
    with pytest.raises(ValueError, match="not 'GetCurrentWeather'"):
        weather.parse(ToolCall(id="c", function=FunctionCall(name="other", arguments="{}")))


# --- reasoning models --------------------------------------------------------------------------------------


def test_reasoning_model_parameters_adapted_on_the_wire() -> None:
    """o3-mini: max_tokens sent as max_completion_tokens, sampling parameters left out with a warning."""
    request = ChatRequest(
        model="o3-mini",
        messages=(DeveloperMessage(content="Think briefly."), UserMessage(content="Capital of Mexico?")),
        temperature=0.2,
        top_p=0.9,
        max_tokens=500,
        reasoning_effort="low",
    )
    with capture_logs() as logs, replay("structured/reasoning_o3_mini") as endpoints:
        response = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=endpoints.openai_base_url).complete(request)
    recorded = yaml.safe_load((CASSETTES / "structured" / "reasoning_o3_mini.yaml").read_text())
    sent = json.loads(recorded["interactions"][0]["request"]["body"])
    assert sent == {
        "model": "o3-mini",
        "messages": [
            {"role": "developer", "content": "Think briefly."},
            {"role": "user", "content": "Capital of Mexico?"},
        ],
        "max_completion_tokens": 500,
        "reasoning_effort": "low",
    }
    dropped = [log for log in logs if log["event"] == "parameters_dropped"]
    assert [(log["log_level"], log["parameters"]) for log in dropped] == [
        ("warning", ["temperature", "top_p"])
    ]
    assert response.usage is not None
    assert response.usage.reasoning_tokens == 64


def test_other_models_are_sent_as_given(fake: FakeAPI) -> None:
    """A non-reasoning model keeps max_tokens and temperature."""
    _client(fake).complete(
        ChatRequest(model="gpt-4o", messages=(UserMessage(content="x"),), temperature=0.2, max_tokens=5)
    )
    body = fake.received[0].json()
    assert (body["max_tokens"], body["temperature"]) == (5, 0.2)
    assert "max_completion_tokens" not in body
