"""A journey's report: the cards it treated beside its holdout, and what the difference is worth.

The unit is an *entry* (one card entering one occurrence: a card lapsed twice counts twice), and
each entry's attribution window is its own: the `WINDOW` (7 days, as for campaigns) from the
moment it entered. Both sides are counted the same way:

- entered: entries recorded; skipped: those whose card did not meet the conditions (or was
  voided), which got nothing on either side and are left out of everything below;
- reachable: entries whose card a phone or Google Wallet held when it entered
  (`JourneyEntry.reachable`); reached: treated entries whose message was sent to such a card
  (the holdout's: the reachable ones, which would have been);
- compared: the entries the figures count: for a journey that sends a message, those reachable
  when they entered (decided before anything was done, so the split stays random; an entry
  recorded without reachability counts); for one that only gives (points, a coupon), every entry;
- buyers, purchases, revenue: purchases of the entry's card in its window.

The lift is service/campaigns/lift.py `measure` over those two groups (95 % intervals by the
normal approximation, incremental revenue = difference per entry x treated entries). Cost is what
was given to the treated side: the points (`JourneyEntry.points_given`) at the program's point
value (cashback points are money), coupons at their catalogue reward's price in points at that
value, and `cost_per_entry` per treated entry (a message's production, a gift outside the
catalogue). A part whose value is unknown makes the cost unknown, and says so: a ROMI without it
would flatter. With no holdout the report says plainly that the figures are not causal.

The evaluator (service/journeys/, another module) writes the entries; it must check a journey's
conditions before the holdout split, so a skipped entry is skipped on both sides alike, and split
by `holdout.in_holdout(salt(journey.id), card_id, journey.holdout_percent)`.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns import lift as lift_maths
from service.campaigns import outcomes
from service.campaigns.report import LIFT_COLUMNS, currency
from service.campaigns.report import lift_rows as campaign_lift_rows
from service.journeys.evaluate import holdout_salt
from service.models import CatalogueReward, Journey, JourneyEntry, LedgerEntry, Program, utcnow

WINDOW = outcomes.WINDOW
#: Entry outcomes that took part (treated: every action ran; holdout: kept back); the rest are skips.
TOOK_PART = ("done", "held")
NOT_CAUSAL = ("No holdout is kept, so these figures are not causal: they show what the cards that entered did, "
              "not what the journey made them do.")
COLUMNS = LIFT_COLUMNS


def salt(journey_id: int) -> str:
    """The salt of a journey's holdout split (SHA-256 of "salt:card id", service/campaigns/holdout.py):
    the evaluator's own, so the report names the split the entries were made with."""
    return holdout_salt(journey_id)


def _sends_message(journey: Journey) -> bool:
    return any(action.get("type") == "message" for action in journey.actions or [])


def _entries(session: Session, journey_id: int) -> list[Any]:
    return list(session.execute(
        select(JourneyEntry.id, JourneyEntry.card_id, JourneyEntry.holdout, JourneyEntry.outcome,
               JourneyEntry.message, JourneyEntry.reachable, JourneyEntry.points_given, JourneyEntry.entered_at)
        .where(JourneyEntry.journey_id == journey_id).order_by(JourneyEntry.id)))


def _purchases(session: Session, journey_id: int, since: dt.datetime,
               until: dt.datetime) -> dict[int, tuple[list[dt.datetime], list[Decimal]]]:
    """Per card of the journey: its purchases in [since, until), sorted by time (times, amounts)."""
    cards = select(JourneyEntry.card_id).where(JourneyEntry.journey_id == journey_id).distinct()
    found: dict[int, tuple[list[dt.datetime], list[Decimal]]] = defaultdict(lambda: ([], []))
    for card_id, at, amount in session.execute(
            select(LedgerEntry.card_id, LedgerEntry.created_at, LedgerEntry.amount)
            .where(LedgerEntry.card_id.in_(cards), LedgerEntry.kind == "purchase",
                   LedgerEntry.created_at >= since, LedgerEntry.created_at < until)
            .order_by(LedgerEntry.card_id, LedgerEntry.created_at, LedgerEntry.id)):
        times, amounts = found[card_id]
        times.append(at)
        amounts.append(Decimal(amount or 0))
    return found


def _groups(entries: list[Any], purchases: dict[int, tuple[list[dt.datetime], list[Decimal]]],
            compared: Any) -> dict[bool, lift_maths.Group]:
    """The two sides' figures over the compared entries, each over its own window."""
    tally = {side: {"cards": 0, "buyers": 0, "purchases": 0, "revenue": Decimal(0), "squares": Decimal(0)}
             for side in (False, True)}
    for entry in entries:
        if not compared(entry):
            continue
        side = tally[bool(entry.holdout)]
        side["cards"] += 1
        times, amounts = purchases.get(entry.card_id, ([], []))
        start = bisect.bisect_left(times, entry.entered_at)
        end = bisect.bisect_left(times, entry.entered_at + WINDOW)
        if end > start:
            revenue = sum(amounts[start:end], Decimal(0))
            side["buyers"] += 1
            side["purchases"] += end - start
            side["revenue"] += revenue
            side["squares"] += revenue * revenue
    return {side: lift_maths.Group(cards=t["cards"], buyers=t["buyers"], purchases=t["purchases"],
                                   revenue=t["revenue"], revenue_squares=t["squares"])
            for side, t in tally.items()}


