"""Changing many cards at once (campaigns, design changes): a few statements per thousand
cards instead of an ORM flush per card, with the same guarantees as `cards.touch`:
a new version, a strictly later Last-Modified second, and queued deliveries written in
the caller's transaction (enqueued by the outbox after commit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.models import Card, PushDelivery, Registration, utcnow
from service.push import outbox

CHUNK = 1000


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(PushDelivery).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(PushDelivery).on_conflict_do_nothing()
    return insert(PushDelivery)


def bump_cards(
    session: Session, card_ids: Sequence[int], *, values: dict[str, Any] | None = None, campaign_id: int | None = None
) -> int:
    """Apply `values` to the cards, bump their versions, queue their pushes; returns pushes queued.

    The caller commits; the outbox enqueues the delivery ids after that commit.
    """
    now = utcnow().replace(microsecond=0)
    values = values or {}
    queued = 0
    for start in range(0, len(card_ids), CHUNK):
        chunk = list(card_ids[start : start + CHUNK])
        # Cards already stamped this second (or later) move one second past their stamp.
        recent = session.execute(
            select(Card.id, Card.updated_at).where(Card.id.in_(chunk), Card.updated_at >= now)
        ).all()
        session.execute(
            update(Card)
            .where(Card.id.in_(chunk), Card.updated_at < now)
            .values(version=Card.version + 1, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        if recent:
            table = Card.__table__
            session.execute(
                update(table)
                .where(table.c.id == bindparam("card_id"))
                .values(version=table.c.version + 1, updated_at=bindparam("stamp"), **values),
                [
                    {"card_id": card_id, "stamp": stamp.replace(microsecond=0) + dt.timedelta(seconds=1)}
                    for card_id, stamp in recent
                ],
            )
        columns = [
            "card_id",
            "card_version",
            "registration_id",
            "push_token",
            "client_kind",
            "topic",
            "campaign_id",
            "status",
            "attempts",
            "created_at",
        ]
        source = (
            select(
                Registration.card_id,
                Card.version,
                Registration.id,
                Registration.push_token,
                Registration.client_kind,
                Registration.pass_type_identifier,
                literal(campaign_id),
                literal("queued"),
                literal(0),
                literal(now, type_=PushDelivery.created_at.type),
            )
            .join(Card, Card.id == Registration.card_id)
            .where(Registration.card_id.in_(chunk), Registration.active.is_(True))
            .order_by(Registration.id)
        )
        # RETURNING gives the ids of exactly the rows written (a token repeated on one card
        # is skipped by ON CONFLICT): no second query over push_deliveries per chunk.
        ids = list(
            session.scalars(
                _insert_ignoring_duplicates(session).from_select(columns, source).returning(PushDelivery.id)
            )
        )
        outbox.remember(session, ids)
        queued += len(ids)
    session.expire_all()
    return queued
