"""Prices: a price given to the client, or the bundled ``genai-prices`` data; the arithmetic of a ``Cost``.

The data is the ``genai-prices`` package's (pydantic's maintained price list: offline, released about
weekly, pinned by the lock file and named in every ``Cost.prices_version``). It is always asked with
the provider (``openai`` or ``azure``) and the model the deployment registry resolved: never by the
model's name alone, because the same name is listed under other providers at other prices
(``gpt-4o-mini`` is $0 under ``github-copilot``), and never by an Azure deployment name, which it
does not know. A model it does not list, or lists without a token price, has no cost: None and a
sentence saying why, never a zero.

Prices change: an answer is priced at the prices of its own creation time (a recorded or cached
answer keeps its cost). A tiered price (gpt-5.5 above 272K input tokens) is chosen by the call's
input tokens, as the provider bills it. Service tiers (``flex``, ``priority``) take their own rates.
Azure is priced at its global standard rates: data-zone and regional deployments cost more, which
the data does not list; give those as ``prices``. The package is imported on the first cost asked
for (it loads 1.6 MB of data, about half a second), not when typed-llm is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.metadata import version
from typing import TYPE_CHECKING, Final, Literal, TypeVar

import attrs

from typed_llm._cost import Cost, ModelPrice
from typed_llm._errors import ConfigurationError

if TYPE_CHECKING:
    from types import ModuleType

    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelPrice as Listed
    from genai_prices.types import TieredPrices

    from typed_llm._cost import BilledTokens

__all__ = ["OVERRIDE", "PriceTag", "check_prices", "prices_version"]

OVERRIDE: Final = "prices override"
"""The ``prices_version`` of a cost computed from a price the client was given."""

_MILLION: Final = Decimal(1_000_000)
P = TypeVar("P", Cost, dict[str, object])
"""What a price tag computes: the ``Cost``, or its log form."""


@functools.cache
def _snapshots() -> ModuleType:
    """genai-prices' data module, imported on the first cost asked for (1.6 MB of data, ~0.5 s)."""
    from genai_prices import data_snapshot  # noqa: PLC0415  (see above: not when typed-llm is imported)

    return data_snapshot


@functools.cache
def _package_version() -> str:
    return f"genai-prices {version('genai-prices')}"


_named: tuple[object, str] | None = None
"""The last snapshot named, and its name (a new snapshot, from genai-prices' updater, is named anew)."""


def prices_version() -> str:
    """The bundled price data's release, as ``Cost.prices_version`` names it."""
    global _named  # noqa: PLW0603  (a cache of one)
    snapshot = _snapshots().get_snapshot()
    named = _named
    if named is not None and named[0] is snapshot:
        return named[1]
    if snapshot.from_auto_update:  # the application turned genai-prices' own updater on
        name = f"{_package_version()} (updated {snapshot.timestamp.isoformat(timespec='seconds')})"
    else:
        name = _package_version()
    _named = (snapshot, name)
    return name


def check_prices(prices: Mapping[str, ModelPrice] | None) -> Mapping[str, ModelPrice]:
    """A client's ``prices`` argument, checked: model names to ``ModelPrice`` values.

    Raises:
        ConfigurationError: it is not a mapping of non-empty names to ``ModelPrice``.
    """
    if prices is None:
        return {}
    given: object = prices
    if not isinstance(given, Mapping):
        raise ConfigurationError(f"prices must map model names to ModelPrice values, got {given!r}")
    checked: dict[str, ModelPrice] = {}
    for name, price in given.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"prices: a model name must be a non-empty string, got {name!r}")
        if not isinstance(price, ModelPrice):
            raise ConfigurationError(
                f"prices[{name!r}] must be a ModelPrice (USD per million tokens), got {price!r}"
            )
        checked[name] = price
    return checked


def _rate(price: Decimal | TieredPrices | None, input_tokens: int) -> Decimal | None:
    """A listed price per million tokens; a tiered one's tier is chosen by the call's input tokens."""
    if price is None or isinstance(price, Decimal):
        return price
    chosen = price.base
    for tier in price.tiers:  # sorted by start; the whole call pays the highest tier it passes
        if input_tokens > tier.start:
            chosen = tier.price
    return chosen


