"""Job kinds and brands cannot starve each other (the security review's item 10).

The attack, replayed with a real consumer (huey's worker threads, in this process, started as
`python -m service.worker` starts them): one brand's slow webhook receiver with many
deliveries queued, and a backlog of push jobs hanging on APNs. Another brand's webhook, a
members import and a campaign must still run within a short bound.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from service import create_app, demo
from service.campaigns import tasks as campaign_tasks
from service.demo import create_brand
from service.models import Campaign, Card, Customer, ImportJob, PushDelivery, Registration, WebhookEndpoint, utcnow
from service.platform import db, jobs
from service.platform.config import Settings
from service.push.fanout import bump_cards
from service.webhooks import events as webhooks
from service.worker import Consumers, thread_budget
from tests.conftest import _empty_tables
from tests.doubles.apns import HANG, ApnsDouble
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.helpers import bearer
from tests.service.enrolment.test_import_members import GOOD

SLOW_RECEIVER = 1.5  # seconds per delivery at brand A's receiver
A_DELIVERIES = 12  # queued at once: on 4 shared threads, B's delivery would wait 3 rounds (4.5 s)
B_BOUND = 1.0  # B's delivery must arrive sooner than A's receiver answers even once
HANGING_PUSH_JOBS = 6  # more than the push threads: before, every thread hung on APNs
OTHER_KINDS_BOUND = 3.0  # APNs gives up on a hanging push after 10 s


@pytest.fixture
def queued_app(settings: Settings) -> Iterator[Flask]:
    """The app with jobs going to the queues (not run inline), as in production."""
    settings = dataclasses.replace(settings, jobs_immediate=False, webhook_allow_private_urls=True,
                                   webhook_timeout_seconds=5)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    jobs.use_worker_app(app)
    yield app
    jobs.use_worker_app(None)
    gc.unfreeze()  # the consumer froze the heap at start-up, as in a worker process
    app.extensions["db_engine"].dispose()
    _empty_tables(settings.database_url)


def running(kinds: list[str]) -> Consumers:
    """These queues' consumers with `make run`'s thread budget, polling often (the test is short)."""
    budget = thread_budget(environ={})
    consumers = Consumers({kind: budget[kind] for kind in kinds}, delay=0.02, max_delay=0.1, periodic=False)
    consumers.start()
    return consumers


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> float:
    """Seconds until `predicate()` held (polled every 20 ms)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


def endpoint(app: Flask, brand_id: int, receiver: WebhookReceiver) -> None:
    receiver.secret = f"whsec_test_{brand_id}"
    with app.app_context():
        session = db.session()
        session.add(WebhookEndpoint(brand_id=brand_id, url=receiver.url, events=["*"], secret=receiver.secret))
        session.commit()
    webhooks.forget_subscribers()


def emit(app: Flask, brand_id: int, count: int) -> None:
    with app.app_context():
        session = db.session()
        for n in range(count):
            webhooks.emit(session, brand_id, "card.updated", {"n": n})
        session.commit()  # the outbox enqueues the events after this


def test_a_slow_receiver_delays_only_its_own_brand(queued_app: Flask) -> None:
    app = queued_app
    with app.app_context():
        brand_a = demo.seed(db.session(), app.config["PASSCAST"])["brand_id"]
        brand_b = create_brand(db.session(), "Other Tea", "other-tea").id
        db.session().commit()
    limit = app.config["PASSCAST"].webhook_brand_concurrency
    with WebhookReceiver() as slow, WebhookReceiver() as fast:
        slow.delay = SLOW_RECEIVER
        endpoint(app, brand_a, slow)
        endpoint(app, brand_b, fast)
        consumers = running(["webhooks"])
        try:
            emit(app, brand_a, A_DELIVERIES)
            wait_until(lambda: slow.in_flight >= limit, 10, "brand A's deliveries to hold their threads")
            emit(app, brand_b, 1)
            waited = wait_until(lambda: fast.received, 10, "brand B's delivery")
            assert waited < B_BOUND, f"brand B's webhook waited {waited:.2f} s behind brand A's slow receiver"
            assert fast.received[0].signature_ok

            slow.delay = 0  # A's receiver recovers: the deliveries it turned away are sent, each once
            wait_until(lambda: len(slow.received) >= A_DELIVERIES, 15, "brand A's backlog")
        finally:
            consumers.stop(graceful=True, timeout=15)
    assert slow.max_in_flight == limit, "one brand's deliveries in flight are bounded"
    ids = [received.headers["Passcast-Delivery"] for received in slow.received]
    assert len(ids) == len(set(ids)) == A_DELIVERIES


