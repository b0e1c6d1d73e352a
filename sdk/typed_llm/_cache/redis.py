"""``RedisCache``: one response cache shared by a fleet of workers, sync and async, through redis-py.

Keys are the same content addresses as SQLite's, under a prefix carrying the key version
(``typed-llm:v2:e:<key>``), and values the same bytes (``entry.py``), so an entry reads the same in
either backend. A write is one atomic ``SET ... NX EX``: the first answer stored for a key stays,
and its time to live is set with it, never by a second command a crash could skip.

Redis is a cache, not a dependency: every command has a bounded timeout (connect and read), redis-py's
own retries are off, and a failure is a ``CacheError`` that the caching layer turns into a
``cache_error`` warning while the call goes on to the API. After a connection failure the cache
stays out of the way for ``down_for`` seconds (each call a fast miss), then tries again, so a Redis
that is down or slow costs each call at most one timeout every ``down_for`` seconds.

redis-py's asyncio connections belong to the event loop that opened them (redis-py #3351, #3492):
the async methods keep one client, with its own pool, per event loop. ``stats``, ``clear`` and
``invalidate`` see only this prefix, walking it with SCAN (never KEYS, which blocks the server).

The single-flight lease (``redis_flight.py``) uses the same connections.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.parse
import weakref
from typing import TYPE_CHECKING, Final, TypeVar, cast

from typed_llm._cache.base import CacheStats
from typed_llm._cache.entry import describe_entry, invalidation_cutoff, matches
from typed_llm._cache.key import KEY_VERSION
from typed_llm._errors import CacheError, ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator
    from datetime import datetime, timedelta

    import redis
    import redis.asyncio

__all__ = ["RedisCache"]

T = TypeVar("T")

_BATCH: Final = 500
"""Keys per SCAN step and per pipelined batch of reads or deletes."""


def _safe_location(url: str) -> str:
    """The URL without its password, for messages and ``stats().location``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


_PUBLISHED_MS: Final = 5000
"""Milliseconds a single-flight leader's published answer lives: long enough for its waiters to
read it once woken; after that the cache holds it."""


