"""The till's safeguards: a program's limits on what one card may earn, and when.

Three rules, each off while its program field is None (service/models/programs.py):

- ``once_per_hours`` (``earn_once_per_hours``): at most one earning transaction per card every N
  hours (24: once a day). A transaction exactly N hours after the last one is allowed.
- ``daily_cap`` (``daily_cap``): at most this many points (stamp cards: stamps) per card per local
  day of the program's ``time_zone`` (UTC without one); reaching the cap exactly is allowed.
- ``per_transaction_cap`` (``per_transaction_cap``): at most this many in one transaction. A
  purchase that would earn more is refused, not capped: a till cannot split the difference
  silently, and the cashier can see why and ask a manager.

What counts is what a transaction earns as the ledger records it (tier multipliers and happy
hours included; cashback: minor units of money, 1 = 0.01): transactions of kind earn, stamp and
purchase that earn more than nothing, minus any that were reversed. A transaction that earns
nothing (a discount card's purchase, a purchase under a stamp rule's amount) is never refused and
never counts. Redemptions are not limited.

The engine checks these with the card row locked (so two cashiers at once cannot both pass) and
with at most one indexed query of the card's recent ledger (ix_ledger_entries_card_created), and
none at all when only the per-transaction cap is set. A refusal writes nothing to the ledger; the
API records it (`record_refusal`) in a transaction of its own, for the counts of
GET /api/v1/programs/{id}/refusals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.loyalty.stamps import zone
from service.models import Card, LedgerEntry, LimitRefusal, Program

RULES = ("once_per_hours", "daily_cap", "per_transaction_cap")
#: Ledger kinds a limit counts (when they earn more than nothing).
EARNING_KINDS = ("earn", "stamp", "purchase")
MAX_HOURS = 24 * 31
MAX_CAP = 10_000_000


@dataclass(frozen=True)
class Refusal:
    """Why a transaction is refused: the rule, a plain sentence, and when it would pass."""

    rule: str
    message: str
    limit: int
    next_allowed_at: dt.datetime | None = None
    #: daily_cap: how much more the card may still get today
    left: int | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"rule": self.rule, "limit": self.limit,
                                "next_allowed_at": self.next_allowed_at.isoformat() if self.next_allowed_at else None}
        if self.rule == "daily_cap":
            body["left"] = self.left
        return body


def limited(program: Program) -> bool:
    """Whether any limit is on (no check, no query otherwise)."""
    return any(value is not None for value in (program.earn_once_per_hours, program.daily_cap,
                                               program.per_transaction_cap))


def _unit(program: Program, n: int) -> str:
    if program.kind == "stamps":
        return "stamp" if n == 1 else "stamps"
    return "point" if n == 1 else "points"


def _local(program: Program, moment: dt.datetime) -> str:
    """A moment as the till's clock shows it: "10:14 on 2026-12-03" in the program's time zone."""
    local = moment.astimezone(zone(program))
    return f"{local:%H:%M} on {local:%Y-%m-%d}"


def day_start(program: Program, now: dt.datetime) -> dt.datetime:
    """Midnight that began the program's local day containing `now`, in UTC."""
    tz = zone(program)
    local = now.astimezone(tz)
    return dt.datetime.combine(local.date(), dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def next_day_start(program: Program, now: dt.datetime) -> dt.datetime:
    tz = zone(program)
    tomorrow = now.astimezone(tz).date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def _earnings_since(session: Session, card_id: int, since: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """(when, how much) of the card's earning entries since `since` that were not reversed since.

    One range read of the card's ledger by date; a reversal made in the same range cancels the
    entry it points at (a reversal of an older entry changes nothing here)."""
    rows = session.execute(
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.points, LedgerEntry.created_at,
               LedgerEntry.reversed_entry_id)
        .where(LedgerEntry.card_id == card_id, LedgerEntry.created_at >= since,
               LedgerEntry.kind.in_((*EARNING_KINDS, "reversal")))).all()
    reversed_ids = {row.reversed_entry_id for row in rows if row.kind == "reversal"}
    return [(row.created_at, int(row.points)) for row in rows
            if row.kind in EARNING_KINDS and row.points > 0 and row.id not in reversed_ids]


def check(session: Session, card: Card, kind: str, earned: int, now: dt.datetime) -> Refusal | None:
    """The first limit a transaction of `kind` earning `earned` on `card` would break, or None.

    Call it with the card locked (service/loyalty/engine.py does)."""
    program = card.program
    if earned <= 0 or kind not in EARNING_KINDS or not limited(program):
        return None
    cap = program.per_transaction_cap
    what = {"purchase": "purchase", "stamp": "stamp transaction", "earn": "transaction"}[kind]
    if cap is not None and earned > cap:
        return Refusal("per_transaction_cap",
                       f"This {what} would earn {earned} {_unit(program, earned)}; this program allows at most "
                       f"{cap} in one transaction. Nothing was posted.", cap)
    hours, daily = program.earn_once_per_hours, program.daily_cap
    if hours is None and daily is None:
        return None
    starts = [now - dt.timedelta(hours=hours)] if hours is not None else []
    today = day_start(program, now)
    if daily is not None:
        starts.append(today)
    earnings = _earnings_since(session, card.id, min(starts))
    if hours is not None:
        window = now - dt.timedelta(hours=hours)
        recent = [moment for moment, _ in earnings if moment > window]
        if recent:
            last = max(recent)
            given = "a stamp" if program.kind == "stamps" else "points"
            when = "once a day" if hours == 24 else f"once every {hours} hours"
            return Refusal("once_per_hours",
                           f"This card already got {given} at {_local(program, last)}; this program gives "
                           f"{given} {when}, so the next can be given from "
                           f"{_local(program, last + dt.timedelta(hours=hours))}. Nothing was posted.",
                           hours, last + dt.timedelta(hours=hours))
    if daily is not None:
        total = sum(points for moment, points in earnings if moment >= today)
        if total + earned > daily:
            left = max(daily - total, 0)
            tomorrow = next_day_start(program, now)
            more = (f"it can get {left} more today" if left else
                    f"the next can be given from {_local(program, tomorrow)}")
            return Refusal("daily_cap",
                           f"This card has already got {total} {_unit(program, total)} today and this would "
                           f"add {earned}; this program allows {daily} a day, so {more}. Nothing was posted.",
                           daily, tomorrow, left)
    return None


@dataclass(frozen=True)
class Where:
    """Which card a refusal was about, where and by whom (kept as plain ids for the count)."""

    brand_id: int
    program_id: int
    card_id: int
    store_id: int | None
    cashier_id: int | None


def record_refusal(session: Session, where: Where, refusal: Refusal, now: dt.datetime) -> None:
    """Count a refusal (the caller commits, after rolling the refused transaction back)."""
    session.add(LimitRefusal(brand_id=where.brand_id, program_id=where.program_id, card_id=where.card_id,
                             store_id=where.store_id, cashier_id=where.cashier_id, rule=refusal.rule,
                             created_at=now))


def refusal_counts(session: Session, program_id: int, start: dt.datetime | None,
                   end: dt.datetime | None) -> list[dict[str, Any]]:
    """[{rule, store_id, count}] of a program's refusals in [start, end), most first."""
    statement = (select(LimitRefusal.rule, LimitRefusal.store_id, func.count().label("count"))
                 .where(LimitRefusal.program_id == program_id)
                 .group_by(LimitRefusal.rule, LimitRefusal.store_id))
    if start is not None:
        statement = statement.where(LimitRefusal.created_at >= start)
    if end is not None:
        statement = statement.where(LimitRefusal.created_at < end)
    rows = session.execute(statement).all()
    return sorted(({"rule": row.rule, "store_id": row.store_id, "count": int(row.count)} for row in rows),
                  key=lambda row: (-row["count"], row["rule"], row["store_id"] or 0))
