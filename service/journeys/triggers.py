"""Which cards a journey's trigger fires for, and the occurrence key of each firing.

Event triggers are read from a batch of changes (ledger entries, NPS answers) the evaluator took
past its watermark: the work is proportional to what changed, never to the cards a program has.
Daily triggers select, on an indexed date column, only the cards whose date falls on the day's
boundary (points expiring on today + N, a last visit on today - N, a birthday today).

The occurrence key is what makes an entry once: the unique (journey, card, occurrence) of
journey_entries. Each key names one thing that can happen to a card once:

- "join", "first_purchase", "visit:<N>": once in a card's life;
- "tier_up:<ledger id>", "tier_down:<ledger id>": each move (down then up again fires again);
- "reach:<reward id>:<rewards bought before>" (points) or "reach:<card cycle>:<stamp>" (stamps):
  once per reward per cycle, not on every purchase while still in reach;
- "expiring:<expiry date>", "lapsed:<last visit date>", "birthday:<year>";
- "nps:<answer id>": once per answer (an answer edited in place keeps its id and is not re-read).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from service.campaigns.birthday import todays_birthdays
from service.campaigns.segments import birthday_on
from service.loyalty import stamps as stamp_rules
from service.loyalty.engine import BONUS_KEY_PREFIXES, VISIT_KINDS, is_visit
from service.models import Card, CatalogueReward, Customer, Journey, LedgerEntry, Program

VISIT_TRIGGERS = frozenset({"first_purchase", "nth_visit"})
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Occurrence:
    """One firing of a trigger for a card: its key, the store it happened at, what a task shows."""

    card_id: int
    key: str
    store_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class LedgerRow:
    """What the triggers read of a ledger entry (one query for a whole batch)."""

    id: int
    card_id: int
    program_id: int
    kind: str
    points: int
    store_id: int | None
    idempotency_key: str | None
    reason: str | None
    response: dict[str, Any] | None


@dataclass(frozen=True)
class AnswerRow:
    id: int
    card_id: int
    program_id: int
    score: int
    comment: str | None
    store_id: int | None


def _visit_clause(entry: Any) -> Any:
    return and_(entry.kind.in_(VISIT_KINDS),
                or_(entry.idempotency_key.is_(None),
                    and_(*(not_(entry.idempotency_key.like(f"{prefix}%")) for prefix in BONUS_KEY_PREFIXES))))


def visit_numbers(session: Session, rows: Sequence[LedgerRow]) -> dict[int, int]:
    """For each visit entry: which visit of its card it was (1 = the first). One grouped query,
    each count an index range on the card's own entries."""
    ids = [row.id for row in rows if is_visit(row.kind, row.idempotency_key)]
    if not ids:
        return {}
    earlier = aliased(LedgerEntry)
    statement = (select(LedgerEntry.id, func.count(earlier.id))
                 .join(earlier, and_(earlier.card_id == LedgerEntry.card_id, earlier.id <= LedgerEntry.id,
                                     _visit_clause(earlier)))
                 .where(LedgerEntry.id.in_(ids)).group_by(LedgerEntry.id))
    return {entry_id: int(count) for entry_id, count in session.execute(statement)}


