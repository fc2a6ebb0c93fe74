"""Google Wallet jobs: patch objects after each committed card change; sweep up the rest.

A flush hook (the same idea as the push outbox, in its own listener) notes cards whose
`version` changed and whose object Google already holds; after the commit their ids go to
`sync_google_cards`. Changes made without the ORM (bulk version bumps of campaigns) and
patches that failed are found by `sweep_google_cards` every minute: any card whose
`google_synced_version` is behind its `version`. Bulk paths may call `queue_sync(session,
ids)` so their cards are patched right after the commit instead of at the next sweep.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import crontab
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from passes.errors import PassValidationError
from service.google_wallet import sync
from service.google_wallet.client import GoogleWalletError
from service.models import Card
from service.platform.jobs import google_queue, worker_app

log = logging.getLogger(__name__)

_PENDING = "passcast_google_card_ids"
SWEEP_BATCH = 2000
JOB_BATCH = 100  # one HTTP call per card: small jobs spread over the workers


def _app() -> Flask:
    return current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]


@google_queue.task()
def sync_google_cards(card_ids: list[int]) -> int:
    """Patch each card's object to its current state; failures are left for the sweeper."""
    app = _app()
    settings = app.config["PASSCAST"]
    if not sync.enabled(settings):
        return 0
    done = 0
    with app.extensions["db_sessionmaker"]() as session:
        for card_id in card_ids:
            card = session.get(Card, card_id)
            if card is None or card.google_synced_version is None:  # objects are inserted when a link is asked for
                continue
            try:
                done += sync.sync_card(session, settings, card)
                session.commit()
            except (GoogleWalletError, PassValidationError) as exc:
                session.rollback()
                log.warning("Google Wallet sync of card %s failed (the sweeper retries): %s", card_id, exc)
    return done


def queue_sync(session: Session, card_ids: list[int]) -> None:
    """For changes made without the ORM (bulk version bumps): patch these cards' objects after
    this session commits. ORM changes through `cards.touch` need nothing: the flush hook sees them."""
    if card_ids:
        session.info.setdefault(_PENDING, set()).update(card_ids)


def queue_sync_held(session: Session, card_ids: list[int]) -> None:
    """`queue_sync` for those of `card_ids` whose object Google holds (the rest have nothing to
    patch: their objects are inserted when a link is asked for). Bulk callers pass whole programs."""
    for start in range(0, len(card_ids), SWEEP_BATCH):
        chunk = card_ids[start:start + SWEEP_BATCH]
        queue_sync(session, list(session.scalars(
            select(Card.id).where(Card.id.in_(chunk), Card.google_synced_version.is_not(None)))))


def behind(session: Session, limit: int = SWEEP_BATCH) -> list[int]:
    """Cards Google holds an older version of."""
    return list(session.scalars(
        select(Card.id).where(Card.google_synced_version.is_not(None), Card.google_synced_version < Card.version)
        .order_by(Card.id).limit(limit)))


@google_queue.periodic_task(crontab(minute="*"))
def sweep_google_cards() -> int:
    app = _app()
    if not sync.enabled(app.config["PASSCAST"]):
        return 0
    with app.extensions["db_sessionmaker"]() as session:
        ids = behind(session)
    for start in range(0, len(ids), JOB_BATCH):
        sync_google_cards(ids[start:start + JOB_BATCH])
    return len(ids)


def _version_changed(card: Card) -> bool:
    history = inspect(card).attrs.version.history
    return bool(history.added) and bool(history.deleted)


@event.listens_for(Session, "before_flush")
def _note_changed_cards(session: Session, _context: Any, _instances: Any) -> None:
    with session.no_autoflush:
        ids = [obj.id for obj in session.dirty
               if isinstance(obj, Card) and obj.google_synced_version is not None and _version_changed(obj)]
    if ids:
        session.info.setdefault(_PENDING, set()).update(ids)


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    ids = sorted(session.info.pop(_PENDING, None) or ())
    for start in range(0, len(ids), JOB_BATCH):
        sync_google_cards(ids[start:start + JOB_BATCH])


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