def hanging_pushes(app: Flask, apns: ApnsDouble, count: int) -> dict[str, Any]:
    """`count` push jobs, one card each, whose APNs requests are never answered; the demo brand."""
    with app.app_context():
        session = db.session()
        seeded = demo.seed(session, app.config["PASSCAST"])
        customers = session.execute(insert(Customer).returning(Customer.id), [
            {"brand_id": seeded["brand_id"], "name": f"Hanging {n}"} for n in range(count)]).scalars().all()
        card_ids = session.execute(insert(Card).returning(Card.id), [
            {"program_id": seeded["program_id"], "customer_id": customer, "brand_id": seeded["brand_id"],
             "number": 10**8 + n, "serial_number": f"hang-{n}", "authentication_token": "t" * 32}
            for n, customer in enumerate(customers)]).scalars().all()
        session.execute(insert(Registration), [
            {"device_library_identifier": f"hang{n}", "card_id": card_id, "push_token": f"{n:064x}",
             "pass_type_identifier": "pass.dev.passcast.loyalty", "client_kind": "apple"}
            for n, card_id in enumerate(card_ids)])
        session.commit()
        for n, card_id in enumerate(card_ids):
            apns.set_answer(f"{n:064x}", HANG)
            bump_cards(session, [card_id], values={"news": "Retry me"})
            session.commit()  # one push job per commit
    return seeded


def test_a_push_backlog_does_not_hold_back_imports_or_campaigns(queued_app: Flask, apns: ApnsDouble) -> None:
    app = queued_app
    seeded = hanging_pushes(app, apns, HANGING_PUSH_JOBS)
    with app.app_context():
        campaign = Campaign(brand_id=seeded["brand_id"], kind="message", name="Weekend", message="Double points",
                            audience={"all_cards": True}, status="scheduled", send_at=utcnow())
        db.session().add(campaign)
        db.session().commit()
        campaign_id = campaign.id

    def sending() -> int:
        with app.app_context():
            return db.session().scalar(select(func.count()).select_from(PushDelivery)
                                       .where(PushDelivery.status == "sending")) or 0

    def status(model: Any, row_id: int) -> str:
        with app.app_context():
            return db.session().get(model, row_id, populate_existing=True).status

    consumers = running(["push", "imports", "campaigns"])
    push_threads = consumers.consumers["push"].workers
    try:
        wait_until(lambda: sending() >= push_threads, 15, "every push thread to hang on APNs")
        response = app.test_client().post(f"/api/v1/programs/{seeded['program_id']}/imports", data=GOOD,
                                          headers={**bearer(seeded["api_key"]), "Content-Type": "text/csv"})
        assert response.status_code == 202, response.get_json()
        job_id = response.get_json()["id"]
        with app.app_context():
            campaign_tasks.run_campaign(campaign_id)  # enqueued, as the minute sweeper resumes one
        started = time.monotonic()
        wait_until(lambda: status(ImportJob, job_id) == "done", 30, "the members import")
        imported = time.monotonic() - started
        wait_until(lambda: status(Campaign, campaign_id) == "finished", 30, "the campaign")
        sent = time.monotonic() - started
        still_hanging = sending()
    finally:
        apns.goaway_all()  # the hanging requests fail now, so the push threads can stop
        consumers.stop(graceful=True, timeout=15)
    assert imported < OTHER_KINDS_BOUND, f"the import waited {imported:.1f} s behind the push backlog"
    assert sent < OTHER_KINDS_BOUND, f"the campaign waited {sent:.1f} s behind the push backlog"
    assert still_hanging >= push_threads, "the push backlog was still hanging meanwhile"


def test_each_job_kind_has_its_own_queue(tmp_path: Path) -> None:
    import service.worker  # noqa: F401  (registers every task)

    def names(kind: str) -> set[str]:
        return {name.rsplit(".", 1)[-1] for name in jobs.QUEUES[kind]._registry._registry}  # noqa: SLF001

    assert {"send_pushes", "sweep_stranded_pushes"} == names("push")
    # Outgoing messages: brands' webhooks and customers' card-recovery mail and SMS.
    assert {"dispatch_webhook_events", "send_webhooks", "sweep_webhooks", "send_card_recovery"} == names("webhooks")
    assert {"run_import", "resume_lost_imports"} == names("imports")
    assert {"run_campaign", "geo_start", "campaigns_every_minute"} <= names("campaigns")
    assert {"sign_chunk"} == names("signing")  # a campaign's chunks, taken by any worker (issue 18)
    assert {"sync_google_cards", "sweep_google_cards", "google_messages"} == names("google")
    assert {"rollup_analytics", "nps_passes", "expire_points_daily", "purge_webhook_history"} <= names("maintenance")
    jobs.configure(Settings(instance_dir=tmp_path, jobs_immediate=True))  # the next app configures them again
    files = {queue.storage_kwargs["filename"] for queue in jobs.QUEUES.values()}
    assert len(files) == len(jobs.QUEUES), "no two queues share a SQLite file"


def test_thread_budget_per_queue() -> None:
    budget = thread_budget("push=8,imports=0", environ={"WORKER_THREADS_WEBHOOKS": "6"})
    assert budget["push"] == 8 and budget["webhooks"] == 6 and "imports" not in budget
    assert budget["campaigns"] >= 1 and budget["maintenance"] >= 1
    with pytest.raises(ValueError, match="KIND=N"):
        thread_budget("pushes=4", environ={})
