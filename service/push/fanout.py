"""Changing many cards at once (campaigns, design changes): a few statements per thousand
cards instead of an ORM flush per card, with the same guarantees as `cards.touch`:
a new version, a strictly later Last-Modified second, and queued deliveries written in
the caller's transaction (enqueued by the outbox after commit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from service.models import Card, utcnow
from service.push import outbox
from service.push.id_lists import among

CHUNK = 1000


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
            select(Card.id, Card.updated_at).where(among(session, Card.id, chunk), Card.updated_at >= now)
        ).all()
        session.execute(
            update(Card)
            .where(among(session, Card.id, chunk), Card.updated_at < now)
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
        ids = outbox.queue_deliveries(session, chunk, campaign_id=campaign_id, now=now)
        queued += len(ids)
    session.expire_all()
    return queued
