"""Streaming chat completions through the public ``stream()`` (issue 17).

Real recorded streams (OpenAI and Azure, filter-only chunks included) are replayed through the
clients, sync and async, and every manifest fact comes out of the events and ``final_response()``.
Against the loopback fake: the events of a live stream, ``final_response()`` equal to
``complete()``, ``stream_parse``, retries only before the first event, a drop, a stall, Azure's
filter, an early ``break`` (under ``-W error``: no ResourceWarning), the cache both ways, the log
event, the pre-flight check.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from pydantic import BaseModel
from structlog.testing import capture_logs

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    APITimeoutError,
    AsyncAzureClient,
    AsyncOpenAIClient,
    AuthenticationError,
    AzureClient,
    Cached,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ChatStream,
    ChatStreamEvent,
    ChoiceDone,
    ContentFiltered,
    ContentFilterError,
    ContextWindowExceededError,
    ExponentialBackoff,
    MemoryCache,
    NoRetry,
    OpenAIClient,
    Retrying,
    StreamInterruptedError,
    TextDelta,
    ToolCall,
    ToolCallDone,
    UsageReported,
    UserMessage,
)
from typed_llm._wire.operation import RawResponse
from typed_llm._wire.sse import parse_chat_stream
from typed_llm.testing import FakeReply
from typed_llm.testing._vcr import make_vcr

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typed_llm.testing import FakeAPI

Entry = dict[str, Any]  # a manifest entry: JSON of a documented but loose shape
STREAMS: list[Entry] = json.loads((REAL_TRAFFIC / "manifest-streams.json").read_text())
REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="say four words please"),))
QUICK = ExponentialBackoff(wait_initial=0.001, wait_jitter=0.0)


# --- real traffic -----------------------------------------------------------------------------------


def _recorded(entry: Entry) -> Mapping[str, Any]:
    interactions = yaml.safe_load((REAL_TRAFFIC / entry["file"]).read_text())["interactions"]
    recorded: Mapping[str, Any] = interactions[entry["interaction"]]
    return recorded


def _client_options(uri: str, model: str) -> tuple[bool, dict[str, Any]]:
    """Whether the recording is Azure's, and the client options that reach its path (and api-version)."""
    url = urlsplit(uri)
    if "/openai/deployments/" in url.path:
        deployment = url.path.split("/openai/deployments/")[1].split("/")[0]
        return True, {
            "endpoint": f"{url.scheme}://{url.netloc}",
            "api_version": parse_qs(url.query)["api-version"][0],
            "api_key": FAKE_AZURE_KEY,
            "deployments": {model: deployment},
        }
    return False, {"api_key": FAKE_OPENAI_KEY, "base_url": f"{url.scheme}://{url.netloc}/v1"}


def _replayed_events(entry: Entry, *, use_async: bool) -> tuple[list[ChatStreamEvent], ChatResponse]:
    recorded = _recorded(entry)
    model = json.loads(recorded["request"]["body"])["model"]
    request = ChatRequest(model=model, messages=(UserMessage(content="replayed"),))
    folder, name = (REAL_TRAFFIC / entry["file"]).parent, (REAL_TRAFFIC / entry["file"]).name
    azure, options = _client_options(recorded["request"]["uri"], model)
    with make_vcr(folder, "none", match_body=False).use_cassette(name, allow_playback_repeats=True):
        if not use_async:
            client = AzureClient(**options) if azure else OpenAIClient(**options)
            with client.stream(request) as stream:
                events = list(stream)
                return events, stream.final_response()

        async def run() -> tuple[list[ChatStreamEvent], ChatResponse]:
            client = AsyncAzureClient(**options) if azure else AsyncOpenAIClient(**options)
            async with client, client.stream(request) as stream:
                events = [event async for event in stream]
                return events, await stream.final_response()

        return asyncio.run(run())


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("entry", STREAMS, ids=[e["file"].removeprefix("streams/") for e in STREAMS])
def test_recorded_streams_through_stream(entry: Entry, use_async: bool) -> None:
    """Events in order and ``final_response()`` with every manifest fact, for each recorded stream."""
    facts = entry["facts"]
    events, response = _replayed_events(entry, use_async=use_async)
    chunks = [event for event in events if isinstance(event, ChatChunk)]
    assert len(chunks) == facts["data_events"]
    prompt_filters = [e for e in events if isinstance(e, ContentFiltered) and e.prompt_index is not None]
    assert len(prompt_filters) == sum(len(c.prompt_filter_results) for c in chunks)
    assert bool(prompt_filters) == bool(facts["azure_prompt_filter_chunks"])
    for want in facts["choices"]:
        index = want["index"]
        text = "".join(e.text for e in events if isinstance(e, TextDelta) and e.choice_index == index)
        assert (text or None) == want["text"]
        done = [e for e in events if isinstance(e, ChoiceDone) and e.choice_index == index]
        assert [d.finish_reason for d in done] == [want["finish_reason"]]
        calls = [e.call for e in events if isinstance(e, ToolCallDone) and e.choice_index == index]
        assert [(c.id, c.function.name, c.function.arguments) for c in calls if isinstance(c, ToolCall)] == [
            (c["id"], c["name"], c["arguments"]) for c in want["tool_calls"]
        ]
        # a choice's tool calls are reported whole before the choice is
        assert all(
            events.index(c) < events.index(done[0])
            for c in events
            if isinstance(c, ToolCallDone) and c.choice_index == index
        )
    usage_events = [e for e in events if isinstance(e, UsageReported)]
    assert len(usage_events) == (0 if facts["usage"] is None else 1)
    raw = RawResponse(
        200, {k: v[0] for k, v in _recorded(entry)["response"]["headers"].items()}, _body(entry)
    )
    assert response == parse_chat_stream(raw).response  # what the one parser assembles, whole
    assert response.id == facts["ids"][0]


