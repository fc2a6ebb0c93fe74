"""Loyalty jobs: the daily expiry of points, and the hourly look at rewards that ended.

The consumer registers these by importing this module (service/worker.py imports every
task module). Expiry runs at night UTC so that cards change while few people look at them;
a run that is missed or runs twice is harmless, because each card expires only points whose
time has come and records them once in its ledger.
"""

from __future__ import annotations

import logging

from huey import crontab

from service.loyalty.engine import expire_points
from service.loyalty.rewards import note_expired
from service.models import utcnow
from service.platform.jobs import job_session, maintenance_queue

log = logging.getLogger(__name__)


def run_expiry() -> dict[str, int]:
    """Expire what is due now; returns how many cards and points expired."""
    with job_session() as session:
        run = expire_points(session, utcnow())
    log.info("points expiry: %d points on %d cards", run.points, run.cards)
    return {"cards": run.cards, "points": run.points}


@maintenance_queue.periodic_task(crontab(hour="3", minute="17"))
def expire_points_daily() -> dict[str, int]:
    return run_expiry()


def run_reward_expiry() -> dict[str, int]:
    """Bump the cards whose held rewards ended (redeeming checks the end by itself; this only takes
    them off the phones' passes). Hourly, so a reward is gone from the pass within the hour."""
    with job_session() as session:
        cards = note_expired(session, utcnow())
    log.info("reward expiry: %d cards updated", cards)
    return {"cards": cards}


@maintenance_queue.periodic_task(crontab(minute="23"))
def note_expired_rewards_hourly() -> dict[str, int]:
    return run_reward_expiry()
