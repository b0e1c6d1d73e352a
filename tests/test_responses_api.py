"""The Responses API through the public clients: recorded real traffic, the fake, and every layer.

Every ``responses/`` interaction of the shared real traffic is replayed through ``respond()`` or
``stream()`` (sync and async) and checked against the manifest's facts; the fake serves the rest:
a function-tool round trip, a ``store=False`` reasoning round trip, structured output, Azure's v1
path, the cache, retries and the one log event per call.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError
from structlog.testing import capture_logs

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    AsyncOpenAIClient,
    AzureClient,
    BadRequestError,
    ConfigurationError,
    ExponentialBackoff,
    FunctionCallOutput,
    InputMessage,
    MalformedResponseError,
    MemoryCache,
    NoTextError,
    OpenAIClient,
    OutputItemAdded,
    OutputItemDone,
    OutputMessage,
    OutputTextDelta,
    RawResponseEvent,
    ReasoningItem,
    RefusalError,
    Response,
    ResponseCompleted,
    ResponseFailedError,
    ResponseFunctionCall,
    ResponseFunctionTool,
    ResponsesRequest,
    ResponseStreamEvent,
    TypedTool,
    UnknownOutputItem,
    strict_schema,
)
from typed_llm._wire.operation import RawResponse
from typed_llm._wire.responses_answer import parse_response
from typed_llm._wire.responses_stream import ResponseAccumulator
from typed_llm.testing import FakeReply
from typed_llm.testing._vcr import make_vcr

if TYPE_CHECKING:
    from typed_llm.testing import FakeAPI

Entry = dict[str, Any]  # a manifest entry: JSON of a documented but loose shape
ENTRIES: list[Entry] = json.loads((REAL_TRAFFIC / "manifest-responses.json").read_text())
QUICK = ExponentialBackoff(wait_initial=0.001, wait_jitter=0.0)


def _recorded(entry: Entry) -> dict[str, Any]:
    interactions = yaml.safe_load((REAL_TRAFFIC / entry["file"]).read_text())["interactions"]
    recorded: dict[str, Any] = interactions[entry["interaction"]]
    return recorded


def _replay(entry: Entry, *, use_async: bool) -> tuple[list[ResponseStreamEvent], Response]:
    """The recorded request body as a ``ResponsesRequest``, sent through the verb the recording used."""
    body = json.loads(_recorded(entry)["request"]["body"])
    request = ResponsesRequest.model_validate(body)  # a recorded body is a valid request
    path = REAL_TRAFFIC / entry["file"]
    options: dict[str, Any] = {"api_key": FAKE_OPENAI_KEY, "base_url": "https://api.openai.com/v1"}
    streamed = entry["kind"] == "responses_stream"
    with make_vcr(path.parent, "none", match_body=False).use_cassette(path.name, allow_playback_repeats=True):
        if not use_async:
            client = OpenAIClient(**options)
            if not streamed:
                return [], client.respond(request)
            with client.stream(request) as stream:
                return list(stream), stream.final_response()

        async def run() -> tuple[list[ResponseStreamEvent], Response]:
            async with AsyncOpenAIClient(**options) as client:
                if not streamed:
                    return [], await client.respond(request)
                async with client.stream(request) as stream:
                    return [event async for event in stream], await stream.final_response()

        return asyncio.run(run())


def _check_facts(response: Response, facts: Entry) -> None:
    assert response.id == facts["id"]
    assert response.status == facts["status"]
    assert response.model == facts["model"]
    assert [item.type for item in response.output] == facts["output_types"]
    if facts["output_text"]:
        assert response.output_text == facts["output_text"]
    else:
        with pytest.raises(NoTextError):
            _ = response.output_text
    assert [(c.name, c.arguments, c.call_id) for c in response.function_calls] == [
        (c["name"], c["arguments"], c["call_id"]) for c in facts["function_calls"]
    ]
    usage, want = response.usage, facts["usage"]
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (
        want["input_tokens"],
        want["output_tokens"],
        want["total_tokens"],
    )
    assert usage.cached_tokens == want["input_tokens_details"]["cached_tokens"]
    assert usage.reasoning_tokens == want["output_tokens_details"]["reasoning_tokens"]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"].removeprefix("responses/") for e in ENTRIES])
def test_recorded_responses_traffic_has_the_manifests_facts(entry: Entry, use_async: bool) -> None:
    """Each recorded interaction, replayed through respond() or stream(): the manifest's facts."""
    facts = entry["facts"]
    if entry["kind"] == "error":
        with pytest.raises(BadRequestError) as caught:
            _replay(entry, use_async=use_async)
        error = caught.value
        assert (error.status_code, error.code, error.type, error.param) == (
            facts["status"],
            facts["code"],
            facts["type"],
            facts["param"],
        )
        assert error.args[0].startswith(facts["message_prefix"])
        assert error.request_id == facts["header.x-request-id"]
        return
    events, response = _replay(entry, use_async=use_async)
    if entry["kind"] == "responses_stream":
        assert len(events) == facts["events"]
        typed = {
            "response.output_text.delta": OutputTextDelta,
            "response.output_item.added": OutputItemAdded,
            "response.output_item.done": OutputItemDone,
            "response.completed": ResponseCompleted,
        }
        for kind, count in facts["event_type_counts"].items():
            cls = typed.get(kind)
            if cls is not None:
                assert sum(isinstance(e, cls) for e in events) == count
            else:
                assert sum(isinstance(e, RawResponseEvent) and e.type == kind for e in events) == count
        assert "".join(e.text for e in events if isinstance(e, OutputTextDelta)) == facts["delta_text"]
        facts = facts["final"]
    _check_facts(response, facts)
    assert response.request_id == _recorded(entry)["response"]["headers"]["x-request-id"][0]