def _listed(
    provider: str, model: str, tokens: BilledTokens, at: datetime | None, tier: str | None
) -> ModelPrice | str:
    """The listed rates of ``model`` under ``provider`` at ``at``, or why there are none.

    Each lookup is remembered (``_LOOKED_UP``), for as long as its answer holds: once per model
    (and service tier) when its listed price never changes, once per UTC day when it changes on
    set dates (most: a new price from a start date), else once per answer's creation second (an
    off-peak price by the time of day). A tiered price's tier is chosen by each call's input tokens.
    """
    global _looked_up_in  # noqa: PLW0603  (whose data the remembered lookups are)
    snapshot = _snapshots().get_snapshot()
    if snapshot is not _looked_up_in:  # genai-prices' updater brought new data
        _looked_up.clear()
        _changes.clear()
        _looked_up_in = snapshot
    model_key = (provider, model, tier)
    changes = _changes.get(model_key)
    found = None if changes is None else _looked_up.get((*model_key, _when(changes, at)))
    if found is None:
        found, changes = _look_up(snapshot, provider, model, at, tier)
        _changes[model_key] = changes
        if changes == "never" or at is not None:
            if len(_looked_up) >= _LOOKED_UP:
                _looked_up.clear()  # the seconds of an off-peak price, most likely
            _looked_up[(*model_key, _when(changes, at))] = found
    if isinstance(found, str | ModelPrice):
        return found
    return ModelPrice(  # some part is tiered, so not all are None
        input=_rate(found.input_mtok, tokens.input),
        output=_rate(found.output_mtok, tokens.input),
        cached_input=_rate(found.cache_read_mtok, tokens.input),
    )


Changes = Literal["never", "daily", "always"]
"""How often a model's listed price may change: never, from a set date (by the UTC day), any time."""
_LOOKED_UP: Final = 256
"""Lookups remembered (by provider, model, service tier and, for a price that changes, day or second)."""
_looked_up: dict[tuple[str, str, str | None, date | datetime | None], ModelPrice | str | Listed] = {}
_changes: dict[tuple[str, str, str | None], Changes] = {}
_looked_up_in: object = None


def _when(changes: Changes, at: datetime | None) -> date | datetime | None:
    """What a remembered lookup is keyed by besides the model: nothing, the UTC day, the instant."""
    if changes == "never" or at is None:
        return None
    return at.date() if changes == "daily" else at  # ``at`` is in UTC (``utc_time``)


def _look_up(
    snapshot: DataSnapshot, provider: str, model: str, at: datetime | None, tier: str | None
) -> tuple[ModelPrice | str | Listed, Changes]:
    """What the data lists (our rates when no tier applies, genai-prices' when one may, or why
    none), and how often that may change."""  # noqa: D205, D209  (one sentence)
    from genai_prices.types import ModelPrice as Listed  # noqa: PLC0415  (a lookup remembered: rarely run)
    from genai_prices.types import StartDateConstraint  # noqa: PLC0415  (the same)

    try:
        owner, info = snapshot.find_provider_model(model, None, provider, None)
    except LookupError:
        return f"no price for model {model!r} under provider {provider!r} in {prices_version()}", "never"
    # A model listed under another provider (Azure falls back to OpenAI's list) has no tier variants of ours.
    context = {"service_tier": tier} if tier and any(info is own for own in owner.models) else None
    conditions = [] if isinstance(info.prices, Listed) else [price.constraint for price in info.prices]
    conditions += [variant.constraint for variant in info.price_variants or ()]
    changes: Changes = "never"
    if any(condition is not None for condition in conditions):
        dated = all(
            condition is None or isinstance(condition, StartDateConstraint) for condition in conditions
        )
        changes = "daily" if dated else "always"
    listed = info.get_prices(at or datetime.now(UTC), context)
    input_, output, cached = listed.input_mtok, listed.output_mtok, listed.cache_read_mtok
    if not all(part is None or isinstance(part, Decimal) for part in (input_, output, cached)):
        return listed, changes  # tiered: the call's input tokens choose the rates
    rates = ModelPrice(input=_rate(input_, 0), output=_rate(output, 0), cached_input=_rate(cached, 0))
    if rates.input is None and rates.output is None:
        return f"{prices_version()} lists no token price for {model!r} under provider {provider!r}", changes
    return rates, changes


