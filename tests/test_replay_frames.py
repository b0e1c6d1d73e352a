"""Frame-faithful recording and replay of streams (issue 17 item 5), against the paced loopback fake.

The fake streams 10 or more SSE frames 50 ms apart (``StreamScript.frame_delay``). Recording passes
each frame to the caller as it arrives (the first long before the last, where vcrpy would hand over
one blob at the end) and stores each frame's end and arrival offset beside the verbatim SSE body;
replay hands the same chunks over, at once by default or at the recorded pace with speed 1.0. The
chunks are read as the caller gets them, at httpx2's level (``iter_raw``), and through the SDK's
``stream()``, sync and async; the plugin's ``--llm-replay-speed``, ini option and marker are run in
a user's suite, in this process.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

import httpx2
import yaml

from helpers import FAKE_OPENAI_KEY
from test_plugin import GUARD, _libraries_imported, run
from typed_llm import AsyncOpenAIClient, ChatRequest, OpenAIClient, TextDelta, UserMessage
from typed_llm.testing import FakeAPI, FakeReply
from typed_llm.testing._vcr import make_vcr

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

__all__ = ["_libraries_imported"]  # the module fixture, shared with test_plugin.py

DELAY = 0.05
WORDS = "one two three four five six"
BODY = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": WORDS}],
    "stream": True,
    "stream_options": {"include_usage": True},
}
_DEAD = "http://127.0.0.1:9/v1"
AUTH = {"authorization": f"Bearer {FAKE_OPENAI_KEY}"}

Read = tuple[list[bytes], list[float]]
"""The chunks a caller read, and when (seconds after the response's headers)."""


def _read(base_url: str) -> Read:
    """POST a streamed chat request with plain httpx2 and read its raw chunks as they come."""
    chunks: list[bytes] = []
    times: list[float] = []
    with (
        httpx2.Client() as client,
        client.stream(
            "POST",
            f"{base_url}/chat/completions",
            json=BODY,
            headers=AUTH,
        ) as response,
    ):
        start = time.monotonic()
        for chunk in response.iter_raw():
            chunks.append(chunk)
            times.append(time.monotonic() - start)
    return chunks, times


def _frames(folder: Path, name: str) -> dict[str, list[int]]:
    data = yaml.safe_load((folder / name).read_text())
    frames: dict[str, list[int]] = data["interactions"][0]["response"]["typed_llm"]["frames"]
    return frames


def _ends(chunks: list[bytes]) -> list[int]:
    ends, total = [], 0
    for chunk in chunks:
        total += len(chunk)
        ends.append(total)
    return ends


def _record(folder: Path) -> Read:
    with FakeAPI() as fake, make_vcr(folder, "once").use_cassette("s.yaml"):
        fake.enqueue(FakeReply.streamed(frame_delay=DELAY))
        return _read(fake.openai_base_url)


def test_recording_passes_each_frame_on_as_it_arrives_and_stores_its_boundary_and_offset(
    tmp_path: Path,
) -> None:
    """The caller reads 10+ chunks, the first long before the last; the cassette holds exactly those."""
    chunks, times = _record(tmp_path)
    assert len(chunks) >= 10
    assert times[0] < DELAY * 3 < times[-1] - DELAY * 3  # live: vcrpy's recorder gives one chunk at the end
    frames = _frames(tmp_path, "s.yaml")
    assert frames["ends"] == _ends(chunks)
    assert all(abs(at / 1000 - seen) < DELAY / 2 for at, seen in zip(frames["at_ms"], times, strict=True))
    text = (tmp_path / "s.yaml").read_text()
    body = yaml.safe_load(text)["interactions"][0]["response"]["body"]["string"]
    assert body.encode() == b"".join(chunks)  # the SSE text verbatim, as vcrpy and other tools read it
    assert body.startswith("data: {")
    assert body.endswith("data: [DONE]\n\n")


def test_replay_yields_the_same_frames_at_once_or_at_the_recorded_pace(tmp_path: Path) -> None:
    """Speed 0: the same boundaries, all at once; speed 1.0: the same boundaries within 10 % of the timing."""
    recorded, _ = _record(tmp_path)
    frames = _frames(tmp_path, "s.yaml")
    with make_vcr(tmp_path, "none").use_cassette("s.yaml"):
        at_once, at_once_times = _read(_DEAD)
    assert at_once == recorded
    assert at_once_times[-1] < DELAY
    with make_vcr(tmp_path, "none", replay_speed=1.0).use_cassette("s.yaml"):
        paced, paced_times = _read(_DEAD)
    assert paced == recorded
    total = frames["at_ms"][-1] / 1000
    assert abs(paced_times[-1] - total) <= 0.1 * total
    for at, seen in zip(frames["at_ms"], paced_times, strict=True):
        assert abs(seen - at / 1000) <= 0.1 * total, (seen, at)
    with make_vcr(tmp_path, "none", replay_speed=4.0).use_cassette("s.yaml"):
        _, fast_times = _read(_DEAD)
    assert abs(fast_times[-1] - total / 4) <= 0.1 * total


def _events_paced(client: OpenAIClient, request: ChatRequest) -> list[float]:
    start = time.monotonic()
    with client.stream(request) as stream:
        times = [time.monotonic() - start for event in stream if isinstance(event, TextDelta)]
        assert stream.final_response().text == f"Echo: {WORDS}"
    return times


def test_the_sdk_stream_replays_its_events_at_the_recorded_pace_sync_and_async(tmp_path: Path) -> None:
    """Through ``stream()``: text deltas come one per recorded frame, spaced as recorded."""
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=WORDS),))
    with FakeAPI() as fake, make_vcr(tmp_path, "once").use_cassette("sdk.yaml"):
        fake.enqueue(FakeReply.streamed(frame_delay=DELAY))
        live = _events_paced(OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url), request)
    assert live[-1] - live[0] > DELAY * 5
    with make_vcr(tmp_path, "none", replay_speed=1.0).use_cassette("sdk.yaml"):
        replayed = _events_paced(OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=_DEAD), request)
    spread = live[-1] - live[0]
    assert len(replayed) == len(live)
    assert abs((replayed[-1] - replayed[0]) - spread) <= 0.1 * spread

    async def read_async() -> list[float]:
        client = AsyncOpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=_DEAD)
        start = time.monotonic()
        async with client.stream(request) as stream:
            return [time.monotonic() - start async for event in stream if isinstance(event, TextDelta)]

    with make_vcr(tmp_path, "none", replay_speed=1.0).use_cassette("sdk.yaml"):
        awaited = asyncio.run(read_async())
    assert len(awaited) == len(live)
    assert abs((awaited[-1] - awaited[0]) - spread) <= 0.1 * spread


