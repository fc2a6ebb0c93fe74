"""What the till shows beside a scanned card, on PostgreSQL straight from the driver (issue 18).

The counter view (service/api/counter_view.py) lists the card's redeemable rewards, its recent
entries and its program's rewards for points. Through the ORM each list was a query with its own
execution context, result set-up and one session object per row (about 2 000 Python function
calls a scan); the rows are only serialised, so here they stay plain values (dicts, tuples; the
held rewards as model objects outside any session, for `rewards.reward_view`), from statements
compiled once (`db.session_driver_rows`). Each function returns None on another database, where
the caller asks the ORM as before.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, bindparam, inspect, select
from sqlalchemy.orm import Session

from service.loyalty import rewards
from service.loyalty.card_rows import loaded_columns
from service.models import CatalogueReward, HeldReward, LedgerEntry
from service.platform import db

_HELD = loaded_columns(HeldReward)
_REDEEMABLE = (
    select(*_HELD)
    .where(HeldReward.card_id == bindparam("card_id"),
           *rewards.redeemable_clause(bindparam("now", type_=HeldReward.expires_at.type)))
    .order_by(HeldReward.expires_at.is_(None), HeldReward.expires_at, HeldReward.id)
)
#: what the counter's `recent_transactions` shows of an entry (LedgerEntryOut); not the stored answer
_RECENT_COLUMNS = tuple(LedgerEntry.__table__.c[name] for name in (
    "id", "kind", "reversed_entry_id", "points", "amount", "store_id", "cashier_id", "reason", "idempotency_key",
    "created_at"))
_RECENT = (
    select(*_RECENT_COLUMNS).where(LedgerEntry.card_id == bindparam("card_id"))
    .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(bindparam("limit", type_=Integer))
)
_OFFERS = (
    select(CatalogueReward.id, CatalogueReward.name, CatalogueReward.cost_points)
    .where(CatalogueReward.program_id == bindparam("program_id"), CatalogueReward.active.is_(True),
           CatalogueReward.cost_points.is_not(None))
    .order_by(CatalogueReward.cost_points, CatalogueReward.id)
)


def redeemable_rewards(session: Session, card_id: int, now: dt.datetime) -> list[HeldReward] | None:
    """`rewards.redeemable`, as objects outside the session (None: the ORM must read them)."""
    rows = db.session_driver_rows(session, _REDEEMABLE, {"card_id": card_id, "now": now})
    if rows is None:
        return None
    read = db.row_reader(_HELD, session.get_bind().dialect)
    new_instance = inspect(HeldReward).class_manager.new_instance
    held = []
    for row in rows:
        instance = new_instance()
        instance.__dict__.update(read(row))
        held.append(instance)
    return held


def recent_entries(session: Session, card_id: int, limit: int) -> list[dict[str, Any]] | None:
    """The card's latest entries as LedgerEntryOut reads them (None: the ORM must read them)."""
    rows = db.session_driver_rows(session, _RECENT, {"card_id": card_id, "limit": limit})
    if rows is None:
        return None
    read = db.row_reader(_RECENT_COLUMNS, session.get_bind().dialect)
    return [read(row) for row in rows]


def offers(session: Session, program_id: int) -> list[tuple[int, str, int]] | None:
    """The program's active catalogue rewards sold for points, cheapest first (None: ask the ORM)."""
    rows = db.session_driver_rows(session, _OFFERS, {"program_id": program_id})
    return None if rows is None else [tuple(row) for row in rows]
