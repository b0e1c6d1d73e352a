"""Log probabilities of the answer's tokens, typed, whole and streamed (issue 22 item 4).

``ChatRequest(logprobs=True, top_logprobs=3)`` used to be sent and its answer's ``logprobs`` dropped.
Against the loopback fake (which answers with logprobs when asked): ``choice.logprobs`` holds one
frozen ``TokenLogprob`` per token, with its bytes and alternatives; a stream's ``TextDelta`` events
carry their tokens' entries and ``final_response()`` has them all, equal to ``complete()``'s; a
cached answer reads back with them and replays them as a stream. A body in the API's documented
shape (refusal tokens, a ``null`` bytes, a key newer than the SDK) parses; the real recorded
traffic, whose requests did not ask, parses with ``logprobs`` None, nothing left untyped.
"""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING

import pydantic
import pytest
import yaml

from helpers import FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ChoiceLogprobs,
    MemoryCache,
    OpenAIClient,
    RefusalDelta,
    TextDelta,
    TokenLogprob,
    UserMessage,
)

if TYPE_CHECKING:
    from typed_llm.testing import FakeAPI

ASKING = ChatRequest(
    model="gpt-4o-mini",
    messages=(UserMessage(content="name three colours"),),
    logprobs=True,
    top_logprobs=3,
)


def _client(fake: FakeAPI, cache: MemoryCache | None = None) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)


def _check_tokens(tokens: tuple[TokenLogprob, ...], text: str, top: int) -> None:
    assert "".join(token.token for token in tokens) == text
    assert b"".join(bytes(token.bytes or ()) for token in tokens) == text.encode()
    for token in tokens:
        assert token.logprob <= 0.0
        assert 0.0 < token.probability <= 1.0
        assert len(token.top_logprobs) == top
        assert token.top_logprobs[0].token == token.token  # the chosen token is the most likely
        assert [alt.logprob for alt in token.top_logprobs] == sorted(
            (alt.logprob for alt in token.top_logprobs), reverse=True
        )


def test_complete_returns_the_answers_logprobs(fake: FakeAPI) -> None:
    response = _client(fake).complete(ASKING)
    sent = fake.received[-1].json()
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 3)
    logprobs = response.choices[0].logprobs
    assert isinstance(logprobs, ChoiceLogprobs)
    assert logprobs.content is not None
    assert logprobs.refusal is None
    _check_tokens(logprobs.content, response.text, top=3)
    with pytest.raises(pydantic.ValidationError):
        logprobs.content[0].logprob = 0.0  # type: ignore[misc]  # frozen: the test is that it raises


def test_no_logprobs_unless_asked(fake: FakeAPI) -> None:
    response = _client(fake).complete(ASKING.replace(logprobs=None, top_logprobs=None))
    assert "logprobs" not in fake.received[-1].json()
    assert response.choices[0].logprobs is None
    assert response.choices[0].model_extra == {}


def test_a_stream_carries_each_deltas_logprobs_and_assembles_them(fake: FakeAPI) -> None:
    client = _client(fake)
    whole = client.complete(ASKING)
    with client.stream(ASKING) as stream:
        events = list(stream)
        final = stream.final_response()
    deltas = [event for event in events if isinstance(event, TextDelta)]
    assert len(deltas) > 1
    assert all(len(delta.logprobs) == 1 for delta in deltas)  # the fake sends a token per frame
    assert all(delta.logprobs[0].token == delta.text for delta in deltas)
    streamed = tuple(token for delta in deltas for token in delta.logprobs)
    assert final.choices[0].logprobs == whole.choices[0].logprobs
    assert final.choices[0].logprobs is not None
    assert final.choices[0].logprobs.content == streamed
    chunks = [event for event in events if isinstance(event, ChatChunk)]
    per_chunk = [c.choices[0].logprobs for c in chunks if c.choices and c.choices[0].logprobs]
    assert ChoiceLogprobs.concatenate(per_chunk) == final.choices[0].logprobs


