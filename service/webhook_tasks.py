"""Webhook jobs: fan events out to endpoints, POST them, and sweep up whatever was stranded."""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app, has_app_context
from huey import crontab

from service import webhooks
from service.jobs import huey, worker_app


def _app() -> Flask:
    return current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]


@huey.task()
def dispatch_webhook_events(event_ids: list[int]) -> int:
    app = _app()
    with app.extensions["db_sessionmaker"]() as session:
        delivery_ids = webhooks.dispatch(session, event_ids)
    for delivery_id in delivery_ids:  # one job each: a slow receiver holds up only its own deliveries
        send_webhooks([delivery_id])
    return len(delivery_ids)


@huey.task()
def send_webhooks(delivery_ids: list[int]) -> int:
    app = _app()
    settings = app.config["PASSCAST"]
    return webhooks.deliver(app.extensions["db_sessionmaker"], delivery_ids,
                            max_attempts=settings.webhook_max_attempts,
                            backoff_base=settings.webhook_backoff_seconds,
                            timeout=settings.webhook_timeout_seconds, reschedule=_reschedule,
                            allow_private=settings.webhook_allow_private_urls)


def _reschedule(ids: list[int], delay: float) -> None:
    send_webhooks.schedule(args=(ids,), delay=delay)


@huey.periodic_task(crontab(minute="*"))
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


@huey.periodic_task(crontab(minute="17", hour="3"))
def purge_webhook_history() -> int:
    """Daily: events and deliveries older than WEBHOOK_RETENTION_DAYS go."""
    app = _app()
    days = app.config["PASSCAST"].webhook_retention_days
    with app.extensions["db_sessionmaker"]() as session:
        return webhooks.purge(session, dt.timedelta(days=days))


webhooks.set_enqueuer(dispatch_webhook_events, send_webhooks)
