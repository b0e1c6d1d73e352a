"""What an API operation is, described once, and the plain values its functions trade.

An ``Operation`` says how to build the HTTP request from the typed request (a ``WireCall``, under a
provider's ``Routing``), how to read a successful answer (a ``RawResponse``), what the cache key is,
whether an answer may be stored, and what the log events say of a call. The layers (cache,
logging, retry) know nothing else about an operation, so adding one means writing its wire module
(build and parse functions and one ``Operation`` value) and nothing in the layers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar
from urllib.parse import quote

import attrs
from pydantic import BaseModel

__all__ = ["Accumulator", "Operation", "RawResponse", "Routing", "Streaming", "WireCall"]


R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)
S_co = TypeVar("S_co", bound=BaseModel, covariant=True)


def _always(_: object) -> bool:
    return True


class Accumulator(Protocol[S_co]):
    """The state of one streamed answer: bytes in, events out, the answer at the end."""

    def feed(self, data: bytes) -> Sequence[object]:
        """The events of the frames ``data`` completes (raises ``MalformedResponseError``)."""
        ...

    def finish(self) -> S_co:
        """The whole answer (raises ``MalformedResponseError`` when the stream was cut short)."""
        ...

    def partial(self) -> S_co:
        """What arrived so far, assembled."""
        ...


@attrs.frozen
class Streaming(Generic[S]):
    """How an operation's answer streams.

    Attributes:
        start: a fresh accumulator for an answer, given its headers and request id.
        replay: a stored answer (a cache hit) as the events of a stream.
    """

    start: Callable[[Mapping[str, str], str | None], Accumulator[S]]
    replay: Callable[[S], Sequence[object]]


@attrs.frozen
class Operation(Generic[R, S]):
    """One API operation, as the layers see it.

    Attributes:
        name: the kind of call in log events and cache keys (``chat``, ``embeddings``).
        method: the ``Client`` protocol method that performs it (``complete``, ``embed``), used
            when a layer wraps a client that is not a pipeline.
        request_type: what the operation takes (checked before anything else happens).
        response_type: what it returns; cached answers are its JSON and read back with it.
        build: the HTTP request for a request under a provider's ``Routing`` (no I/O).
        parse: the typed answer in a successful HTTP answer; raises ``MalformedResponseError``.
        key: the cache key of a request in a namespace.
        storable: whether an answer may be cached (a completion cut short by a filter may not).
        contents: what the debug ``request`` event shows of the request.
        summary: what the ``response`` event says of an answer (usage, request id, model).
        check: the pre-flight check of a request, if it has one (the context window, for chat),
            given the model the request's ``model`` resolves to (an Azure deployment's model); it
            returns the prompt tokens it counted (set against the reported usage), or None.
        streaming: for an operation whose answer streams, how its events add up.
    """

    name: str
    method: str
    request_type: type[R]
    response_type: type[S]
    build: Callable[[R, Routing], WireCall]
    parse: Callable[[R, RawResponse], S]
    key: Callable[[R, str], str]
    summary: Callable[[S], dict[str, object]]
    contents: Callable[[R], list[str]]
    storable: Callable[[S], bool] = _always
    check: Callable[[R, str], int | None] | None = None
    streaming: Streaming[S] | None = None
    """How the answer arrives when it streams (None: one body)."""

    def model_of(self, request: R) -> str:
        """The model a request names (every request has one)."""
        model: str = getattr(request, "model", "")
        return model


@attrs.frozen
class Routing:
    """How a provider names models on the wire.

    Attributes:
        deployments: model name -> Azure deployment name; a model not listed is its own deployment.
        deployment_in_path: Azure's classic shape, ``/deployments/{deployment}/chat/completions``;
            when False the deployment (or model) name goes in the body's ``model``, as OpenAI and
            Azure's v1 API take it.
    """

    deployments: Mapping[str, str] = attrs.field(factory=dict)
    deployment_in_path: bool = False

    def target(self, model: str) -> str:
        """The deployment (Azure) or model (OpenAI) that serves ``model``."""
        return self.deployments.get(model, model)

    def path(self, endpoint: str, model: str) -> str:
        """The path of ``endpoint`` (``/chat/completions``...) for ``model``, relative to the base URL."""
        if self.deployment_in_path:
            # Quoted whole: a name with "/", "?" or ".." must not change the path it goes to.
            return f"/deployments/{quote(self.target(model), safe='')}{endpoint}"
        return endpoint


@attrs.frozen
class WireCall:
    """One HTTP call, as data: what to POST where."""

    path: str
    """Path relative to the provider's base URL."""
    body: bytes
    """The JSON body."""


@attrs.frozen
class RawResponse:
    """A successful HTTP answer, before translation."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
