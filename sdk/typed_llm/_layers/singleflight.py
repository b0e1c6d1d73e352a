"""The single-flight layer: identical calls in flight at once make one API call.

N workers asking the same question at the same moment would each pay for it, then store the same
answer N times. This layer, just inside the cache, lets the first caller of a key (the *leader*)
make the call while the others wait and receive its answer; an error the leader meets reaches every
waiter, typed (a copy, chained to the leader's). It works at two scales:

- in one process, across threads and asyncio tasks alike: the flight is a ``concurrent.futures``
  ``Future`` in a process-wide table; sync callers block on it, async ones await it (shielded, so a
  cancelled waiter cancels nobody else). A leader that vanishes without an answer or a typed error
  (its task cancelled) lets the waiters call the API themselves.
- across processes and hosts, when the cache is a ``RedisCache``: the process's leader takes a
  lease in Redis (``_cache/redis_flight.py``); leaders of other processes wait for its published
  answer, take over when its lease expires (exactly one of them), or give up after a bound and
  call the API themselves. Errors are not carried between processes (see there).

Waiting is I/O a layer cannot do by itself, so it is done through ``either`` (``_layers/cache.py``):
the sync driver blocks in the caller's thread, the async driver awaits. Waits are bounded: a waiter
never waits longer than ``wait`` seconds (in-process) or the cache's ``flight_wait`` (Redis).

A waiter's outcome says ``cached=True`` and ``attempt=0``: it made no attempt of its own, and the
caching layer does not store the answer again. Calls the ``CachePolicy`` keeps from the cache
(stochastic ones under ``"bypass"``) are not coalesced either. Streams are out of scope for now:
there is no streaming operation in the pipeline yet; followers of a stream would replay the
leader's stored answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar, cast

import attrs
from pydantic import BaseModel, ValidationError

from typed_llm._cache.policy import DEFAULT_POLICY, CachePolicy
from typed_llm._cache.redis import RedisCache
from typed_llm._cache.redis_flight import RedisFlights
from typed_llm._errors import TypedLLMError
from typed_llm._layers.cache import answered_without_http, either
from typed_llm._layers.pipeline import Outcome
from typed_llm._ledger import Attempt
from typed_llm._logging import emit

if TYPE_CHECKING:
    from collections.abc import Generator

    from typed_llm._cache.base import Cache
    from typed_llm._layers.pipeline import AttemptContext, Call, Effect, Flow, Next

__all__ = ["PROCESS_FLIGHTS", "Flights", "SingleFlight"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)

DEFAULT_WAIT: Final = 600.0
"""Seconds an in-process waiter waits for its leader: the default backoff's overall deadline."""


class _Gone:
    """What a flight holds when its leader ended without an answer or a typed error."""


_GONE: Final = _Gone()


class Flights:
    """The calls in flight in this process, by cache key; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, concurrent.futures.Future[object]] = {}

    def join(self, key: str) -> tuple[concurrent.futures.Future[object], bool]:
        """The flight of ``key`` and whether the caller leads it (it is new)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = concurrent.futures.Future()
            return flight, True

    def land(self, key: str, flight: concurrent.futures.Future[object], result: object) -> None:
        """End the flight: later callers start a new one; the waiters get ``result`` (raised if an error)."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        if isinstance(result, BaseException):
            flight.set_exception(result)
        else:
            flight.set_result(result)

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)


PROCESS_FLIGHTS: Final = Flights()
"""The one table every client of the process shares (keys carry the namespace, so they never mix)."""


def _shared(flight: concurrent.futures.Future[object]) -> object:
    """The leader's answer, or its typed error raised (a copy per waiter, chained to the original)."""
    try:
        return flight.result(timeout=0)
    except TypedLLMError as error:
        try:
            mine = copy.copy(error)
        except Exception:  # noqa: BLE001  (an error class that does not copy: raise the leader's own)
            raise error from None
        raise mine from error


def _wait_blocking(flight: concurrent.futures.Future[object], bound: float) -> object:
    try:
        concurrent.futures.wait((flight,), timeout=bound)
    except concurrent.futures.TimeoutError:  # pragma: no cover  (wait returns, it does not raise)
        return _GONE
    return _shared(flight) if flight.done() else _GONE


async def _wait_awaiting(flight: concurrent.futures.Future[object], bound: float) -> object:
    waiting = asyncio.wrap_future(flight)
    try:
        # shield: a waiter that is cancelled or times out must not cancel the flight of the others
        await asyncio.wait_for(asyncio.shield(waiting), bound)
    except TimeoutError:
        return _GONE
    except TypedLLMError:  # the leader's error: read back below, as sync waiters do
        pass
    return _shared(flight)


def _follower(answer: object, started: float) -> Attempt:
    """A follower's one attempt: the leader's answer (or its error's class) after ``started``."""
    took = time.perf_counter() - started
    if isinstance(answer, TypedLLMError):
        status = getattr(answer, "status_code", None)
        outcome = status if isinstance(status, int) else type(answer).__name__
        request_id = getattr(answer, "request_id", None)
        return Attempt(
            number=1,
            kind="single-flight",
            offset=0.0,
            duration=took,
            outcome=outcome,
            request_id=request_id if isinstance(request_id, str) else None,
        )
    return answered_without_http("single-flight", answer, took)


