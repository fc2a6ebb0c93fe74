"""The members import as a background job: POST /api/v1/programs/{id}/imports queues it.

The job row carries the CSV, so any worker can run it; progress is written after every
batch (its own short transaction), so GET /api/v1/imports/{id} shows it moving. A job that
dies half way can simply be run again: the import itself is idempotent. So every minute
`resume_lost_imports` takes the jobs whose worker died (running, no heartbeat for LEASE) or
whose queue message was lost (queued for LEASE) and runs them again, at most MAX_STARTS
times in all; a job that keeps dying is marked failed rather than retried for ever.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask, current_app, has_app_context
from huey import crontab
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.enrolment.imports import ImportFileError, ImportReport, import_members
from service.models import ImportJob, Program, utcnow
from service.platform.jobs import import_queue, worker_app

log = logging.getLogger(__name__)

#: No progress for this long: the worker is gone (a batch of 1000 rows takes well under a second).
LEASE = dt.timedelta(minutes=5)
MAX_STARTS = 3


def _app() -> Flask:
    return current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]


def _save(session: Session, job_id: int, **values: object) -> None:
    session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values)
                    .execution_options(synchronize_session=False))
    session.commit()


def _figures(report: ImportReport) -> dict[str, object]:
    return {"processed_rows": report.rows, "created_cards": report.created, "matched_cards": report.matched,
            "error_rows": report.error_rows, "errors": [error.as_dict() for error in report.errors]}


def run_job(session: Session, job_id: int) -> ImportReport | None:
    """Run one queued import job to the end (used by the task and directly by tests)."""
    job = session.get(ImportJob, job_id)
    if job is None or job.status == "done":
        return None
    program = session.get(Program, job.program_id)
    assert program is not None
    data, dry_run = job.csv_data, job.dry_run
    _save(session, job_id, status="running", started_at=utcnow(), heartbeat_at=utcnow(), starts=job.starts + 1)
    try:
        report = import_members(session, program, data, dry_run=dry_run,
                                progress=lambda _rows, report: _save(session, job_id, heartbeat_at=utcnow(),
                                                                     **_figures(report)))
    except ImportFileError as error:
        session.rollback()
        _save(session, job_id, status="failed", failure=str(error), finished_at=utcnow())
        return None
    except Exception as error:
        log.exception("import job %s failed", job_id)
        session.rollback()
        _save(session, job_id, status="failed", failure=f"{type(error).__name__}: {error}"[:1000],
              finished_at=utcnow())
        return None  # recorded on the job for the API to show; batches already committed stay (re-run safe)
    _save(session, job_id, status="done", finished_at=utcnow(), **_figures(report))
    return report


@import_queue.task()
def run_import(job_id: int) -> None:
    with _app().extensions["db_sessionmaker"]() as session:
        run_job(session, job_id)


def take_lost_jobs(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Jobs nobody is running any more, each taken by one conditional UPDATE (a second sweeper
    on another machine finds it fresh and leaves it); those started MAX_STARTS times fail."""
    now = now or utcnow()
    stale = now - LEASE
    lost = or_((ImportJob.status == "running") & (ImportJob.heartbeat_at < stale),
               (ImportJob.status == "queued") & (ImportJob.created_at < stale)
               & or_(ImportJob.heartbeat_at.is_(None), ImportJob.heartbeat_at < stale))
    taken = []
    for job_id, starts in session.execute(select(ImportJob.id, ImportJob.starts).where(lost)).all():
        if starts >= MAX_STARTS:
            values: dict[str, object] = {"status": "failed", "finished_at": now,
                                         "failure": f"the worker running it stopped {starts} times"}
        else:
            values = {"status": "queued", "heartbeat_at": now}
        claimed = session.execute(update(ImportJob).where(ImportJob.id == job_id, lost).values(**values)
                                  .execution_options(synchronize_session=False)).rowcount
        if claimed and values["status"] == "queued":
            taken.append(job_id)
    session.commit()
    return taken


@import_queue.periodic_task(crontab(minute="*"))
def resume_lost_imports() -> int:
    with _app().extensions["db_sessionmaker"]() as session:
        taken = take_lost_jobs(session)
    for job_id in taken:
        log.warning("import job %s lost its worker: running it again", job_id)
        run_import(job_id)
    return len(taken)
