"""The push outbox: a card's new version and its pushes are written in one transaction.

Whoever changes a card calls `cards.touch(card)` and commits; nothing else. A flush hook
sees the version change and, in that same flush, writes one PushDelivery row per distinct
active token of the card with a single INSERT ... SELECT (no registration rows travel to
Python and back); after the commit the rows' ids go to the job queue. If the process dies
between commit and enqueue, the rows are still "queued" and the sweeper finds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Integer, any_, bindparam, event, insert, inspect, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.models import Card, PushDelivery, Registration, utcnow
from service.platform import db
from service.push.id_lists import among

_PENDING = "passcast_push_ids"
_CHANGED = "passcast_changed_cards"
_enqueue: Callable[[list[int]], None] | None = None
BATCH = 2000
_COLUMNS = ["card_id", "card_version", "registration_id", "push_token", "client_kind", "client_app", "topic",
            "campaign_id", "status", "attempts", "created_at"]


def set_enqueuer(enqueue: Callable[[list[int]], None]) -> None:
    """Where committed delivery ids go (the job queue); set once at start-up."""
    global _enqueue
    _enqueue = enqueue


def _insert_ignoring_duplicates(session: Session) -> Any:
    """A token registered twice for one card (two device ids) is pushed once per version."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(PushDelivery).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(PushDelivery).on_conflict_do_nothing()
    return insert(PushDelivery)


def queue_deliveries(session: Session, card_ids: Sequence[int], *, campaign_id: int | None = None,
                     now: dt.datetime | None = None) -> list[int]:
    """Queue a push to every active token of these cards, for each card's version in the database.

    One statement; returns the ids written, which are also enqueued after the commit.
    """
    if not card_ids:
        return []
    now = now or utcnow()
    rows = db.session_driver_rows(session, _QUEUE_ON_POSTGRESQL,
                                  {"card_ids": list(card_ids), "campaign_id": campaign_id, "now": now})
    if rows is not None:
        ids = [row[0] for row in rows]
        remember(session, ids)
        return ids
    source = (
        select(Registration.card_id, Card.version, Registration.id, Registration.push_token,
               Registration.client_kind, Registration.client_app, Registration.pass_type_identifier,
               literal(campaign_id),
               literal("queued"), literal(0), literal(now, type_=PushDelivery.created_at.type))
        .join(Card, Card.id == Registration.card_id)
        .where(among(session, Registration.card_id, card_ids), Registration.active.is_(True))
        .order_by(Registration.id)
    )
    # RETURNING gives exactly the rows written (duplicates are skipped by ON CONFLICT).
    statement = _insert_ignoring_duplicates(session).from_select(_COLUMNS, source).returning(PushDelivery.id)
    ids = list(session.connection().execute(statement).scalars())  # Core: no ORM bulk-insert layer
    remember(session, ids)
    return ids


#: `queue_deliveries` on PostgreSQL, the till's every purchase: the same INSERT ... SELECT, compiled once
#: and run by the driver (db.session_driver_rows), the cards as one array parameter.
_QUEUE_ON_POSTGRESQL = (
    postgresql.insert(PushDelivery).on_conflict_do_nothing().from_select(_COLUMNS, (
        select(Registration.card_id, Card.version, Registration.id, Registration.push_token,
               Registration.client_kind, Registration.client_app, Registration.pass_type_identifier,
               bindparam("campaign_id", type_=Integer), literal("queued"), literal(0),
               bindparam("now", type_=PushDelivery.created_at.type))
        .join(Card, Card.id == Registration.card_id)
        .where(Registration.card_id == any_(bindparam("card_ids", type_=postgresql.ARRAY(Integer))),
               Registration.active.is_(True))
        .order_by(Registration.id)
    )).returning(PushDelivery.id)
)


def remember(session: Session, ids: list[int]) -> None:
    """Deliveries written without the ORM (bulk paths): enqueue them after this commit."""
    if ids:
        session.info.setdefault(_PENDING, []).extend(ids)


def hold(session: Session) -> list[int]:
    """Take the deliveries queued so far in this transaction out of the after-commit enqueue:
    the caller sends them with `release` once it is ready (a campaign, once the batch's passes
    are signed). Held ids that are never released stay "queued" and the sweeper sends them
    after LOST_AFTER (service/push/delivery.py), so a crash in between loses no push."""
    return session.info.pop(_PENDING, [])


def release(ids: Sequence[int]) -> None:
    """Enqueue deliveries taken with `hold` (after their transaction committed)."""
    if _enqueue is not None:
        for start in range(0, len(ids), BATCH):
            _enqueue(list(ids[start:start + BATCH]))


def _version_changed(card: Card) -> bool:
    history = inspect(card).attrs.version.history
    return bool(history.added) and bool(history.deleted)


@event.listens_for(Session, "before_flush")
def _note_changed_cards(session: Session, _context: Any, _instances: Any) -> None:
    changed = [obj.id for obj in session.dirty if isinstance(obj, Card) and _version_changed(obj)]
    if changed:
        session.info.setdefault(_CHANGED, set()).update(changed)


@event.listens_for(Session, "after_flush")
def _queue_for_changed_cards(session: Session, _context: Any) -> None:
    # The cards' new versions are in the database now, so the INSERT ... SELECT reads them.
    changed = session.info.pop(_CHANGED, None)
    if changed:
        queue_deliveries(session, sorted(changed))


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids:
        release(ids)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_CHANGED, None)