def _parts(
    tokens: BilledTokens, rates: ModelPrice, source: str, model: str, provider: str
) -> tuple[Decimal, Decimal, Decimal, Decimal] | str:
    """Input, cached input, output and reasoning at ``rates``; or why not, when a part used has no
    rate (never priced at zero)."""  # noqa: D205, D209  (one sentence)
    if tokens.audio:
        return f"{tokens.audio} audio tokens: typed-llm prices text tokens only"
    uncached = tokens.input - tokens.cached_input
    cached_rate = rates.cached_input if rates.cached_input is not None else rates.input
    if (uncached and rates.input is None) or (tokens.cached_input and cached_rate is None):
        return f"no input token price for model {model!r} under provider {provider!r} ({source})"
    if tokens.output and rates.output is None:
        return f"no output token price for model {model!r} under provider {provider!r} ({source})"
    zero = Decimal(0)
    output_rate = rates.output or zero
    return (
        Decimal(uncached) * (rates.input or zero) / _MILLION,
        Decimal(tokens.cached_input) * (cached_rate or zero) / _MILLION,
        Decimal(tokens.output) * output_rate / _MILLION,
        Decimal(tokens.reasoning) * output_rate / _MILLION,
    )


def _cost(tokens: BilledTokens, rates: ModelPrice, source: str, model: str, provider: str) -> Cost | str:
    """``tokens`` at ``rates``; or why not, when a part used has no rate (never priced at zero)."""
    parts = _parts(tokens, rates, source, model, provider)
    if isinstance(parts, str):
        return parts
    input_cost, cached_cost, output_cost, reasoning_cost = parts
    # Exact (28 significant digits hold any real call); normalized, so 0.000 reads as 0.
    return Cost(
        input=input_cost.normalize(),
        cached_input=cached_cost.normalize(),
        output=output_cost.normalize(),
        reasoning=reasoning_cost.normalize(),
        total=(input_cost + cached_cost + output_cost).normalize(),
        prices_version=source,
        model=model,
        provider=provider,
        rates=rates,
    )


def _log_fields(
    tokens: BilledTokens, rates: ModelPrice, source: str, model: str, provider: str
) -> dict[str, object] | str:
    """``Cost.log_fields()`` of ``_cost``'s cost, without building the ``Cost`` (a log event per call)."""
    parts = _parts(tokens, rates, source, model, provider)
    if isinstance(parts, str):
        return parts
    input_cost, cached_cost, output_cost, reasoning_cost = parts
    return {
        "input": float(input_cost),
        "cached_input": float(cached_cost),
        "output": float(output_cost),
        "reasoning": float(reasoning_cost),
        "total": float(input_cost + cached_cost + output_cost),
        "currency": "USD",
        "prices_version": source,
    }


@attrs.frozen
class PriceTag:
    """What prices one answer: the provider, the model the registry resolved, the client's price for it.

    Attributes:
        provider: ``openai`` or ``azure``: whose price list.
        model: the model that served the call (never a deployment name the registry could resolve).
        override: the price the client was given for that model, if any (it wins over the data).
    """

    provider: str
    model: str
    override: ModelPrice | None = None

    def price(self, tokens: BilledTokens, at: datetime | None, service_tier: str | None) -> Cost | str:
        """The cost of ``tokens``, or why it is not known."""
        return self._priced(_cost, tokens, at, service_tier)

    def log_fields(
        self, tokens: BilledTokens, at: datetime | None, service_tier: str | None
    ) -> dict[str, object] | str:
        """``price(...).log_fields()``, or why there is no cost (what a log event carries)."""
        return self._priced(_log_fields, tokens, at, service_tier)

    def _priced(
        self,
        form: Callable[[BilledTokens, ModelPrice, str, str, str], P | str],
        tokens: BilledTokens,
        at: datetime | None,
        service_tier: str | None,
    ) -> P | str:
        if self.override is not None:
            return form(tokens, self.override, OVERRIDE, self.model, self.provider)
        rates = _listed(self.provider, self.model, tokens, at, service_tier)
        if isinstance(rates, str):
            return rates
        return form(tokens, rates, prices_version(), self.model, self.provider)
