"""Campaign messages for cards that also live in Google Wallet (addMessage, quota-aware).

`service.google_wallet.messages` owns the API call and Google's limit of 3 notifying
messages per object per 24 h; this module makes the campaign's messages durable:

- `queue_messages` runs in the campaign batch's own transaction: one `queued` GoogleMessage
  row per card of the batch whose Google object exists, with the message id
  `passcast-c<campaign>-<card>` (unique: a card never gets one campaign twice). Nothing is
  lost when a worker dies after the batch commits: the rows are there.
- `deliver_queued` (a job after each batch) sends a campaign's queued rows, each claimed
  with a short lease first so that two jobs never send the same one; a sender that died
  mid-send lets its lease run out. Google's answer to a repeated message id (409) counts as
  sent, so a retried send never shows twice.
- `stale` is what the minute sweeper hands to new jobs: campaigns with queued rows that
  nobody is sending (None for birthday greetings, which queue theirs the same way with the
  id `passcast-b<card>-<year>` in the greeting's transaction).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.google_wallet.messages import NOTIFY, deliver
from service.models import Card, GoogleMessage, utcnow
from service.platform.config import Settings

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=2)
DELIVER_BATCH = 100
STALE_AFTER = dt.timedelta(minutes=1)


def message_id(campaign_id: int, card_id: int) -> str:
    return f"passcast-c{campaign_id}-{card_id}"


def queue_messages(session: Session, campaign_id: int, header: str, texts: Mapping[int, str]) -> int:
    """In the caller's transaction: a queued message for each card of `texts` with a Google object."""
    if not texts:
        return 0
    with_objects = list(session.scalars(select(Card.id).where(Card.id.in_(list(texts)),
                                                              Card.google_synced_version.is_not(None))))
    if not with_objects:
        return 0
    now = utcnow()
    rows = [{"card_id": card_id, "campaign_id": campaign_id, "message_id": message_id(campaign_id, card_id),
             "header": header[:200], "body": texts[card_id], "message_type": NOTIFY, "status": "queued",
             "created_at": now} for card_id in sorted(with_objects)]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(GoogleMessage).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(GoogleMessage).on_conflict_do_nothing()
    else:  # pragma: no cover - we run on the two above
        statement = insert(GoogleMessage)
    session.execute(statement, rows)
    return len(rows)


def _claimable(now: dt.datetime) -> list[object]:
    return [GoogleMessage.status == "queued",
            or_(GoogleMessage.lease_until.is_(None), GoogleMessage.lease_until < now)]


def deliver_queued(session: Session, settings: Settings, campaign_id: int | None) -> int:
    """Send the campaign's queued messages (None: those of no campaign, i.e. birthdays);
    returns how many this call sent (any outcome)."""
    done = 0
    of_campaign = (GoogleMessage.campaign_id.is_(None) if campaign_id is None
                   else GoogleMessage.campaign_id == campaign_id)
    while True:
        now = utcnow()
        ids = list(session.scalars(select(GoogleMessage.id).where(of_campaign, *_claimable(now))
                                   .order_by(GoogleMessage.id).limit(DELIVER_BATCH)))
        if not ids:
            return done
        done += sum(deliver_one(session, settings, row_id) for row_id in ids)


def deliver_one(session: Session, settings: Settings, row_id: int) -> bool:
    """Claim one queued message and send it; False when another job has it (or it is gone)."""
    claimed = session.execute(update(GoogleMessage).where(GoogleMessage.id == row_id, *_claimable(utcnow()))
                              .values(lease_until=utcnow() + LEASE)
                              .execution_options(synchronize_session=False))
    session.commit()
    if not claimed.rowcount:  # type: ignore[attr-defined]  # another job has it
        return False
    row = session.get(GoogleMessage, row_id, populate_existing=True)
    card = session.get(Card, row.card_id) if row is not None else None
    if row is None or card is None:
        return False
    try:
        deliver(session, card, row, settings=settings)
        session.commit()
    except Exception:  # noqa: BLE001 - one card's failure must not cost the others their message
        session.rollback()
        log.exception("Google message %s to card %s failed", row_id, card.id)
        session.execute(update(GoogleMessage).where(GoogleMessage.id == row_id)
                        .values(status="failed", reason="internal error", lease_until=None)
                        .execution_options(synchronize_session=False))
        session.commit()
    return True


def stale(session: Session, now: dt.datetime | None = None) -> list[int | None]:
    """Campaigns (None: birthdays) whose queued Google messages nobody is sending (a lost job
    or a dead worker)."""
    now = now or utcnow()
    return list(session.scalars(select(GoogleMessage.campaign_id).where(
        and_(*_claimable(now)), GoogleMessage.created_at < now - STALE_AFTER).distinct()))