def rewards_bought_before(session: Session, pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """entry id -> how many rewards its card had bought before it (the "cycle" of a points card)."""
    wanted = dict(pairs)  # entry id -> card id
    if not wanted:
        return {}
    cards = sorted(set(wanted.values()))
    buys: dict[int, list[int]] = defaultdict(list)
    for card_id, entry_id in session.execute(select(LedgerEntry.card_id, LedgerEntry.id).where(
            LedgerEntry.card_id.in_(cards), LedgerEntry.kind == "reward_buy")):
        buys[card_id].append(entry_id)
    return {entry_id: sum(1 for bought in buys[card_id] if bought < entry_id) for entry_id, card_id in wanted.items()}


class Catalogues:
    """Each program's point rewards, cheapest first, read once per evaluator run."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._costs: dict[int, list[tuple[int, int]]] = {}

    def costs(self, program_id: int) -> list[tuple[int, int]]:
        if program_id not in self._costs:
            self._costs[program_id] = [(int(cost), reward_id) for reward_id, cost in self.session.execute(
                select(CatalogueReward.id, CatalogueReward.cost_points).where(
                    CatalogueReward.program_id == program_id, CatalogueReward.active.is_(True),
                    CatalogueReward.cost_points.is_not(None)).order_by(CatalogueReward.cost_points))]
        return self._costs[program_id]


def _reach(program: Program, row: LedgerRow, within: int, catalogues: Catalogues) -> tuple[str, bool] | None:
    """(key prefix, needs the bought-before count) when this entry left its card within reach of a
    reward it could not take yet; None otherwise. Only entries that added points (or stamps)."""
    response = row.response or {}
    if row.points <= 0 or not isinstance(response.get("balance"), int):
        return None
    if program.kind == "stamps":
        stamps = response.get("stamps")
        if not isinstance(stamps, int):
            return None
        upcoming = stamp_rules.next_reward(program, stamps)
        if upcoming is None or not 0 < upcoming[0] - stamps <= within:
            return None
        cycle = int(response.get("stamp_cards_completed") or 0) + 1
        return f"reach:{cycle}:{upcoming[0]}", False
    balance = response["balance"]
    for cost, reward_id in catalogues.costs(program.id):
        if cost > balance:
            return (f"reach:{reward_id}:", True) if cost - balance <= within else None
    return None


def ledger_occurrences(session: Session, rows: Sequence[LedgerRow], journeys: Sequence[Journey],
                       programs: dict[int, Program], catalogues: Catalogues) -> dict[int, list[Occurrence]]:
    """journey id -> the occurrences this batch of ledger entries fires (in ledger order)."""
    by_program: dict[int, list[Journey]] = defaultdict(list)
    for journey in journeys:
        by_program[journey.program_id].append(journey)
    relevant = [row for row in rows if row.program_id in by_program]
    needs_visits = any(journey.trigger in VISIT_TRIGGERS for journey in journeys)
    visits = visit_numbers(session, relevant) if needs_visits else {}
    found: dict[int, list[Occurrence]] = defaultdict(list)
    pending_reach: list[tuple[int, LedgerRow, str]] = []
    for row in relevant:
        for journey in by_program[row.program_id]:
            trigger, value = journey.trigger, journey.trigger_value
            key: str | None = None
            if trigger == "joined":
                key = "join" if row.kind == "issue" and row.reason != "card imported" else None
            elif trigger == "first_purchase":
                key = "first_purchase" if visits.get(row.id) == 1 else None
            elif trigger == "nth_visit":
                key = f"visit:{value}" if value is not None and visits.get(row.id) == value else None
            elif trigger in ("tier_up", "tier_down"):
                moved = (row.response or {}).get("tier_change")
                key = f"{trigger}:{row.id}" if moved == trigger.removeprefix("tier_") else None
            elif trigger == "reward_within_reach" and value is not None:
                reach = _reach(programs[row.program_id], row, value, catalogues)
                if reach is not None and reach[1]:
                    pending_reach.append((journey.id, row, reach[0]))
                    continue
                key = reach[0] if reach is not None else None
            if key is not None:
                found[journey.id].append(Occurrence(row.card_id, key, row.store_id))
    if pending_reach:
        before = rewards_bought_before(session, [(row.id, row.card_id) for _, row, _ in pending_reach])
        for journey_id, row, prefix in pending_reach:
            found[journey_id].append(Occurrence(row.card_id, f"{prefix}{before[row.id]}", row.store_id))
    return found


def answer_occurrences(rows: Sequence[AnswerRow], journeys: Sequence[Journey]) -> dict[int, list[Occurrence]]:
    """journey id -> the NPS answers at or below its score."""
    found: dict[int, list[Occurrence]] = defaultdict(list)
    for row in rows:
        for journey in journeys:
            if journey.program_id == row.program_id and journey.trigger_value is not None \
                    and row.score <= journey.trigger_value:
                found[journey.id].append(Occurrence(row.card_id, f"nps:{row.id}", row.store_id, {
                    "answer_id": row.id, "score": row.score, "comment": row.comment}))
    return found


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def daily_batch(session: Session, journey: Journey, day: dt.date, after_id: int,
                limit: int) -> list[Occurrence]:
    """The next `limit` cards (by id, after `after_id`) a daily trigger fires for on `day` (UTC)."""
    base = [Card.program_id == journey.program_id, Card.voided.is_(False), Card.id > after_id]
    value = journey.trigger_value or 0
    statement: Any
    if journey.trigger == "points_expiring":
        expiry = day + dt.timedelta(days=value)
        statement = select(Card.id).where(*base, Card.points_expire_at >= _midnight(expiry),
                                          Card.points_expire_at < _midnight(expiry) + DAY, Card.balance > 0)
        key = f"expiring:{expiry.isoformat()}"
    elif journey.trigger == "lapsed":
        visited = day - dt.timedelta(days=value)
        statement = select(Card.id).where(*base, Card.last_visit_at >= _midnight(visited),
                                          Card.last_visit_at < _midnight(visited) + DAY)
        key = f"lapsed:{visited.isoformat()}"
    elif journey.trigger == "birthday":
        statement = (select(Card.id).join(Customer, Customer.id == Card.customer_id)
                     .where(*base, birthday_on(todays_birthdays(day))))
        key = f"birthday:{day.year}"
    else:
        raise ValueError(f"{journey.trigger} is not a daily trigger")
    ids = session.scalars(statement.order_by(Card.id).limit(limit)).all()
    return [Occurrence(card_id, key) for card_id in ids]
