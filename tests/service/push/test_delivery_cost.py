"""What one push job asks of the database (issue 18), and that the lean path keeps its guarantees.

At the till every purchase queues one push and its own job. On PostgreSQL that job is two
statements on the autocommit engine: the claim (committed before anything is sent) and the
record of the accepted pushes with the marks their registrations lose. The APNs sender of a
pass type is chosen once a minute, not with a certificate query per job. Other answers (410,
retries) are written as before, a crash between claim and record leaves the rows to the
sweeper, and on SQLite everything runs through the session as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from service.models import PushDelivery, Registration, utcnow
from service.platform import db
from service.push import delivery, outbox, senders
from service.push.fanout import bump_cards
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer

PASS_TYPE = "pass.dev.passcast.loyalty"


def make_card(client: FlaskClient, seeded: dict[str, Any], app: Flask, tokens: list[str]) -> int:
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", json={"customer": {"name": "Till"}},
                       headers=bearer(seeded["api_key"])).get_json()
    with app.app_context():
        session = db.session()
        for n, token in enumerate(tokens):
            session.add(Registration(device_library_identifier=f"phone-{n}", card_id=card["id"],
                                     pass_type_identifier=PASS_TYPE, push_token=token, client_kind="apple"))
        session.commit()
    return int(card["id"])


def queue_held(app: Flask, card_id: int) -> list[int]:
    """The card's next version and its pushes, committed but not yet sent (as a campaign holds them)."""
    with app.app_context():
        session = db.session()
        bump_cards(session, [card_id], values={"news": "Thank you"})
        ids = outbox.hold(session)
        session.commit()
    return ids


@contextmanager
def statements(app: Flask) -> Iterator[dict[str, list[str]]]:
    """SQL sent through the app's engine (sessions) and its autocommit engine, by engine."""
    seen: dict[str, list[str]] = {"session": [], "lean": []}
    listeners = []
    for name, engine in (("session", app.extensions["db_engine"]), ("lean", app.extensions["db_lean_engine"])):
        def note(*args: Any, _name: str = name) -> None:
            seen[_name].append(args[2].lstrip().split(None, 1)[0].upper())
        event.listen(engine, "before_cursor_execute", note)
        listeners.append((engine, note))
    try:
        yield seen
    finally:
        for engine, note in listeners:
            event.remove(engine, "before_cursor_execute", note)


def deliver(app: Flask, ids: list[int], lean: bool = True) -> list[tuple[list[int], float]]:
    retries: list[tuple[list[int], float]] = []
    delivery.deliver(app.extensions["db_sessionmaker"], app.config["PASSCAST"], ids,
                     lambda again, delay: retries.append((again, delay)),
                     lean=app.extensions["db_lean_engine"] if lean else None)
    return retries


def stored(app: Flask, ids: list[int]) -> list[PushDelivery]:
    with app.app_context():
        session = db.session()
        return list(session.scalars(select(PushDelivery).where(PushDelivery.id.in_(ids)).order_by(PushDelivery.id)))


@pytest.fixture(autouse=True)
def _choose_senders_anew() -> Iterator[None]:
    senders.forget_chosen_senders()
    yield
    senders.forget_chosen_senders()


def test_a_till_push_job_is_two_statements_and_no_certificate_query(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble, database_url: str) -> None:
    card_id = make_card(client, seeded, app, ["a1" * 32])
    deliver(app, queue_held(app, card_id))  # the first job of the process chooses the sender
    ids = queue_held(app, card_id)
    with statements(app) as seen:
        assert deliver(app, ids) == []
    if database_url.startswith("postgresql"):
        assert seen == {"session": [], "lean": ["UPDATE", "WITH"]}
    else:  # SQLite: the session path, with no certificate query either
        assert "SELECT" not in seen["session"] and seen["lean"] == []
    [row] = stored(app, ids)
    assert (row.status, row.attempts, row.claim, row.reason) == ("accepted", 1, None, None)
    assert row.sent_at is not None and row.accepted_at is not None and row.accepted_at >= row.sent_at
    assert [request.token for request in apns.requests] == ["a1" * 32, "a1" * 32]