class RedisCache:
    """A cache in Redis, shared by processes and hosts; use it from sync and async clients alike.

    Args:
        url: ``redis://[[user]:password@]host:port/db`` (``rediss://`` for TLS).
        prefix: the namespace of every key; caches with different prefixes never meet.
        ttl: seconds an entry lives (Redis expires it); None for ever.
        timeout: seconds a connect or a command may take before the call goes on without the cache.
        down_for: seconds the cache stays out of the way after a connection failure.
        lease: seconds a single-flight leader holds its lease; a leader that dies is taken over
            by one waiter after this long. Make it longer than a slow answer takes.
        flight_wait: seconds a caller waits for another process's identical call before it gives
            up and calls the API itself.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "typed-llm",
        ttl: float | None = None,
        timeout: float = 0.25,
        down_for: float = 1.0,
        lease: float = 60.0,
        flight_wait: float = 120.0,
    ) -> None:
        for name, seconds in (("timeout", timeout), ("lease", lease), ("flight_wait", flight_wait)):
            if not 0 < seconds < float("inf"):
                raise ValueError(f"{name} must be a positive, finite number of seconds, got {seconds}")
        if ttl is not None and not 0 < ttl < float("inf"):
            raise ValueError(f"ttl must be a positive, finite number of seconds (None: for ever), got {ttl}")
        if not 0 <= down_for < float("inf"):
            raise ValueError(f"down_for must be a finite number of seconds >= 0, got {down_for}")
        self.url = url
        self.location = _safe_location(url)
        self.prefix = f"{prefix}:v{KEY_VERSION}"
        self.ttl_ms = None if ttl is None else max(1, round(ttl * 1000))
        self.lease_ms = max(1, round(lease * 1000))
        self.published_ms = min(self.lease_ms, _PUBLISHED_MS)
        self.flight_wait = flight_wait
        self.timeout = timeout
        self._down_for = down_for
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        try:  # redis-py is the optional ``redis`` extra: importing typed_llm must not need it
            import redis  # noqa: PLC0415
            import redis.asyncio  # noqa: PLC0415
            import redis.asyncio.retry  # noqa: PLC0415
            import redis.retry  # noqa: PLC0415
            from redis.backoff import NoBackoff  # noqa: PLC0415
        except ImportError as exc:
            raise ConfigurationError("RedisCache needs redis-py: pip install 'typed-llm[redis]'") from exc
        self._redis = redis
        self._failures: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._link_failures: tuple[type[BaseException], ...] = (
            redis.ConnectionError,
            redis.TimeoutError,
            OSError,
        )
        # redis-py's own retries are off: the one place that decides is the caller (a miss, at once)
        self._new_async: Callable[[], redis.asyncio.Redis] = lambda: redis.asyncio.Redis.from_url(
            url,
            retry=redis.asyncio.retry.Retry(NoBackoff(), 0),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            retry=redis.retry.Retry(NoBackoff(), 0),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
            weakref.WeakKeyDictionary()
        )

    # --- keys and the guard ---------------------------------------------------------------------

    def entry_key(self, key: str) -> str:
        """The Redis key of cache key ``key``."""
        return f"{self.prefix}:e:{key}"

    def aclient(self) -> redis.asyncio.Redis:
        """This event loop's async client (one pool per loop: a pool must not cross loops)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._loops.get(loop)
            if client is None:
                client = self._loops[loop] = self._new_async()
            return client

    def guarded(self, operation: str, run: Callable[[], T]) -> T:
        """``run()``, with every Redis failure a ``CacheError`` (and the cache resting after a lost link)."""
        self._check(operation)
        try:
            return run()
        except self._failures as exc:
            raise self._failed(operation, exc) from exc

    async def aguarded(self, operation: str, run: Callable[[], Awaitable[T]]) -> T:
        """The async ``guarded``."""
        self._check(operation)
        try:
            return await run()
        except self._failures as exc:
            raise self._failed(operation, exc) from exc

    def _check(self, operation: str) -> None:
        left = self._down_until - time.monotonic()
        if left > 0:
            raise CacheError(
                f"RedisCache at {self.location} is resting after a connection failure ({operation} "
                f"skipped; it tries again in {left:.2f} s)",
                path=self.location,
            )

    def _failed(self, operation: str, exc: BaseException) -> CacheError:
        if isinstance(exc, self._link_failures):
            self._down_until = time.monotonic() + self._down_for
        return CacheError(
            f"RedisCache at {self.location} failed to {operation}: {type(exc).__name__}: {exc}; the call "
            "goes on without the cache",
            path=self.location,
        )

    def _count(self, *, hit: bool) -> None:
        with self._lock:
            if hit:
                self._hits += 1
            else:
                self._misses += 1

    # --- the Cache protocol, sync and async -------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None.

        Raises:
            CacheError: Redis is down, slow or refused the command (the caching layer: a miss).
        """
        value = self.guarded("get", lambda: cast("bytes | None", self.client.get(self.entry_key(key))))
        self._count(hit=value is not None)
        return value

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` with the cache's TTL, in one ``SET NX``: an answer already there stays."""
        name = self.entry_key(key)
        self.guarded("set", lambda: self.client.set(name, value, nx=True, px=self.ttl_ms))

    def discard(self, key: str) -> None:
        """Remove the entry under ``key`` (a damaged one, so the next answer can take its place)."""
        self.guarded("discard", lambda: self.client.delete(self.entry_key(key)))

    async def aget(self, key: str) -> bytes | None:
        """The async ``get``."""
        client = self.aclient()
        value = await self.aguarded(
            "get", lambda: cast("Awaitable[bytes | None]", client.get(self.entry_key(key)))
        )
        self._count(hit=value is not None)
        return value

    async def aset(self, key: str, value: bytes) -> None:
        """The async ``set``."""
        client, name = self.aclient(), self.entry_key(key)
        await self.aguarded(
            "set", lambda: cast("Awaitable[object]", client.set(name, value, nx=True, px=self.ttl_ms))
        )

    async def adiscard(self, key: str) -> None:
        """The async ``discard``."""
        client = self.aclient()
        await self.aguarded("discard", lambda: cast("Awaitable[object]", client.delete(self.entry_key(key))))

    # --- the whole namespace (sync: a command line's, an operator's) --------------------------------

    def _names(self, match: str = "e:*") -> Iterator[list[bytes]]:
        """The entry keys under this prefix, in batches (SCAN, so the server never blocks)."""
        batch: list[bytes] = []
        for name in self.client.scan_iter(match=f"{self.prefix}:{match}", count=_BATCH):
            batch.append(cast("bytes", name))
            if len(batch) == _BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _values(self) -> Iterator[tuple[bytes, bytes]]:
        for names in self._names():
            values = cast("list[bytes | None]", self.client.mget(names))
            yield from ((name, value) for name, value in zip(names, values, strict=True) if value is not None)

    def stats(self) -> CacheStats:
        """Entries and bytes under this prefix, and this instance's hits and misses."""

        def count() -> tuple[int, int]:
            entries = size = 0
            for names in self._names():
                pipe = self.client.pipeline(transaction=False)
                for name in names:
                    pipe.strlen(name)
                sizes = cast("list[int]", pipe.execute())
                entries += len(names)
                size += sum(sizes)
            return entries, size

        entries, size = self.guarded("stats", count)
        with self._lock:
            return CacheStats(entries, size, self._hits, self._misses, self.location)

    def stored_values(self) -> list[bytes]:
        """Every value under this prefix (what a replay-only cache searches on a miss)."""
        return self.guarded("stored_values", lambda: [value for _name, value in self._values()])

    def entries_by_model(self) -> dict[str, int]:
        """How many entries each model snapshot answered (``"unknown"``: an unreadable entry)."""

        def count() -> dict[str, int]:
            found: dict[str, int] = {}
            for _name, value in self._values():
                model = describe_entry(value)[0] or "unknown"
                found[model] = found.get(model, 0) + 1
            return found

        return self.guarded("stats", count)

    def clear(self) -> None:
        """Remove every entry under this prefix (other prefixes and other data stay)."""

        def delete() -> None:
            for names in self._names():
                self.client.unlink(*names)
            self._drop_published()

        self.guarded("clear", delete)

    def _drop_published(self) -> None:
        # Answers single-flight leaders published for their waiters (seconds-lived): an entry
        # removed on purpose must not come back through one of them.
        for names in self._names("flight:*:done"):
            self.client.unlink(*names)

    def invalidate(self, *, model: str | None = None, older_than: datetime | timedelta | None = None) -> int:
        """Remove the entries of ``model`` (``response.model``), or written before ``older_than``, or both.

        Args:
            model: the model snapshot, as the API named it (``gpt-4o-2024-08-06``).
            older_than: an aware ``datetime``, or a ``timedelta`` (an age). Entries stored before
                provenance was recorded count as older than any.

        Returns:
            How many entries were removed.

        Raises:
            ValueError: neither condition was given (``clear()`` removes everything).
        """
        cutoff = invalidation_cutoff(model, older_than)

        def delete() -> int:
            doomed = [name for name, value in self._values() if matches(value, model, cutoff)]
            for start in range(0, len(doomed), _BATCH):
                self.client.unlink(*doomed[start : start + _BATCH])
            self._drop_published()
            return len(doomed)

        return self.guarded("invalidate", delete)

    def close(self) -> None:
        """Close the sync connection pool (async pools close with their event loop's clients)."""
        self.client.close()

    async def aclose(self) -> None:
        """Close this event loop's async pool."""
        with self._lock:
            client = self._loops.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
