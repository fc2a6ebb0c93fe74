"""Campaign jobs: due campaigns and geo periods every minute, birthdays once a day.

Every job is safe to run twice or to die half way: sending is gated per card by the
recipients table and resumed from the campaign's cursor once its lease has run out
(service/campaigns/sending.py), so a worker restart never sends anyone a campaign twice.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask, current_app, has_app_context
from huey import crontab
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.apple import pass_files
from service.campaigns import birthday, deferred, geo, google, pacing, restock, sending, sign_ahead
from service.models import utcnow
from service.platform.jobs import campaign_queue, google_queue, signing_queue, worker_app

log = logging.getLogger(__name__)

RESTOCK_STALE = dt.timedelta(minutes=2)


def _app() -> Flask:
    return current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]


def _after_batch(campaign_id: int, texts: dict[int, str]) -> None:
    """After each committed batch: its Google Wallet messages (queued with the batch), in a job."""
    google_messages(campaign_id)


def _sign_ahead(web_service_url: str) -> sign_ahead.Sign:
    """Each chunk's new Apple passes, signed and stored before its pushes go (issue 18).

    Each chunk's transaction holds only the stored passes, and commits without waiting for
    PostgreSQL's WAL flush: a stored pass lost in a database crash is harmless (pass_files is a
    cache of signatures: the phone's fetch finds no current row and signs it), while a flush per
    chunk held the signing thread, and the chunk's pushes, on the disk."""
    def sign(session: Session, card_ids: list[int]) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        pass_files.store_many(session, card_ids, web_service_url)
    return sign


def _hand_to_signers(card_ids: list[int], delivery_ids: list[int]) -> None:
    """A campaign's chunk of cards goes to the signing queue, whose jobs any worker takes (issue 18)."""
    sign_chunk(card_ids, delivery_ids)


@signing_queue.task()
def sign_chunk(card_ids: list[int], delivery_ids: list[int]) -> bool:
    """Sign and store these cards' new passes, then let their held pushes go (service/campaigns/sign_ahead.py)."""
    app = _app()
    with app.extensions["db_sessionmaker"]() as session:
        return sign_ahead.sign_then_release(session, _sign_ahead(app.config["PASSCAST"].web_service_url),
                                            card_ids, delivery_ids)


@campaign_queue.task()
def run_campaign(campaign_id: int, now: dt.datetime | None = None) -> int:
    app = _app()
    settings = app.config["PASSCAST"]
    with app.extensions["db_sessionmaker"]() as session:
        return sending.send(session, campaign_id, now=now, after_batch=_after_batch, batch=settings.campaign_batch,
                            lease=dt.timedelta(seconds=settings.campaign_lease_seconds),
                            sign_ahead=_hand_to_signers)


@campaign_queue.task()
def run_restock(event_id: int) -> int:
    with _app().extensions["db_sessionmaker"]() as session:
        return restock.process(session, event_id, after_batch=_after_batch)


@google_queue.task()  # Google's answers must not hold the campaign threads
def google_messages(campaign_id: int | None) -> int:
    """Send the campaign's queued Google Wallet messages (safe to run twice or side by side)."""
    app = _app()
    with app.extensions["db_sessionmaker"]() as session:
        return google.deliver_queued(session, app.config["PASSCAST"], campaign_id)


def run_due(now: dt.datetime | None = None) -> dict[str, int]:
    """Enqueue or run whatever is due now; returns how much of each kind was found."""
    now = now or utcnow()
    with _app().extensions["db_sessionmaker"]() as session:
        campaigns = sending.due(session, now)
        starts, ends = geo.due_starts(session, now), geo.due_ends(session, now)
        restocks = restock.pending(session, now - RESTOCK_STALE)
        messages = google.stale(session, now)
    for campaign_id in campaigns:
        run_campaign(campaign_id, now)
    for campaign_id in starts:
        geo_start(campaign_id, now)
    for campaign_id in ends:
        geo_end(campaign_id, now)
    for event_id in restocks:
        run_restock(event_id)
    for campaign_id in messages:
        google_messages(campaign_id)
    return {"campaigns": len(campaigns), "geo_starts": len(starts), "geo_ends": len(ends),
            "restocks": len(restocks), "google_messages": len(messages)}


@campaign_queue.task()
def geo_start(campaign_id: int, now: dt.datetime | None = None) -> int:
    app = _app()
    with app.extensions["db_sessionmaker"]() as session:
        return geo.start(session, campaign_id, now=now, batch=app.config["PASSCAST"].campaign_batch)


@campaign_queue.task()
def geo_end(campaign_id: int, now: dt.datetime | None = None) -> int:
    app = _app()
    with app.extensions["db_sessionmaker"]() as session:
        return geo.end(session, campaign_id, now=now, batch=app.config["PASSCAST"].campaign_batch)


@campaign_queue.periodic_task(crontab(minute="*"))
def campaigns_every_minute() -> dict[str, int]:
    return run_due()


def run_deferred(now: dt.datetime | None = None) -> int:
    """Send the campaign messages the messaging rules deferred whose moment has come."""
    with _app().extensions["db_sessionmaker"]() as session:
        return deferred.send_due(session, now, after_send=_after_batch)


@campaign_queue.periodic_task(crontab(minute="*"))
def deferred_every_minute() -> int:
    """Quiet hours end and caps free up on the minute: deferred messages go within one."""
    return run_deferred()


@campaign_queue.periodic_task(crontab(hour="4", minute="41"))
def purge_card_messages_daily() -> int:
    """Messages older than the longest cap window no longer count: forget them."""
    with _app().extensions["db_sessionmaker"]() as session:
        purged = pacing.purge_old_messages(session)
        session.commit()
    return purged


def run_birthdays(now: dt.datetime | None = None) -> dict[str, int]:
    app = _app()
    with app.extensions["db_sessionmaker"]() as session:
        result = birthday.run(session, now or utcnow(), app.config["PASSCAST"])
    return {"cards": result.cards, "points": result.points}


@campaign_queue.periodic_task(crontab(hour="8", minute="3"))
def birthdays_daily() -> dict[str, int]:
    """08:03 UTC: late enough to be the birthday nearly everywhere, early enough to be read that day."""
    return run_birthdays()
