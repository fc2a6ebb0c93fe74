"""One campaign's signing ahead spreads over the workers (issue 18): the campaign hands each
chunk of cards, with its held pushes, to a job any worker takes; a chunk's pushes go once its
passes are stored, whichever worker signed it; and the campaign never runs far ahead of them."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.apple import pass_files
from service.campaigns import sending, sign_ahead
from service.models import Campaign, Card, PassFile, PushDelivery, utcnow
from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue, register, token

CARDS = 5


def scheduled_campaign(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> tuple[int, list[int]]:
    """CARDS cards with a phone each, and a campaign to all of them scheduled an hour from now."""
    ids = [issue(client, seeded, f"Member {n}")["id"] for n in range(CARDS)]
    for n, card_id in enumerate(ids):
        register(app, card_id, token(n))
    later = (utcnow() + dt.timedelta(hours=1)).isoformat()
    created = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Spread", "message": "Signed by any worker", "send_at": later, "holdout_percent": 0,
        "audience": {"all_cards": True}})
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"], ids


def run_until_handed_out(app: Flask, campaign_id: int) -> list[tuple[list[int], list[int]]]:
    """Run the campaign with a dispatcher that only collects the chunks (no worker takes them yet)."""
    handed: list[tuple[list[int], list[int]]] = []
    with app.app_context():
        session = db.session()
        send_at = session.get_one(Campaign, campaign_id).send_at
        assert send_at is not None
        reached = sending.send(session, campaign_id, now=send_at + dt.timedelta(seconds=1),
                               sign_ahead=lambda cards, pushes: handed.append((cards, pushes)))
        assert reached == CARDS
    return handed


def test_each_chunk_is_signed_by_whichever_worker_takes_it_and_only_then_pushed(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sign_ahead, "SIGN_CHUNK", 2)
    campaign_id, ids = scheduled_campaign(client, seeded, app)
    stored_when_pushed: dict[str, bool] = {}

    def at_push(pushed: str) -> None:  # on the double's thread, as the push is accepted
        with app.app_context():
            session = db.session()
            row = session.execute(select(PassFile.version, Card.version)
                                  .join(Card, Card.id == PassFile.card_id)
                                  .join(PushDelivery, PushDelivery.card_id == Card.id)
                                  .where(PushDelivery.push_token == pushed)).first()
            stored_when_pushed[pushed] = row is not None and row[0] == row[1]
            session.rollback()

    apns.on_accepted = at_push
    handed = run_until_handed_out(app, campaign_id)
    assert [cards for cards, _ in handed] == [sorted(ids)[:2], sorted(ids)[2:4], sorted(ids)[4:]]
    with app.app_context():
        session = db.session()
        pushes = dict(session.execute(select(PushDelivery.id, PushDelivery.card_id)
                                      .where(PushDelivery.campaign_id == campaign_id)).all())
        statuses = set(session.scalars(select(PushDelivery.status).where(PushDelivery.campaign_id == campaign_id)))
        session.rollback()
    # every push is held with its own card's chunk, and none has gone before its chunk is signed
    assert sorted(pushes) == sorted(delivery for _, deliveries in handed for delivery in deliveries)
    assert all(pushes[delivery] in cards for cards, deliveries in handed for delivery in deliveries)
    assert statuses == {"queued"} and not stored_when_pushed

    url = app.config["PASSCAST"].web_service_url
    signed: list[bool] = []

    def worker(chunks: list[tuple[list[int], list[int]]]) -> None:  # another worker thread, its own session
        for cards, deliveries in chunks:
            with app.app_context():
                signed.append(sign_ahead.sign_then_release(
                    db.session(), lambda session, card_ids: pass_files.store_many(session, card_ids, url),
                    cards, deliveries))

    threads = [threading.Thread(target=worker, args=(handed[n::2],)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert signed == [True] * len(handed)
    assert len(stored_when_pushed) == CARDS and all(stored_when_pushed.values())
    with app.app_context():
        session = db.session()
        versions = dict(session.execute(select(Card.id, Card.version).where(Card.id.in_(ids))).all())
        stored = dict(session.execute(select(PassFile.card_id, PassFile.version)
                                      .where(PassFile.card_id.in_(ids))).all())
        accepted = session.scalars(select(PushDelivery.status).where(PushDelivery.campaign_id == campaign_id)).all()
        session.rollback()
    assert stored == versions and accepted == ["accepted"] * CARDS


def test_a_chunk_that_cannot_be_signed_still_lets_its_pushes_go(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble) -> None:
    campaign_id, _ids = scheduled_campaign(client, seeded, app)
    (cards, deliveries), = run_until_handed_out(app, campaign_id)

    def broken(_session: Any, _card_ids: list[int]) -> None:
        raise RuntimeError("the signing key is unreadable")

    with app.app_context():
        assert sign_ahead.sign_then_release(db.session(), broken, cards, deliveries) is False
        session = db.session()
        statuses = session.scalars(select(PushDelivery.status).where(PushDelivery.id.in_(deliveries))).all()
        assert session.scalar(select(PassFile.card_id).where(PassFile.card_id.in_(cards))) is None
    assert statuses == ["accepted"] * CARDS


def test_the_campaign_waits_while_too_many_of_its_pushes_wait_and_gives_up_in_bounded_time(
        client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    campaign_id, _ids = scheduled_campaign(client, seeded, app)
    handed = run_until_handed_out(app, campaign_id)
    deliveries = [delivery for _, chunk in handed for delivery in chunk]
    assert len(deliveries) == CARDS
    now = [0.0]
    sleeps: list[float] = []

    def clock() -> float:
        return now[0]

    def idle(seconds: float) -> None:  # nobody takes the pushes
        sleeps.append(seconds)
        now[0] += seconds

    with app.app_context():
        session = db.session()
        assert sign_ahead.keep_within(session, campaign_id, CARDS, clock=clock, sleep=idle) is True
        assert not sleeps  # at most `window` waiting: no wait
        assert sign_ahead.keep_within(session, campaign_id, 2, max_wait=1.0, clock=clock, sleep=idle) is False
        assert sum(sleeps) == pytest.approx(1.0) and len(sleeps) == pytest.approx(1.0 / sign_ahead.POLL_SECONDS, abs=1)

        claimed = iter(deliveries)

        def a_sender_claims_one(seconds: float) -> None:
            idle(seconds)
            with app.app_context():
                other = db.session()
                other.execute(PushDelivery.__table__.update().where(PushDelivery.id == next(claimed))
                              .values(status="sending"))
                other.commit()

        sleeps.clear()
        assert sign_ahead.keep_within(session, campaign_id, 2, max_wait=60.0, clock=clock,
                                      sleep=a_sender_claims_one) is True
        assert len(sleeps) == CARDS - 2  # it went on as soon as only two were waiting
