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

import functools
from typing import Any

from sqlalchemy import and_, bindparam, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from service.models import Card, Customer, LedgerEntry, Program, Tier
from service.platform import db


def loaded_columns(model: type) -> tuple[Any, ...]:
    """The columns a query loads up front (not the deferred ones: the images)."""
    return tuple(attribute.columns[0] for attribute in inspect(model).column_attrs if not attribute.deferred)


_CARD = loaded_columns(Card)
_PROGRAM = loaded_columns(Program)
_TIER = loaded_columns(Tier)
_CUSTOMER = loaded_columns(Customer)
_ENTRY = loaded_columns(LedgerEntry)

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


# --- writing the card back (a transaction's UPDATE) ---------------------------------------------

_CARD_TABLE = Card.__table__
_CARD_COLUMN_KEYS = frozenset(attribute.key for attribute in inspect(Card).column_attrs)


@functools.lru_cache(maxsize=64)  # one statement per set of changed columns (a handful in practice)
def _update_statement(keys: tuple[str, ...]) -> Any:
    columns = _CARD_TABLE.c
    return (update(_CARD_TABLE).where(columns.id == bindparam("card_id_"))
            .values({key: bindparam(key, type_=columns[key].type) for key in keys}).returning(columns.id))


def _card_changes(card: Card) -> dict[str, Any] | None:
    """The card's changed columns (an attribute set to the value it had is no change, as for the ORM),
    the tier's foreign key from `current_tier`; None if anything else changed (the ORM writes it)."""
    state = inspect(card)
    values, dict_ = {}, state.dict
    for key, before in state.committed_state.items():
        if key == "current_tier":
            tier = dict_.get(key)
            if tier is not None and inspect(tier).key is None:
                return None  # a tier not yet written: the ORM orders the two INSERT/UPDATEs
            tier_id = tier.id if tier is not None else None
            if tier_id != dict_.get("tier_id"):
                values["tier_id"] = tier_id
        elif key in _CARD_COLUMN_KEYS and key != "tier_id":
            if key in dict_ and dict_[key] != before:
                values[key] = dict_[key]
        else:
            return None
    return values


def flush_card(session: Session, card: Card) -> None:
    """`session.flush()` for a transaction whose only change is to the locked card's columns: on
    PostgreSQL one UPDATE of the changed columns straight from the driver (the unit of work's flush
    was about 15 % of the Python a purchase costs: issue 18), with the session's flush hooks told as a
    flush tells them (before_flush sees the card dirty: the outbox and Google Wallet note a new
    version; after_flush: the outbox queues the pushes). Anything else pending, another database,
    or a change the ORM must order (a new tier): the ORM flushes, as before."""
    if not _lean_flush(session, card):
        session.flush()


def _lean_flush(session: Session, card: Card) -> bool:
    if session.get_bind().dialect.name != "postgresql" or session.new or session.deleted:
        return False
    dirty = session.dirty
    if not dirty:
        return True  # nothing to write, as flush() would find
    if len(dirty) != 1 or card not in dirty:
        return False
    dispatch = session.dispatch
    if dispatch.before_flush:
        dispatch.before_flush(session, None, None)
        if session.new or session.deleted or len(session.dirty) != 1:
            return False  # a hook added work: the ORM's flush does all of it (hooks are idempotent)
    values = _card_changes(card)
    if values is None:
        return False
    state = inspect(card)
    if values:
        keys = tuple(sorted(values))
        rows = db.session_driver_rows(session, _update_statement(keys), {**values, "card_id_": card.id})
        if rows is None:
            return False  # the driver declined: the ORM writes it (the hooks above only note ids)
        assert rows, f"card {card.id} vanished under its lock"
        if "tier_id" in values:
            state.dict["tier_id"] = values["tier_id"]
    state._commit_all(state.dict, session.identity_map)  # noqa: SLF001 - what the unit of work does after its UPDATE
    if dispatch.after_flush:
        dispatch.after_flush(session, None)
    if dispatch.after_flush_postexec:
        dispatch.after_flush_postexec(session, None)
    return True

