"""The journeys evaluator: finds the cards each enabled journey's trigger fired for, enters each
card once per occurrence, and runs the actions, at a cost that follows what changed.

Event triggers (joined, first purchase, Nth visit, reward within reach, tier up or down, an NPS
answer at or below a score) read two streams past their watermark (journey_watermarks):
ledger entries and NPS answers, `batch` at a time, in id order. Each batch is one transaction:

1. lock the stream's watermark row (a second evaluator waits here, then reads on from where the
   first stopped: two evaluators never read the same batch);
2. read the batch, find its occurrences (service/journeys/triggers.py), and for each journey
   INSERT its entries with ON CONFLICT DO NOTHING RETURNING: an occurrence entered before (by an
   earlier run, or a run killed after its commit) returns nothing and is skipped;
3. run the new entries' actions (actions.py, messages.py);
4. move the watermark past the batch, and commit.

A worker killed anywhere in 2-4 rolls all of it back: the next run reads the same batch again and
enters exactly what the dead one would have. Entries younger than `settle` are left for the next
run: a ledger id is taken when a transaction writes it, not when it commits, so a slow
transaction's entry may become visible after a higher id; waiting until entries are a little old
before passing them keeps the watermark from overtaking one.

Daily triggers (points expiring in N days, lapsed N days, birthday) select per journey, on an
indexed date column, only the cards whose date falls on the day's boundary (`triggers.daily_batch`),
a batch per transaction; the unique entry is what makes a second run of the day harmless. A day
the job did not run is caught up on the next run (up to CATCH_UP days back, and never before the
journey was created), by the stream "daily" holding the last day done.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.campaigns.holdout import in_holdout, reachable_ids
from service.journeys import actions, messages, triggers
from service.journeys.definitions import kind_of
from service.journeys.triggers import AnswerRow, LedgerRow, Occurrence
from service.models import (
    Card,
    Customer,
    Journey,
    JourneyEntry,
    JourneyWatermark,
    LedgerEntry,
    NpsAnswer,
    Program,
    utcnow,
)

log = logging.getLogger(__name__)

BATCH = 1000
SETTLE = dt.timedelta(seconds=30)
CATCH_UP = 3
STREAMS = ("ledger", "nps")


@dataclass
class Run:
    """What one evaluation did (the jobs log it, the bench prints it)."""

    read: int = 0  # changes read (events) or cards selected (daily)
    entered: int = 0  # new entries, whatever their outcome
    held: int = 0  # holdout
    skipped: int = 0  # conditions not met, voided card
    already: int = 0  # occurrences entered before (a rerun, a twin evaluator)
    messages: Counter[str] = field(default_factory=Counter)  # sent | deferred | dropped | opted_out
    points: int = 0
    google: int = 0  # Google messages queued (the job sends them after the commit)

    def add(self, other: Run) -> None:
        for name in ("read", "entered", "held", "skipped", "already", "points", "google"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.messages.update(other.messages)


def holdout_salt(journey_id: int) -> str:
    """The salt of a journey's holdout split (service/campaigns/holdout.py): the lift report
    recomputes the same split from it."""
    return f"journey-{journey_id}"


def enabled(session: Session, kind: str) -> list[Journey]:
    """The enabled journeys whose trigger is of `kind` ("event" or "daily")."""
    return [journey for journey in session.scalars(select(Journey).where(Journey.enabled.is_(True))
                                                   .order_by(Journey.id))
            if kind_of(journey.trigger) == kind]


def conditions_met(conditions: dict[str, Any], tier: str | None, balance: int, home_store_id: int | None,
                   store_id: int | None) -> bool:
    """tiers, min_balance, max_balance, store_ids (the home store or the occurrence's store)."""
    if "tiers" in conditions and tier not in conditions["tiers"]:
        return False
    if "min_balance" in conditions and balance < conditions["min_balance"]:
        return False
    if "max_balance" in conditions and balance > conditions["max_balance"]:
        return False
    if "store_ids" in conditions:
        stores = set(conditions["store_ids"])
        if home_store_id not in stores and store_id not in stores:
            return False
    return True


def _insert_ignoring_twins(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """INSERT the entries; returns (id, card id, occurrence) of those that were not there yet."""
    dialect = session.get_bind().dialect.name
    statement: Any = (postgresql.insert(JourneyEntry) if dialect == "postgresql"
                      else sqlite.insert(JourneyEntry) if dialect == "sqlite" else insert(JourneyEntry))
    if dialect in ("postgresql", "sqlite"):
        statement = statement.on_conflict_do_nothing(index_elements=["journey_id", "card_id", "occurrence"])
    returned = session.execute(statement.values(rows).returning(
        JourneyEntry.id, JourneyEntry.card_id, JourneyEntry.occurrence)).all()
    return [(int(entry_id), int(card_id), occurrence) for entry_id, card_id, occurrence in returned]


def enter(session: Session, journey: Journey, occurrences: Sequence[Occurrence], now: dt.datetime) -> Run:
    """Enter these occurrences into the journey (each at most once) and act on the new ones.
    In the caller's transaction."""
    run = Run()
    unique: dict[tuple[int, str], Occurrence] = {}
    for occurrence in occurrences:
        unique.setdefault((occurrence.card_id, occurrence.key), occurrence)
    if not unique:
        return run
    ordered = sorted(unique.values(), key=lambda each: (each.card_id, each.key))  # cards locked in id order
    card_ids = sorted({each.card_id for each in ordered})
    cards = {row[0]: row for row in session.execute(
        select(Card.id, Card.voided, Card.tier, Card.balance, Customer.home_store_id)
        .join(Customer, Customer.id == Card.customer_id).where(Card.id.in_(card_ids)))}
    reachable = reachable_ids(session, card_ids)
    rows, outcome_of = [], {}
    for each in ordered:
        card = cards.get(each.card_id)
        if card is None:
            continue
        _, voided, tier, balance, home_store_id = card
        holdout = False
        if voided:
            outcome = "voided"
        elif not conditions_met(journey.conditions or {}, tier, balance, home_store_id, each.store_id):
            outcome = "conditions"
        elif in_holdout(holdout_salt(journey.id), each.card_id, journey.holdout_percent or 0):
            outcome, holdout = "held", True
        else:
            outcome = "done"
        outcome_of[(each.card_id, each.key)] = outcome
        rows.append({"journey_id": journey.id, "card_id": each.card_id, "occurrence": each.key[:80],
                     "holdout": holdout, "outcome": outcome, "message": None,
                     "reachable": each.card_id in reachable, "points_given": 0, "message_due_at": None,
                     "entered_at": now})
    new = _insert_ignoring_twins(session, rows) if rows else []
    run.entered, run.already = len(new), len(rows) - len(new)
    due: list[actions.NewEntry] = []
    for entry_id, card_id, key in new:
        outcome = outcome_of[(card_id, key)]
        run.held += outcome == "held"
        run.skipped += outcome in ("voided", "conditions")
        if outcome == "done":
            due.append(actions.NewEntry(entry_id, card_id, unique[(card_id, key)]))
    if due:
        _act(session, journey, sorted(due, key=lambda each: (each.card_id, each.id)), now, run)
    return run


def _act(session: Session, journey: Journey, due: list[actions.NewEntry], now: dt.datetime, run: Run) -> None:
    program = session.get(Program, journey.program_id)
    assert program is not None
    has_message = messages.message_action(journey) is not None
    others = [action for action in journey.actions or [] if action.get("type") != "message"]
    coupons = any(action.get("type") == "coupon" for action in others)
    given: dict[int, int] = {}
    if others:
        for entry in due:
            points = actions.run(session, journey, program, entry, now, has_message)
            if points:
                given[entry.id] = points
    if given:
        table = JourneyEntry.__table__
        session.execute(update(table).where(table.c.id == bindparam("entry")).values(points_given=bindparam("given")),
                        [{"entry": entry_id, "given": points} for entry_id, points in given.items()])
        run.points += sum(given.values())
    if has_message:
        google_before = session.info.get(messages.GOOGLE_QUEUED, 0)
        outcome = messages.deliver(session, journey, [(entry.id, entry.card_id) for entry in due], now,
                                   also_bump=[entry.card_id for entry in due] if coupons else ())
        run.messages.update(outcome.values())
        run.google += session.info.get(messages.GOOGLE_QUEUED, 0) - google_before


# -- event triggers -------------------------------------------------------------------------------


def _watermark(session: Session, stream: str, start: int = 0) -> JourneyWatermark:
    """The stream's watermark row, locked until the commit (created at `start` when missing)."""
    dialect = session.get_bind().dialect.name
    values = {"stream": stream, "last_id": start, "updated_at": utcnow()}
    if dialect == "postgresql":
        session.execute(postgresql.insert(JourneyWatermark).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(JourneyWatermark).values(values).on_conflict_do_nothing())
        # SQLite has no row locks: this write takes the database's write lock for the transaction
        session.execute(update(JourneyWatermark).where(JourneyWatermark.stream == stream)
                        .values(stream=JourneyWatermark.stream))
    mark = session.scalars(select(JourneyWatermark).where(JourneyWatermark.stream == stream).with_for_update()
                           .execution_options(populate_existing=True)).one()
    return mark


def _ledger_rows(session: Session, after: int, limit: int) -> list[tuple[LedgerRow, dt.datetime]]:
    rows = session.execute(
        select(LedgerEntry.id, LedgerEntry.card_id, Card.program_id, LedgerEntry.kind, LedgerEntry.points,
               LedgerEntry.store_id, LedgerEntry.idempotency_key, LedgerEntry.reason, LedgerEntry.response,
               LedgerEntry.created_at)
        .join(Card, Card.id == LedgerEntry.card_id).where(LedgerEntry.id > after)
        .order_by(LedgerEntry.id).limit(limit)).all()
    return [(LedgerRow(*row[:9]), row[9]) for row in rows]


def _answer_rows(session: Session, after: int, limit: int) -> list[tuple[AnswerRow, dt.datetime]]:
    rows = session.execute(
        select(NpsAnswer.id, NpsAnswer.card_id, Card.program_id, NpsAnswer.score, NpsAnswer.comment,
               NpsAnswer.store_id, NpsAnswer.created_at)
        .join(Card, Card.id == NpsAnswer.card_id).where(NpsAnswer.id > after)
        .order_by(NpsAnswer.id).limit(limit)).all()
    return [(AnswerRow(*row[:6]), row[6]) for row in rows]


def _settled(rows: list[tuple[Any, dt.datetime]], cutoff: dt.datetime) -> list[Any]:
    """The rows up to (not including) the first one younger than `cutoff`."""
    kept = []
    for row, created_at in rows:
        if created_at is not None and created_at > cutoff:
            break
        kept.append(row)
    return kept


def evaluate_events(session: Session, now: dt.datetime | None = None, *, batch: int = BATCH,
                    settle: dt.timedelta = SETTLE, after_batch: Callable[[Run], None] | None = None) -> Run:
    """Evaluate every enabled event journey over the ledger entries and NPS answers written since
    the last run (up to `settle` ago), one committed batch at a time."""
    now = now or utcnow()
    total = Run()
    journeys = enabled(session, "event")
    session.commit()
    cutoff = now - settle
    catalogues = triggers.Catalogues(session)
    programs = {journey.program_id: session.get(Program, journey.program_id) for journey in journeys}
    for stream in STREAMS:
        stream_journeys = [journey for journey in journeys
                           if (journey.trigger == "nps_at_or_below") == (stream == "nps")]
        while True:
            mark = _watermark(session, stream)
            read = (_ledger_rows if stream == "ledger" else _answer_rows)(session, mark.last_id, batch)
            rows = _settled(read, cutoff)
            if not rows:
                session.rollback()
                break
            run = Run(read=len(rows))
            if stream_journeys:
                found = (triggers.ledger_occurrences(session, rows, stream_journeys, programs,  # type: ignore[arg-type]
                                                     catalogues)
                         if stream == "ledger" else triggers.answer_occurrences(rows, stream_journeys))
                for journey in stream_journeys:
                    if found.get(journey.id):
                        run.add(enter(session, journey, found[journey.id], now))
            mark.last_id, mark.updated_at = rows[-1].id, utcnow()
            session.commit()
            total.add(run)
            if after_batch is not None:
                after_batch(run)
            if len(rows) < batch:
                break
    log.info("journeys (events): %d changes read, %d entered, %d held, %d skipped, messages %s",
             total.read, total.entered, total.held, total.skipped, dict(total.messages))
    return total


# -- daily triggers -------------------------------------------------------------------------------


def evaluate_daily(session: Session, now: dt.datetime | None = None, *, batch: int = BATCH,
                   catch_up: int = CATCH_UP, after_batch: Callable[[Run], None] | None = None) -> Run:
    """Evaluate every enabled daily journey for today (UTC) and any day the job missed."""
    now = now or utcnow()
    today = now.date()
    total = Run()
    mark = session.get(JourneyWatermark, "daily")
    last_done = dt.date.fromordinal(mark.last_id) if mark is not None and mark.last_id > 0 else None
    first = today if last_done is None else max(last_done + dt.timedelta(days=1),
                                                today - dt.timedelta(days=catch_up - 1))
    days = [first + dt.timedelta(days=offset) for offset in range((today - first).days + 1)] or [today]
    journeys = enabled(session, "daily")
    session.commit()
    for journey in journeys:
        since = journey.created_at.date() if journey.created_at else today
        for day in days:
            if day < since and day != today:  # catching up: not the days before it existed
                continue
            after = 0
            while True:
                found = triggers.daily_batch(session, journey, day, after, batch)
                if not found:
                    session.rollback()
                    break
                run = enter(session, journey, found, now)
                run.read = len(found)
                session.commit()
                total.add(run)
                if after_batch is not None:
                    after_batch(run)
                after = found[-1].card_id
                if len(found) < batch:
                    break
    _mark_day(session, today)
    log.info("journeys (daily): %d cards selected, %d entered, %d held, messages %s",
             total.read, total.entered, total.held, dict(total.messages))
    return total


def _mark_day(session: Session, today: dt.date) -> None:
    mark = _watermark(session, "daily")
    mark.last_id, mark.updated_at = max(mark.last_id, today.toordinal()), utcnow()
    session.commit()
