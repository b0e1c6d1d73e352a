"""Request and message models: validation before sending, immutability, and the wire format.

These are unit tests, not replays: what they pin happens before any HTTP exists.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import TypeAdapter, ValidationError

from helpers import FAKE_OPENAI_KEY
from typed_llm import (
    AssistantMessage,
    ChatRequest,
    DeveloperMessage,
    EmbeddingRequest,
    Message,
    OpenAIClient,
    ResponseFormatJSONSchema,
    SystemMessage,
    ToolMessage,
    UserMessage,
)
from typed_llm._wire.chat import wire_body

if TYPE_CHECKING:
    from typed_llm.testing._fake import FakeAPI

HELLO = {"role": "user", "content": "hello"}


BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("temperature above 2", {"temperature": 3}, "temperature"),
    ("temperature below 0", {"temperature": -0.1}, "temperature"),
    ("top_p above 1", {"top_p": 1.5}, "top_p"),
    ("max_tokens zero", {"max_tokens": 0}, "max_tokens"),
    ("penalty out of range", {"frequency_penalty": 2.5}, "frequency_penalty"),
    ("presence penalty out of range", {"presence_penalty": -3}, "presence_penalty"),
    ("five stop sequences", {"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ("n zero", {"n": 0}, "n"),
    ("empty messages", {"messages": []}, "messages"),
    ("unknown field", {"temprature": 0.5}, "temprature"),
    ("wrong type", {"max_tokens": "many"}, "max_tokens"),
    ("unknown role", {"messages": [{"role": "robot", "content": "x"}]}, "messages.0"),
    ("unknown message field", {"messages": [{**HELLO, "mood": "happy"}]}, "messages.0.user.mood"),
    ("empty model", {"model": ""}, "model"),
    ("bad reasoning effort", {"reasoning_effort": "extreme"}, "reasoning_effort"),
    ("top_logprobs above 20", {"top_logprobs": 21}, "top_logprobs"),
    ("logit bias out of range", {"logit_bias": {"50256": -101}}, "logit_bias.50256"),
    (
        "bad schema name",
        {"response_format": {"type": "json_schema", "json_schema": {"name": "has space"}}},
        "response_format.json_schema.json_schema.name",
    ),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_request_is_refused_before_sending(
    fake: FakeAPI, case: str, change: dict[str, Any], field: str
) -> None:
    """An invalid request fails with a ValidationError naming the field, and nothing reaches the server."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    body = {"model": "gpt-4o-mini", "messages": [HELLO], **change}
    with pytest.raises(ValidationError) as caught:
        client.complete(ChatRequest.model_validate(body))
    locations = [".".join(str(p) for p in error["loc"]) for error in caught.value.errors()]
    assert field in locations, f"{case}: {locations}"
    assert field.split(".", maxsplit=1)[0] in str(caught.value)
    assert fake.received == []


