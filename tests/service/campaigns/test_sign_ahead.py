"""A campaign signs each batch's passes before the batch's pushes go (issue 18), so the
phones' fetches serve stored bytes; and `pass_files.store_many` signs only what is missing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text

from passes.package import PassParts, read_pkpass
from service.apple import pass_files, signing
from service.campaigns import tasks
from service.loyalty import rewards
from service.loyalty.cards import touch
from service.models import Card, NpsSurvey, PassFile, PushDelivery, utcnow
from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import PASS_TYPE, issue, register, token


class CountingSigner:
    """The real signer, counting signatures (installed in signing's cache, as bench/pass_build does)."""

    def __init__(self, signer: Any) -> None:
        self.signer, self.count = signer, 0

    def sign(self, data: bytes) -> bytes:
        self.count += 1
        return self.signer.sign(data)


def test_pushes_go_once_the_batch_is_signed_and_fetches_serve_the_stored_bytes(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble) -> None:
    cards = [issue(client, seeded, f"Member {n}") for n in range(3)]
    for n, card in enumerate(cards):
        register(app, card["id"], token(n))
    stored_when_pushed: dict[str, tuple[int, int] | None] = {}

    def at_push(pushed: str) -> None:  # on the double's thread, as the push is accepted
        with app.app_context():
            session = db.session()
            card_id = session.scalar(select(PushDelivery.card_id).where(PushDelivery.push_token == pushed))
            row = session.execute(select(PassFile.version, Card.version).join(Card, Card.id == PassFile.card_id)
                                  .where(PassFile.card_id == card_id)).first()
            stored_when_pushed[pushed] = (row[0], row[1]) if row is not None else None
            session.rollback()

    apns.on_accepted = at_push
    response = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Storm", "message": "Signed ahead", "send_now": True, "holdout_percent": 0,
        "audience": {"all_cards": True}})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "finished"
    # every push left after its card's new version was stored
    assert len(stored_when_pushed) == 3
    assert all(pair is not None and pair[0] == pair[1] for pair in stored_when_pushed.values())

    with app.app_context():
        session = db.session()
        card = session.get(Card, cards[0]["id"])
        assert card is not None
        stored = session.get(PassFile, card.id)
        assert stored is not None and stored.version == card.version
        data, serial, auth = pass_files.archive(stored, card), card.serial_number, card.authentication_token
        counter = CountingSigner(signing.signer_for(card.program))
        key = (card.program.certificate.id, card.program.certificate.certificate_pem)
    signing._signers[key] = counter  # type: ignore[assignment]
    try:
        fetched = client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}", headers={"Authorization": f"ApplePass {auth}"})
    finally:
        signing._signers[key] = counter.signer
    assert fetched.status_code == 200 and fetched.data == data and counter.count == 0
    assert b"Signed ahead" in read_pkpass(fetched.data)["pass.json"]
    report = client.get(f"/api/v1/campaigns/{response.get_json()['id']}/report",
                        headers=bearer(seeded["api_key"])).get_json()
    assert (report["pushes"], report["accepted"], report["confirmed"]) == (3, 3, 1)


def test_store_many_signs_only_missing_and_older_versions(client: FlaskClient, seeded: dict[str, Any],
                                                          app: Flask) -> None:
    ids = [issue(client, seeded, f"Member {n}")["id"] for n in range(3)]
    url = app.config["PASSCAST"].web_service_url
    with app.app_context():
        session = db.session()
        assert pass_files.store_many(session, ids, url) == 3
        session.commit()
        assert pass_files.store_many(session, ids, url) == 0  # all current: nothing signed
        card = session.get(Card, ids[1])
        assert card is not None
        card.news = "Changed"
        touch(card)
        session.commit()
        assert pass_files.store_many(session, ids, url) == 1
        session.commit()
        session.expire_all()
        stored = {row.card_id: row for row in session.scalars(select(PassFile).where(PassFile.card_id.in_(ids)))}
        versions = {card.id: card.version for card in session.scalars(select(Card).where(Card.id.in_(ids)))}
        assert {card_id: row.version for card_id, row in stored.items()} == versions
        assert b"Changed" in read_pkpass(pass_files.archive(stored[ids[1]], session.get_one(Card, ids[1])))["pass.json"]
        assert pass_files.store_many(session, [], url) == 0


def test_a_batch_asks_for_rewards_and_the_survey_once_and_builds_the_same_passes(
        client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    ids = [issue(client, seeded, f"Member {n}")["id"] for n in range(4)]
    url = app.config["PASSCAST"].web_service_url
    with app.app_context():
        session = db.session()
        for card_id, names in ((ids[0], ["Free coffee", "Free cake"]), (ids[2], ["Free tea"])):
            for name in names:
                rewards.grant(session, card_id, rewards.CouponSpec(name=name), f"grant-{card_id}-{name}")
        session.add(NpsSurvey(brand_id=seeded["brand_id"], program_id=seeded["program_id"],
                              question="Would you recommend us?", starts_at=utcnow() - dt.timedelta(days=1)))
        session.commit()
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            assert pass_files.store_many(session, ids, url) == 4
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        session.commit()
        assert sum("FROM held_rewards" in sql for sql in statements) == 1
        assert sum("FROM nps_surveys" in sql for sql in statements) == 1
        stored = {row.card_id: PassParts.from_bytes(row.resources, row.data).pass_json
                  for row in session.scalars(select(PassFile).where(PassFile.card_id.in_(ids)))}
        for card_id in ids:  # each the pass a single build makes: same rewards, same survey link
            card = session.get_one(Card, card_id)
            assert stored[card_id] == read_pkpass(pass_files.render(card, url))["pass.json"]
        assert b"Free coffee" in stored[ids[0]] and b"Free cake" in stored[ids[0]]
        assert b"Free tea" in stored[ids[2]] and b"Free coffee" not in stored[ids[1]]
        assert all(b"Would you recommend us?" in data for data in stored.values())


def test_signing_ahead_commits_without_waiting_for_the_wal_flush(client: FlaskClient, seeded: dict[str, Any],
                                                                 app: Flask) -> None:
    """A stored pass lost in a crash is signed by the fetch: the chunk's commit need not wait for the
    disk (PostgreSQL: synchronous_commit off in that transaction only)."""
    ids = [issue(client, seeded, f"Member {n}")["id"] for n in range(2)]
    with app.app_context():
        session = db.session()
        postgresql = session.get_bind().dialect.name == "postgresql"
        server_default = session.execute(text("SHOW synchronous_commit")).scalar() if postgresql else None
        session.commit()
        tasks._sign_ahead(app.config["PASSCAST"].web_service_url)(session, ids)
        if postgresql:
            assert session.execute(text("SHOW synchronous_commit")).scalar() == "off"
        session.commit()
        if postgresql:  # SET LOCAL: the next transaction waits for its commits again
            assert session.execute(text("SHOW synchronous_commit")).scalar() == server_default
        assert set(session.scalars(select(PassFile.card_id).where(PassFile.card_id.in_(ids)))) == set(ids)
