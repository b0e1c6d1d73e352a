"""Frame-faithful recording and replay of streamed (SSE) answers, at httpx2's transport.

vcrpy 9.4's httpx2 stub reads a whole response body before handing the response back: while it
records, a stream's caller waits for the last frame before seeing the first, and the replay hands
everything over as one blob. The SDK's cassette installs these handlers on ``httpx2.HTTPTransport``
and ``httpx2.AsyncHTTPTransport`` instead (vcrpy's own still serve httpx2's WSGI and ASGI
transports, and every other library):

- a recorded answer that is a stream (``text/event-stream``) is teed: each chunk the transport
  reads goes on to the caller at once, and is kept with its arrival time. When the stream ends the
  interaction is recorded in vcrpy's format, the body being the SSE text verbatim, plus, in the
  response's ``typed_llm.frames``, each frame's end (``ends``: byte offsets in the body) and
  arrival (``at_ms``: milliseconds after the headers; ``headers_ms``: from the request to the
  headers). A stream that broke is not recorded (as vcrpy records nothing), and one the caller
  closed early is recorded as far as it arrived. Any other answer is read whole, as vcrpy does.
- a replayed answer with frames yields the same chunks with the same boundaries: at once (speed
  0, the default), or at the recorded pace divided by ``speed`` (1.0: as recorded; 2.0: twice as
  fast). An older recording without frames, or whose frames no longer match its body (a hand
  edit), replays as one body that the SDK's SSE parser splits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, cast

import attrs
import httpx2
from vcr import patch as vcr_patch
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.patch import CassettePatcherBuilder
from vcr.stubs.httpx_stubs import (
    _deserialize_response,  # vcrpy's own conversions, reused so that both stubs agree
    _make_vcr_request,
    _serialize_headers,
    vcr_handle_async_request,
    vcr_handle_request,
)

from typed_llm.testing._validate import OWN_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from vcr.request import Request as VCRRequest

    from typed_llm.testing._cassette import TypedCassette

__all__ = ["FramedPatcherBuilder", "Frames", "frames_of"]

# The transports' own handlers, as vcrpy saved them when it was imported (before any patching).
_REAL_SYNC: Final = vcr_patch._Httpx2HttpTransport_handle_request  # noqa: SLF001
_REAL_ASYNC: Final = vcr_patch._Httpx2AsyncHttpTransport_handle_async_request  # noqa: SLF001
_REAL_WSGI: Final = vcr_patch._Httpx2WsgiTransport_handle_request  # noqa: SLF001
_REAL_ASGI: Final = vcr_patch._Httpx2AsgiTransport_handle_async_request  # noqa: SLF001


@attrs.frozen
class Frames:
    """How a streamed answer arrived: where each frame ends in the body, and when it came."""

    ends: tuple[int, ...]
    """Byte offset in the body where each frame ends (increasing; the last is the body's length)."""
    at_ms: tuple[int, ...]
    """Milliseconds from the headers to each frame's arrival (non-decreasing)."""
    headers_ms: int = 0
    """Milliseconds from sending the request to the response's headers."""

    def as_data(self) -> dict[str, object]:
        """What a cassette stores under ``typed_llm.frames``."""
        return {"headers_ms": self.headers_ms, "ends": list(self.ends), "at_ms": list(self.at_ms)}

    def chunks(self, body: bytes) -> list[bytes]:
        """The body cut at the recorded boundaries."""
        starts = (0, *self.ends[:-1])
        return [body[start:end] for start, end in zip(starts, self.ends, strict=True)]


def frames_of(response: dict[str, object], body: bytes) -> Frames | None:
    """The frames recorded with ``response``, if any and if they still fit ``body``."""
    own = response.get(OWN_KEY)
    data = own.get("frames") if isinstance(own, dict) else None
    if not isinstance(data, dict):
        return None
    ends, at_ms, headers_ms = data.get("ends"), data.get("at_ms"), data.get("headers_ms", 0)
    if not (isinstance(ends, list) and isinstance(at_ms, list) and isinstance(headers_ms, int)):
        return None
    if not ends or len(ends) != len(at_ms) or not all(isinstance(v, int) for v in (*ends, *at_ms)):
        return None
    if ends[-1] != len(body) or any(b <= a for a, b in zip([0, *ends], ends, strict=False)):
        return None  # the body was edited since: replay it whole
    return Frames(ends=tuple(ends), at_ms=tuple(at_ms), headers_ms=headers_ms)


def _is_stream(response: httpx2.Response) -> bool:
    encoding = response.headers.get("content-encoding", "identity")
    return "text/event-stream" in response.headers.get("content-type", "") and encoding == "identity"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _scrubbed_frames(chunks: list[bytes], scrub: Callable[[str], str]) -> tuple[bytes, list[int]] | None:
    """The body and frame ends after scrubbing, or None when scrubbing moved a secret across frames."""
    body = b"".join(chunks)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if scrub(text) == text:
        ends, total = [], 0
        for chunk in chunks:
            total += len(chunk)
            ends.append(total)
        return body, ends
    try:
        pieces = [scrub(chunk.decode("utf-8")).encode() for chunk in chunks]
    except UnicodeDecodeError:
        return None
    if b"".join(pieces).decode() != scrub(text):
        return None
    ends, total = [], 0
    for piece in pieces:
        total += len(piece)
        ends.append(total)
    return b"".join(pieces), ends


@attrs.define(eq=False)
class _Tee(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A live stream passed through to the caller chunk by chunk, recorded when it ends."""

    inner: httpx2.SyncByteStream | httpx2.AsyncByteStream
    record: Callable[[list[bytes], list[int]], None]
    headers_at: float
    chunks: list[bytes] = attrs.field(factory=list)
    at_ms: list[int] = attrs.field(factory=list)
    done: bool = False

    def _keep(self, chunk: bytes) -> None:
        if chunk:
            self.chunks.append(chunk)
            self.at_ms.append(_ms(time.monotonic() - self.headers_at))

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            if self.chunks:
                self.record(self.chunks, self.at_ms)

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self.inner, httpx2.SyncByteStream)  # noqa: S101  (the sync transport's)
        try:
            for chunk in self.inner:
                self._keep(chunk)
                yield chunk
        except BaseException:
            self.done = True  # a stream that broke is not recorded
            raise
        self._finish()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self.inner, httpx2.AsyncByteStream)  # noqa: S101  (the async transport's)
        try:
            async for chunk in self.inner:
                self._keep(chunk)
                yield chunk
        except BaseException:
            self.done = True
            raise
        self._finish()

    def close(self) -> None:
        assert isinstance(self.inner, httpx2.SyncByteStream)  # noqa: S101
        try:
            self.inner.close()
        finally:
            self._finish()

    async def aclose(self) -> None:
        assert isinstance(self.inner, httpx2.AsyncByteStream)  # noqa: S101
        try:
            await self.inner.aclose()
        finally:
            self._finish()


@attrs.define(eq=False)
class _Paced(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A recorded stream replayed frame by frame, at once or at the recorded pace over ``speed``."""

    chunks: list[bytes]
    at_ms: tuple[int, ...]
    speed: float
    started: float = attrs.field(factory=time.monotonic)

    def _wait(self, index: int) -> float:
        if self.speed <= 0:
            return 0.0
        return self.started + self.at_ms[index] / 1000 / self.speed - time.monotonic()

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            wait = self._wait(index)
            if wait > 0:
                time.sleep(wait)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            wait = self._wait(index)
            if wait > 0:
                await asyncio.sleep(wait)
            yield chunk


def _replayed(cassette: TypedCassette, recorded: dict[str, object]) -> tuple[httpx2.Response, float]:
    """The response to hand back, and the seconds to wait before its headers (paced replay)."""
    response = cast("httpx2.Response", _deserialize_response(recorded, httpx2))
    body = recorded.get("body")
    raw = body.get("string") if isinstance(body, dict) else None
    frames = frames_of(recorded, raw) if isinstance(raw, bytes) else None
    speed = cassette.replay_speed
    if frames is None or raw is None:
        return response, 0.0
    response.stream = _Paced(frames.chunks(raw), frames.at_ms, speed)
    return response, (frames.headers_ms / 1000 / speed if speed > 0 else 0.0)


def _recorder(
    cassette: TypedCassette, request: VCRRequest, response: httpx2.Response, sent_at: float, headers_at: float
) -> Callable[[list[bytes], list[int]], None]:
    def record(chunks: list[bytes], at_ms: list[int]) -> None:
        stored: dict[str, object] = {
            "status": {"code": response.status_code, "message": response.reason_phrase},
            "headers": _serialize_headers(response),
        }
        scrubbed = _scrubbed_frames(chunks, cassette.scrub)
        if scrubbed is None:
            stored["body"] = {"string": b"".join(chunks)}
        else:
            body, ends = scrubbed
            stored["body"] = {"string": body}
            frames = Frames(ends=tuple(ends), at_ms=tuple(at_ms), headers_ms=_ms(headers_at - sent_at))
            stored[OWN_KEY] = {"frames": frames.as_data()}
        cassette.append(request, stored)

    return record


def _unrecorded(cassette: TypedCassette, request: VCRRequest) -> None:
    if cassette.write_protected and cassette.filter_request(request):
        raise CannotOverwriteExistingCassetteException(cassette=cassette, failed_request=request)


def _sync_handler(
    cassette: TypedCassette,
) -> Callable[[httpx2.HTTPTransport, httpx2.Request], httpx2.Response]:
    def handle(transport: httpx2.HTTPTransport, real_request: httpx2.Request) -> httpx2.Response:
        sent_at = time.monotonic()
        body = b"".join(real_request.stream)  # type: ignore[arg-type]  # a sync request's stream
        real_request.stream = httpx2.ByteStream(body)
        request = _make_vcr_request(real_request, body)
        if cassette.can_play_response_for(request):
            response, wait = _replayed(cassette, cassette.play_response(request))
            if wait > 0:
                time.sleep(wait)
            return response
        _unrecorded(cassette, request)
        response = cast("httpx2.Response", _REAL_SYNC(transport, real_request))
        headers_at = time.monotonic()
        if _is_stream(response):
            response.stream = _Tee(
                response.stream, _recorder(cassette, request, response, sent_at, headers_at), headers_at
            )
            return response
        stream = cast("httpx2.SyncByteStream", response.stream)
        try:
            content = b"".join(stream)
        except BaseException:
            with contextlib.suppress(Exception):
                stream.close()
            raise
        stream.close()  # the connection goes back to the pool; the response stays open, as vcrpy leaves it
        response.stream = httpx2.ByteStream(content)
        cassette.append(request, _whole(response, content))
        return response

    return handle


def _async_handler(cassette: TypedCassette) -> Callable[..., object]:
    async def handle(transport: httpx2.AsyncHTTPTransport, real_request: httpx2.Request) -> httpx2.Response:
        sent_at = time.monotonic()
        body = b"".join([part async for part in real_request.stream])  # type: ignore[union-attr]  # async
        real_request.stream = httpx2.ByteStream(body)
        request = _make_vcr_request(real_request, body)
        if cassette.can_play_response_for(request):
            response, wait = _replayed(cassette, cassette.play_response(request))
            if wait > 0:
                await asyncio.sleep(wait)
            return response
        _unrecorded(cassette, request)
        response = cast("httpx2.Response", await _REAL_ASYNC(transport, real_request))
        headers_at = time.monotonic()
        if _is_stream(response):
            response.stream = _Tee(
                response.stream, _recorder(cassette, request, response, sent_at, headers_at), headers_at
            )
            return response
        stream = cast("httpx2.AsyncByteStream", response.stream)
        try:
            content = b"".join([part async for part in stream])
        except BaseException:
            with contextlib.suppress(Exception):
                await stream.aclose()
            raise
        await stream.aclose()
        response.stream = httpx2.ByteStream(content)
        cassette.append(request, _whole(response, content))
        return response

    return handle


def _whole(response: httpx2.Response, content: bytes) -> dict[str, object]:
    return {
        "status": {"code": response.status_code, "message": response.reason_phrase},
        "headers": _serialize_headers(response),
        "body": {"string": content},
    }


class FramedPatcherBuilder(CassettePatcherBuilder):  # type: ignore[misc]  # vcrpy is untyped
    """vcrpy's patchers, with the frame-faithful handlers on httpx2's HTTP transports."""

    @CassettePatcherBuilder._build_patchers_from_mock_triples_decorator  # type: ignore[untyped-decorator]  # noqa: SLF001  (vcrpy's own, untyped)
    def _httpx2(self) -> Iterator[tuple[object, str, object]]:
        cassette = self._cassette
        yield httpx2.HTTPTransport, "handle_request", _sync_handler(cassette)
        yield httpx2.AsyncHTTPTransport, "handle_async_request", _async_handler(cassette)
        yield httpx2.WSGITransport, "handle_request", vcr_handle_request(cassette, _REAL_WSGI, httpx2)
        yield (
            httpx2.ASGITransport,
            "handle_async_request",
            vcr_handle_async_request(cassette, _REAL_ASGI, httpx2),
        )
