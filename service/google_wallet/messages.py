"""Campaign messages on Google Wallet cards, within Google's notification limit.

Google notifies the holder of a message added with messageType TEXT_AND_NOTIFY, at most 3
times per object in 24 hours (the 4th is refused with 429 QuotaExceeded). Messages are
counted here per card across every campaign: under 3 notifying messages in the last 24 h
the message notifies; beyond that it is added as TEXT (shown on the back of the card, no
notification). Should Google still answer QuotaExceeded (its count also includes other
notifications), the same message is sent again as TEXT.

Usage (campaigns, in a job)::

    from service.google_wallet.messages import send_message
    row = send_message(session, card, "Double points", "Only this weekend", campaign_id=7)
    session.commit()        # the GoogleMessage row keeps the quota count

Never raises for Google's answers: the returned row says what happened (`status` "sent",
"dev" when Google Wallet is not configured, "failed" with `reason`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passes.errors import PassValidationError
from passes.google import loyalty_message
from service.google_wallet import sync
from service.google_wallet.client import AlreadyExists, GoogleWalletError, QuotaExceeded
from service.models import Card, GoogleMessage, utcnow
from service.platform.config import Settings
from service.platform.jobs import worker_app

NOTIFY = "TEXT_AND_NOTIFY"
SILENT = "TEXT"
NOTIFYING_PER_DAY = 3
WINDOW = dt.timedelta(hours=24)


def notifying_in_window(session: Session, card_id: int, now: dt.datetime | None = None) -> int:
    since = (now or utcnow()) - WINDOW
    return session.scalar(
        select(func.count()).select_from(GoogleMessage).where(
            GoogleMessage.card_id == card_id, GoogleMessage.message_type == NOTIFY,
            GoogleMessage.status == "sent", GoogleMessage.created_at > since)) or 0


def send_message(session: Session, card: Card, header: str, body: str, *, campaign_id: int | None = None,
                 settings: Settings | None = None) -> GoogleMessage:
    """Add a message to the card's Google Wallet object; notify while the card is under quota.

    Adds (and flushes) a GoogleMessage row to `session`; the caller commits. Inserts the
    object first if the card was never synced. `settings`: default the current app's (or
    the worker's, outside an app context). Makes HTTP calls: call it from a job.
    """
    row = GoogleMessage(card_id=card.id, campaign_id=campaign_id, message_id=f"passcast-{uuid.uuid4().hex}",
                        header=header[:200], body=body, message_type=NOTIFY, status="queued")
    return deliver(session, card, row, settings=settings)


def deliver(session: Session, card: Card, row: GoogleMessage, *, settings: Settings | None = None) -> GoogleMessage:
    """Send a (new or queued) GoogleMessage row of `card`: notifying while under quota.

    Sets the row's status, message type and reason, adds and flushes it; the caller commits.
    """
    if settings is None:
        settings = (current_app if has_app_context() else worker_app()).config["PASSCAST"]
    message_type = NOTIFY if notifying_in_window(session, card.id) < NOTIFYING_PER_DAY else SILENT
    outcome: tuple[str, str, str | None] = ("dev", message_type, None)
    if sync.enabled(settings):
        outcome = _send(session, settings, card, row, message_type)
    row.status, row.message_type, row.reason = outcome
    row.lease_until = None
    session.add(row)
    session.flush()
    return row


def _send(session: Session, settings: Settings, card: Card, row: GoogleMessage,
          message_type: str) -> tuple[str, str, str | None]:
    object_id = sync.object_id(settings, card)
    language = sync.language_of(card)  # campaigns pick each card's text in its customer's language
    try:
        message = loyalty_message(row.message_id, sync.as_spoken(row.header, language),
                                  sync.as_spoken(row.body, language), message_type)
        if card.google_synced_version is None:
            sync.sync_card(session, settings, card)
        wallet = sync.client(settings)
        try:
            wallet.add_message(object_id, message)
            return "sent", message_type, None
        except AlreadyExists:  # the same message id: a send retried after Google had taken it
            return "sent", message_type, "already added by an earlier attempt"
        except QuotaExceeded:
            if message_type != NOTIFY:
                raise
            wallet.add_message(object_id, {**message, "messageType": SILENT})
            return "sent", SILENT, "Google's notification quota reached: shown without notifying"
    except (GoogleWalletError, PassValidationError) as exc:
        return "failed", message_type, str(exc)[:200]