def _body(entry: Entry) -> bytes:
    body = _recorded(entry)["response"]["body"]["string"]
    return body.encode() if isinstance(body, str) else bytes(body)


# --- the fake ---------------------------------------------------------------------------------------


def _openai(fake: FakeAPI, **options: Any) -> OpenAIClient:
    return OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, **options)


def _facts(response: ChatResponse) -> tuple[object, ...]:
    choices = [
        (
            c.index,
            c.finish_reason,
            c.message.content,
            c.message.refusal,
            c.message.tool_calls,
            c.content_filter_results,
        )
        for c in response.choices
    ]
    return (
        response.model,
        choices,
        response.usage,
        response.system_fingerprint,
        response.service_tier,
        response.prompt_filter_results,
    )


def _same_answer(streamed: ChatResponse, completed: ChatResponse) -> None:
    """The fake numbers its answers, so ids and timestamps differ; every fact of the answer is the same."""
    assert _facts(streamed) == _facts(completed)


def test_a_live_stream_yields_text_then_the_finish_then_usage(fake: FakeAPI) -> None:
    """Text deltas in order, one ChoiceDone, one UsageReported last; the request asked for usage."""
    with _openai(fake).stream(REQUEST) as stream:
        events = list(stream)
        response = stream.final_response()
    kinds = [type(e).__name__ for e in events if not isinstance(e, ChatChunk)]
    assert kinds == ["TextDelta"] * 5 + ["ChoiceDone", "UsageReported"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == response.text
    body = fake.received[0].json()
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


def test_final_response_equals_complete_and_text_stream_is_the_text(fake: FakeAPI) -> None:
    """``final_response()`` is what ``complete()`` returns; ``text_stream`` yields only text."""
    client = _openai(fake)
    completed = client.complete(REQUEST)
    with client.stream(REQUEST) as stream:
        text = "".join(stream.text_stream)
        _same_answer(stream.final_response(), completed)
    assert text == completed.text
    assert "stream" not in fake.received[0].json()  # complete() never asks to stream


def test_final_response_reads_the_rest_after_an_early_stop(fake: FakeAPI) -> None:
    """Stopping iteration early (still inside ``with``), ``final_response()`` reads the rest."""
    with _openai(fake).stream(REQUEST) as stream:
        for event in stream:
            if isinstance(event, TextDelta):
                break
        assert stream.final_response().text == "Echo: say four words please"


def test_leaving_the_block_early_closes_the_connection(fake: FakeAPI) -> None:
    """A ``break`` out of ``with`` closes the stream (no ResourceWarning: warnings are errors here);
    the client's pool is reusable at once, and ``final_response()`` gives what had arrived."""
    fake.enqueue(FakeReply.streamed(frame_delay=0.05))
    client = _openai(fake)
    with client.stream(REQUEST) as stream:
        for event in stream:
            if isinstance(event, TextDelta):
                break
    partial = stream.final_response()
    assert partial.choices[0].message.content == "Echo: "
    assert partial.choices[0].finish_reason is None
    assert client.complete(REQUEST).text == "Echo: say four words please"


def test_an_error_before_the_first_event_is_the_same_as_complete(fake: FakeAPI) -> None:
    """A 401 is AuthenticationError; a 503 is retried before anything reached the caller."""
    fake.enqueue(FakeReply.error(401, "bad key", code="invalid_api_key"))
    with pytest.raises(AuthenticationError), _openai(fake).stream(REQUEST) as stream:
        list(stream)
    fake.enqueue(FakeReply.error(503, "busy"))
    with _openai(fake, backoff=QUICK).stream(REQUEST) as stream:
        assert stream.final_response().text == "Echo: say four words please"
    assert len(fake.received) == 3


def test_a_drop_after_events_is_stream_interrupted_with_the_partial_answer(fake: FakeAPI) -> None:
    """The connection drops after 4 frames: StreamInterruptedError, what arrived, not retried."""
    fake.enqueue(FakeReply.streamed(drop_after=4))
    client = _openai(fake, backoff=QUICK)
    seen: list[str] = []
    with pytest.raises(StreamInterruptedError) as caught, client.stream(REQUEST) as stream:
        seen.extend(event.text for event in stream if isinstance(event, TextDelta))
    error = caught.value
    assert seen == ["Echo: ", "say ", "four "]
    assert isinstance(error.partial, ChatResponse)  # a chat stream's partial answer
    assert error.partial.choices[0].message.content == "Echo: say four "
    assert error.events > 0
    assert len(fake.received) == 1  # never retried once the caller had events


def test_a_drop_before_any_event_is_retried(fake: FakeAPI) -> None:
    """Dropped after the headers, before the first frame: nothing reached the caller, so it is retried."""
    fake.enqueue(FakeReply.streamed(drop_after=0))
    with _openai(fake, backoff=QUICK).stream(REQUEST) as stream:
        assert stream.final_response().text == "Echo: say four words please"
    assert len(fake.received) == 2


def test_a_stalled_stream_ends_at_the_idle_timeout(fake: FakeAPI) -> None:
    """No byte for longer than ``stream_idle_timeout``: APITimeoutError (here after events: interrupted)."""
    fake.enqueue(FakeReply.streamed(stall_after=3))
    client = _openai(fake, backoff=NoRetry(), stream_idle_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(StreamInterruptedError) as caught, client.stream(REQUEST) as stream:
        list(stream)
    assert time.monotonic() - started < 3
    assert isinstance(caught.value.__cause__, APITimeoutError)
    fake.enqueue(FakeReply.streamed(stall_after=0))
    with pytest.raises(APITimeoutError), client.stream(REQUEST) as stream:
        list(stream)


def test_azure_filter_mid_stream_raises_with_the_partial_text(fake: FakeAPI) -> None:
    """Azure's filter stops the completion: ContentFilterError with the text so far; nothing cached."""
    fake.enqueue(FakeReply.streamed(filter_after=2))
    cache = MemoryCache()
    client = AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, cache=cache)
    events: list[object] = []
    with pytest.raises(ContentFilterError) as caught, client.stream(REQUEST) as stream:
        events.extend(stream)
    error = caught.value
    assert error.stage == "completion"
    assert error.categories == ("violence",)
    assert error.response is not None
    assert error.response.choices[0].message.content == "Echo: say "
    assert isinstance(events[0], ChatChunk)
    assert events[0].id == ""  # Azure's filter-only first chunk, no index error
    assert cache.stats().entries == 0


def test_the_cache_serves_both_verbs(fake: FakeAPI) -> None:
    """stream() then complete() is a hit, and complete() then stream() replays the stored answer."""
    client = _openai(fake, cache=MemoryCache())
    with client.stream(REQUEST) as stream:
        streamed = stream.final_response()
    assert client.complete(REQUEST) == streamed
    other = REQUEST.model_copy(update={"messages": (UserMessage(content="another question"),)})
    completed = client.complete(other)
    with client.stream(other) as stream:
        events = list(stream)
        assert stream.final_response() == completed
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == completed.text
    assert [type(e).__name__ for e in events if not isinstance(e, ChatChunk)] == [
        "TextDelta", "ChoiceDone", "UsageReported"
    ]  # fmt: skip
    assert len(fake.received) == 2


def test_an_interrupted_stream_is_never_cached(fake: FakeAPI) -> None:
    """Only whole answers are stored: after a drop, the next call asks the API again."""
    cache = MemoryCache()
    fake.enqueue(FakeReply.streamed(drop_after=4))
    client = _openai(fake, cache=cache)
    with pytest.raises(StreamInterruptedError), client.stream(REQUEST) as stream:
        list(stream)
    assert cache.stats().entries == 0
    assert client.complete(REQUEST).text == "Echo: say four words please"


def test_one_log_event_per_stream(fake: FakeAPI) -> None:
    """The response event of a stream says how many events, the time to the first, attempts, usage."""
    fake.enqueue(FakeReply.error(503, "busy"))
    with capture_logs() as logs, _openai(fake, backoff=QUICK).stream(REQUEST) as stream:
        usage = stream.final_response().usage
    (response,) = [log for log in logs if log["event"] == "response"]
    assert response["events"] > 5
    assert response["time_to_first_event_ms"] > 0
    assert (response["attempt"], response["cache_hit"], response["finish_reason"]) == (2, False, "stop")
    assert usage is not None
    assert response["completion_tokens"] == usage.completion_tokens


def test_the_preflight_check_applies_to_streams(fake: FakeAPI) -> None:
    """A prompt that cannot fit the model's window is refused before anything is sent."""
    huge = ChatRequest(model="gpt-4", messages=(UserMessage(content="word " * 9000),))
    with pytest.raises(ContextWindowExceededError), _openai(fake).stream(huge) as stream:
        list(stream)
    assert fake.received == []


class Words(BaseModel):
    name: str
    country: str


def test_stream_parse_gives_the_parsed_answer(fake: FakeAPI) -> None:
    """``stream_parse``: the strict schema is sent, ``final_response().parsed`` is the model."""
    with _openai(fake).stream_parse(REQUEST, Words) as stream:
        parsed = stream.final_response()
    assert isinstance(parsed.parsed, Words)
    response_format = fake.received[0].json()["response_format"]
    assert isinstance(response_format, dict)
    assert response_format["type"] == "json_schema"


def test_a_public_layer_around_a_client_streams_too(fake: FakeAPI) -> None:
    """``Retrying`` around a client extends its pipeline: the stream is retried before its first event."""
    fake.enqueue(FakeReply.error(503, "busy"))
    wrapped = Retrying(_openai(fake, backoff=NoRetry()), QUICK)
    with wrapped.stream(REQUEST) as stream:
        assert stream.final_response().text == "Echo: say four words please"
    assert len(fake.received) == 2


def test_the_async_client_streams_with_the_same_events(fake: FakeAPI) -> None:
    """``async with client.stream(...)``, ``async for``, ``await final_response()``: as the sync form."""

    async def run() -> tuple[list[ChatStreamEvent], ChatResponse, ChatResponse]:
        async with AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url) as client:
            completed = await client.complete(REQUEST)
            async with client.stream(REQUEST) as stream:
                events = [event async for event in stream]
                return events, await stream.final_response(), completed

    events, streamed, completed = asyncio.run(run())
    _same_answer(streamed, completed)
    assert [type(e).__name__ for e in events if not isinstance(e, ChatChunk)][-2:] == [
        "ChoiceDone",
        "UsageReported",
    ]


