"""Journey jobs: event triggers and due deferred messages every minute, daily triggers once a day.

Every job is safe to run twice, side by side or to die half way (service/journeys/evaluate.py:
the unique entry per occurrence, the watermark moved with the entries it produced). After a run
that queued Google Wallet messages, the campaigns' Google job sends them (the minute sweeper
would, if this one were lost).
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask, current_app, has_app_context
from huey import crontab

from service.campaigns import tasks as campaign_tasks
from service.journeys import challenge_passes, evaluate, messages
from service.platform.jobs import campaign_queue, worker_app

log = logging.getLogger(__name__)


def _app() -> Flask:
    return current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]


def _send_google(queued: int) -> None:
    if queued:
        campaign_tasks.google_messages(None)


def run_events(now: dt.datetime | None = None) -> dict[str, int]:
    """Evaluate the event triggers over what changed since the last run."""
    with _app().extensions["db_sessionmaker"]() as session:
        result = evaluate.evaluate_events(session, now)
        queued = session.info.pop(messages.GOOGLE_QUEUED, 0)
    _send_google(queued)
    return {"read": result.read, "entered": result.entered, "held": result.held,
            "sent": result.messages["sent"], "deferred": result.messages["deferred"]}


def run_deferred(now: dt.datetime | None = None) -> int:
    """Send the journey messages the messaging rules deferred whose moment has come."""
    with _app().extensions["db_sessionmaker"]() as session:
        sent = messages.send_due(session, now)
        queued = session.info.pop(messages.GOOGLE_QUEUED, 0)
    _send_google(queued)
    return sent


def run_daily(now: dt.datetime | None = None) -> dict[str, int]:
    """Evaluate the daily triggers (points expiring, lapsed, birthday) for today."""
    with _app().extensions["db_sessionmaker"]() as session:
        result = evaluate.evaluate_daily(session, now)
        queued = session.info.pop(messages.GOOGLE_QUEUED, 0)
    _send_google(queued)
    return {"read": result.read, "entered": result.entered, "held": result.held,
            "sent": result.messages["sent"], "deferred": result.messages["deferred"]}


@campaign_queue.periodic_task(crontab(minute="*"))
def journeys_every_minute() -> dict[str, int]:
    """Event triggers within a minute of the change; then the deferred messages now due."""
    result = run_events()
    result["deferred_sent"] = run_deferred()
    return result


@campaign_queue.periodic_task(crontab(hour="8", minute="7"))
def journeys_daily() -> dict[str, int]:
    """08:07 UTC, beside the legacy birthday job: the day's expiring points, lapsed cards, birthdays."""
    return run_daily()


def run_challenge_passes(now: dt.datetime | None = None) -> dict[str, int]:
    """Update the passes of challenges that started or ended, and of rolling windows that ran out."""
    with _app().extensions["db_sessionmaker"]() as session:
        return challenge_passes.sweep(session, now)


@campaign_queue.periodic_task(crontab(minute="5"))
def challenge_passes_hourly() -> dict[str, int]:
    """Five past every hour: a challenge's start or end shows on the passes within the hour."""
    return run_challenge_passes()
