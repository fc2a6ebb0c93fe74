"""Analytics jobs: roll up new ledger entries (every minute), count a big brand's report the
dashboard asked for, and keep the cached reports fresh (every 5 minutes).

Imported by service/worker.py so the consumer registers it. A missed or doubled run is
harmless: the roll-ups move a watermark in the same transaction as what they add (and the
dashboard counts the entries past it live); a report is only recomputed when its cached copy
is older than 10 minutes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import current_app, has_app_context
from huey import crontab
from sqlalchemy.exc import OperationalError

from service.analytics import rollups as analytics_rollups
from service.analytics.reports import count_into_cache, refresh
from service.platform.jobs import maintenance_queue, worker_app

log = logging.getLogger(__name__)


def _sessionmaker() -> Any:
    """The app's sessions: this request's app when run inline (immediate jobs), else the worker's."""
    app = current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]
    return app.extensions["db_sessionmaker"]


@maintenance_queue.task()
def count_report(brand_id: int, key: str) -> bool:
    """Count one report of a big brand that the dashboard asked for (it polls meanwhile)."""
    with _sessionmaker()() as session:
        return count_into_cache(session, brand_id, key)


@maintenance_queue.periodic_task(crontab(minute="*"))
@maintenance_queue.lock_task("rollup-analytics")  # the first run backfills the whole ledger: never two at once
def rollup_analytics() -> int:
    """Roll up the ledger entries past the watermark (the first run: backfill all of them).

    On SQLite a transaction that read first cannot take the write lock once another
    connection has written meanwhile ("database is locked" at once, no busy wait): with the
    other minute jobs starting at the same second that happens. Nothing was written then,
    so try again a moment later, and leave it to the next minute after a few tries.
    """
    for attempt in range(3):
        try:
            with _sessionmaker()() as session:
                done = analytics_rollups.run(session, budget_seconds=50)
            break
        except OperationalError as error:
            if "database is locked" not in str(error):
                raise
            time.sleep(0.5 * (attempt + 1))
    else:
        log.warning("analytics: the SQLite database stayed busy; rolling up at the next minute")
        return 0
    if done:
        log.info("analytics: %d ledger entries (or cards, backfilling) rolled up", done)
    return done


@maintenance_queue.periodic_task(crontab(minute="*/5"))
@maintenance_queue.lock_task("refresh-analytics")  # a run can outlast 5 minutes on big brands: never two at once
def refresh_analytics() -> int:
    with _sessionmaker()() as session:
        done = refresh(session)
    if done:
        log.info("analytics: %d cached reports recomputed", done)
    return done