def test_the_async_stream_is_interrupted_and_closed_alike(fake: FakeAPI) -> None:
    """An async drop after events is StreamInterruptedError; an early break closes the connection."""
    fake.enqueue(FakeReply.streamed(drop_after=4))

    async def run() -> str | None:
        async with AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url) as client:
            async with client.stream(REQUEST) as stream:
                with pytest.raises(StreamInterruptedError):
                    await stream.final_response()
            async with client.stream(REQUEST) as stream:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        break
            return (await client.complete(REQUEST)).text

    assert asyncio.run(run()) == "Echo: say four words please"


class _ForeignClient:
    """A client that is not a pipeline (a user's own double): it streams by delegating to a real one."""

    def __init__(self, inner: OpenAIClient) -> None:
        self.inner = inner
        self.streams = 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        return self.inner.complete(request)

    def stream(self, request: ChatRequest) -> ChatStream[ChatResponse]:
        self.streams += 1
        return self.inner.stream(request)


def test_a_public_layer_around_a_foreign_client_streams_through_it(fake: FakeAPI) -> None:
    """``Cached`` around a client of the user's own: its stream's events pass through, the answer is
    stored, and the next ``stream()`` is replayed from the cache without asking the client again."""
    foreign = _ForeignClient(_openai(fake))
    cached = Cached(foreign, MemoryCache(), "foreign")  # type: ignore[arg-type]  # a partial double: no embed/parse
    with cached.stream(REQUEST) as stream:
        first = [event for event in stream if isinstance(event, TextDelta)]
        answer = stream.final_response()
    with cached.stream(REQUEST) as stream:
        assert stream.final_response() == answer
    assert "".join(e.text for e in first) == answer.text
    assert foreign.streams == 1
