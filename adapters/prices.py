"""The dated price table: what a run's tokens cost at list price, when the CLI does not say."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from adapters.base import Usage

PER_TOKENS = Decimal(1_000_000)
CENT_FRACTION = Decimal("0.000001")  # costs are kept to a millionth of a dollar
OVERRIDE_DATE = "override"
_RATES = ("input", "output", "cache_read", "cache_write")
# Vendor decorations around a model id: `anthropic/`, `models/`, Bedrock's `anthropic.` and
# `-v1:0`, Vertex's `@20250929`, Claude Code's `[1m]`, and dated snapshots.
_PREFIX = re.compile(r"^(?:.*/)?(?:anthropic\.)?")
_SUFFIXES = (
    re.compile(r"\[[^\]]*\]$"),
    re.compile(r"-v\d+(?::\d+)?$"),
    re.compile(r"@\d{8}$"),
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),
    re.compile(r"-\d{8}$"),
    re.compile(r"-latest$"),
)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens; None = not published (usage needing it is not priced)."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None
    cache_write: Decimal | None
    date: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class Priced:
    cost_usd: float
    date: str  # the date of the figures used (or "override" for configured prices)


def normalize(model: str) -> str:
    """`anthropic/claude-sonnet-4-5-20250929` -> `claude-sonnet-4-5`."""
    name = _PREFIX.sub("", model.strip().lower())
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            stripped = suffix.sub("", name)
            if stripped != name and stripped:
                name, changed = stripped, True
    return name


def _rate(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        # Through str: 0.3 stays 0.3, not its binary approximation.
        rate = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        rate = Decimal("NaN")
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"a price must be a non-negative number, not {value!r}")
    return rate


def _price(entry: Mapping[str, Any], *, date: str, source: str) -> Price:
    rates = {key: _rate(entry.get(key)) for key in _RATES}
    inp, out = rates["input"], rates["output"]
    if inp is None or out is None:
        raise ValueError("a price needs at least `input` and `output`")
    return Price(
        input=inp,
        output=out,
        cache_read=rates["cache_read"],
        cache_write=rates["cache_write"],
        date=date,
        source=source,
    )


class PriceTable:
    def __init__(self, *, prices: Mapping[str, Price]) -> None:
        self._prices = {normalize(name): price for name, price in prices.items()}

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Mapping[str, float]] | None = None,
        *,
        path: Path | None = None,
    ) -> PriceTable:
        """The shipped table (or `path`), with `overrides` (model -> rates) laid over it.

        An override of a known model may change some rates only; a new model needs `input`
        and `output`. Overridden entries are dated "override".
        """
        text = (
            path.read_text()
            if path is not None
            else resources.files("adapters").joinpath("prices.json").read_text()
        )
        models: dict[str, Any] = json.loads(text)["models"]
        prices = {
            normalize(name): _price(entry, date=str(entry["date"]), source=str(entry["source"]))
            for name, entry in models.items()
        }
        for name, rates in (overrides or {}).items():
            key = normalize(name)
            unknown = set(rates) - set(_RATES)
            if unknown:
                raise ValueError(f"price override for {name}: unknown keys {sorted(unknown)}")
            base = prices.get(key)
            merged: dict[str, Any] = {} if base is None else {k: getattr(base, k) for k in _RATES}
            merged.update(rates)
            prices[key] = _price(merged, date=OVERRIDE_DATE, source="configuration")
        return cls(prices=prices)

    def lookup(self, model: str) -> Price | None:
        return self._prices.get(normalize(model)) if model else None

    def price(self, usage: Usage) -> Priced | None:
        """The cost of `usage` at list price; None when the model or a needed rate is unknown."""
        price = self.lookup(usage.model)
        if price is None:
            return None
        parts = [
            (usage.input_tokens, price.input),
            (usage.output_tokens, price.output),
            (usage.cache_read_tokens, price.cache_read),
            (usage.cache_write_tokens, price.cache_write),
        ]
        total = Decimal(0)
        for tokens, rate in parts:
            if tokens and rate is None:
                return None
            if tokens:
                assert rate is not None
                total += Decimal(tokens) * rate
        cost = (total / PER_TOKENS).quantize(CENT_FRACTION, rounding=ROUND_HALF_UP)
        return Priced(cost_usd=float(cost), date=price.date)

    @property
    def models(self) -> list[str]:
        return sorted(self._prices)
