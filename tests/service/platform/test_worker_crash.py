"""A worker killed in the middle of a push batch, then restarted: every push arrives.

Runs a real huey consumer process against the real PostgreSQL server and the APNs double.
A SIGKILL mid-chunk leaves rows claimed ("sending"); after the lease the sweeper hands
them back. Pushes that had already left for APNs in that chunk are sent again: the only
duplicates possible, and bounded by the chunk in flight (no vendor offers exactly-once;
a repeated `{}` push makes the phone ask once more and get 204/304).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from service import create_app, demo
from service.models import Card, PushDelivery, Registration
from service.platform import db
from service.platform.config import Settings
from service.push.delivery import CHUNK
from service.push.fanout import bump_cards
from tests.conftest import _empty_tables
from tests.doubles.apns import ApnsDouble

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="worker-crash test runs against PostgreSQL (TEST_DATABASE_URL)")
CARDS = 4000
ROOT = Path(__file__).resolve().parents[3]


def consumer(settings: Settings) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "INSTANCE_DIR": str(settings.instance_dir),
           "CERTS_DIR": str(settings.certs_dir), "APNS_ENDPOINT": settings.apns_endpoint,
           "APNS_CA_FILE": settings.apns_ca_file or "", "PUSH_LEASE_SECONDS": "2", "JOBS_IMMEDIATE": "0"}
    env.pop("REDIS_URL", None)
    return subprocess.Popen([sys.executable, "-m", "service.worker", "--threads", "push=2", "-q",
                             "--delay", "0.05", "--max-delay", "0.5"], cwd=ROOT, env=env)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_worker_loses_no_push(settings: Settings, database_url: str, apns: ApnsDouble) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    import dataclasses

    settings = dataclasses.replace(settings, jobs_immediate=False, push_lease_seconds=2)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    try:
        with app.app_context():
            session = db.session()
            seeded = demo.seed(session, settings)
            program_id = seeded["program_id"]
            brand_id = seeded["brand_id"]
            from service.models import Customer

            customers = session.execute(insert(Customer).returning(Customer.id),
                                        [{"brand_id": brand_id, "name": f"M{n}"} for n in range(CARDS)]).scalars().all()
            card_ids = session.execute(insert(Card).returning(Card.id), [
                {"program_id": program_id, "customer_id": customer, "brand_id": brand_id, "number": 10**8 + n,
                 "serial_number": f"crash-{n}", "authentication_token": "t" * 32}
                for n, customer in enumerate(customers)]).scalars().all()
            session.execute(insert(Registration), [
                {"device_library_identifier": f"d{n}", "card_id": card_id, "push_token": f"{n:064x}",
                 "pass_type_identifier": "pass.dev.passcast.loyalty", "client_kind": "apple"}
                for n, card_id in enumerate(card_ids)])
            session.commit()

        worker = consumer(settings)
        try:
            with app.app_context():
                session = db.session()
                assert bump_cards(session, card_ids, values={"news": "Crash test"}) == CARDS
                session.commit()
            wait_until(lambda: len(apns.requests) >= CHUNK // 2, 60, "the first pushes")
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        with app.app_context():
            in_flight = set(db.session().scalars(
                select(PushDelivery.push_token).where(PushDelivery.status == "sending")))
        received_before_restart = len(apns.requests)
        assert received_before_restart < CARDS, "the kill came too late to test anything"

        time.sleep(2.5)  # let the lease of the dead worker's claims run out
        worker = consumer(settings)
        try:
            from service.push.tasks import sweep_stranded_pushes

            with app.app_context():
                sweep_stranded_pushes()  # enqueued for the consumer, as the minute crontab would

            last_sweep = time.monotonic()

            def all_accepted() -> bool:
                nonlocal last_sweep
                with app.app_context():
                    if time.monotonic() - last_sweep > 5:
                        # the minute crontab, every 5 s: rows whose job died with the worker are
                        # swept LOST_AFTER (20 s) after they were queued, not at the next minute
                        sweep_stranded_pushes()
                        last_sweep = time.monotonic()
                    accepted = db.session().scalar(select(func.count()).select_from(PushDelivery)
                                                   .where(PushDelivery.status == "accepted"))
                    return accepted == CARDS
            wait_until(all_accepted, 120, "every delivery to be accepted")
        finally:
            worker.terminate()
            worker.wait(10)
    finally:
        app.extensions["db_engine"].dispose()
        _empty_tables(settings.database_url)  # the next tests share this database and the demo brand

    counts = Counter(request.token for request in apns.requests)
    assert set(counts) == {f"{n:064x}" for n in range(CARDS)}
    duplicated = {token for token, count in counts.items() if count > 1}
    assert duplicated <= in_flight, "only pushes claimed by the dead worker may repeat"
    assert len(duplicated) <= CHUNK
    assert all(count <= 2 for count in counts.values())