def test_a_recording_without_frames_or_with_frames_that_no_longer_fit_replays_as_one_body(
    tmp_path: Path,
) -> None:
    """Older cassettes (no frames) and hand-edited bodies replay whole; the SDK's SSE parser splits them."""
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=WORDS),))
    with FakeAPI() as fake, make_vcr(tmp_path, "once").use_cassette("sdk.yaml"):
        fake.enqueue(FakeReply.streamed(frame_delay=0.0))
        with OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url).stream(request) as stream:
            expected = list(stream)
    path = tmp_path / "sdk.yaml"
    data = yaml.safe_load(path.read_text())
    response = data["interactions"][0]["response"]
    for edit in ("drop", "shift"):
        if edit == "drop":
            del response["typed_llm"]
        else:
            response["typed_llm"] = {"frames": {"headers_ms": 0, "ends": [5, 10], "at_ms": [0, 0]}}
        path.write_text(yaml.safe_dump(data))
        with make_vcr(tmp_path, "none", replay_speed=1.0).use_cassette("sdk.yaml"):
            chunks, _ = _read(_DEAD)
        assert len(chunks) == 1, edit  # one body, as vcrpy replays it
        with (
            make_vcr(tmp_path, "none", replay_speed=1.0).use_cassette("sdk.yaml"),
            OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=_DEAD).stream(request) as stream,
        ):
            assert list(stream) == expected, edit