def test_wrong_argument_type_is_refused_before_sending(fake: FakeAPI) -> None:
    """Passing a dict where a ChatRequest belongs is a TypeError, not a request."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    with pytest.raises(TypeError, match="expected a ChatRequest"):
        client.complete({"model": "gpt-4o-mini", "messages": [HELLO]})  # type: ignore[arg-type]  # the misuse under test
    assert fake.received == []


@pytest.mark.parametrize(
    ("change", "field"),
    [({"input": []}, "input"), ({"input": [""]}, "input.0"), ({"dimensions": 0}, "dimensions")],
    ids=["no input", "empty string", "zero dimensions"],
)
def test_bad_embedding_request_is_refused(change: dict[str, Any], field: str) -> None:
    """Embedding requests are checked the same way."""
    with pytest.raises(ValidationError) as caught:
        EmbeddingRequest.model_validate({"model": "text-embedding-3-small", "input": ["x"], **change})
    assert field in [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


def test_assistant_message_must_say_something() -> None:
    """An assistant message with no content, refusal or tool calls is refused."""
    with pytest.raises(ValidationError, match="needs content, refusal or tool_calls"):
        AssistantMessage()


def test_models_are_immutable() -> None:
    """Requests, messages and nested JSON schemas cannot be changed after construction."""
    request = ChatRequest.model_validate(
        {
            "model": "gpt-4o-mini",
            "messages": [HELLO],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "City", "schema": {"type": "object", "required": ["name"]}},
            },
            "logit_bias": {"50256": -100},
        }
    )
    with pytest.raises(ValidationError):
        request.temperature = 1.0  # type: ignore[misc]  # the mutation under test
    assert isinstance(request.messages, tuple)
    assert isinstance(request.response_format, ResponseFormatJSONSchema)
    schema = request.response_format.json_schema.schema_
    assert schema is not None
    with pytest.raises(TypeError):
        schema["type"] = "array"  # type: ignore[index]  # the mutation under test
    assert schema["required"] == ("name",)
    assert request.logit_bias is not None
    with pytest.raises(TypeError):
        request.logit_bias["1"] = 5  # type: ignore[index]  # the mutation under test
    changed = request.model_copy(update={"temperature": 0.5})
    assert (changed.temperature, request.temperature) == (0.5, None)


def test_caller_data_cannot_change_a_request() -> None:
    """Changing the dict a request was built from afterwards does not change the request."""
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [HELLO],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}],
    }
    request = ChatRequest.model_validate(body)
    before = wire_body(request)
    schema["type"] = "array"
    body["messages"].append(HELLO)
    assert wire_body(request) == before


def test_message_union_is_discriminated_by_role() -> None:
    """A message dict becomes the class its role names."""
    adapter: TypeAdapter[Message] = TypeAdapter(Message)
    cases = {
        "system": SystemMessage,
        "developer": DeveloperMessage,
        "user": UserMessage,
        "assistant": AssistantMessage,
    }
    for role, cls in cases.items():
        assert type(adapter.validate_python({"role": role, "content": "x"})) is cls
    tool = adapter.validate_python({"role": "tool", "content": "42", "tool_call_id": "call_1"})
    assert isinstance(tool, ToolMessage)


FULL_BODY: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "developer", "content": "Answer in JSON."},
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}], "name": "ops"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}},
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "content": "a cat", "tool_call_id": "call_1"},
        {"role": "assistant", "content": None, "refusal": "No."},
    ],
    "temperature": 0.7,
    "top_p": 0.95,
    "max_completion_tokens": 300,
    "frequency_penalty": 0.1,
    "presence_penalty": -0.1,
    "stop": ["\n\n", "END"],
    "n": 2,
    "seed": 42,
    "response_format": {
        "type": "json_schema",
        "json_schema": {
            "name": "Answer",
            "description": "The answer",
            "schema": {
                "type": "object",
                "properties": {"a": {"type": "string", "default": None}},
                "required": ["a"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    },
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "look",
                "description": "Look",
                "parameters": {"type": "object"},
                "strict": False,
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "look"}},
    "parallel_tool_calls": False,
    "reasoning_effort": "low",
    "verbosity": "low",
    "logprobs": True,
    "top_logprobs": 3,
    "logit_bias": {"50256": -100},
    "service_tier": "flex",
    "store": False,
    "user": "user-1",
}


def test_wire_json_round_trips() -> None:
    """model_validate takes a Chat Completions body; the body sent is that same JSON (nulls aside)."""
    request = ChatRequest.model_validate(FULL_BODY)
    sent = json.loads(wire_body(request))
    expected = json.loads(json.dumps(FULL_BODY))
    del expected["messages"][5]["content"]  # a null field is not sent: the API reads it as absent
    assert sent == expected
    assert ChatRequest.model_validate(sent) == request


def test_one_stop_string_and_one_input_string() -> None:
    """The API's single-string forms are accepted and held as one-item tuples."""
    request = ChatRequest.model_validate({"model": "m", "messages": [HELLO], "stop": "END"})
    assert request.stop == ("END",)
    assert EmbeddingRequest(model="m", input="one").input == ("one",)  # type: ignore[arg-type]  # the wire form


LONE = "bad \ud800 text"
SURROGATE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("user text", {"messages": [{"role": "user", "content": LONE}]}, "messages.0.user.content"),
    (
        "user text part",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": LONE}]}]},
        "messages.0.user.content.*.0.text.text",
    ),
    (
        "system name",
        {"messages": [{"role": "system", "content": "x", "name": LONE}]},
        "messages.0.system.name",
    ),
    (
        "tool call arguments",
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": LONE}}
                    ],
                }
            ]
        },
        "messages.0.assistant.tool_calls.0.function.function.arguments",
    ),
    (
        "tool result",
        {"messages": [{"role": "tool", "content": LONE, "tool_call_id": "c"}]},
        "messages.0.tool.content",
    ),
    ("stop sequence", {"stop": ["ok", LONE]}, "stop.1"),
    (
        "schema description",
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "A", "schema": {"properties": {"a": {"description": LONE}}}},
            }
        },
        "response_format.json_schema.json_schema.schema",
    ),
]


