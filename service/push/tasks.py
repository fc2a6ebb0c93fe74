"""Push jobs: send queued deliveries, and sweep up any that were stranded."""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app, has_app_context
from huey import crontab

from service.platform.jobs import push_queue, worker_app
from service.push import outbox
from service.push.delivery import deliver, stranded


def _app() -> Flask:
    return current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]


@push_queue.task()
def send_pushes(ids: list[int]) -> int:
    app = _app()
    return deliver(app.extensions["db_sessionmaker"], app.config["PASSCAST"], ids, _reschedule,
                   lean=app.extensions.get("db_lean_engine"))


def _reschedule(ids: list[int], delay: float) -> None:
    send_pushes.schedule(args=(ids,), delay=delay)


def enqueue(ids: list[int]) -> None:
    send_pushes(ids)


@push_queue.periodic_task(crontab(minute="*"))
def sweep_stranded_pushes() -> int:
    """Every minute: give back deliveries whose job was lost or whose worker died."""
    app = _app()
    lease = dt.timedelta(seconds=app.config["PASSCAST"].push_lease_seconds)
    with app.extensions["db_sessionmaker"]() as session:
        ids = stranded(session, lease)
    for start in range(0, len(ids), outbox.BATCH):
        send_pushes(ids[start:start + outbox.BATCH])
    return len(ids)


outbox.set_enqueuer(enqueue)