# --- unknown items and events: kept, logged, not fatal ----------------------------------------------


def _recorded_body(name: str) -> dict[str, Any]:
    entry = next(e for e in ENTRIES if e["file"] == f"responses/{name}")
    body: dict[str, Any] = json.loads(_recorded(entry)["response"]["body"]["string"])
    return body


_NEW_ITEM = {"type": "hologram_call", "id": "hc_1", "status": "completed", "frames": [{"depth": 3}]}


def test_an_unknown_output_item_is_kept_whole_and_logged() -> None:
    """A recorded body with an item type this SDK does not know: kept whole, one warning, not fatal."""
    body = _recorded_body("responses_basic_gpt55.yaml")
    body["output"].insert(0, _NEW_ITEM)
    with capture_logs() as logs:
        response = parse_response(RawResponse(200, {"x-request-id": "req_1"}, json.dumps(body).encode()))
    unknown = response.output[0]
    assert isinstance(unknown, UnknownOutputItem)
    assert unknown.model_dump() == _NEW_ITEM
    assert response.output_text == "pong"
    # the stored answer reads back whole: the item survives the cache's round trip
    assert Response.model_validate_json(response.model_dump_json()).output[0].model_dump() == _NEW_ITEM
    warnings = [log for log in logs if log["event"] == "unknown_value"]
    assert [(w["field"], w["value"]) for w in warnings] == [("output.type", "hologram_call")]


def test_an_unknown_content_part_is_kept_whole() -> None:
    """A message part of a type this SDK does not know is kept (its JSON whole); the text still reads."""
    body = _recorded_body("responses_basic_gpt55.yaml")
    message = next(item for item in body["output"] if item["type"] == "message")
    message["content"].append({"type": "hologram_text", "frames": 3})
    response = parse_response(RawResponse(200, {}, json.dumps(body).encode()))
    parts = next(item for item in response.output if isinstance(item, OutputMessage)).content
    assert parts[-1].model_dump() == {"type": "hologram_text", "frames": 3}
    assert response.output_text == "pong"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda item: item.pop("id"), "output.0.message.id: Field required"),
        (
            lambda item: item["content"][0].pop("text"),
            "output.0.message.content.0.output_text.text: Field required",
        ),
    ],
    ids=["message without id", "text part without text"],
)
def test_a_known_item_that_does_not_fit_is_malformed_not_unknown(change: Any, where: str) -> None:
    """An item (or part) of a known type that does not fit its class is a MalformedResponseError naming
    the field, never kept as an unknown item."""
    body = _recorded_body("responses_basic_gpt55.yaml")
    body["output"] = [next(item for item in body["output"] if item["type"] == "message")]
    change(body["output"][0])
    with pytest.raises(MalformedResponseError) as caught:
        parse_response(RawResponse(200, {}, json.dumps(body).encode()))
    assert where in str(caught.value)
    with pytest.raises(ValidationError, match="known type"):
        UnknownOutputItem(type="message")


def test_an_unknown_stream_event_is_kept_and_logged() -> None:
    """A recorded stream with an event type this SDK does not know inserted: a RawResponseEvent, logged."""
    entry = next(e for e in ENTRIES if e["kind"] == "responses_stream")
    body: str = _recorded(entry)["response"]["body"]["string"]
    new = {"type": "response.telepathy.delta", "sequence_number": 99, "delta": "?"}
    cut = body.index("event: response.completed")
    body = f"{body[:cut]}event: response.telepathy.delta\ndata: {json.dumps(new)}\n\n{body[cut:]}"
    accumulator = ResponseAccumulator(request_id="req_1")
    with capture_logs() as logs:
        events = [e for i in range(0, len(body), 7) for e in accumulator.feed(body[i : i + 7].encode())]
        response = accumulator.finish()
    raw = [e for e in events if isinstance(e, RawResponseEvent) and e.type == "response.telepathy.delta"]
    assert [e.data for e in raw] == [new]
    assert response.output_text == "pong"
    assert [(w["field"], w["value"]) for w in logs if w["event"] == "unknown_event"] == [
        ("stream.type", "response.telepathy.delta")
    ]


