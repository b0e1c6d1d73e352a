"""What a call cost: ``Cost``, the ``ModelPrice`` a user may give, and how answers carry their price.

A response's ``cost`` is computed from three things: its usage (read off the answer by the answer's
own class, as ``BilledTokens``), the model that served it and the client's price table. The last two
travel with the answer as a *price tag* that the pricing layer puts on it (``tag_price``). The tag
sits in the instance's ``__dict__`` under a name that is not a field, which pydantic leaves out of
``model_dump`` (so a cached answer's JSON never holds it), of ``==`` and of ``repr``, and keeps on
``model_copy``: it is bookkeeping about the answer, not part of it. An answer built by hand has no
tag, and its ``cost`` is None (``cost_unknown`` says so): never a made-up zero.

This module holds values only; the arithmetic and the price data are ``typed_llm._prices``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Final, Literal, Protocol, cast, overload

import attrs
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BilledTokens",
    "Cost",
    "ModelPrice",
    "Priced",
    "Pricer",
    "billed_tokens",
    "carry_price_tag",
    "cost_log_fields",
    "explain_cost",
    "price_tag",
    "tag_price",
    "utc_time",
]

_Rate = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class ModelPrice(BaseModel):
    """What a model's tokens cost, in US dollars per million tokens (as price pages write them).

    Give one to a client's ``prices`` for a model the bundled price data does not know (a
    fine-tune) or prices differently (an Azure data-zone deployment, a negotiated rate). Numbers may
    be given as ``Decimal``, ``str``, ``int`` or ``float``; they are kept as ``Decimal``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: _Rate | None
    """Uncached input (prompt) tokens; None: not priced (a call that reads any is then unpriced)."""
    output: _Rate | None = None
    """Output tokens, reasoning included; None for a model that writes none (embeddings)."""
    cached_input: _Rate | None = None
    """Input tokens served from the prompt cache; None: the same as ``input``."""


