"""Health endpoints, and what a request gets when the database cannot be reached.

- `/livez` (and `/healthz`, kept for load balancers and bench/ that already poll it): the
  process is up and serving. Never touches the database, so a database outage does not get
  healthy web processes restarted.
- `/readyz`: this process can do its work: the database answers `SELECT 1` and the job
  queue's storage answers. 503 problem+json naming what failed otherwise, so a load balancer
  stops sending traffic here.
- A database connection error anywhere (SQLAlchemy OperationalError / InterfaceError) is a
  503: problem+json for the API and PassKit (Retry-After), a short page for customers.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError

from service.platform import db, jobs
from service.web.error_pages import customer_error_page, is_machine_path
from service.web.problems import Problem, problem_response

bp = Blueprint("health", __name__)
_DATABASE_ERRORS = (OperationalError, InterfaceError)


@bp.get("/livez")
@bp.get("/healthz")
def live() -> Response:
    return jsonify(status="ok")


def _database_answers() -> str | None:
    try:
        with db.engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason is logged
        current_app.logger.warning("readiness: database: %s", error)
        return "database"
    return None


def _queue_answers() -> str | None:
    try:
        for queue in jobs.QUEUES.values():
            queue.pending_count()
    except Exception as error:  # noqa: BLE001 - same: Redis or the SQLite queue file unreachable
        current_app.logger.warning("readiness: job queue: %s", error)
        return "job queue"
    return None


@bp.get("/readyz")
def ready() -> Response:
    failed = [name for name in (_database_answers(), _queue_answers()) if name]
    if failed:
        problem = problem_response(Problem(503, "Not ready", f"Not answering: {', '.join(failed)}.",
                                           type_="/problems/not-ready", failed=failed))
        problem.headers["Retry-After"] = "10"
        return problem
    return jsonify(status="ready", database="ok", queue="ok")


def _database_unreachable(error: Exception) -> Response:
    current_app.logger.error("database unreachable on %s: %s", request.path, error)
    if not is_machine_path():
        return customer_error_page(503)
    response = problem_response(Problem(503, "Service Unavailable",
                                        "The database cannot be reached right now; nothing was changed. Retry later.",
                                        type_="/problems/unavailable"))
    response.headers["Retry-After"] = "30"
    return response


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    for error_class in _DATABASE_ERRORS:
        app.register_error_handler(error_class, _database_unreachable)
