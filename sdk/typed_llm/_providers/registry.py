"""One answer to "which model is this?": the deployment -> model registry of a client.

An Azure request's ``model`` may name a model the client maps to a deployment
(``deployments={"gpt-4o-mini": "chat-prod"}``), or a deployment itself (``model="chat-prod"``),
which no tokenizer and no price list knows. The registry resolves either to one ``Served``: the
model and the deployment that serves it. The tokenizer, the context-window check, the price, the
cache namespace, the HTTP route and the log fields all ask it, so they never disagree.

A deployment the client was not told about is *learned*: the first answer's ``model`` (Azure
names the model it served, ``gpt-4o-mini-2024-07-18``) is remembered for that deployment, and
every later call to it counts, checks and prices as that model. Until then the name is taken as
the model it names (an unknown one: counted with the fallback encoding, unchecked, unpriced).
OpenAI has no deployments: a model is itself.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import attrs

__all__ = ["Registry", "Served"]


@attrs.frozen
class Served:
    """What a request's ``model`` resolves to.

    Attributes:
        model: the model that serves the call, as tokenizers and price lists name it.
        deployment: the Azure deployment the call goes to; None for OpenAI.
        source: how it was known: ``configured`` (the client's ``deployments``), ``learned`` (an
            earlier answer's ``model``) or ``named`` (the request's name taken as it is).
    """

    model: str
    deployment: str | None
    source: str = "named"


@attrs.define(eq=False)
class Registry:
    """A client's models and deployments; ``deployments`` is None for a provider without any (OpenAI)."""

    deployments: Mapping[str, str] | None
    _served_by: dict[str, str] = attrs.field(init=False)
    _learned: dict[str, str] = attrs.field(init=False, factory=dict)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        # A deployment named directly resolves to the model it was configured for.
        self._served_by = {deployment: model for model, deployment in (self.deployments or {}).items()}

    def resolve(self, name: str) -> Served:
        """The model and deployment a request's ``model`` names.

        The deployment is the one ``Routing.target`` sends the call to (the configured one, else
        the name itself), so the route and everything else agree.
        """
        if self.deployments is None:
            return Served(name, None)
        configured = self.deployments.get(name)
        if configured is not None:
            return Served(name, configured, "configured")
        model = self._served_by.get(name)
        if model is not None:
            return Served(model, name, "configured")
        learned = self._learned.get(name)
        if learned is not None:
            return Served(learned, name, "learned")
        return Served(name, name)

    def learn(self, name: str, answered: str) -> None:
        """Remember that the deployment ``name`` resolves to answered with model ``answered``."""
        if self.deployments is None or not answered:
            return
        served = self.resolve(name)
        if served.source == "configured" or served.deployment is None or answered == served.model:
            return
        with self._lock:  # the newest answer wins: a deployment moved to a new model is followed
            self._learned[served.deployment] = answered
