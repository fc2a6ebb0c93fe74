"""Shared fixtures: a migrated database per backend, the app, the demo brand.

Every app-level test runs on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set
(.ci/run sets it when the local server answers). The schema is built by the real Alembic
migrations, so the migration history is tested on both backends too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text
from werkzeug.serving import make_server

from passes.certificates import ensure_dev_pki
from service import create_app, demo
from service.models import Base
from service.platform import migrate
from service.platform.config import Settings
from tests.doubles.apns import ApnsDouble
from tests.doubles.pki import Pki, make_pki, write_dev_pass_pki

# The demo owner's password is hashed for nearly every test: at argon2's real cost that added minutes
# to the suite (tests/service/access/test_passwords.py checks the real cost stays the default).
os.environ.setdefault("PASSWORD_HASH_PROFILE", "fast-insecure-for-tests")

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


# Moments where date arithmetic goes wrong: just after midnight on the 1st of a month, the last
# minute of a year, a leap day. Tests whose figures depend on "now" run at each of them instead
# of at whatever moment CI happens to start.
AWKWARD_MOMENTS = {
    "first-of-month": dt.datetime(2027, 3, 1, 0, 0, 30, tzinfo=dt.UTC),
    "new-years-eve": dt.datetime(2027, 12, 31, 23, 59, tzinfo=dt.UTC),
    "leap-day": dt.datetime(2028, 2, 29, 12, 0, tzinfo=dt.UTC),
}


@pytest.fixture(params=list(AWKWARD_MOMENTS.values()), ids=list(AWKWARD_MOMENTS))
def awkward_moment(request: pytest.FixtureRequest) -> Iterator[dt.datetime]:
    """The clock of this process (every thread, live servers included) starts at an awkward
    moment and runs on from there, so a test sees the same calendar wherever and whenever it runs."""
    with time_machine.travel(request.param, tick=True):
        yield request.param


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dev PKI for the whole run: RSA key generation is the slow part."""
    directory = tmp_path_factory.mktemp("certs")
    defaults = Settings()
    today = dt.datetime.now(dt.UTC)
    write_dev_pass_pki(directory / "dev", defaults.dev_pass_type_identifier, defaults.dev_team_identifier,
                       valid_from=min(today, *AWKWARD_MOMENTS.values()) - dt.timedelta(days=1),
                       valid_until=max(today, *AWKWARD_MOMENTS.values()) + dt.timedelta(days=400))
    # The app takes these files as its dev PKI (ensure_dev_pki reuses a complete, valid one).
    ensure_dev_pki(directory / "dev", defaults.dev_pass_type_identifier, defaults.dev_team_identifier)
    return directory


@pytest.fixture(scope="session")
def apns_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The TLS identity of the loopback APNs (its CA goes into APNS_CA_FILE)."""
    defaults = Settings()
    return make_pki(tmp_path_factory.mktemp("apns-pki"), topic=defaults.dev_pass_type_identifier,
                    team_id=defaults.dev_team_identifier)


@pytest.fixture(scope="session")
def apns_server(apns_pki: Pki, certs_dir: Path) -> Iterator[ApnsDouble]:
    """APNs over HTTP/2 + TLS on loopback: client certificates of the dev pass CA, or
    provider tokens signed with the test auth key."""
    with ApnsDouble(apns_pki.server_cert, apns_pki.server_key, topic=Settings().dev_pass_type_identifier,
                    client_ca=certs_dir / "dev" / "ca.pem", token_public_key=apns_pki.token_public_key,
                    key_id=apns_pki.key_id, team_id=apns_pki.team_id) as double:
        yield double


@pytest.fixture
def apns(apns_server: ApnsDouble) -> ApnsDouble:
    """The APNs double, with nothing recorded and every token answered 200."""
    apns_server.reset()
    return apns_server


@contextmanager
def _throwaway_postgresql_database(server_url: str) -> Iterator[str]:
    """A database of our own on the TEST_DATABASE_URL server, dropped afterwards, so that
    concurrent runs (developers, CI, pytest-xdist workers) never share tables."""
    url = make_url(server_url)
    name = f"passcast_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        # Tests commit thousands of times; none of them is about surviving a database crash,
        # so no commit needs to wait for its WAL flush.
        connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrate.upgrade(url)
        yield url
        return
    with _throwaway_postgresql_database(os.environ["TEST_DATABASE_URL"]) as url:
        migrate.upgrade(url)
        yield url


def _empty_tables(url: str) -> None:
    engine = create_engine(url)
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # DELETE, not TRUNCATE: the tables are tiny, and TRUNCATE of every table costs
            # ~300 ms per test (new files for each), DELETE ~20 ms. Ids restart as before.
            sequences = connection.execute(text(
                "SELECT sequence_schema || '.' || sequence_name FROM information_schema.sequences")).scalars().all()
            connection.exec_driver_sql("; ".join(
                [f"DELETE FROM {table}" for table in tables]
                + [f"ALTER SEQUENCE {sequence} RESTART" for sequence in sequences]))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str, certs_dir: Path, tmp_path: Path, apns_server: ApnsDouble, apns_pki: Pki) -> Settings:
    return Settings(database_url=database_url, certs_dir=certs_dir, instance_dir=tmp_path / "instance",
                    public_base_url="http://127.0.0.1:8000", jobs_immediate=True,
                    apns_endpoint=apns_server.url, apns_ca_file=str(apns_pki.ca_cert))


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["db_engine"].dispose()
    _empty_tables(settings.database_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def live_app(settings: Settings, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """The app served over real HTTP on a free loopback port, PUBLIC_BASE_URL pointing at it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    live_settings = dataclasses.replace(settings, public_base_url=f"http://127.0.0.1:{port}")
    live_settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(live_settings)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, live_settings.public_base_url
    server.shutdown()
    app.extensions["db_engine"].dispose()
    _empty_tables(settings.database_url)


@pytest.fixture
def live(live_app: tuple[Flask, str]) -> dict[str, Any]:
    """The demo brand on the live server, with its `base` URL and the `app`."""
    app, base = live_app
    with app.app_context():
        from service.platform import db

        result = demo.seed(db.session(), app.config["PASSCAST"])
    return {**result, "base": base, "app": app}


@pytest.fixture
def seeded(app: Flask, settings: Settings) -> dict[str, Any]:
    """The demo brand, as `flask --app wsgi demo --json` prints it."""
    with app.app_context():
        from service.platform import db

        return demo.seed(db.session(), settings)
