"""The pricing layer: every answer leaves the client with its price tag, and teaches the registry.

It sits just inside the logging layer, outside the cache: an answer from the HTTP terminal, the
cache or an identical call in flight is tagged alike (a cached answer's JSON holds no tag, so it
gets this client's). The tag (``PriceTag``) is the provider, the model the client's registry
resolves the request's ``model`` to, and the client's own price for that model if it was given one;
``response.cost`` is computed from it and the answer's usage when asked for, so nothing is looked
up for a call whose cost nobody reads.

Before tagging, the answer's ``model`` is shown to the registry: an Azure deployment the client was
not told about is learned here (``Registry.learn``), so this answer and every later call to that
deployment are counted, checked and priced as the model that served it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

import attrs
from pydantic import BaseModel

from typed_llm._cost import ModelPrice, price_tag, tag_price
from typed_llm._prices import PriceTag

if TYPE_CHECKING:
    from typed_llm._layers.pipeline import AttemptContext, Call, Flow, Next, Outcome

__all__ = ["Pricing"]

R = TypeVar("R", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)


def _learn_nothing(_name: str, _answered: str) -> None:
    return None


@attrs.frozen
class Pricing:
    """Puts this client's price tag on each answer.

    Attributes:
        provider: whose price list (``openai``, ``azure``).
        model_of: the model a request's ``model`` resolves to (the client's registry).
        learn: tells the registry which model answered for a request's ``model``.
        prices: the client's own prices, by model name; they win over the bundled data.
    """

    provider: str
    model_of: Callable[[str], str]
    learn: Callable[[str, str], None] = _learn_nothing
    prices: Mapping[str, ModelPrice] = attrs.field(factory=dict)
    _tags: dict[tuple[str, str], PriceTag] = attrs.field(init=False, factory=dict, eq=False, repr=False)

    def run(self, call: Call[R, S], attempt: AttemptContext, inner: Next[S]) -> Flow[Outcome[S]]:
        """The rest of the pipeline; its answer tagged."""
        outcome = yield from inner(attempt)
        name = call.operation.model_of(call.request)
        answered = getattr(outcome.value, "model", None)
        if isinstance(answered, str):
            self.learn(name, answered)
        model = self.model_of(name)
        tag = self._tags.get((name, model))
        if tag is None:  # one per request model and the model it resolves to (few: kept)
            tag = PriceTag(self.provider, model, self.prices.get(model) or self.prices.get(name))
            self._tags[(name, model)] = tag
        value = outcome.value
        present = price_tag(value)
        if present is None or present == tag:
            tag_price(value, tag)
            return outcome
        # An answer another client tagged (shared by a call in flight): tag this client's own copy.
        copy = value.model_copy()
        tag_price(copy, tag)
        return outcome.with_value(copy)