@pytest.mark.parametrize(("case", "change", "field"), SURROGATE_CASES, ids=[c[0] for c in SURROGATE_CASES])
def test_lone_surrogate_is_refused_with_its_path(
    fake: FakeAPI, case: str, change: dict[str, Any], field: str
) -> None:
    """Text UTF-8 cannot encode is a ValidationError naming the field, before anything is sent or cached."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    body = {"model": "gpt-4o-mini", "messages": [HELLO], **change}
    with pytest.raises(ValidationError) as caught:
        client.complete(ChatRequest.model_validate(body))
    surrogate_errors = [e for e in caught.value.errors() if "lone surrogate" in e["msg"]]
    assert surrogate_errors, f"{case}: {caught.value}"
    where = ".".join("*" if str(p).startswith("tuple[") else str(p) for p in surrogate_errors[0]["loc"])
    assert where == field
    assert "U+D800 at index 4" in surrogate_errors[0]["msg"].replace("(", "").replace(")", "")
    assert fake.received == []


def test_lone_surrogate_in_typed_construction_and_embeddings() -> None:
    """Built in Python (not from a dict), messages and embedding inputs are checked too."""
    with pytest.raises(ValidationError, match="lone surrogate") as caught:
        UserMessage(content=LONE)
    assert caught.value.errors()[0]["loc"] == ("content",)
    # a constrained string (an embedding input) says it the same way, with the item's path
    with pytest.raises(ValidationError, match=r"lone surrogate \(U\+DFFF\) at index 0") as embedded:
        EmbeddingRequest(model="text-embedding-3-small", input=("fine", "\udfff"))
    assert [e["loc"] for e in embedded.value.errors()] == [("input", 1)]
    with pytest.raises(ValidationError, match=r"lone surrogate \(U\+DFFF\) at index 0") as user:
        EmbeddingRequest(model="text-embedding-3-small", input=("fine",), user="\udfff")
    assert user.value.errors()[0]["loc"] == ("user",)


def test_a_lone_surrogate_is_one_error_and_the_others_are_kept() -> None:
    """The union members a text was also tried against (the parts of a content, an audio voice's
    names) are not reported; an error elsewhere in the same request still is, as pydantic says it."""
    with pytest.raises(ValidationError) as text:
        ChatRequest.model_validate({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": LONE}]})
    assert [(e["type"], e["loc"]) for e in text.value.errors()] == [
        ("value_error", ("messages", 0, "user", "content")),
        ("too_short", ("messages",)),  # pydantic's own: no message of the tuple was valid
    ]
    with pytest.raises(ValidationError) as both:
        ChatRequest.model_validate(
            {"model": "gpt-4o-mini", "messages": [HELLO], "audio": {"voice": LONE, "format": "wav"}, "n": "2"}
        )
    found = {(e["type"], e["loc"]) for e in both.value.errors()}
    assert ("value_error", ("audio", "voice")) in found
    assert ("int_type", ("n",)) in found
    assert [e["msg"] for e in both.value.errors() if "voice" in e["loc"]] == [
        "Value error, text holds a lone surrogate (U+D800) at index 4, which UTF-8 cannot encode"
    ]


COERCIONS: list[tuple[str, dict[str, Any], str]] = [
    ("n as a string", {"n": "2"}, "n"),
    ("seed as a bool", {"seed": True}, "seed"),
    ("max_tokens as a string", {"max_tokens": "100"}, "max_tokens"),
    ("max_tokens as a float", {"max_tokens": 100.0}, "max_tokens"),
    ("temperature as a string", {"temperature": "0.5"}, "temperature"),
    ("temperature as a bool", {"temperature": True}, "temperature"),
    ("store as a string", {"store": "true"}, "store"),
    ("logprobs as an int", {"logprobs": 1}, "logprobs"),
    ("user as bytes", {"user": b"u-1"}, "user"),
    ("logit bias as a bool", {"logit_bias": {"50256": True}}, "logit_bias.50256"),
    ("stop as bytes", {"stop": [b"END"]}, "stop.0"),
]


@pytest.mark.parametrize(("case", "change", "field"), COERCIONS, ids=[c[0] for c in COERCIONS])
def test_python_values_are_not_coerced(fake: FakeAPI, case: str, change: dict[str, Any], field: str) -> None:
    """A value of the wrong Python type is refused, not converted: strict means strict."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    with pytest.raises(ValidationError) as caught:
        client.complete(ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),), **change))
    locations = [".".join(str(p) for p in error["loc"]) for error in caught.value.errors()]
    assert field in locations, f"{case}: {locations}"
    assert fake.received == []


