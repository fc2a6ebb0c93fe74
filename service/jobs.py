"""The background job queue (huey): SQLite next to the app by default, Redis when REDIS_URL is set.

Jobs carry ids, never objects, and open their own database session, so a job can run in
any worker process on any machine. The module-level `huey` is what `huey_consumer
service.jobs.huey` runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy.orm import Session

from service.config import Settings


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey("passcast", url=settings.redis_url, results=False,
                         immediate=settings.jobs_immediate)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("passcast", filename=str(settings.instance_dir / "jobs.db"), results=False,
                      immediate=settings.jobs_immediate)


huey = make_huey(Settings.from_env())

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
