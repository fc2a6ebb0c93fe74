"""A campaign whose worker is killed mid-send, then restarted: every card gets it exactly once.

Runs real huey consumer processes against the real PostgreSQL server and the APNs double.
The SIGKILL lands between batches or inside one; an uncommitted batch is rolled back by
the database, and the restarted worker (after the dead one's lease) resumes at the cursor.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import pytest
from sqlalchemy import func, insert, select

from service import create_app, demo
from service.campaigns import sending, tasks
from service.campaigns.holdout import campaign_salt, split
from service.models import Campaign, CampaignRecipient, Card, Customer, PushDelivery, Registration, utcnow
from service.platform import db
from service.platform.config import Settings
from tests.conftest import _empty_tables
from tests.doubles.apns import ApnsDouble
from tests.service.platform.test_worker_crash import consumer, wait_until

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="campaign crash test runs against PostgreSQL (TEST_DATABASE_URL)")
CARDS = 2000
BATCH = 50


@pytest.mark.parametrize("holdout_percent", [0, 20])
def test_killed_campaign_worker_sends_each_card_once(settings: Settings, database_url: str, apns: ApnsDouble,
                                                     monkeypatch: pytest.MonkeyPatch, holdout_percent: int) -> None:
    """With a holdout too: the resumed worker keeps back exactly the same cards (the split is a
    hash, not a draw), which are recorded once and sent nothing."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    settings = dataclasses.replace(settings, jobs_immediate=False, push_lease_seconds=2, campaign_batch=BATCH,
                                   campaign_lease_seconds=2)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    # The consumer processes read their settings from the environment.
    monkeypatch.setenv("CAMPAIGN_BATCH", str(BATCH))
    monkeypatch.setenv("CAMPAIGN_LEASE_SECONDS", "2")
    app = create_app(settings)
    try:
        with app.app_context():
            session = db.session()
            seeded = demo.seed(session, settings)
            brand_id, program_id = seeded["brand_id"], seeded["program_id"]
            customers = session.execute(insert(Customer).returning(Customer.id),
                                        [{"brand_id": brand_id, "name": f"M{n}"} for n in range(CARDS)]).scalars().all()
            card_ids = session.execute(insert(Card).returning(Card.id), [
                {"program_id": program_id, "customer_id": customer, "brand_id": brand_id, "number": 10**8 + n,
                 "serial_number": f"campaign-crash-{n}", "authentication_token": "t" * 32}
                for n, customer in enumerate(customers)]).scalars().all()
            session.execute(insert(Registration), [
                {"device_library_identifier": f"d{n}", "card_id": card_id, "push_token": f"{n:064x}",
                 "pass_type_identifier": "pass.dev.passcast.loyalty", "client_kind": "apple"}
                for n, card_id in enumerate(card_ids)])
            campaign = Campaign(brand_id=brand_id, kind="message", name="Crash", message="Sent once",
                                audience={"all_cards": True}, status="scheduled", send_at=utcnow(),
                                holdout_percent=holdout_percent)
            session.add(campaign)
            session.commit()
            campaign_id = campaign.id

        def recipients() -> int:
            with app.app_context():
                return db.session().scalar(select(func.count()).select_from(CampaignRecipient)
                                           .where(CampaignRecipient.campaign_id == campaign_id)) or 0

        worker = consumer(settings)
        try:
            with app.app_context():
                tasks.run_campaign(campaign_id)  # enqueued for the consumer
            wait_until(lambda: recipients() >= 4 * BATCH, 60, "the first batches")
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        at_kill = recipients()
        assert at_kill < CARDS, "the kill came too late to test anything"

        time.sleep(2.5)  # the dead worker's lease runs out
        with app.app_context():
            assert sending.due(db.session(), utcnow()) == [campaign_id]
        worker = consumer(settings)
        try:
            with app.app_context():
                tasks.run_due()  # as the minute crontab would

            def finished() -> bool:
                with app.app_context():
                    status = db.session().scalar(select(Campaign.status).where(Campaign.id == campaign_id))
                    return status == "finished"
            wait_until(finished, 120, "the campaign to finish")
        finally:
            worker.terminate()
            worker.wait(10)

        with app.app_context():
            session = db.session()
            assert recipients() == CARDS
            kept = split(campaign_salt(campaign_id), list(card_ids), holdout_percent)
            assert (len(kept) > 0) == (holdout_percent > 0)
            marked = set(session.scalars(select(CampaignRecipient.card_id).where(
                CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.holdout.is_(True))))
            assert marked == kept
            per_card = session.execute(select(PushDelivery.card_id, func.count())
                                       .where(PushDelivery.campaign_id == campaign_id)
                                       .group_by(PushDelivery.card_id)).all()
            assert {card_id for card_id, _ in per_card} == set(card_ids) - kept
            assert {count for _, count in per_card} == {1}
            versions = session.execute(select(Card.version, Card.news, func.count())
                                       .where(Card.id.in_(card_ids)).group_by(Card.version, Card.news)
                                       .order_by(Card.version)).all()
            # each sent card bumped exactly once; the held-back ones never
            assert versions == ([(1, None, len(kept))] if kept else []) + [(2, "Sent once", CARDS - len(kept))]
    finally:
        app.extensions["db_engine"].dispose()
        _empty_tables(settings.database_url)  # the next tests share this database and the demo brand
