"""Webhook jobs: fan events out to endpoints, POST them, and sweep up whatever was stranded.

Each brand's share of the webhook threads is bounded: at most WEBHOOK_BRAND_CONCURRENCY of
its deliveries are in flight in one worker process. A job for a brand at its bound does not
wait (it would hold a thread): it ends at once and leaves the delivery queued in the
database, where the brand's running jobs take it next, one by one, once theirs is answered.
So a receiver that answers slowly delays only its own brand's deliveries.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict

from flask import Flask, current_app, has_app_context
from huey import crontab
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from service.models import WebhookDelivery, utcnow
from service.platform.jobs import maintenance_queue, webhook_queue, worker_app
from service.webhooks import events as webhooks


def _app() -> Flask:
    return current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]


@webhook_queue.task()
def dispatch_webhook_events(event_ids: list[int]) -> int:
    app = _app()
    with app.extensions["db_sessionmaker"]() as session:
        delivery_ids = webhooks.dispatch(session, event_ids)
    for delivery_id in delivery_ids:  # one job each: a slow receiver holds up only its own deliveries
        send_webhooks([delivery_id])
    return len(delivery_ids)


class BrandSlots:
    """How many deliveries of each brand this process has in flight, bounded per brand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: Counter[int] = Counter()

    def take(self, brand_id: int, limit: int) -> bool:
        with self._lock:
            if self._busy[brand_id] >= limit:
                return False
            self._busy[brand_id] += 1
            return True

    def give_back(self, brand_id: int) -> None:
        with self._lock:
            self._busy[brand_id] -= 1
            if self._busy[brand_id] <= 0:
                del self._busy[brand_id]


brand_slots = BrandSlots()


@webhook_queue.task()
def send_webhooks(delivery_ids: list[int]) -> int:
    app = _app()
    factory = app.extensions["db_sessionmaker"]
    delivered = 0
    for brand_id, ids in _by_brand(factory, delivery_ids).items():
        delivered += _send_for_brand(app, factory, brand_id, ids)
    return delivered


def _send_for_brand(app: Flask, factory: sessionmaker[Session], brand_id: int, ids: list[int]) -> int:
    settings = app.config["PASSCAST"]
    delivered = 0
    while ids:
        if not brand_slots.take(brand_id, settings.webhook_brand_concurrency):
            return delivered  # left queued: the brand's jobs in flight here take it after theirs
        try:
            delivered += webhooks.deliver(factory, ids,
                                          max_attempts=settings.webhook_max_attempts,
                                          backoff_base=settings.webhook_backoff_seconds,
                                          timeout=settings.webhook_timeout_seconds, reschedule=_reschedule,
                                          allow_private=settings.webhook_allow_private_urls)
        finally:
            brand_slots.give_back(brand_id)
        # Looked for after giving the slot back, so a job turned away meanwhile is not forgotten.
        ids = _next_waiting(factory, brand_id)
    return delivered


def _by_brand(factory: sessionmaker[Session], delivery_ids: list[int]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = defaultdict(list)
    if delivery_ids:
        with factory() as session:
            for delivery_id, brand_id in session.execute(
                    select(WebhookDelivery.id, WebhookDelivery.brand_id).where(WebhookDelivery.id.in_(delivery_ids))
                    .order_by(WebhookDelivery.id)):
                grouped[brand_id].append(delivery_id)
    return grouped


def _next_waiting(factory: sessionmaker[Session], brand_id: int) -> list[int]:
    """The brand's oldest delivery that is due and nobody sends: one, so it is claimed only
    when about to be sent (a long claimed list would outlive the sweeper's lease)."""
    with factory() as session:
        return list(session.scalars(
            select(WebhookDelivery.id).where(
                WebhookDelivery.brand_id == brand_id, WebhookDelivery.status.in_(("queued", "retry")),
                or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= utcnow()))
            .order_by(WebhookDelivery.id).limit(1)))


def _reschedule(ids: list[int], delay: float) -> None:
    send_webhooks.schedule(args=(ids,), delay=delay)


@webhook_queue.periodic_task(crontab(minute="*"))
def sweep_webhooks() -> int:
    """Every minute: fan out events whose job was lost, re-send due or abandoned deliveries."""
    app = _app()
    settings = app.config["PASSCAST"]
    lease = dt.timedelta(seconds=settings.webhook_timeout_seconds * 3 + 30)
    with app.extensions["db_sessionmaker"]() as session:
        events, deliveries = webhooks.stranded(session, lease)
    if events:
        dispatch_webhook_events(events)
    for delivery_id in deliveries:
        send_webhooks([delivery_id])
    return len(events) + len(deliveries)


@maintenance_queue.periodic_task(crontab(minute="17", hour="3"))
def purge_webhook_history() -> int:
    """Daily: events and deliveries older than WEBHOOK_RETENTION_DAYS go."""
    app = _app()
    days = app.config["PASSCAST"].webhook_retention_days
    with app.extensions["db_sessionmaker"]() as session:
        return webhooks.purge(session, dt.timedelta(days=days))


webhooks.set_enqueuer(dispatch_webhook_events, send_webhooks)
