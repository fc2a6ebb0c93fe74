"""An evaluator killed mid-run, then run again: every card entered exactly once, its points given once.

A real process against the real PostgreSQL server, SIGKILLed between batches or inside one: the
batch it had not committed is rolled back by the database (entries, points, watermark together),
and the next run reads it again.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from service import create_app, demo
from service.journeys import evaluate
from service.models import Card, Customer, Journey, JourneyEntry, JourneyWatermark, LedgerEntry, utcnow
from service.platform import db
from service.platform.config import Settings
from tests.conftest import _empty_tables
from tests.service.journeys.journey_helpers import MINUTE
from tests.service.platform.test_worker_crash import wait_until

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="the killed evaluator runs against PostgreSQL (TEST_DATABASE_URL)")
ROOT = Path(__file__).resolve().parents[3]
CARDS = 400


def test_killed_evaluator_enters_each_card_exactly_once(settings: Settings, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    settings = dataclasses.replace(settings, jobs_immediate=False)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    try:
        with app.app_context():
            session = db.session()
            seeded = demo.seed(session, settings)
            brand_id, program_id = seeded["brand_id"], seeded["program_id"]
            session.merge(JourneyWatermark(stream="ledger", last_id=session.scalar(
                select(func.coalesce(func.max(LedgerEntry.id), 0))), updated_at=utcnow()))
            journey = Journey(brand_id=brand_id, program_id=program_id, name="Welcome", trigger="joined",
                              conditions={}, holdout_percent=10, enabled=True, actions=[
                                  {"type": "points", "points": 5}, {"type": "message", "text": "Welcome!"}])
            session.add(journey)
            customers = session.execute(insert(Customer).returning(Customer.id),
                                        [{"brand_id": brand_id, "name": f"M{n}"} for n in range(CARDS)]).scalars().all()
            card_ids = session.execute(insert(Card).returning(Card.id), [
                {"program_id": program_id, "customer_id": customer, "brand_id": brand_id, "number": 10**8 + n,
                 "serial_number": f"journey-crash-{n}", "authentication_token": "t" * 32}
                for n, customer in enumerate(customers)]).scalars().all()
            session.execute(insert(LedgerEntry), [{"card_id": card_id, "kind": "issue", "points": 0,
                                                   "reason": "card issued", "created_at": utcnow()}
                                                  for card_id in card_ids])
            session.commit()
            journey_id = journey.id

        def entered() -> int:
            with app.app_context():
                return db.session().scalar(select(func.count()).select_from(JourneyEntry)
                                           .where(JourneyEntry.journey_id == journey_id)) or 0

        env = {**os.environ, "DATABASE_URL": settings.database_url, "INSTANCE_DIR": str(settings.instance_dir),
               "CERTS_DIR": str(settings.certs_dir), "JOBS_IMMEDIATE": "0"}
        env.pop("REDIS_URL", None)
        for pause in ("0.3", "0"):  # killed between batches (asleep), then inside one (busy)
            process = subprocess.Popen([sys.executable, "-m", "tests.service.journeys.evaluator_process", pause],
                                       cwd=ROOT, env=env)
            try:
                target = entered() + 40

                def progressed(process: subprocess.Popen[bytes] = process, target: int = target) -> bool:
                    return entered() >= target or process.poll() is not None

                wait_until(progressed, 60, "some batches")
                assert process.poll() is None  # still running when killed
                process.send_signal(signal.SIGKILL)
            finally:
                process.wait(10)
        assert entered() < CARDS  # it was stopped part way
        with app.app_context():
            session = db.session()
            evaluate.evaluate_events(session, utcnow() + MINUTE, batch=20)
            evaluate.evaluate_events(session, utcnow() + MINUTE, batch=20)  # and again: nothing more
            rows = session.execute(select(JourneyEntry.card_id, JourneyEntry.holdout, JourneyEntry.points_given)
                                   .where(JourneyEntry.journey_id == journey_id)).all()
            assert sorted(card_id for card_id, _, _ in rows) == sorted(card_ids)
            given = {card_id: points for card_id, _, points in rows}
            earned = dict(session.execute(select(LedgerEntry.card_id, func.count())
                                          .where(LedgerEntry.kind == "earn").group_by(LedgerEntry.card_id)).all())
            for card_id, holdout, _ in rows:
                assert earned.get(card_id, 0) == (0 if holdout else 1)
                assert given[card_id] == (0 if holdout else 5)
                balance = session.get(Card, card_id).balance  # type: ignore[union-attr]
                assert balance == (0 if holdout else 5)
    finally:
        app.extensions["db_engine"].dispose()
        _empty_tables(settings.database_url)
