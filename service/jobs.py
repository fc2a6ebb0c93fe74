"""The background job queue (huey): SQLite next to the app by default, Redis when REDIS_URL is set.

Jobs carry ids, never objects, and open their own database session, so a job can run in
any worker process on any machine. The consumer runs `huey_consumer service.worker.huey`
(service.worker imports every task module).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from huey import Huey
from huey.storage import RedisStorage, SqliteStorage
from sqlalchemy.orm import Session

from service.config import Settings


def _storage(settings: Settings) -> tuple[type, dict[str, object]]:
    if settings.redis_url:
        return RedisStorage, {"url": settings.redis_url}
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    return SqliteStorage, {"filename": str(settings.instance_dir / "jobs.db")}


def configure(settings: Settings) -> Huey:
    """Point the queue at these settings' storage (the app factory and tests call this)."""
    storage_class, kwargs = _storage(settings)
    huey.storage_class, huey.storage_kwargs = storage_class, kwargs
    huey._immediate = settings.jobs_immediate  # noqa: SLF001 - huey has no public re-init
    huey.storage = huey.create_storage()
    return huey


huey = Huey("passcast", results=False, storage_class=SqliteStorage, filename=":memory:")
configure(Settings.from_env())

_app: Flask | None = None
_app_lock = threading.Lock()


def worker_app() -> Flask:
    """The Flask app of this worker process (engine, settings), created once."""
    global _app
    with _app_lock:
        if _app is None:
            from service import create_app

            _app = create_app()
        return _app


@contextmanager
def job_session() -> Iterator[Session]:
    """A session for one job, closed whatever happens."""
    app = worker_app()
    session = app.extensions["db_sessionmaker"]()
    try:
        yield session
    finally:
        session.close()
