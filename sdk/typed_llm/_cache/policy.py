"""``CachePolicy``: which calls the cache (and single-flight) may answer.

A cache hands back the answer it stored. For a deterministic call that is the answer; for a
stochastic one (sampling at a temperature above 0 with no ``seed``, or ``n > 1`` choices) it is one
sample, replayed. The default caches them too, as TinyTroupe's ``CACHE_API_CALLS`` always did:
simulations replay exactly and a rerun costs nothing. An application that wants a fresh sample on
every call says ``CachePolicy(stochastic="bypass")``: such calls skip the cache and are not
coalesced with other calls either. The key of an ``n > 1`` call covers ``n`` (``cache_key``), so a
call asking for 3 choices is never answered with an entry holding 1.

``CachePolicy(replay_only=True)`` answers every call from the cache and never from the API: a
miss raises ``CacheMissError`` naming the nearest stored request and the typed fields that changed
(a test suite or a demo replaying a cache filled once, offline).
"""

from __future__ import annotations

from typing import Final, Literal

import attrs

from typed_llm._models.requests import ChatRequest

__all__ = ["DEFAULT_POLICY", "CachePolicy", "is_stochastic"]


def is_stochastic(request: object) -> bool:
    """Whether the API may answer ``request`` differently each time it is asked.

    A chat request is stochastic when it asks for more than one choice, or samples at a temperature
    above 0 (unset means the API's 1) without a ``seed``. Embeddings are deterministic.
    """
    if not isinstance(request, ChatRequest):
        return False
    if request.n is not None and request.n > 1:
        return True
    temperature = 1.0 if request.temperature is None else request.temperature
    return temperature > 0 and request.seed is None


@attrs.frozen
class CachePolicy:
    """What the caching layer does with each kind of call.

    Attributes:
        stochastic: ``"cache"`` (the default): stochastic calls are cached and coalesced like any
            other, so a rerun replays the stored sample; ``"bypass"``: they go to the API every
            time, and are neither looked up, stored nor coalesced.
        replay_only: True: every call is answered from the cache; a miss raises ``CacheMissError``
            (the nearest stored request, the typed fields that changed) instead of calling the API.
    """

    stochastic: Literal["cache", "bypass"] = "cache"
    replay_only: bool = False
    """Never call the API: a miss raises ``CacheMissError`` with the nearest stored request."""

    def __attrs_post_init__(self) -> None:
        if self.stochastic not in {"cache", "bypass"}:
            raise ValueError(f"stochastic must be 'cache' or 'bypass', got {self.stochastic!r}")
        if self.replay_only and self.stochastic == "bypass":
            raise ValueError("a replay-only cache answers every call: stochastic='bypass' would send some")

    def caches(self, request: object) -> bool:
        """Whether a call of ``request`` may be answered from the cache (and shared with others)."""
        return self.stochastic == "cache" or not is_stochastic(request)


DEFAULT_POLICY: Final = CachePolicy()
"""Stochastic calls are cached too (a rerun replays them); see ``CachePolicy``."""
