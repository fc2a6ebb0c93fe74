"""Stamp cards: what earns a stamp, happy hours, the reward ladder and a full card's carry-over.

A program of kind ``stamps`` has ``stamps_required`` (N) slots. The card's ``balance`` is the
stamps on the *current* card (so the ledger still sums to it); ``stamp_cards_completed`` counts
the cards filled before. When a transaction takes the card to N or beyond, the card is full: a
``card_full`` ledger entry takes N stamps off (the stamps beyond N stay: carry-over), the count
of completed cards goes up, and the full card's reward is recorded. Rungs of the ladder crossed
on the way are recorded too, once per card cycle.

What earns stamps:
- ``{"type": "stamp", "stamps": n}`` (n defaults to 1: one visit): n stamps, whatever the rule;
- ``{"type": "purchase", "amount": ..}`` by the program's ``stamp_rule``: ``visit`` one stamp per
  transaction, ``purchase_over`` one stamp when the amount is at least ``stamp_rule_amount``,
  ``per_amount`` one stamp per whole ``stamp_rule_amount`` spent.
Both are multiplied by the best happy hour running at that store and local time (program
``time_zone``, else UTC). Qualifying products are not a rule: transactions carry no product data.

Everything here is pure (no session): the engine locks the card and writes what this decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.models import Program

STAMP_RULES = ("visit", "purchase_over", "per_amount")
AMOUNT_RULES = frozenset({"purchase_over", "per_amount"})
MAX_STAMPS_REQUIRED = 40
MAX_STAMPS_PER_TRANSACTION = 1000
MAX_MULTIPLIER = 10
MAX_LADDER = 10
MAX_HAPPY_HOURS = 20
FULL_CARD_REWARD = "Full card reward"  # the full card's reward when the ladder names none at N


@dataclass(frozen=True)
class Reward:
    """A reward a transaction earned: `at` stamps on card number `cycle` (1-based)."""

    name: str
    cycle: int
    at: int
    full_card: bool

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "card_cycle": self.cycle, "at": self.at, "full_card": self.full_card}


@dataclass(frozen=True)
class Filling:
    """What adding stamps does to a card: the stamps left on the new current card, the cards
    filled on the way, and the rewards crossed (in order)."""

    stamps: int
    cards_filled: int
    rewards: tuple[Reward, ...]


def zone(program: Program) -> ZoneInfo:
    """The program's time zone for happy hours; UTC without one (or with a name we cannot load)."""
    try:
        return ZoneInfo(program.time_zone) if program.time_zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _minutes(text: str) -> int:
    """"HH:MM" as minutes since midnight ("24:00" is the end of the day)."""
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def happy_hour_matches(hour: Mapping[str, Any], store_id: int | None, local: dt.datetime) -> bool:
    """Whether a happy hour {stores, weekdays, from, to, multiplier} runs at `store_id` at `local`.

    ``stores`` null means every store (and a transaction that names none); ``weekdays`` are ISO
    (1 = Monday .. 7 = Sunday) of the local date; ``from`` is included, ``to`` excluded.
    """
    stores = hour.get("stores")
    if stores is not None and store_id not in stores:
        return False
    if local.isoweekday() not in hour.get("weekdays", ()):
        return False
    now = local.hour * 60 + local.minute
    return _minutes(hour["from"]) <= now < _minutes(hour["to"])


def multiplier(program: Program, store_id: int | None, now: dt.datetime) -> int:
    """The best multiplier of the happy hours running now (1 when none): they do not compound."""
    local = now.astimezone(zone(program))
    running = [int(hour["multiplier"]) for hour in program.happy_hours or ()
               if happy_hour_matches(hour, store_id, local)]
    return max(running, default=1)


def purchase_stamps(program: Program, amount: Decimal) -> int:
    """Stamps a purchase of `amount` earns by the program's rule, before any happy hour."""
    rule = program.stamp_rule or "visit"
    if rule == "visit":
        return 1
    threshold = program.stamp_rule_amount
    if threshold is None or threshold <= 0:
        return 0
    if rule == "purchase_over":
        return 1 if amount >= threshold else 0
    return int((amount / threshold).to_integral_value(rounding=ROUND_FLOOR))


