"""Lift: what a send changed, measured against its holdout (pure arithmetic, no database).

Two groups of cards, split at random before anything was sent (service/campaigns/holdout.py):
the treated group got the message, the holdout got nothing. Because the split is random, the
holdout shows what the treated group would have done anyway, so the *difference* between the
groups is what the send caused. Without a holdout there is nothing to compare with and the
treated group's purchases are correlation, not effect: `causal` is False and no difference is
given.

For each group we know, per card over the attribution window, whether it bought, how many
purchases and how much revenue. The figures:

- conversion = buyers / cards; the difference (treated - holdout) with the Agresti-Caffo 95 %
  interval: one buyer and one non-buyer added to each side, p~ = (buyers + 1) / (cards + 2),
  interval (p~_t - p~_h) +- 1.96 sqrt(p~_t (1 - p~_t) / (n_t + 2) + p~_h (1 - p~_h) / (n_h + 2)).
  The plain normal approximation collapses to a zero-width "certain" interval when a side has
  0 % or 100 % conversion (5 buyers of 5 against 0 of 5); this one stays honest there and is
  the same as the plain one on large groups.
- revenue per card = revenue / cards (non-buyers count as 0); the difference with a 95 %
  interval by Welch's normal approximation, se = sqrt(s_t^2 / n_t + s_h^2 / n_h), where s^2
  is each group's sample variance of per-card revenue (from the sum of squares).
- incremental revenue = difference per card x treated cards (its interval scaled the same):
  the money the send brought that would not have come without it.
- ROMI = (incremental revenue - cost) / cost, when the cost of what was given is known and
  not zero (a message alone costs nothing we can count, so its ROMI is None).

An interval that contains 0 means the data cannot tell the effect from chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: The two-sided 95 % quantile of the standard normal distribution.
Z95 = 1.959963984540054
CENT = Decimal("0.01")
NOT_CAUSAL = ("No holdout was kept, so these figures are not causal: they show what the recipients did, "
              "not what the message made them do.")
TOO_SMALL = "A group has fewer than two reachable cards yet, so no difference can be measured."
FEW_BUYERS = ("Few buyers on a side (under 10): the interval's normal approximation is rough; read it as a "
              "guide and wait for more purchases or a larger holdout.")
#: Below this many buyers on either side the interval is flagged as rough (causal still).
FEW = 10


@dataclass(frozen=True)
class Group:
    """One side's cards over the attribution window (cards counted whether or not they bought)."""

    cards: int
    buyers: int = 0
    purchases: int = 0
    revenue: Decimal = Decimal(0)
    #: The sum over the group's cards of (that card's revenue in the window) squared.
    revenue_squares: Decimal = Decimal(0)

    @property
    def conversion(self) -> float | None:
        return self.buyers / self.cards if self.cards else None

    @property
    def revenue_per_card(self) -> float | None:
        return float(self.revenue) / self.cards if self.cards else None

    @property
    def revenue_variance(self) -> float:
        """Sample variance of per-card revenue (0 for fewer than two cards)."""
        if self.cards < 2:
            return 0.0
        mean = float(self.revenue) / self.cards
        return max(0.0, (float(self.revenue_squares) - self.cards * mean * mean) / (self.cards - 1))

    def as_dict(self) -> dict[str, Any]:
        per_card = self.revenue_per_card
        return {"cards": self.cards, "buyers": self.buyers, "purchases": self.purchases,
                "revenue": money(self.revenue),
                "conversion": None if self.conversion is None else round(self.conversion, 6),
                "revenue_per_card": None if per_card is None else money(per_card)}


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % confidence interval."""

    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def scaled(self, factor: float) -> Interval:
        bounds = sorted((self.low * factor, self.high * factor))
        return Interval(self.estimate * factor, bounds[0], bounds[1])


def money(value: float | Decimal) -> str:
    return str(Decimal(str(value)).quantize(CENT))


def difference(estimate: float, standard_error: float) -> Interval:
    return Interval(estimate, estimate - Z95 * standard_error, estimate + Z95 * standard_error)


def conversion_difference(treated: Group, holdout: Group) -> Interval | None:
    """Treated minus holdout conversion, with the Agresti-Caffo 95 % interval (see the module's docstring)."""
    if treated.cards < 2 or holdout.cards < 2:
        return None
    p_t, p_h = treated.buyers / treated.cards, holdout.buyers / holdout.cards
    n_t, n_h = treated.cards + 2, holdout.cards + 2
    a_t, a_h = (treated.buyers + 1) / n_t, (holdout.buyers + 1) / n_h
    margin = Z95 * math.sqrt(a_t * (1 - a_t) / n_t + a_h * (1 - a_h) / n_h)
    return Interval(p_t - p_h, a_t - a_h - margin, a_t - a_h + margin)


def revenue_difference(treated: Group, holdout: Group) -> Interval | None:
    """Treated minus holdout revenue per card, with Welch's normal-approximation 95 % interval."""
    if treated.cards < 2 or holdout.cards < 2:
        return None
    mean_t, mean_h = float(treated.revenue) / treated.cards, float(holdout.revenue) / holdout.cards
    se = math.sqrt(treated.revenue_variance / treated.cards + holdout.revenue_variance / holdout.cards)
    return difference(mean_t - mean_h, se)


def romi(incremental_revenue: float, cost: Decimal | None) -> float | None:
    """(incremental revenue - cost) / cost; None when the cost is unknown or zero."""
    if cost is None or cost <= 0:
        return None
    return (incremental_revenue - float(cost)) / float(cost)


def _interval_dict(interval: Interval, as_money: bool = False, digits: int = 6) -> dict[str, Any]:
    def shown(value: float) -> Any:
        return money(value) if as_money else round(value, digits)
    return {"estimate": shown(interval.estimate), "low": shown(interval.low), "high": shown(interval.high),
            "significant": interval.excludes_zero and interval.high > interval.low}  # zero width: no spread seen


def measure(treated: Group, holdout: Group | None, cost: Decimal | None = None) -> dict[str, Any]:
    """The lift of a send: `holdout` None (or empty of cards) when none was kept.

    Returns `causal` (whether a difference could be measured), `note` (why not, in words; or,
    when causal, that few buyers make the interval rough),
    `conversion_difference`, `revenue_per_card_difference`, `incremental_revenue`,
    `incremental_buyers` (each an estimate with low/high and whether the interval excludes 0),
    `relative_uplift` (difference per card / holdout revenue per card), `cost` and `romi`
    (estimate, low, high: the incremental revenue interval carried through).
    """
    result: dict[str, Any] = {
        "confidence": 0.95, "causal": False, "note": None, "conversion_difference": None,
        "revenue_per_card_difference": None, "incremental_revenue": None, "incremental_buyers": None,
        "relative_uplift": None, "cost": None if cost is None else money(cost), "romi": None}
    if holdout is None:
        return {**result, "note": NOT_CAUSAL}
    conversion = conversion_difference(treated, holdout)
    revenue = revenue_difference(treated, holdout)
    if conversion is None or revenue is None:
        return {**result, "note": TOO_SMALL}
    incremental = revenue.scaled(treated.cards)
    result.update(causal=True, note=FEW_BUYERS if min(treated.buyers, holdout.buyers) < FEW else None,
                  conversion_difference=_interval_dict(conversion),
                  revenue_per_card_difference=_interval_dict(revenue, as_money=True),
                  incremental_revenue=_interval_dict(incremental, as_money=True),
                  incremental_buyers=_interval_dict(conversion.scaled(treated.cards), digits=1))
    baseline = holdout.revenue_per_card
    if baseline:
        result["relative_uplift"] = round(revenue.estimate / baseline, 6)
    estimate = romi(incremental.estimate, cost)
    if estimate is not None:
        low, high = romi(incremental.low, cost), romi(incremental.high, cost)
        result["romi"] = {"estimate": round(estimate, 4), "low": round(low or 0.0, 4), "high": round(high or 0.0, 4)}
    return result