# --- the fake ---------------------------------------------------------------------------------------


def _openai(fake: FakeAPI, **options: Any) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, **options)


class GetWeather(BaseModel):
    """Get the weather in a city."""

    city: str


def test_a_function_tool_round_trip(fake: FakeAPI) -> None:
    """The call comes back typed; next_turn sends the call and its output; the second answer is text."""
    tool = TypedTool(GetWeather)
    first = ResponsesRequest(
        model="gpt-4o-mini", input="weather in Paris?", tools=(ResponseFunctionTool.of(tool),)
    )
    client = _openai(fake)
    response = client.respond(first)
    (call,) = response.function_calls
    assert tool.parse(call.as_tool_call()) == GetWeather(city="Paris")
    second = first.next_turn(response, FunctionCallOutput(call_id=call.call_id, output="sunny"))
    answer = client.respond(second)
    assert answer.output_text == "Echo: sunny"
    sent: Any = fake.received[1].json()
    assert sent["input"] == [
        {"role": "user", "content": "weather in Paris?"},
        {
            "type": "function_call",
            "id": call.id,
            "call_id": call.call_id,
            "name": "GetWeather",
            "arguments": '{"city": "Paris"}',
            "status": "completed",
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ]
    assert sent["tools"][0] == {
        "type": "function",
        "name": "GetWeather",
        "description": "Get the weather in a city.",
        "parameters": strict_schema(GetWeather),
        "strict": True,
    }
    assert fake.received[0].path == "/v1/responses"


def test_a_store_false_reasoning_round_trip_sends_the_encrypted_content(fake: FakeAPI) -> None:
    """store=False: the reasoning item goes back with encrypted_content, and include asks for more."""
    client = _openai(fake)
    first = ResponsesRequest(
        model="gpt-5-mini", input="think", store=False, include=("reasoning.encrypted_content",)
    )
    response = client.respond(first)
    (reasoning,) = response.reasoning
    assert reasoning.encrypted_content
    client.respond(first.next_turn(response, "and again"))
    sent: Any = fake.received[1].json()
    assert sent["store"] is False
    assert sent["include"] == ["reasoning.encrypted_content"]
    assert sent["input"][1] == {
        "type": "reasoning",
        "id": reasoning.id,
        "summary": [],
        "encrypted_content": reasoning.encrypted_content,
    }
    assert sent["input"][-1] == {"role": "user", "content": "and again"}


def test_store_false_without_encrypted_content_fails_before_sending(fake: FakeAPI) -> None:
    """The "Item 'rs_...' not found" failure is a clear error here, before the second request."""
    client = _openai(fake)
    first = ResponsesRequest(model="gpt-5-mini", input="think", store=False)
    response = client.respond(first)
    assert isinstance(response.output[0], ReasoningItem)
    with pytest.raises(ConfigurationError, match="encrypted_content"):
        first.next_turn(response, "again")
    # what the server says when the helper is bypassed
    bare = first.model_copy(update={"input": (*response.output, InputMessage(role="user", content="again"))})
    with pytest.raises(Exception, match="not found"):
        client.respond(bare)
    assert len(fake.received) == 2


class City(BaseModel):
    name: str
    population: int


def test_parse_sends_a_strict_text_format_and_validates(fake: FakeAPI) -> None:
    """parse(ResponsesRequest, T): text.format is T's strict schema; the answer is a T."""
    parsed = _openai(fake).parse(ResponsesRequest(model="gpt-4o-mini", input="a city"), City)
    assert parsed.parsed == City(name="Paris", population=2102650)
    body: Any = fake.received[0].json()
    fmt = body["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "City", True)
    assert fmt["schema"]["additionalProperties"] is False


def test_a_live_stream_from_the_fake(fake: FakeAPI) -> None:
    """Text deltas a word each, items added and done, the completion last; the body asked to stream."""
    request = ResponsesRequest(model="gpt-4o-mini", input="say four words please")
    with _openai(fake).stream(request) as stream:
        events = list(stream)
        response = stream.final_response()
    assert "".join(e.text for e in events if isinstance(e, OutputTextDelta)) == response.output_text
    assert response.output_text == "Echo: say four words please"
    assert isinstance(events[-1], ResponseCompleted)
    assert fake.received[0].json()["stream"] is True


def test_the_cache_serves_respond_and_stream_from_one_entry(fake: FakeAPI) -> None:
    """A second respond() and a stream() of the same request are cache hits: one HTTP request."""
    client = _openai(fake, cache=MemoryCache())
    request = ResponsesRequest(model="gpt-4o-mini", input="hello")
    first = client.respond(request)
    assert client.respond(request) == first
    with client.stream(request) as stream:
        events = list(stream)
    assert "".join(e.text for e in events if isinstance(e, OutputTextDelta)) == first.output_text
    assert stream.final_response() == first
    assert len(fake.received) == 1


def test_retries_and_one_log_event_apply(fake: FakeAPI) -> None:
    """A 500 then a success: retried, and one response event with the usage and attempt 2."""
    fake.enqueue(FakeReply(status=500, body={"error": {"message": "boom", "type": "server_error"}}))
    with capture_logs() as logs:
        response = _openai(fake, backoff=QUICK).respond(ResponsesRequest(model="gpt-4o-mini", input="hi"))
    assert response.output_text == "Echo: hi"
    (event,) = [log for log in logs if log["event"] == "response"]
    assert (event["attempt"], event["status"], event["output_types"]) == (2, "completed", ["message"])
    assert event["prompt_tokens"] == response.usage.input_tokens if response.usage else False
    assert len(fake.received) == 2


def test_a_failed_status_is_a_typed_error(fake: FakeAPI) -> None:
    """A 200 with status "failed" is a ResponseFailedError with the server's code and the answer."""
    body = _recorded_body("responses_basic_gpt55.yaml")
    body.update(status="failed", output=[], error={"code": "invalid_prompt", "message": "it broke"})
    fake.enqueue(FakeReply(status=200, body=body))
    with pytest.raises(ResponseFailedError) as caught:
        _openai(fake).respond(ResponsesRequest(model="gpt-5.5", input="hi"))
    assert caught.value.code == "invalid_prompt"
    assert caught.value.response is not None
    assert caught.value.response.id == body["id"]


def test_azure_v1_puts_the_deployment_in_the_body(fake: FakeAPI) -> None:
    """Azure v1: POST /openai/v1/responses, the deployment as model."""
    client = AzureClient(
        endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="v1", deployments={"gpt-4o-mini": "my-mini"}
    )
    response = client.respond(ResponsesRequest(model="gpt-4o-mini", input="hi"))
    assert isinstance(response.output[0], OutputMessage)
    assert fake.received[0].path == "/openai/v1/responses"
    assert fake.received[0].json()["model"] == "my-mini"


def test_azure_v1_with_an_entra_token(fake: FakeAPI) -> None:
    """Azure v1 with a token provider: the bearer on /openai/v1/responses, no api-key, called per request."""
    tokens = iter(["entra-1", "entra-2"])
    client = AzureClient(endpoint=fake.url, api_version="v1", token_provider=lambda: next(tokens))
    assert client.respond(ResponsesRequest(model="gpt-4o-mini", input="hi")).output_text == "Echo: hi"
    with client.stream(ResponsesRequest(model="gpt-4o-mini", input="again")) as stream:
        assert stream.final_response().output_text == "Echo: again"
    for sent, token in zip(fake.received, ("entra-1", "entra-2"), strict=True):
        assert (sent.path, sent.query) == ("/openai/v1/responses", {})
        assert sent.headers["authorization"] == f"Bearer {token}"
        assert "api-key" not in sent.headers


def test_a_refusal_carries_the_response() -> None:
    """output_text on a refusal: RefusalError with the refusal text and the whole Response."""
    response = Response.model_validate(
        {
            "id": "resp_1",
            "created_at": 0,
            "model": "gpt-4o-mini",
            "output": [
                {"type": "message", "id": "msg_1", "content": [{"type": "refusal", "refusal": "No."}]}
            ],
        }
    )
    with pytest.raises(RefusalError) as caught:
        _ = response.output_text
    assert caught.value.refusal == "No."
    assert caught.value.response is response


def test_azure_classic_refuses_before_sending(fake: FakeAPI) -> None:
    """A classic Azure client (a dated api-version): ConfigurationError naming api_version="v1"."""
    client = AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="2024-10-21")
    with pytest.raises(ConfigurationError, match='api_version="v1"'):
        client.respond(ResponsesRequest(model="gpt-4o-mini", input="hi"))
    assert fake.received == []


def test_a_bad_request_fails_before_sending() -> None:
    """Validation before anything is sent: an empty input, an out-of-range temperature, a typo."""
    for bad in (
        {"model": "m", "input": ""},
        {"model": "m", "input": "x", "temperature": 3.0},
        {"model": "m", "input": "x", "max_output_token": 5},
    ):
        with pytest.raises(ValidationError):
            ResponsesRequest.model_validate(bad)


def test_function_calls_are_typed() -> None:
    """The recorded function call is a ResponseFunctionCall."""
    body = _recorded_body("responses_tool_call_gpt4o_mini.yaml")
    response = parse_response(RawResponse(200, {}, json.dumps(body).encode()))
    assert isinstance(response.output[0], ResponseFunctionCall)