def test_bytes_content_is_not_text() -> None:
    """Bytes are not a message's text, in any message kind or content part."""
    for build in (
        lambda: UserMessage(content=b"hi"),  # type: ignore[arg-type]  # the misuse under test
        lambda: SystemMessage(content=b"hi"),  # type: ignore[arg-type]  # the misuse under test
        lambda: ToolMessage(content=b"42", tool_call_id="c"),  # type: ignore[arg-type]  # the misuse under test
        lambda: UserMessage.model_validate({"content": [{"type": "text", "text": b"hi"}]}),
    ):
        with pytest.raises(ValidationError, match="valid string"):
            build()


def test_json_bodies_keep_the_api_json_types() -> None:
    """A JSON body, raw or loaded, validates as the API reads it: ints for floats, arrays for tuples."""
    body = {
        "model": "gpt-4o-mini",
        "messages": [HELLO, {"role": "user", "content": [{"type": "text", "text": "more"}]}],
        "temperature": 1,
        "n": 2,
        "stop": ["END"],
        "logprobs": True,
        "logit_bias": {"50256": -100},
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "x": [1, 2.5]}}}
        ],
    }
    from_text = ChatRequest.model_validate_json(json.dumps(body))
    from_loaded = ChatRequest.model_validate(json.loads(json.dumps(body)))
    assert from_text == from_loaded
    assert (from_text.temperature, from_text.n, from_text.stop) == (1.0, 2, ("END",))
    assert json.loads(wire_body(from_text))["tools"][0]["function"]["parameters"]["x"] == [1, 2.5]
    with pytest.raises(ValidationError) as caught:
        ChatRequest.model_validate_json(json.dumps({**body, "n": "2"}))
    assert [e["loc"] for e in caught.value.errors()] == [("n",)]


EVERY_NEW_FIELD: dict[str, Any] = {
    "model": "gpt-4o-audio-preview",
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "Listen and read.",
                    "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "12h"},
                },
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
                },
                {"type": "file", "file": {"file_id": "file-abc123"}},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png", "detail": "original"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": "Paris [1].",
            "refusal": None,
            "annotations": [],
        },
        {
            "role": "assistant",
            "content": "Cited.",
            "annotations": [
                {
                    "type": "url_citation",
                    "url_citation": {
                        "start_index": 0,
                        "end_index": 6,
                        "title": "P",
                        "url": "https://example.com",
                    },
                }
            ],
        },
        {"role": "assistant", "audio": {"id": "audio_abc123"}},
        {"role": "user", "content": "And again."},
    ],
    "modalities": ["text", "audio"],
    "audio": {"voice": "coral", "format": "mp3"},
    "prediction": {"type": "content", "content": "Paris is the capital."},
    "web_search_options": {
        "search_context_size": "low",
        "user_location": {"type": "approximate", "approximate": {"country": "FR", "city": "Paris"}},
    },
    "moderation": {
        "model": "omni-moderation-latest",
        "policy": {"input": {"mode": "block"}, "output": {"mode": "score"}},
    },
    "safety_identifier": "hashed-user-1",
    "prompt_cache_key": "tenant-7",
    "prompt_cache_options": {"mode": "explicit", "ttl": "30m"},
    "prompt_cache_retention": "24h",
    "verbosity": "low",
    "store": True,
    "metadata": {"team": "search", "ticket": "T-1"},
    "service_tier": "priority",
    "parallel_tool_calls": True,
    "logprobs": True,
    "top_logprobs": 2,
    "stream_options": {"include_usage": True, "include_obfuscation": False},
    "tool_choice": {
        "type": "allowed_tools",
        "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "function": {"name": "f"}}]},
    },
    "tools": [{"type": "function", "function": {"name": "f"}}],
}