class Cost(BaseModel):
    """What one call cost, in ``currency``, part by part; ``total`` is their sum.

    ``reasoning`` is the share of ``output`` the model spent reasoning: it is already in ``output``
    (the API bills reasoning tokens as output tokens) and is not added to ``total`` again.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: Decimal
    """Uncached input tokens."""
    cached_input: Decimal
    """Input tokens served from the prompt cache."""
    output: Decimal
    """Output tokens, reasoning included."""
    reasoning: Decimal
    """The part of ``output`` spent on reasoning tokens (included in ``output``)."""
    total: Decimal
    """``input + cached_input + output``."""
    currency: Literal["USD"] = "USD"
    """Every price source typed-llm reads is in US dollars."""
    prices_version: str
    """Where the prices came from: ``genai-prices 0.2.5`` (the bundled data's release), or
    ``prices override`` for a price given to the client."""
    model: str
    """The model priced (the one the deployment registry resolved the call's model to)."""
    provider: str
    """Whose price list: ``openai`` or ``azure``."""
    rates: ModelPrice
    """The per-million-token rates applied (a tiered price's tier already chosen)."""

    def log_fields(self) -> dict[str, object]:
        """The cost as a log event carries it: numbers as floats, for JSON lines."""
        return {
            "input": float(self.input),
            "cached_input": float(self.cached_input),
            "output": float(self.output),
            "reasoning": float(self.reasoning),
            "total": float(self.total),
            "currency": self.currency,
            "prices_version": self.prices_version,
        }


@attrs.frozen
class BilledTokens:
    """An answer's usage in the terms prices use, whichever API it came from."""

    input: int
    """Input tokens, cached ones included (chat's ``prompt_tokens``, Responses' ``input_tokens``)."""
    cached_input: int = 0
    """The part of ``input`` served from the prompt cache."""
    output: int = 0
    """Output tokens, reasoning included."""
    reasoning: int = 0
    """The part of ``output`` spent reasoning."""
    audio: int = 0
    """Audio tokens (in or out), which text prices do not cover: a call with any is left unpriced."""


class Pricer(Protocol):
    """A price tag: prices tokens as one client's price table says the resolved model costs."""

    def price(self, tokens: BilledTokens, at: datetime | None, service_tier: str | None) -> Cost | str:
        """The cost, or why there is none (a sentence for logs and ``cost_unknown``)."""
        ...

    def log_fields(
        self, tokens: BilledTokens, at: datetime | None, service_tier: str | None
    ) -> dict[str, object] | str:
        """``price(...).log_fields()`` (computed without building the ``Cost``), or why there is none."""
        ...


_TAG: Final = "_typed_llm_price_tag"
"""The ``__dict__`` key of an answer's price tag (not a field: never dumped, compared or shown)."""


def utc_time(seconds: float) -> datetime | None:
    """An answer's Unix creation time as an aware datetime, the instant its prices are looked up at."""
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def tag_price(answer: object, pricer: Pricer) -> None:
    """Put ``pricer`` on ``answer`` (a ``Priced`` answer; anything else is left alone)."""
    if isinstance(answer, Priced):
        vars(answer)[_TAG] = pricer


def price_tag(answer: object) -> Pricer | None:
    """The price tag on ``answer``, if it has one."""
    if not isinstance(answer, Priced):
        return None
    return cast("Pricer | None", vars(answer).get(_TAG))  # only tag_price writes it


def carry_price_tag(source: object, target: object) -> None:
    """Give ``target`` (an answer built from ``source``, such as its parsed form) ``source``'s tag."""
    tag = price_tag(source)
    if tag is not None:
        tag_price(target, tag)


def billed_tokens(answer: object) -> BilledTokens | None:
    """The usage ``answer`` reports, in price terms; None when it reports none or is not priced."""
    return answer._billed_tokens() if isinstance(answer, Priced) else None  # noqa: SLF001  (the mixin's own hook)


def explain_cost(answer: object) -> Cost | str | None:
    """``answer``'s cost, or why it has none; None for something that has no price at all."""
    return answer._cost() if isinstance(answer, Priced) else None  # noqa: SLF001  (the mixin's own hook)


def cost_log_fields(answer: object) -> dict[str, object] | str | None:
    """``explain_cost(answer)`` as a log event carries it: ``Cost.log_fields()``, or why there is none."""
    return answer._cost(log=True) if isinstance(answer, Priced) else None  # noqa: SLF001  (the mixin's own hook)


class Priced:
    """A mixin for answers that have a price: ``cost`` and ``cost_unknown``.

    A class using it says what it used (``_billed_tokens``), when it was made (``_priced_at``:
    prices change, and an answer is priced at the prices of its own day) and its service tier.
    """

    __slots__ = ()

    def _billed_tokens(self) -> BilledTokens | None:
        raise NotImplementedError

    def _priced_at(self) -> datetime | None:
        return None

    def _service_tier(self) -> str | None:
        return None

    @overload
    def _cost(self, *, log: Literal[False] = False) -> Cost | str: ...
    @overload
    def _cost(self, *, log: Literal[True]) -> dict[str, object] | str: ...

    def _cost(self, *, log: bool = False) -> Cost | dict[str, object] | str:
        tag = price_tag(self)
        if tag is None:
            return "not priced: no price tag (an answer built by hand, or a hit of a Cached wrapper's cache)"
        tokens = self._billed_tokens()
        if tokens is None:
            return "the answer reports no usage (a stream asked without usage, or a server that omits it)"
        if log:
            return tag.log_fields(tokens, self._priced_at(), self._service_tier())
        return tag.price(tokens, self._priced_at(), self._service_tier())

    @property
    def cost(self) -> Cost | None:
        """What the call cost, or None when it cannot be known (``cost_unknown`` says why).

        Never a guessed zero: a model with no known price, an answer without usage, or one built
        by hand rather than returned by a client has no cost.
        """
        cost = self._cost()
        return cost if isinstance(cost, Cost) else None

    @property
    def cost_unknown(self) -> str | None:
        """Why ``cost`` is None (for example ``no price for model 'x' under provider 'azure' ...``)."""
        cost = self._cost()
        return None if isinstance(cost, Cost) else cost
