"""Changing a request validates; ``stream=True`` says what to call (issue 22 items 5 and 8).

``request.replace(...)`` on every request model gives the changed copy validated as the constructor
validates a new one (the same ``ValidationError`` for the same bad value), where pydantic's
``model_copy(update=...)`` does not validate at all. Its keywords are typed (``Unpack`` of a
``TypedDict`` per model): a test here keeps each ``TypedDict`` equal to its model's fields, and
``tests/typing/misuse.py`` has mypy reject a misspelt or mistyped keyword.

``ChatRequest(stream=True)`` (and ``ResponsesRequest``'s, and ``replace(stream=True)``) fails with a
``stream_is_the_verb`` error naming ``client.stream(request)``; ``model_validate`` of a recorded
streaming body (``stream``, ``stream_options``) still validates, and ``complete()`` of it does not
stream (issue 17: the method called decides).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, get_type_hints

import pydantic
import pytest
import yaml

from helpers import FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    ChatRequest,
    ChatRequestChanges,
    EmbeddingRequest,
    EmbeddingRequestChanges,
    OpenAIClient,
    ResponsesRequest,
    ResponsesRequestChanges,
    SystemMessage,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_llm.testing import FakeAPI

CHAT = ChatRequest(
    model="gpt-4o-mini",
    messages=(SystemMessage(content="Be brief."), UserMessage(content="hi")),
    temperature=0.2,
    stop=("END",),
    metadata={"team": "search"},
    logit_bias={"50256": -100},
)
EMBEDDING = EmbeddingRequest(model="text-embedding-3-small", input=("a", "b"))
RESPONSES = ResponsesRequest(model="gpt-4o-mini", input="hi", metadata={"team": "search"})
REQUESTS: list[pydantic.BaseModel] = [CHAT, EMBEDDING, RESPONSES]


def _errors(error: pydantic.ValidationError) -> list[tuple[str, tuple[int | str, ...], str]]:
    return [(e["type"], e["loc"], e["msg"]) for e in error.errors()]


def _body(request: pydantic.BaseModel) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(request.model_dump_json(exclude_none=True))
    return decoded


def test_replace_changes_one_field_and_keeps_the_rest() -> None:
    changed = CHAT.replace(temperature=0.3, max_tokens=50)
    assert (changed.temperature, changed.max_tokens) == (0.3, 50)
    assert _body(changed) == {**_body(CHAT), "temperature": 0.3, "max_tokens": 50}
    assert changed.model_fields_set == CHAT.model_fields_set | {"max_tokens"}
    assert CHAT.temperature == 0.2  # the original is frozen and unchanged
    assert EMBEDDING.replace(dimensions=256).dimensions == 256
    assert _body(RESPONSES.replace(temperature=0.5)) == {**_body(RESPONSES), "temperature": 0.5}
    assert CHAT.replace() == CHAT


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"temperature": 5.0}, "temperature"),
        ({"n": "2"}, "n"),
        ({"messages": ()}, "messages"),
        ({"stop": ("a", "b", "c", "d", "e")}, "stop"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
    ],
)
def test_replace_refuses_what_the_constructor_refuses(bad: dict[str, Any], field: str) -> None:
    with pytest.raises(pydantic.ValidationError) as built:
        ChatRequest(**{**dict(CHAT), **bad})
    with pytest.raises(pydantic.ValidationError) as replaced:
        CHAT.replace(**bad)
    assert _errors(replaced.value) == _errors(built.value)
    assert replaced.value.errors()[0]["loc"][0] == field
    assert replaced.value.title == "ChatRequest"


def test_replace_refuses_unknown_names_on_every_request_model() -> None:
    for request in (CHAT, EMBEDDING, RESPONSES):
        with pytest.raises(pydantic.ValidationError) as caught:
            request.replace(tmperature=0.3)  # type: ignore[call-arg]  # the misspelling under test
        assert _errors(caught.value)[0][:2] == ("extra_forbidden", ("tmperature",))
    with pytest.raises(pydantic.ValidationError, match="less than or equal to 2"):
        RESPONSES.replace(temperature=5.0)
    with pytest.raises(pydantic.ValidationError, match="at least 1 item"):
        EMBEDDING.replace(input=())


def test_model_copy_skips_validation_and_replace_does_not() -> None:
    """What the README says of ``model_copy``: it builds the copy without validating it."""
    unchecked = CHAT.model_copy(update={"temperature": 5})
    assert unchecked.temperature == 5  # a request the API refuses, built without a word
    with pytest.raises(pydantic.ValidationError):
        CHAT.__replace__(temperature=5)  # copy.replace (Python 3.13) validates too
    assert CHAT.__replace__(temperature=1.0).temperature == 1.0


@pytest.mark.parametrize(
    ("model", "changes"),
    [
        (ChatRequest, ChatRequestChanges),
        (EmbeddingRequest, EmbeddingRequestChanges),
        (ResponsesRequest, ResponsesRequestChanges),
    ],
)
def test_each_changes_typeddict_is_its_models_fields(model: type[pydantic.BaseModel], changes: type) -> None:
    """Every field is a keyword of ``replace``, typed as the constructor types it (no field forgotten)."""
    field_types = get_type_hints(model)
    wanted = {name: field_types[name] for name in model.model_fields}
    assert get_type_hints(changes) == wanted
    assert not changes.__required_keys__  # type: ignore[attr-defined]  # TypedDict's runtime attribute


# --- stream=True ----------------------------------------------------------------------------------


def test_stream_true_says_to_call_stream() -> None:
    cases: list[Callable[[], object]] = [
        lambda: ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),), stream=True),
        lambda: CHAT.replace(stream=True),
        lambda: ResponsesRequest(model="gpt-4o-mini", input="hi", stream=True),
        lambda: RESPONSES.replace(stream=True),
    ]
    for case in cases:
        with pytest.raises(pydantic.ValidationError) as caught:
            case()
        (error,) = caught.value.errors()
        assert (error["type"], error["loc"]) == ("stream_is_the_verb", ("stream",))
        assert "client.stream(request)" in error["msg"]
    # stream=False (or leaving it out) is what complete() does anyway: accepted.
    assert (
        ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),), stream=False).stream is False
    )


def _recorded_streaming_bodies() -> list[dict[str, Any]]:
    bodies = []
    paths = [
        *sorted((REAL_TRAFFIC / "streams").glob("*.yaml")),
        REAL_TRAFFIC / "azure/chat_stream_gpt4o_mini.yaml",
    ]
    for path in paths:
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            body = json.loads(interaction["request"]["body"])
            if body.get("stream") is True:
                bodies.append(body)
    return bodies


def test_a_recorded_streaming_body_validates_and_complete_does_not_stream(fake: FakeAPI) -> None:
    bodies = _recorded_streaming_bodies()
    assert len(bodies) >= 4
    assert any("stream_options" in body for body in bodies)
    for body in bodies:
        request = ChatRequest.model_validate(body)
        assert request.stream is True
        assert _body(request) == body  # the wire body back, stream included
        assert request.replace(temperature=0.5).stream is True  # carried over, not refused
    request = ChatRequest.model_validate(bodies[0]).replace(model="gpt-4o-mini")
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    response = client.complete(request)
    sent = fake.received[-1].json()
    assert "stream" not in sent
    assert "stream_options" not in sent
    assert response.choices  # a whole answer, not a stream
    with client.stream(request) as stream:
        assert stream.final_response().choices[0].message == response.choices[0].message
    assert fake.received[-1].json()["stream"] is True
