"""The till's two card reads on PostgreSQL, straight from the driver (issue 18).

A scan reads the card with its program, the program's tiers and the holder; a transaction locks
the card and reads the same program and tiers, and any entry already posted under its
Idempotency-Key. Through the ORM (`joinedload`) each was about 1 800 Python function calls for
a handful of rows: cache key, execution context, result set-up, the eager loaders' row
processing. Here one statement, compiled once, runs on the session's connection in its
transaction (`db.session_driver_rows`), and the rows become the same persistent objects a query
would have put in the session (`db.as_loaded`): attributes loaded, none changed, deferred
columns (the images) and other relationships loading on first use as before.

Both return None when the ORM must answer instead: another database than PostgreSQL, or (for
the lock) a card this session already holds, which the ORM query refreshes (`populate_existing`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from service.models import Card, Customer, LedgerEntry, Program, Tier
from service.platform import db


def _loaded_columns(model: type) -> tuple[Any, ...]:
    """The columns a query loads up front (not the deferred ones: the images)."""
    return tuple(attribute.columns[0] for attribute in inspect(model).column_attrs if not attribute.deferred)


_CARD = _loaded_columns(Card)
_PROGRAM = _loaded_columns(Program)
_TIER = _loaded_columns(Tier)
_CUSTOMER = _loaded_columns(Customer)
_ENTRY = _loaded_columns(LedgerEntry)

_SCANNED = (
    select(*_CARD, *_PROGRAM, *_CUSTOMER, *_TIER)
    .outerjoin(Program, Program.id == Card.program_id)
    .outerjoin(Customer, Customer.id == Card.customer_id)
    .outerjoin(Tier, Tier.program_id == Program.id)
    .where(Card.brand_id == bindparam("brand_id"), Card.number == bindparam("number"))
    .order_by(Card.id, Tier.threshold)
)

_LOCKED = (
    select(*_CARD, *_PROGRAM, *_ENTRY, *_TIER)
    .outerjoin(LedgerEntry, and_(LedgerEntry.card_id == Card.id, LedgerEntry.idempotency_key == bindparam("key")))
    .outerjoin(Program, Program.id == Card.program_id)
    .outerjoin(Tier, Tier.program_id == Program.id)
    .where(Card.id == bindparam("card_id"))
    .order_by(Tier.threshold)
    .with_for_update(of=Card, key_share=True)  # FOR NO KEY UPDATE OF cards: see engine.lock_card
)


def _split(row: tuple[Any, ...], groups: tuple[tuple[Any, ...], ...]) -> list[tuple[Any, ...]]:
    parts, start = [], 0
    for columns in groups:
        parts.append(row[start:start + len(columns)])
        start += len(columns)
    return parts


def _object(session: Session, model: type, columns: tuple[Any, ...], values: tuple[Any, ...]) -> Any:
    """The persistent object of these values, or None for the NULLs of an outer join's missing row."""
    if values[0] is None:  # the primary key (first column of every table here)
        return None
    return db.as_loaded(session, model, db.result_values(columns, values, session.get_bind().dialect))


def _program_with_tiers(session: Session, program: Program | None, tiers: list[Tier]) -> None:
    if program is not None and "tiers" not in program.__dict__:
        set_committed_value(program, "tiers", tiers)  # ordered by threshold, as the relationship


def scanned_card(session: Session, brand_id: int, number: int) -> tuple[bool, Card | None]:
    """(True, the brand's card of that number or None), or (False, None) where the ORM must read it."""
    groups = (_CARD, _PROGRAM, _CUSTOMER, _TIER)
    rows = db.session_driver_rows(session, _SCANNED, {"brand_id": brand_id, "number": number})
    if rows is None:
        return False, None
    if not rows:
        return True, None
    first_card_id = rows[0][0]
    rows = [row for row in rows if row[0] == first_card_id]  # `.first()` of the ORM query
    card_values, program_values, customer_values, _ = _split(rows[0], groups)
    card = _object(session, Card, _CARD, card_values)
    program = _object(session, Program, _PROGRAM, program_values)
    customer = _object(session, Customer, _CUSTOMER, customer_values)
    tiers = [tier for tier in (_object(session, Tier, _TIER, _split(row, groups)[3]) for row in rows)
             if tier is not None]
    _program_with_tiers(session, program, tiers)
    for name, value in (("program", program), ("customer", customer)):
        if name not in card.__dict__:
            set_committed_value(card, name, value)
    return True, card


def locked_card(session: Session, card_id: int,
                key: str) -> tuple[bool, Card | None, LedgerEntry | None]:
    """(True, card, entry posted under `key`) with the card row locked, or (False, None, None) where
    the ORM must do it (another database, or the card already in this session)."""
    if session.identity_map.get(inspect(Card).identity_key_from_primary_key([card_id])) is not None:
        return False, None, None
    groups = (_CARD, _PROGRAM, _ENTRY, _TIER)
    rows = db.session_driver_rows(session, _LOCKED, {"card_id": card_id, "key": key})
    if rows is None:
        return False, None, None
    if not rows:
        return True, None, None
    card_values, program_values, entry_values, _ = _split(rows[0], groups)
    card = _object(session, Card, _CARD, card_values)
    program = _object(session, Program, _PROGRAM, program_values)
    entry = _object(session, LedgerEntry, _ENTRY, entry_values)
    tiers = [tier for tier in (_object(session, Tier, _TIER, _split(row, groups)[3]) for row in rows)
             if tier is not None]
    _program_with_tiers(session, program, tiers)
    if "program" not in card.__dict__:
        set_committed_value(card, "program", program)
    return True, card, entry