@attrs.frozen
class SingleFlight:
    """Makes identical concurrent calls one call; see the module docstring.

    Attributes:
        namespace_of: the cache namespace of a model (the flight's key is the cache key).
        policy: calls it keeps from the cache are not coalesced either.
        remote: the Redis lease, to coalesce across processes; None: this process only.
        flights: the process's table of calls in flight.
        wait: seconds an in-process waiter waits before it calls the API itself.
        provider: named in the events.
    """

    namespace_of: Callable[[str], str]
    policy: CachePolicy = DEFAULT_POLICY
    remote: RedisFlights | None = None
    flights: Flights = PROCESS_FLIGHTS
    wait: float = DEFAULT_WAIT
    provider: str | None = None

    @classmethod
    def for_cache(
        cls,
        cache: Cache,
        namespace_of: Callable[[str], str],
        policy: CachePolicy,
        provider: str | None = None,
    ) -> SingleFlight:
        """The layer for ``cache``: across processes too when it is a ``RedisCache``."""
        remote = RedisFlights(cache) if isinstance(cache, RedisCache) else None
        return cls(namespace_of, policy, remote, provider=provider)

    def run(self, call: Call[R, S], attempt: AttemptContext, inner: Next[S]) -> Flow[Outcome[S]]:
        """The leader's call, or its answer shared."""
        if call.operation.streaming is not None or not self.policy.caches(call.request):
            return (yield from inner(attempt))  # a stream's events reach only its own caller
        key = call.key(self.namespace_of(call.operation.model_of(call.request)))
        flight, leader = self.flights.join(key)
        if not leader:
            started = time.perf_counter()
            bound = self.wait
            try:
                shared = yield from either(
                    lambda: _wait_blocking(flight, bound), lambda: _wait_awaiting(flight, bound)
                )
            except TypedLLMError as error:  # the leader's, copied: this call made no attempt of its own
                error.attempts = (_follower(error, started),)
                raise
            if isinstance(shared, _Gone):
                emit(logging.WARNING, "single_flight_gave_up", request_key=key, provider=self.provider)
                return (yield from inner(attempt))
            self._shared(key, "process", started)
            # A copy of its own: the leader and each follower write their own ledger on their answer.
            own = cast("S", shared).model_copy()
            return Outcome(own, attempt=0, cached=True, attempts=(_follower(shared, started),))
        try:
            outcome = yield from self._lead(call, key, attempt, inner)
        except TypedLLMError as error:
            self.flights.land(key, flight, error)
            raise
        except BaseException:
            self.flights.land(key, flight, _GONE)
            raise
        self.flights.land(key, flight, outcome.value)
        return outcome

    def _shared(self, key: str, source: str, started: float) -> None:
        emit(
            logging.INFO,
            "single_flight_shared",
            request_key=key,
            provider=self.provider,
            source=source,
            waited_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    def _lead(self, call: Call[R, S], key: str, attempt: AttemptContext, inner: Next[S]) -> Flow[Outcome[S]]:
        """This process's leader: the call, or (with Redis) another process's answer to it."""
        remote = self.remote
        if remote is None:
            return (yield from inner(attempt))
        token = uuid.uuid4().hex
        started = time.perf_counter()
        try:
            found = yield from either(lambda: remote.begin(key, token), lambda: remote.abegin(key, token))
            if isinstance(found, int):
                found = yield from either(lambda: remote.wait(key, token), lambda: remote.await_(key, token))
        except Exception as exc:  # noqa: BLE001  (Redis down or slow: the call goes on without the lease)
            emit(logging.WARNING, "cache_error", request_key=key, operation="lease", error=exc)
            return (yield from inner(attempt))
        if found == "gave up":
            emit(logging.WARNING, "single_flight_gave_up", request_key=key, provider=self.provider)
            return (yield from inner(attempt))
        if isinstance(found, bytes):
            try:
                value = call.operation.response_type.model_validate_json(found)
            except ValidationError:  # another release's schema: ask for ourselves
                return (yield from inner(attempt))
            self._shared(key, "redis", started)
            return Outcome(value, attempt=0, cached=True, attempts=(_follower(value, started),))
        try:
            outcome = yield from inner(attempt)
        except GeneratorExit:  # the flow was closed: nothing more may be yielded; the lease expires
            raise
        except BaseException:
            yield from self._end(remote, key, token, None)
            raise
        yield from self._end(remote, key, token, outcome.value.model_dump_json().encode())
        return outcome

    @staticmethod
    def _end(
        remote: RedisFlights, key: str, token: str, value: bytes | None
    ) -> Generator[Effect, object, None]:
        try:
            yield from either(lambda: remote.end(key, token, value), lambda: remote.aend(key, token, value))
        except Exception as exc:  # noqa: BLE001  (the answer is the caller's whatever Redis does)
            emit(logging.WARNING, "cache_error", request_key=key, operation="lease", error=exc)
