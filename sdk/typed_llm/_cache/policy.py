"""``CachePolicy``: which calls the cache (and single-flight) may answer.

A cache hands back the answer it stored. For a deterministic call that is the answer; for a
stochastic one (sampling at a temperature above 0 with no ``seed``, or ``n > 1`` choices) it is one
sample, replayed. The default caches them too, as TinyTroupe's ``CACHE_API_CALLS`` always did:
simulations replay exactly and a rerun costs nothing. An application that wants a fresh sample on
every call says ``CachePolicy(stochastic="bypass")``: such calls skip the cache and are not
coalesced with other calls either. The key of an ``n > 1`` call covers ``n`` (``cache_key``), so a
call asking for 3 choices is never answered with an entry holding 1.

Whatever the policy, a Responses call that builds on state kept on the server
(``previous_response_id``, ``conversation``) is never answered from the cache, stored, nor coalesced:
its answer depends on what the server holds, which the request does not say (a conversation grows
with every call on it). Send the conversation whole (``ResponsesRequest.next_turn``) to cache it.
"""

from __future__ import annotations

from typing import Final, Literal

import attrs

from typed_llm._models.requests import ChatRequest
from typed_llm._models.responses_request import ResponsesRequest

__all__ = ["DEFAULT_POLICY", "CachePolicy", "depends_on_server_state", "is_stochastic"]


def is_stochastic(request: object) -> bool:
    """Whether the API may answer ``request`` differently each time it is asked.

    A chat request is stochastic when it asks for more than one choice, or samples at a temperature
    above 0 (unset means the API's 1) without a ``seed``. A Responses request (which has no seed)
    is stochastic when it samples above 0. Embeddings are deterministic.
    """
    if isinstance(request, ResponsesRequest):
        return request.temperature is None or request.temperature > 0
    if not isinstance(request, ChatRequest):
        return False
    if request.n is not None and request.n > 1:
        return True
    temperature = 1.0 if request.temperature is None else request.temperature
    return temperature > 0 and request.seed is None


def depends_on_server_state(request: object) -> bool:
    """Whether ``request`` continues state kept on the server (a stored response, a conversation)."""
    return isinstance(request, ResponsesRequest) and (
        request.previous_response_id is not None or request.conversation is not None
    )


@attrs.frozen
class CachePolicy:
    """What the caching layer does with each kind of call.

    Attributes:
        stochastic: ``"cache"`` (the default): stochastic calls are cached and coalesced like any
            other, so a rerun replays the stored sample; ``"bypass"``: they go to the API every
            time, and are neither looked up, stored nor coalesced.
    """

    stochastic: Literal["cache", "bypass"] = "cache"

    def __attrs_post_init__(self) -> None:
        if self.stochastic not in {"cache", "bypass"}:
            raise ValueError(f"stochastic must be 'cache' or 'bypass', got {self.stochastic!r}")

    def caches(self, request: object) -> bool:
        """Whether a call of ``request`` may be answered from the cache (and shared with others)."""
        if depends_on_server_state(request):
            return False
        return self.stochastic == "cache" or not is_stochastic(request)


DEFAULT_POLICY: Final = CachePolicy()
"""Stochastic calls are cached too (a rerun replays them); see ``CachePolicy``."""