def test_a_key_in_a_streamed_frame_is_scrubbed_and_the_boundaries_follow(tmp_path: Path) -> None:
    """Scrubbing shortens the frames that echo a key; the stored ends still cut the stored body."""
    key = "sk-test-frames-0123456789abcdefghij"
    body = {**BODY, "messages": [{"role": "user", "content": f"my key {key} ok"}]}
    with FakeAPI() as fake, make_vcr(tmp_path, "once").use_cassette("k.yaml"):
        fake.enqueue(FakeReply.streamed(frame_delay=0.01))
        with (
            httpx2.Client() as client,
            client.stream(
                "POST", f"{fake.openai_base_url}/chat/completions", json=body, headers=AUTH
            ) as response,
        ):
            live = b"".join(response.iter_raw())
    assert key.encode() in live
    text = (tmp_path / "k.yaml").read_text()
    assert key not in text
    stored = yaml.safe_load(text)["interactions"][0]["response"]
    content = stored["body"]["string"].encode()
    assert b"sk-REDACTED" in content
    assert stored["typed_llm"]["frames"]["ends"][-1] == len(content)
    with (
        make_vcr(tmp_path, "none").use_cassette("k.yaml"),
        httpx2.Client() as client,
        client.stream("POST", f"{_DEAD}/chat/completions", json=body, headers=AUTH) as response,
    ):
        chunks = list(response.iter_raw())
    assert b"".join(chunks) == content
    assert _ends(chunks) == stored["typed_llm"]["frames"]["ends"]
    assert len(chunks) > 5


# --- the plugin ------------------------------------------------------------------------------------

PACED_SUITE = """
import json
import time
from pathlib import Path

import pytest
from typed_llm import ChatRequest, OpenAIClient, TextDelta, UserMessage
from typed_llm.testing import FakeReply

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="one two three four five six"),))


def _spread(llm_base_url, llm_fake, name):
    llm_fake.enqueue(FakeReply.streamed(frame_delay=0.05))
    times = []
    with OpenAIClient(api_key="sk-test-paced", base_url=llm_base_url).stream(REQUEST) as stream:
        for event in stream:
            if isinstance(event, TextDelta):
                times.append(time.monotonic())
    Path(name).write_text(json.dumps(times[-1] - times[0]))


def test_paced(llm_cassette, llm_base_url, llm_fake, llm_replay_speed):
    _spread(llm_base_url, llm_fake, "paced.json")
    Path("speed.json").write_text(json.dumps(llm_replay_speed))


@pytest.mark.llm_cassette(replay_speed=1.0)
def test_marked(llm_cassette, llm_base_url, llm_fake):
    _spread(llm_base_url, llm_fake, "marked.json")
"""


def _spread(pytester: pytest.Pytester, name: str) -> float:
    value: float = json.loads((pytester.path / name).read_text())
    return value


def test_the_plugin_replays_at_once_by_default_and_at_the_pace_asked_for(pytester: pytest.Pytester) -> None:
    """``--llm-replay-speed``, the ini option and the marker set the pace; the fixture reports it."""
    pytester.makeconftest(GUARD)
    pytester.makepyfile(test_paced=PACED_SUITE)
    run(pytester, "--llm-record-mode=once").assert_outcomes(passed=2)
    recorded = _spread(pytester, "paced.json")
    assert recorded > 0.2
    run(pytester).assert_outcomes(passed=2)
    assert _spread(pytester, "paced.json") < 0.05
    assert json.loads((pytester.path / "speed.json").read_text()) == 0
    assert abs(_spread(pytester, "marked.json") - recorded) <= 0.1 * recorded
    run(pytester, "--llm-replay-speed=1.0").assert_outcomes(passed=2)
    assert abs(_spread(pytester, "paced.json") - recorded) <= 0.1 * recorded
    pytester.makeini("[pytest]\nllm_replay_speed = 2\n")
    run(pytester).assert_outcomes(passed=2)
    assert json.loads((pytester.path / "speed.json").read_text()) == 2.0
    assert abs(_spread(pytester, "paced.json") - recorded / 2) <= 0.1 * recorded
    refused = run(pytester, "--llm-replay-speed=-1")
    assert refused.ret != 0
    assert "0 (at once) or a positive factor" in refused.stderr.str()
