"""The push outbox: a card's new version and its pushes are written in one transaction.

Whoever changes a card calls `cards.touch(card)` and commits; nothing else. A flush hook
sees the version change and adds one PushDelivery row per active registration in that
same transaction; after the commit the rows' ids go to the job queue. If the process dies
between commit and enqueue, the rows are still "queued" and the sweeper finds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from service.models import Card, PushDelivery, Registration

_PENDING = "passcast_push_ids"
_enqueue: Callable[[list[int]], None] | None = None
BATCH = 2000


def set_enqueuer(enqueue: Callable[[list[int]], None]) -> None:
    """Where committed delivery ids go (the job queue); set once at start-up."""
    global _enqueue
    _enqueue = enqueue


def deliveries_for(session: Session, cards: Iterable[Card], campaign_id: int | None = None) -> list[PushDelivery]:
    """One queued delivery per distinct active token of each card, for its current version."""
    by_id = {card.id: card for card in cards}
    if not by_id:
        return []
    registrations = session.scalars(
        select(Registration).where(Registration.card_id.in_(by_id), Registration.active.is_(True))
        .order_by(Registration.id))
    deliveries: list[PushDelivery] = []
    seen: set[tuple[int, str]] = set()
    for registration in registrations:
        if (registration.card_id, registration.push_token) in seen:
            continue
        seen.add((registration.card_id, registration.push_token))
        deliveries.append(PushDelivery(
            card_id=registration.card_id, card_version=by_id[registration.card_id].version,
            registration_id=registration.id, push_token=registration.push_token,
            client_kind=registration.client_kind, topic=registration.pass_type_identifier,
            campaign_id=campaign_id, status="queued", attempts=0))
    return deliveries


def remember(session: Session, ids: list[int]) -> None:
    """Deliveries written without the ORM (bulk paths): enqueue them after this commit."""
    if ids:
        session.info.setdefault(_PENDING, []).extend(ids)


def _version_changed(card: Card) -> bool:
    history = inspect(card).attrs.version.history
    return bool(history.added) and bool(history.deleted)


@event.listens_for(Session, "before_flush")
def _queue_pushes(session: Session, _context: Any, _instances: Any) -> None:
    changed = [obj for obj in session.dirty if isinstance(obj, Card) and _version_changed(obj)]
    if not changed:
        return
    with session.no_autoflush:
        session.add_all(deliveries_for(session, changed))


@event.listens_for(Session, "after_flush")
def _remember_ids(session: Session, _context: Any) -> None:
    remember(session, [obj.id for obj in session.new if isinstance(obj, PushDelivery)])


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids and _enqueue is not None:
        for start in range(0, len(ids), BATCH):
            _enqueue(ids[start:start + BATCH])


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
