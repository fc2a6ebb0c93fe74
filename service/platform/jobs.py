"""The background job queues (huey): one queue per job kind, SQLite files next to the app by
default, Redis queues when REDIS_URL is set.

One queue for everything let one kind starve the others: a brand's slow webhook receiver or
a push-retry backlog held every worker thread, and a members import or a campaign waited
minutes behind them. So each kind has its own queue (its own SQLite file
`instance/jobs-<kind>.db`, or its own Redis keys `huey.*.passcast-<kind>`) and its own
threads in the consumer: a full push queue cannot delay an import. Inside the webhook queue
each brand's share is bounded too (service/webhooks/tasks.py).

Jobs carry ids, never objects, and open their own database session, so a job can run in
any worker process on any machine. `python -m service.worker` runs every queue in one
process (what `make run` starts); `huey_consumer service.worker.push_queue` (and so on) runs one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from huey import Huey
from huey.storage import RedisStorage, SqliteStorage
from sqlalchemy.orm import Session

from service.platform.config import Settings


def _queue(kind: str) -> Huey:
    return Huey(f"passcast-{kind}", results=False, storage_class=SqliteStorage, filename=":memory:")


push_queue = _queue("push")  # APNs/FCM/relay deliveries and their sweeper
webhook_queue = _queue("webhooks")  # brands' webhooks: fan-out, POSTs, sweeper
import_queue = _queue("imports")  # members imports
campaign_queue = _queue("campaigns")  # campaigns, geo periods, restocks, birthdays
signing_queue = _queue("signing")  # a campaign's passes, signed ahead in chunks by every worker
google_queue = _queue("google")  # Google Wallet object patches and messages
maintenance_queue = _queue("maintenance")  # analytics, NPS, points expiry, history purges

#: Every queue by its kind: the names `python -m service.worker --threads KIND=N` takes.
QUEUES: dict[str, Huey] = {"push": push_queue, "webhooks": webhook_queue, "imports": import_queue,
                           "campaigns": campaign_queue, "signing": signing_queue, "google": google_queue,
                           "maintenance": maintenance_queue}


def _storage(settings: Settings, kind: str) -> tuple[type, dict[str, object]]:
    if settings.redis_url:
        return RedisStorage, {"url": settings.redis_url}  # keys carry the queue's name
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    # A file per queue: their polling and writes never wait for one another's SQLite lock.
    return SqliteStorage, {"filename": str(settings.instance_dir / f"jobs-{kind}.db")}


def configure(settings: Settings) -> dict[str, Huey]:
    """Point every queue at these settings' storage (the app factory and tests call this)."""
    for kind, queue in QUEUES.items():
        storage_class, kwargs = _storage(settings, kind)
        queue.storage_class, queue.storage_kwargs = storage_class, kwargs
        queue._immediate = settings.jobs_immediate  # noqa: SLF001 - huey has no public re-init
        queue.storage = queue.create_storage()
    return QUEUES


configure(Settings.from_env())

_app: Flask | None = None
_app_lock = threading.Lock()
_app_factory: Callable[[], Flask] | None = None


def set_app_factory(factory: Callable[[], Flask]) -> None:
    """How a worker process makes its app (`service.create_app`; the app factory and
    `python -m service.worker` register it): this module is below the app, so it is told."""
    global _app_factory
    _app_factory = factory


def worker_app() -> Flask:
    """The Flask app of this worker process (engine, settings), created once."""
    global _app
    with _app_lock:
        if _app is None:
            if _app_factory is None:
                raise RuntimeError("no app for jobs: import service.worker, create the app, or use_worker_app()")
            _app = _app_factory()
        return _app


def use_worker_app(app: Flask | None) -> None:
    """Run this process's jobs with `app` (a consumer started in-process, as tests do)."""
    global _app
    with _app_lock:
        _app = app


@contextmanager
def job_session() -> Iterator[Session]:
    """A session for one job, closed whatever happens."""
    app = worker_app()
    session = app.extensions["db_sessionmaker"]()
    try:
        yield session
    finally:
        session.close()