def ladder(program: Program) -> list[tuple[int, str]]:
    """The ladder as (at, reward name), lowest first."""
    return sorted((int(rung["at"]), str(rung["reward"])) for rung in program.stamp_ladder or ())


def full_card_reward(program: Program) -> str:
    """The full card's reward: the ladder's rung at N, else a plain name."""
    required = program.stamps_required or 0
    return next((name for at, name in ladder(program) if at == required), FULL_CARD_REWARD)


def fill(program: Program, stamps: int, cards_completed: int, added: int) -> Filling:
    """Add `added` stamps to a card holding `stamps` on card number `cards_completed + 1`.

    Every rung strictly above the stamps before and at most the stamps after is crossed; a card
    reaching N is full (its reward), and what is beyond N starts the next card, which may cross
    rungs and fill again (a large purchase on a per_amount rule can fill several cards).
    """
    required = program.stamps_required or 0
    if required <= 0:
        raise ValueError("a stamp-card program needs stamps_required")
    rungs = [(at, name) for at, name in ladder(program) if at < required]
    full_name = full_card_reward(program)
    rewards: list[Reward] = []
    position, total, cycle, filled = stamps, stamps + added, cards_completed + 1, 0
    while True:
        reached = min(total, required)
        rewards.extend(Reward(name, cycle, at, False) for at, name in rungs if position < at <= reached)
        if total < required:
            return Filling(total, filled, tuple(rewards))
        rewards.append(Reward(full_name, cycle, required, True))
        total -= required
        filled += 1
        cycle += 1
        position = 0


def next_reward(program: Program, stamps: int) -> tuple[int, str] | None:
    """The next rung the card will reach (at, name), the full card's reward last."""
    required = program.stamps_required or 0
    for at, name in ladder(program):
        if stamps < at < required:
            return at, name
    return (required, full_card_reward(program)) if required else None


# -- validation of a program's stamp settings (the API turns each message into a problem) ---------


def problems(program: Program, store_ids: Sequence[int] = ()) -> list[dict[str, str]]:
    """What is wrong with a stamp-card program's settings, as [{field, message}] (empty: fine).

    Checked on the program as it would be after a change, so a PATCH of the ladder alone is
    judged against the N already set. `store_ids`: the brand's stores, for happy hours.
    """
    errors: list[dict[str, str]] = []
    required = program.stamps_required
    if not required:
        return [{"field": "stamps_required", "message": "A stamp-card program needs stamps_required (stamps "
                                                          "that fill a card)."}]
    starter = program.starter_stamps or 0
    if starter >= required:
        errors.append({"field": "starter_stamps",
                       "message": f"Starter stamps must be fewer than the {required} that fill a card."})
    previous = 0
    for index, rung in enumerate(program.stamp_ladder or ()):
        at = int(rung["at"])
        if not 1 <= at <= required:
            errors.append({"field": f"stamp_ladder.{index}.at",
                           "message": f"A reward is at 1..{required} stamps (the card's size); got {at}."})
        elif at <= previous:
            errors.append({"field": f"stamp_ladder.{index}.at",
                           "message": "Rewards go up the card: each `at` must be above the one before."})
        elif at <= starter:
            errors.append({"field": f"stamp_ladder.{index}.at",
                           "message": f"A reward at {at} would be reached by the {starter} starter stamps alone."})
        previous = max(previous, at)
    if program.stamp_rule in AMOUNT_RULES and not program.stamp_rule_amount:
        errors.append({"field": "stamp_rule_amount",
                       "message": f"The {program.stamp_rule} rule needs stamp_rule_amount (an amount of money)."})
    known = set(store_ids)
    for index, hour in enumerate(program.happy_hours or ()):
        if _minutes(hour["from"]) >= _minutes(hour["to"]):
            errors.append({"field": f"happy_hours.{index}.to",
                           "message": "A happy hour ends after it starts (over midnight: use two)."})
        unknown = sorted(set(hour.get("stores") or ()) - known)
        if unknown:
            errors.append({"field": f"happy_hours.{index}.stores",
                           "message": f"No store {', '.join(map(str, unknown))} in your brand."})
    return errors