def test_a_cached_answer_keeps_its_logprobs_and_replays_them_as_a_stream(fake: FakeAPI) -> None:
    client = _client(fake, cache=MemoryCache())
    first = client.complete(ASKING)
    again = client.complete(ASKING)
    with client.stream(ASKING) as stream:
        deltas = [event for event in stream if isinstance(event, TextDelta)]
        replayed = stream.final_response()
    assert len(fake.received) == 1  # both answered from the cache
    assert again == first
    assert replayed.choices[0].logprobs == first.choices[0].logprobs
    assert first.choices[0].logprobs is not None
    assert deltas[0].logprobs == first.choices[0].logprobs.content  # one delta per choice, whole


DOCUMENTED = {
    "id": "chatcmpl-doc",
    "object": "chat.completion",
    "created": 1_767_225_600,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "refusal": "I can't"},
            "logprobs": {
                "content": None,
                "refusal": [
                    {
                        "token": "I",
                        "logprob": -0.0001,
                        "bytes": [73],
                        "top_logprobs": [{"token": "I", "logprob": -0.0001, "bytes": [73]}],
                    },
                    {
                        "token": " can't",
                        "logprob": -0.02,
                        "bytes": None,
                        "top_logprobs": [],
                        "newer_field": 1,
                    },
                ],
            },
            "finish_reason": "stop",
        }
    ],
}


def test_a_documented_body_with_refusal_logprobs_parses_and_survives_a_dump() -> None:
    response = ChatResponse.model_validate(DOCUMENTED)
    logprobs = response.choices[0].logprobs
    assert logprobs is not None
    assert logprobs.content is None
    assert logprobs.refusal is not None
    assert [token.token for token in logprobs.refusal] == ["I", " can't"]
    assert logprobs.refusal[0].bytes == (73,)
    assert logprobs.refusal[1].bytes is None
    assert logprobs.refusal[1].model_extra == {"newer_field": 1}
    assert ChatResponse.model_validate_json(response.model_dump_json()) == response


def test_refusal_logprobs_come_on_refusal_deltas() -> None:
    from typed_llm._wire.chat_stream import replay_events  # noqa: PLC0415  (the stream of a stored answer)

    events = replay_events(ChatResponse.model_validate(DOCUMENTED))
    refusals = [event for event in events if isinstance(event, RefusalDelta)]
    assert len(refusals) == 1
    assert refusals[0].text == "I can't"
    assert [token.token for token in refusals[0].logprobs] == ["I", " can't"]


def _recorded_bodies() -> list[str]:
    bodies = []
    for path in sorted(REAL_TRAFFIC.glob("*/*.yaml")):
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            body = interaction["response"]["body"]["string"]
            if interaction["response"]["status"]["code"] == 200:
                raw = gzip.decompress(body) if isinstance(body, bytes) and body[:2] == b"\x1f\x8b" else body
                bodies.append(raw.decode() if isinstance(raw, bytes) else raw)
    return bodies


def test_real_traffic_choices_parse_with_typed_logprobs() -> None:
    """The recorded answers say ``"logprobs": null`` (nobody asked): typed as None, not an extra."""
    bodies = _recorded_bodies()
    choices = [
        choice for body in bodies if '"chat.completion"' in body for choice in json.loads(body)["choices"]
    ]
    chunks = [
        ChatChunk.model_validate_json(line.removeprefix("data:"))
        for body in bodies
        for line in body.splitlines()
        if line.startswith("data:") and '"chat.completion.chunk"' in line
    ]
    assert sum("logprobs" in raw for raw in choices) >= 5
    assert len(chunks) >= 20
    for raw in choices:
        choice = ChatResponse.model_validate({**DOCUMENTED, "choices": [raw]}).choices[0]
        assert choice.logprobs is None
        assert "logprobs" not in (choice.model_extra or {})
    for chunk in chunks:
        for part in chunk.choices:
            assert part.logprobs is None
            assert "logprobs" not in (part.model_extra or {})
