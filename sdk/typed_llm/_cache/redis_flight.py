"""The single-flight lease across processes and hosts: one Redis key per in-flight call.

A caller that misses the cache asks Redis, in one script, for the answer another process has just
published, else for the lease (``SET lock token NX PX lease``), else how long the lease has left.
The one that gets the lease calls the API; when it is done it publishes the answer (when it has one)
under a short-lived key, drops its lease and wakes the waiters (PUBLISH), again in one script.
Waiters subscribe before they look, so no wake-up is lost, and sleep until a wake-up or the
lease's expiry: a leader that died (SIGKILL, a lost host) is taken over when its lease runs out, by
exactly one waiter, because only one ``SET NX`` can succeed. A waiter gives up after
``flight_wait`` seconds and calls the API itself. A leader that failed publishes no answer: its
error is not carried to other processes (an exception cannot cross as data without a format of its
own, and loading pickles is not an option), so the next waiter takes the lease and tries itself.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final, Literal, cast

if TYPE_CHECKING:
    import redis.asyncio
    from redis.commands.core import AsyncScript, Script

    from typed_llm._cache.redis import RedisCache

__all__ = ["Gave", "RedisFlights"]

_BEGIN: Final = """
local done = redis.call('GET', KEYS[2])
if done then return {1, done} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, ''} end
return {0, tostring(redis.call('PTTL', KEYS[1]))}
"""
"""The answer (1, bytes), or the lease (2), or the lease's milliseconds left (0, ms)."""

_END: Final = """
if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', KEYS[3], ARGV[3])
return 1
"""
"""Publish the answer (when ARGV[3] is 1), drop the lease if it is still ours, wake the waiters."""

_ANSWER: Final = 1
_LEASE: Final = 2

Gave = Literal["lead", "gave up"]
"""What a wait ends with when it brings no answer: this caller now holds the lease, or gave up."""

_POLL: Final = 0.05
"""Seconds between looks when the lease's time left is unknown (it has just been dropped)."""


class RedisFlights:
    """Leases on in-flight calls, in the Redis of ``cache``; sync and async."""

    def __init__(self, cache: RedisCache) -> None:
        self.cache = cache
        self._script: tuple[Script, Script] | None = None
        self._ascript: tuple[AsyncScript, AsyncScript] | None = None

    def _names(self, key: str) -> list[str]:
        base = f"{self.cache.prefix}:flight:{key}"
        return [f"{base}:lock", f"{base}:done", f"{base}:wake"]

    def _scripts(self) -> tuple[Script, Script]:
        if self._script is None:
            client = self.cache.client
            self._script = (client.register_script(_BEGIN), client.register_script(_END))
        return self._script

    def _ascripts_of(self, client: redis.asyncio.Redis) -> tuple[AsyncScript, AsyncScript]:
        # A script object is its text and SHA; every call names the loop's own client.
        if self._ascript is None:
            self._ascript = (client.register_script(_BEGIN), client.register_script(_END))
        return self._ascript

    @staticmethod
    def _read(reply: object) -> bytes | Gave | int:
        state, data = cast("list[object]", reply)
        if state == _ANSWER:
            return cast("bytes", data)
        if state == _LEASE:
            return "lead"
        return int(cast("bytes", data))

    def _end_args(self, token: str, value: bytes | None) -> list[str | bytes | int]:
        return [token, value or b"", "1" if value is not None else "0", self.cache.published_ms]

    @staticmethod
    def _nap(left: float, pttl: int) -> float:
        return min(left, pttl / 1000 + 0.005 if pttl > 0 else _POLL)

    # --- sync ----------------------------------------------------------------------------------

    def begin(self, key: str, token: str) -> bytes | Gave | int:
        """The published answer, or ``"lead"`` (the lease is this caller's), or the lease's ms left."""
        begin, _end = self._scripts()
        names = self._names(key)
        return self._read(
            self.cache.guarded("lease", lambda: begin(keys=names[:2], args=[token, self.cache.lease_ms]))
        )

    def wait(self, key: str, token: str) -> bytes | Gave:
        """Wait for the leader's answer, or the lease; ``"gave up"`` after ``flight_wait`` seconds."""
        deadline = time.monotonic() + self.cache.flight_wait
        pubsub = self.cache.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

        def wait() -> bytes | Gave:
            pubsub.subscribe(self._names(key)[2])
            while True:
                found = self.begin(key, token)
                if not isinstance(found, int):
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return "gave up"
                pubsub.get_message(timeout=self._nap(left, found))

        try:
            return self.cache.guarded("wait", wait)
        finally:
            pubsub.close()

    def end(self, key: str, token: str, value: bytes | None) -> None:
        """Publish ``value`` (None: the call failed), drop the lease, wake the waiters."""
        _begin, end = self._scripts()
        self.cache.guarded("lease", lambda: end(keys=self._names(key), args=self._end_args(token, value)))

    # --- async ---------------------------------------------------------------------------------

    async def abegin(self, key: str, token: str) -> bytes | Gave | int:
        """The async ``begin``."""
        client = self.cache.aclient()
        begin, _end = self._ascripts_of(client)
        names = self._names(key)
        reply = await self.cache.aguarded(
            "lease", lambda: begin(keys=names[:2], args=[token, self.cache.lease_ms], client=client)
        )
        return self._read(reply)

    async def await_(self, key: str, token: str) -> bytes | Gave:
        """The async ``wait``."""
        deadline = time.monotonic() + self.cache.flight_wait
        pubsub = self.cache.aclient().pubsub(ignore_subscribe_messages=True)

        async def wait() -> bytes | Gave:
            await pubsub.subscribe(self._names(key)[2])
            while True:
                found = await self.abegin(key, token)
                if not isinstance(found, int):
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return "gave up"
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=self._nap(left, found))

        try:
            return await self.cache.aguarded("wait", wait)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    async def aend(self, key: str, token: str, value: bytes | None) -> None:
        """The async ``end``."""
        client = self.cache.aclient()
        _begin, end = self._ascripts_of(client)
        await self.cache.aguarded(
            "lease", lambda: end(keys=self._names(key), args=self._end_args(token, value), client=client)
        )