def _cost(session: Session, journey: Journey, program: Program, treated_done: int,
          points_given: int) -> dict[str, Any]:
    """What the treated side was given, in money: points, coupons, the per-entry cost; `total`
    None (and `unknown` naming why) when a part's value is not known."""
    unknown: list[str] = []
    points_money = outcomes.points_money(program, points_given) if points_given else Decimal(0)
    if points_money is None:
        unknown.append("points (set the program's point_value)" if program.kind == "points"
                       else f"{'stamps' if program.kind == 'stamps' else 'points'} given on a {program.kind} card")
    coupons = [action for action in journey.actions or [] if action.get("type") == "coupon"]
    coupons_given = treated_done * len(coupons)
    coupon_money: Decimal | None = Decimal(0)
    for action in coupons:
        reward = session.get(CatalogueReward, action["reward_id"]) if action.get("reward_id") else None
        price = (outcomes.points_money(program, reward.cost_points)
                 if reward is not None and reward.cost_points else None)
        if price is None:
            coupon_money = None
            break
        coupon_money = (coupon_money or Decimal(0)) + price * treated_done
    if coupons_given and coupon_money is None and journey.cost_per_entry is None:
        unknown.append("coupons (no catalogue price; set cost_per_entry to count them)")
    per_entry = (journey.cost_per_entry * treated_done) if journey.cost_per_entry is not None else None
    # a coupon without a catalogue price is taken to be inside cost_per_entry when the brand gave one
    coupon_part = coupon_money if coupon_money is not None else Decimal(0)
    total = None if unknown else (points_money or Decimal(0)) + coupon_part + (per_entry or Decimal(0))
    if total is not None and not points_given and not coupons_given and journey.cost_per_entry is None:
        total = None  # nothing given and nothing said: a message alone has no cost we can count
    return {"points_given": points_given,
            "points_value": None if points_money is None else lift_maths.money(points_money),
            "coupons_given": coupons_given,
            "coupons_value": None if coupon_money is None or not coupons_given else lift_maths.money(coupon_money),
            "cost_per_entry": None if journey.cost_per_entry is None else lift_maths.money(journey.cost_per_entry),
            "per_entry_total": None if per_entry is None else lift_maths.money(per_entry),
            "total": None if total is None else lift_maths.money(total), "unknown": unknown}


def report(session: Session, journey: Journey) -> dict[str, Any]:
    """The journey's treated and holdout sides, the lift and the cost (see the module)."""
    program = session.get(Program, journey.program_id)
    assert program is not None
    entries = _entries(session, journey.id)
    needs_reach = _sends_message(journey)

    def took_part(entry: Any) -> bool:
        return entry.outcome in TOOK_PART

    def compared(entry: Any) -> bool:
        return took_part(entry) and (not needs_reach or entry.reachable is not False)

    if entries:
        first = min(entry.entered_at for entry in entries)
        last = max(entry.entered_at for entry in entries)
        purchases = _purchases(session, journey.id, first, last + WINDOW)
    else:
        last, purchases = None, {}
    groups = _groups(entries, purchases, compared)

    def side(holdout: bool) -> dict[str, Any]:
        mine = [entry for entry in entries if bool(entry.holdout) == holdout]
        reachable = sum(1 for entry in mine if took_part(entry) and entry.reachable)
        reached = reachable if holdout else sum(
            1 for entry in mine
            if took_part(entry) and entry.reachable and (entry.message == "sent" or not needs_reach))
        figures = groups[holdout].as_dict()
        figures["compared"] = figures.pop("cards")
        return {"entered": len(mine), "recipients": len(mine), "cards": len({entry.card_id for entry in mine}),
                "skipped": sum(1 for entry in mine if not took_part(entry)), "reachable": reachable,
                "reached": reached, **figures}

    treated, held = side(False), side(True)
    held.update(percent=journey.holdout_percent, salt=salt(journey.id))
    treated_done = sum(1 for entry in entries if not entry.holdout and entry.outcome == "done")
    points_given = sum(int(entry.points_given or 0) for entry in entries if not entry.holdout)
    cost = _cost(session, journey, program, treated_done, points_given)
    kept = groups[True] if (journey.holdout_percent > 0 or held["entered"] > 0) else None
    total = None if cost["total"] is None else Decimal(cost["total"])
    measured = lift_maths.measure(groups[False], kept, total)
    if kept is None:
        measured["note"] = NOT_CAUSAL
    window_end = None if last is None else last + WINDOW
    measured.update(window_days=WINDOW.days, window_ends_at=window_end,
                    window_closed=window_end is not None and window_end <= utcnow(),
                    currency=currency(session, journey.brand_id), unit="entry")
    return {"journey_id": journey.id, "name": journey.name, "enabled": journey.enabled,
            "trigger": journey.trigger, "trigger_value": journey.trigger_value,
            "treated": treated, "holdout": held, "lift": measured, "cost": cost}


def rows(figures: dict[str, Any]) -> list[list[Any]]:
    """The report as rows of COLUMNS: the campaign report's rows (the same figures, an entry for a
    recipient), then entered and skipped, and the cost's parts."""
    treated, held, cost = figures["treated"], figures["holdout"], figures["cost"]
    money = figures["lift"]["currency"]
    found = campaign_lift_rows(figures)
    found[1:1] = [["entered", treated["entered"], held["entered"], "", "", "", ""],
                  ["skipped", treated["skipped"], held["skipped"], "", "", "", ""]]
    found = [row for row in found if row[0] != "recipients"]
    found += [["points_given", cost["points_given"], "", cost["points_value"] or "", "", "", money],
              ["coupons_given", cost["coupons_given"], "", cost["coupons_value"] or "", "", "", money],
              ["cost_per_entry", "", "", cost["cost_per_entry"] or "", "", "", money],
              ["cost_unknown", "", "", "; ".join(cost["unknown"]), "", "", ""]]
    return found
