"""NPS job: put the survey link on the passes when a scheduled survey starts, and take it
off when a survey's end time passes (every minute). Imported by service/worker.py.

Harmless when late or doubled: each survey's passes change once per start and once per end.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context
from huey import crontab

from service.nps.survey import update_passes
from service.platform.jobs import maintenance_queue, worker_app


def _sessionmaker() -> Any:
    app = current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]
    return app.extensions["db_sessionmaker"]


@maintenance_queue.periodic_task(crontab(minute="*"))
def nps_passes() -> int:
    with _sessionmaker()() as session:
        return update_passes(session)
