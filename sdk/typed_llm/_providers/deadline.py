"""A whole HTTP attempt bounded by one deadline, connect, headers and body together.

httpx applies its timeout to each network operation separately: a server that trickles one byte
just inside the read timeout keeps an attempt alive for ever. The async transport bounds an attempt
with ``asyncio.timeout``. The blocking one cannot be interrupted from outside, so every socket
operation of the openai client's connection pools is given the time left before the attempt's
deadline (or less, if its own timeout is shorter), and none starts once it has passed: a trickle
then ends at the deadline as an ``APITimeoutError``.

The deadline reaches the sockets in a thread-local: the openai and httpx calls in between are a
foreign stack that cannot carry it. It is set only for the duration of one blocking attempt, by
the functions that make one (``SyncTransport.send`` and ``open``), and read only here.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import httpcore2
import httpx2

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterable

    from httpcore2._types import SOCKET_OPTION

__all__ = ["ATTEMPT", "bound_attempts"]


class _Attempt(threading.local):
    """This thread's blocking attempt: the ``time.monotonic()`` instant by which it must end.

    The transport sets ``deadline`` around one attempt and puts the one before back after it
    (a ``try``/``finally``, not a context manager: it wraps every blocking request, and the
    manager's object, ``__enter__`` and ``__exit__`` cost four times the two assignments).
    """

    deadline: float | None = None


ATTEMPT = _Attempt()


def _cut(timeout: float | None, error: type[httpcore2.TimeoutException]) -> float | None:
    deadline = ATTEMPT.deadline
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the attempt's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore2.NetworkStream):
    """A network stream whose every operation ends by the attempt's deadline."""

    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # _cut, written out: a read is the first thing that runs when an answer arrives
        deadline = ATTEMPT.deadline
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpcore2.ReadTimeout("the attempt's deadline passed")
            if timeout is None or left < timeout:
                timeout = left
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _cut(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, _cut(timeout, httpcore2.ConnectTimeout))
        return _Stream(tls)

    def get_extra_info(self, info: str) -> Any:  # noqa: ANN401  (httpcore's own signature)
        return self._inner.get_extra_info(info)


class _Backend(httpcore2.NetworkBackend):
    """Connects within the attempt's deadline and hands out deadline-bound streams."""

    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore2.NetworkStream:
        timeout = _cut(timeout, httpcore2.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SOCKET_OPTION] | None = None
    ) -> httpcore2.NetworkStream:
        timeout = _cut(timeout, httpcore2.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bound_attempts(client: object) -> bool:
    """Put the deadline-bound backend under every connection pool of an openai client's httpx client.

    Returns:
        Whether every pool could be reached (False for an HTTP client of another shape, a caller's
        own transport for one: its attempts are bounded by its own timeouts only).
    """
    http = getattr(client, "_client", None)  # openai keeps its httpx client there
    if not isinstance(http, httpx2.Client):
        return False
    transports = [http._transport, *http._mounts.values()]  # noqa: SLF001  (httpx offers no public way to the pools)
    bounded = True
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, _Backend):
            continue
        if not isinstance(backend, httpcore2.NetworkBackend):
            bounded = bounded and transport is None
            continue
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]  # noqa: SLF001  (read when a connection opens)
    return bounded
