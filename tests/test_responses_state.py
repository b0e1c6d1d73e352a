"""Responses calls on state kept on the server (``previous_response_id``, ``conversation``).

Their answer depends on what the server holds, which the request does not say: the cache neither
answers nor stores them (whatever the server echoes), and replay answers one only with a recording
of a call continuing the same stored state, even where bodies are not matched; a miss says what
the recording depends on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from structlog.testing import capture_logs

from helpers import FAKE_OPENAI_KEY
from typed_llm import CachePolicy, MemoryCache, OpenAIClient, ResponsesRequest, UnrecordedRequestError
from typed_llm.testing import FakeReply, ServerStateWarning
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._vcr import make_vcr

if TYPE_CHECKING:
    from pathlib import Path

_DEAD = "http://127.0.0.1:9/v1"


def _openai(base_url: str, **options: Any) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=base_url, **options)


@pytest.mark.parametrize(
    "state", [{"previous_response_id": "resp_earlier"}, {"conversation": "conv_1"}], ids=["previous", "conv"]
)
def test_a_call_on_server_state_is_never_looked_up_nor_stored(fake: FakeAPI, state: dict[str, str]) -> None:
    """Both calls reach the server; the cache is not even asked (cache_bypassed, no cache_miss)."""
    cache = MemoryCache()
    client = _openai(fake.openai_base_url, cache=cache)
    request = ResponsesRequest.model_validate({"model": "gpt-4o-mini", "input": "hello", **state})
    with capture_logs() as logs:
        client.respond(request)
        client.respond(request)
    assert len(fake.received) == 2
    assert cache.stats().entries == 0
    events = [log["event"] for log in logs if log["event"].startswith("cache_")]
    assert events == ["cache_bypassed", "cache_bypassed"]


def test_the_decision_is_the_requests_not_the_servers_echo(fake: FakeAPI) -> None:
    """A server that does not echo previous_response_id in its answer: still not cached."""
    answer = _openai(fake.openai_base_url).respond(ResponsesRequest(model="gpt-4o-mini", input="hi"))
    body = answer.model_dump(mode="json", exclude={"request_id"})
    assert body["previous_response_id"] is None
    fake.enqueue(FakeReply(status=200, body=body))
    cache = MemoryCache()
    request = ResponsesRequest(model="gpt-4o-mini", input="hi", previous_response_id=answer.id)
    _openai(fake.openai_base_url, cache=cache).respond(request)
    assert cache.stats().entries == 0


def test_the_same_conversation_sent_whole_is_cached(fake: FakeAPI) -> None:
    """next_turn sends the conversation whole: nothing on the server, so the cache answers it."""
    client = _openai(fake.openai_base_url, cache=MemoryCache())
    first = ResponsesRequest(model="gpt-4o-mini", input="hello")
    second = first.next_turn(client.respond(first), "and again")
    assert client.respond(second) == client.respond(second)
    assert len(fake.received) == 2


def test_a_bypassing_policy_treats_sampled_responses_calls_as_stochastic(fake: FakeAPI) -> None:
    """CachePolicy(stochastic="bypass"): temperature unset (the API's 1) bypasses, 0 is cached."""
    client = _openai(fake.openai_base_url, cache=MemoryCache(), cache_policy=CachePolicy(stochastic="bypass"))
    sampled = ResponsesRequest(model="gpt-4o-mini", input="a poem")
    greedy = sampled.model_copy(update={"temperature": 0.0})
    for request in (sampled, sampled, greedy, greedy):
        client.respond(request)
    assert len(fake.received) == 3


# --- replay ------------------------------------------------------------------------------------


def _record_chain(folder: Path, *, match_body: bool) -> tuple[str, str]:
    """Record a first call and one continuing it; the two answers' ids."""
    with FakeAPI() as fake, make_vcr(folder, "once", match_body=match_body).use_cassette("chain.yaml"):
        client = _openai(fake.openai_base_url)
        first = client.respond(ResponsesRequest(model="gpt-4o-mini", input="remember 7"))
        second = client.respond(
            ResponsesRequest(model="gpt-4o-mini", input="what number?", previous_response_id=first.id)
        )
    return first.id, second.id


def test_a_recorded_chain_replays_in_order(tmp_path: Path) -> None:
    """The replayed first answer has the recorded id, so the continuation matches its recording."""
    first_id, second_id = _record_chain(tmp_path, match_body=True)
    client = _openai(_DEAD)
    with make_vcr(tmp_path, "none").use_cassette("chain.yaml"):
        first = client.respond(ResponsesRequest(model="gpt-4o-mini", input="remember 7"))
        second = client.respond(
            ResponsesRequest(model="gpt-4o-mini", input="what number?", previous_response_id=first.id)
        )
    assert (first.id, second.id) == (first_id, second_id)


def test_without_body_matching_a_continuation_needs_the_same_stored_response(tmp_path: Path) -> None:
    """match_body=False answers any prompt, but a call on another stored response is a miss, saying why."""
    first_id, second_id = _record_chain(tmp_path, match_body=False)
    client = _openai(_DEAD)
    with make_vcr(tmp_path, "none", match_body=False).use_cassette("chain.yaml", allow_playback_repeats=True):
        assert client.respond(ResponsesRequest(model="gpt-4o-mini", input="another prompt")).id == first_id
        same = ResponsesRequest(model="gpt-4o-mini", input="reworded", previous_response_id=first_id)
        assert client.respond(same).id == second_id
        other = same.model_copy(update={"previous_response_id": "resp_someone_else"})
        with pytest.raises(UnrecordedRequestError) as caught:
            client.respond(other)
    message = str(caught.value)
    assert "it continues state kept on the server (previous_response_id='resp_someone_else')" in message
    assert "re-record the whole test, not this call alone" in message


def test_recording_a_call_on_state_the_cassette_did_not_create_warns(tmp_path: Path) -> None:
    """A continuation of a response recorded elsewhere: ServerStateWarning; a chain in one cassette: none."""
    _record_chain(tmp_path, match_body=True)  # warnings are errors here: the chain warns of nothing
    with (
        FakeAPI() as fake,
        make_vcr(tmp_path, "once").use_cassette("alone.yaml"),
        pytest.warns(ServerStateWarning, match="previous_response_id='resp_from_yesterday'") as caught,
    ):
        _openai(fake.openai_base_url).respond(
            ResponsesRequest(model="gpt-4o-mini", input="go on", previous_response_id="resp_from_yesterday")
        )
    assert "record the call that creates it in the same test" in str(caught[0].message)
    assert "alone.yaml" in str(caught[0].message)