def test_every_documented_request_field_round_trips(fake: FakeAPI) -> None:
    """Every Chat Completions field of the API reference validates and is sent exactly as written."""
    request = ChatRequest.model_validate(EVERY_NEW_FIELD)
    assert ChatRequest.model_validate_json(json.dumps(EVERY_NEW_FIELD)) == request
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    client.complete(request)
    (received,) = fake.received
    expected = json.loads(json.dumps(EVERY_NEW_FIELD))
    del expected["messages"][1]["refusal"]  # a null is not sent
    del expected["stream_options"]  # the verb decides streaming: complete() sends neither field
    expected.pop("stream", None)
    assert json.loads(received.body) == expected
    assert request.metadata is not None
    with pytest.raises(TypeError):
        request.metadata["x"] = "y"  # type: ignore[index]  # the mutation under test


def test_legacy_function_fields_are_accepted() -> None:
    """The deprecated functions / function_call fields, and an assistant's function_call, still validate."""
    body = {
        "model": "gpt-3.5-turbo",
        "messages": [HELLO, {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}],
        "functions": [{"name": "f", "parameters": {"type": "object"}}],
        "function_call": {"name": "f"},
    }
    assert json.loads(wire_body(ChatRequest.model_validate(body))) == body


BAD_NEW_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown modality", {"modalities": ["video"]}, "modalities.0"),
    ("audio without format", {"audio": {"voice": "coral"}}, "audio.format"),
    ("seventeen metadata pairs", {"metadata": {str(i): "v" for i in range(17)}}, "metadata"),
    ("metadata value not a string", {"metadata": {"n": 1}}, "metadata.n"),
    (
        "country not two letters",
        {"web_search_options": {"user_location": {"approximate": {"country": "France"}}}},
        "web_search_options.user_location.approximate.country",
    ),
    ("unknown stream option", {"stream_options": {"include_usag": True}}, "stream_options.include_usag"),
    (
        "file part naming no file",
        {"messages": [{"role": "user", "content": [{"type": "file", "file": {}}]}]},
        "messages.0.user.content.*.0.file.file",
    ),
    (
        "unknown audio format",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "ogg"}}],
                }
            ]
        },
        "messages.0.user.content.*.0.input_audio.input_audio.format",
    ),
    (
        "unknown assistant key",
        {"messages": [{"role": "assistant", "content": "x", "citations": []}]},
        "messages.0.assistant.citations",
    ),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_NEW_FIELDS, ids=[c[0] for c in BAD_NEW_FIELDS])
def test_bad_new_fields_are_refused(fake: FakeAPI, case: str, change: dict[str, Any], field: str) -> None:
    """The new fields are checked like the old ones, and unknown keys are still refused."""
    body = {"model": "gpt-4o", "messages": [HELLO], **change}
    with pytest.raises(ValidationError) as caught:
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url).complete(
            ChatRequest.model_validate(body)
        )
    locations = [
        ".".join("*" if str(p).startswith("tuple[") else str(p) for p in e["loc"])
        for e in caught.value.errors()
    ]
    assert field in locations, f"{case}: {locations}"
    assert fake.received == []


def test_readable_keeps_an_error_of_the_sdks_own_as_it_was() -> None:
    """A custom error beside a refused text keeps its type and its message, braces and all."""
    from pydantic_core import PydanticCustomError  # noqa: PLC0415  (this test only)

    from typed_llm._json import readable  # noqa: PLC0415

    original = ValidationError.from_exception_data(
        "ChatRequest",
        [
            {
                "type": PydanticCustomError("stream_is_the_verb", "call {x} instead"),
                "loc": ("stream",),
                "input": True,
            },
            {"type": "string_unicode", "loc": ("user",), "input": LONE},
        ],
    )
    errors = readable(original).errors()
    assert [(e["type"], e["loc"], e["msg"]) for e in errors] == [
        (
            "value_error",
            ("user",),
            "Value error, text holds a lone surrogate (U+D800) at index 4, which UTF-8 cannot encode",
        ),
        ("stream_is_the_verb", ("stream",), "call {x} instead"),
    ]
