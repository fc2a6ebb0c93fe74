"""Liveness vs readiness, and what people and machines get while the database is down (item 15).

The outage is real: a PostgreSQL URL to a loopback port nobody listens on, or a SQLite file in a
directory that does not exist."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.nps import survey as nps
from service.platform.config import Settings
from tests.helpers import bearer


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_live_and_ready_with_everything_up(client: FlaskClient) -> None:
    for path in ("/livez", "/healthz"):
        assert client.get(path).get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"


@pytest.fixture(params=["postgresql", "sqlite"])
def down_app(request: pytest.FixtureRequest, certs_dir: Path, tmp_path: Path) -> Iterator[Flask]:
    url = (f"postgresql://postgres@127.0.0.1:{_closed_port()}/passcast" if request.param == "postgresql"
           else f"sqlite:///{tmp_path / 'no-such-directory' / 'passcast.db'}")
    app = create_app(Settings(database_url=url, certs_dir=certs_dir, instance_dir=tmp_path / "instance",
                              jobs_immediate=True))
    yield app
    app.extensions["db_engine"].dispose()


def test_database_down_alive_but_not_ready(down_app: Flask) -> None:
    client = down_app.test_client()
    assert client.get("/healthz").status_code == 200  # the process is up: do not restart it
    assert client.get("/livez").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["Content-Type"] == "application/problem+json"
    assert ready.get_json()["failed"] == ["database"]


@pytest.mark.parametrize(("path", "language", "words"), [
    ("/join/demo-coffee", "en", "Back in a moment"),
    ("/join/demo-coffee", "ru", "Скоро вернёмся"),
    ("/join/demo-coffee/card/0b8f8f0e-4c1c-4f53-9a57-3f2a1f0c9d11?key=x", "en", "Back in a moment"),
    ("/nps/0b8f8f0e-4c1c-4f53-9a57-3f2a1f0c9d11." + "0" * nps._MAC_LENGTH, "ru", "Скоро вернёмся"),  # noqa: SLF001
])
def test_database_down_customers_get_a_page(down_app: Flask, path: str, language: str, words: str) -> None:
    response = down_app.test_client().get(path, headers={"Accept-Language": language})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Content-Language"] == language and response.headers["Retry-After"]
    body = response.get_data(as_text=True)
    assert words in body and "Traceback" not in body and "sqlalchemy" not in body.lower()


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("GET", "/api/v1/programs", bearer("pk_abc123_secret")),
    ("POST", "/api/v1/cashier/scan", bearer("ct_abc123_secret")),
    ("GET", "/passkit/v1/passes/pass.dev.passcast.loyalty/serial", {"Authorization": "ApplePass token"}),
    ("GET", "/passkit/v1/devices/dev/registrations/pass.dev.passcast.loyalty", {}),
])
def test_database_down_machines_get_503_problem(down_app: Flask, method: str, path: str,
                                                headers: dict[str, str]) -> None:
    response = down_app.test_client().open(path, method=method, headers=headers, json={"code": "123"}
                                           if method == "POST" else None)
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"]
    assert response.get_json()["type"] == "/problems/unavailable"


def test_job_queue_down_is_not_ready(settings: Settings, seeded: dict[str, Any], app: Flask) -> None:
    import dataclasses

    # (not immediate: huey keeps immediate-mode jobs in memory, which is always up)
    broken = create_app(dataclasses.replace(settings, jobs_immediate=False,
                                            redis_url=f"redis://127.0.0.1:{_closed_port()}/0"))
    try:
        ready = broken.test_client().get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["failed"] == ["job queue"]
        assert broken.test_client().get("/livez").status_code == 200
    finally:
        broken.extensions["db_engine"].dispose()
        from service.platform import jobs

        jobs.configure(settings)  # back to the test's own queue