def test_the_sender_is_chosen_again_after_a_minute(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                   apns: ApnsDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    card_id = make_card(client, seeded, app, ["b2" * 32])
    deliver(app, queue_held(app, card_id))
    clock = [senders.time.monotonic() + senders.RECHECK_SECONDS + 1]
    monkeypatch.setattr(senders.time, "monotonic", lambda: clock[0])
    with statements(app) as seen:
        deliver(app, queue_held(app, card_id))
    assert "SELECT" in seen["session"]  # the certificates, looked at again
    assert len(apns.requests) == 2


def test_other_answers_are_still_written_beside_the_accepted_ones(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble) -> None:
    tokens = ["c3" * 32, "c4" * 32, "c5" * 32, "c6" * 32]
    apns.set_answer(tokens[1], "unregistered")
    apns.set_answer(tokens[2], "server_error")
    apns.set_answer(tokens[3], "bad_token")
    card_id = make_card(client, seeded, app, tokens)
    ids = queue_held(app, card_id)
    retries = deliver(app, ids)
    by_token = {row.push_token: row for row in stored(app, ids)}
    assert by_token[tokens[0]].status == "accepted"
    assert by_token[tokens[1]].status == "unregistered"
    assert (by_token[tokens[2]].status, by_token[tokens[2]].next_attempt_at is not None) == ("retry", True)
    assert (by_token[tokens[3]].status, by_token[tokens[3]].reason) == ("failed", "BadDeviceToken")
    assert [again for again, _delay in retries] == [[by_token[tokens[2]].id]]
    with app.app_context():
        registrations = {r.push_token: r for r in db.session().scalars(select(Registration))}
    assert tokens[1] not in registrations  # 410 removes the registration
    assert registrations[tokens[3]].active is False  # BadDeviceToken: never pushed again
    assert registrations[tokens[0]].active and registrations[tokens[2]].active


@pytest.mark.parametrize("lean", [True, False])
def test_a_crash_between_claim_and_record_leaves_the_push_to_the_sweeper(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble,
        monkeypatch: pytest.MonkeyPatch, lean: bool) -> None:
    card_id = make_card(client, seeded, app, ["d7" * 32])
    ids = queue_held(app, card_id)

    def crash(*_args: Any) -> dict[int, Any]:
        raise SystemExit("worker killed after its claim")

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "_send", crash)
        with pytest.raises(SystemExit):
            deliver(app, ids, lean=lean)
    [row] = stored(app, ids)
    assert (row.status, row.attempts) == ("sending", 1)
    assert deliver(app, ids, lean=lean) == []  # another job for the same ids: claimed, not sent twice
    assert apns.requests == []
    with app.app_context():
        later = utcnow() + dt.timedelta(seconds=app.config["PASSCAST"].push_lease_seconds + 1)
        assert delivery.stranded(db.session(), dt.timedelta(seconds=app.config["PASSCAST"].push_lease_seconds),
                                 now=later) == ids
    deliver(app, ids, lean=lean)
    [row] = stored(app, ids)
    assert (row.status, row.attempts) == ("accepted", 2)
    assert [request.token for request in apns.requests] == ["d7" * 32]


def test_a_sender_closed_meanwhile_is_not_reused(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                apns: ApnsDouble) -> None:
    from service.push.apns import ApnsSender

    card_id = make_card(client, seeded, app, ["e8" * 32])
    deliver(app, queue_held(app, card_id))
    ApnsSender.close_shared()  # as at shutdown, or a test's teardown
    ids = queue_held(app, card_id)
    deliver(app, ids)
    assert [row.status for row in stored(app, ids)] == ["accepted"]
    assert len(apns.requests) == 2
