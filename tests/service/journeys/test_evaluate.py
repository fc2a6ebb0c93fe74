"""The evaluator end to end: messages on the pass under the messaging rules shared with campaigns,
conditions, the holdout, the actions, and each occurrence entered exactly once."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from service.campaigns import birthday
from service.campaigns.holdout import split
from service.journeys import evaluate, messages
from service.models import (
    Card,
    CardMessage,
    GoogleMessage,
    HeldReward,
    Journey,
    JourneyTask,
    LedgerEntry,
    MessageOptOut,
    NpsAnswer,
    NpsSurvey,
    PacedRecipient,
    Program,
    WebhookEvent,
    utcnow,
)
from service.platform import db
from tests.service.campaigns.test_pacing import send_campaign, set_rules
from tests.service.journeys.journey_helpers import MINUTE, card, entries, events, journey, keys, purchase

WELCOME = {"type": "message", "text": "Welcome, {name}!", "variants": {"ru": "Добро пожаловать, {name}!"}}


def test_a_message_goes_on_the_pass_and_to_google_once(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        welcome = journey(session, program, "joined", actions=[WELCOME])
        anna = card(session, program, "Anna Smith")
        ivan = card(session, program, "Ivan Petrov", language="ru")
        session.execute(update(Card).where(Card.id == anna).values(google_synced_version=1))
        session.commit()
        versions = {card_id: session.get(Card, card_id).version for card_id in (anna, ivan)}  # type: ignore[union-attr]
        run = events(session)
        assert run.messages["sent"] == 2 and run.google == 1
        session.expire_all()
        assert session.get(Card, anna).news == "Welcome, Anna!"  # type: ignore[union-attr]
        assert session.get(Card, ivan).news == "Добро пожаловать, Ivan!"  # type: ignore[union-attr]
        for card_id, version in versions.items():
            assert session.get(Card, card_id).version == version + 1  # type: ignore[union-attr]
        entry = next(each for each in entries(session, welcome) if each.card_id == anna)
        assert entry.message == "sent" and entry.outcome == "done" and entry.holdout is False
        google = session.scalars(select(GoogleMessage)).all()
        assert [(row.card_id, row.message_id, row.status) for row in google] == [
            (anna, messages.google_message_id(entry.id), "queued")]
        assert sorted(session.scalars(select(CardMessage.source))) == [f"journey:{welcome}"] * 2
        events(session)  # again: nothing more
        assert session.scalar(select(func.count()).select_from(CardMessage)) == 2


def test_conditions_tiers_balance_and_stores(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program, (home, other, *_) = seeded["program_id"], seeded["store_ids"]
        by_store = journey(session, program, "first_purchase", conditions={"store_ids": [home]})
        rich = journey(session, program, "first_purchase", conditions={"min_balance": 100, "max_balance": 200})
        silver = journey(session, program, "first_purchase", conditions={"tiers": ["Silver"]})
        anna = card(session, program, "Anna")
        bob = card(session, program, "Bob")
        cleo = card(session, program, "Cleo", home_store_id=home)
        purchase(session, anna, "12.50", "a", store_id=home)  # 125 points, Silver, at the home store
        purchase(session, bob, "5.00", "b", store_id=other)  # 50 points, no tier, elsewhere
        purchase(session, cleo, "60.00", "c", store_id=other)  # 600 points (Gold); her home store is `home`
        events(session)
        outcome = {journey_id: {entry.card_id: entry.outcome for entry in entries(session, journey_id)}
                   for journey_id in (by_store, rich, silver)}
        assert outcome[by_store] == {anna: "done", bob: "conditions", cleo: "done"}
        assert outcome[rich] == {anna: "done", bob: "conditions", cleo: "conditions"}
        assert outcome[silver] == {anna: "done", bob: "conditions", cleo: "conditions"}


def test_the_holdout_is_a_stable_hash_and_gets_nothing(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        bonus = journey(session, program, "joined", actions=[{"type": "points", "points": 10}, WELCOME],
                        holdout=10)
        ids = [card(session, program, f"M{n}") for n in range(200)]
        events(session)
        held = {entry.card_id for entry in entries(session, bonus) if entry.holdout}
        assert held == split(f"journey-{bonus}", ids, 10)
        assert 5 <= len(held) <= 40
        for entry in entries(session, bonus):
            assert entry.outcome == ("held" if entry.holdout else "done")
            assert entry.points_given == (0 if entry.holdout else 10)
            assert entry.message == (None if entry.holdout else "sent")
        session.expire_all()
        assert all(session.get(Card, card_id).balance == 0 for card_id in held)  # type: ignore[union-attr]
        assert all(session.get(Card, card_id).news is None for card_id in held)  # type: ignore[union-attr]


def test_opted_out_gets_no_message_but_the_points(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        bonus = journey(session, program, "joined", actions=[WELCOME, {"type": "points", "points": 25}])
        anna = card(session, program, "Anna")
        session.add(MessageOptOut(card_id=anna, opted_out_at=utcnow()))
        session.commit()
        events(session)
        (entry,) = entries(session, bonus)
        assert (entry.message, entry.points_given, entry.outcome) == ("opted_out", 25, "done")
        anna_card = session.get(Card, anna)
        assert anna_card is not None and anna_card.balance == 25 and anna_card.news is None
        keyed = session.scalar(select(LedgerEntry.idempotency_key).where(LedgerEntry.card_id == anna,
                                                                        LedgerEntry.kind == "earn"))
        assert keyed == f"journey:{bonus}:{entry.id}"


def test_a_campaign_counts_against_a_journeys_cap_and_back(client: FlaskClient, app: Flask,
                                                           seeded: dict[str, Any]) -> None:
    set_rules(client, seeded, cap_count=1, cap_days=7, over_cap="drop")
    now = utcnow()
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        anna = card(session, program, "Anna")
    send_campaign(client, seeded, app, "First", "The campaign", now, audience={"card_ids": [anna]})
    with app.app_context():
        session = db.session()
        welcome = journey(session, program, "first_purchase", actions=[WELCOME])
        purchase(session, anna, "1.00", "p1")
        events(session, now)
        (entry,) = entries(session, welcome)
        assert entry.message == "dropped"  # the campaign took the card's one place this week
        bob = card(session, program, "Bob")
        purchase(session, bob, "1.00", "p2")
        events(session, now)
        assert {each.card_id: each.message for each in entries(session, welcome)}[bob] == "sent"
    later = send_campaign(client, seeded, app, "Second", "Another campaign", now + 2 * MINUTE,
                          audience={"card_ids": [bob]})
    with app.app_context():
        session = db.session()
        paced = session.scalars(select(PacedRecipient).where(PacedRecipient.campaign_id == later)).all()
        assert [(row.card_id, row.state, row.reason) for row in paced] == [(bob, "dropped", "cap")]
        assert session.scalar(select(func.count()).select_from(CardMessage)
                              .where(CardMessage.card_id.in_([anna, bob]))) == 2


def test_over_the_cap_deferred_then_sent_when_a_place_frees(client: FlaskClient, app: Flask,
                                                            seeded: dict[str, Any]) -> None:
    set_rules(client, seeded, cap_count=1, cap_days=7, over_cap="defer")
    now = utcnow()
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        anna = card(session, program, "Anna")
    send_campaign(client, seeded, app, "First", "The campaign", now, audience={"card_ids": [anna]})
    with app.app_context():
        session = db.session()
        welcome = journey(session, program, "first_purchase", actions=[WELCOME])
        purchase(session, anna, "1.00", "p1")
        events(session, now)
        (entry,) = entries(session, welcome)
        assert entry.message == "deferred" and entry.message_due_at is not None
        due = entry.message_due_at
        assert due >= now + dt.timedelta(days=7) - MINUTE
        assert messages.send_due(session, due - MINUTE) == 0
        assert messages.send_due(session, due + MINUTE) == 1
        assert messages.send_due(session, due + 2 * MINUTE) == 0  # once
        (entry,) = entries(session, welcome)
        assert entry.message == "sent"
        assert session.get(Card, anna).news == "Welcome, Anna!"  # type: ignore[union-attr]


def test_quiet_hours_defer_to_their_end(client: FlaskClient, app: Flask, seeded: dict[str, Any]) -> None:
    set_rules(client, seeded, quiet_start="21:00", quiet_end="08:00")
    night = dt.datetime.combine(utcnow().date() + dt.timedelta(days=2), dt.time(23, 0), tzinfo=dt.UTC)
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        session.get(Program, program).time_zone = "UTC"  # type: ignore[union-attr]
        session.commit()
        welcome = journey(session, program, "joined", actions=[WELCOME])
        anna = card(session, program, "Anna")
        evaluate.evaluate_events(session, night)
        (entry,) = entries(session, welcome)
        morning = night.replace(hour=8) + dt.timedelta(days=1)
        assert entry.message == "deferred" and entry.message_due_at == morning
        assert session.get(Card, anna).news is None  # type: ignore[union-attr]
        assert messages.send_due(session, morning - MINUTE) == 0
        assert messages.send_due(session, morning) == 1
        session.expire_all()
        assert session.get(Card, anna).news == "Welcome, Anna!"  # type: ignore[union-attr]


def test_switching_a_journey_on_does_not_replay_the_past(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        card(session, program, "Before")
        events(session)  # the minute job runs with no journey: the watermark moves on
        welcome = journey(session, program, "joined")
        after = card(session, program, "After")
        events(session)
        assert keys(session, welcome) == [(after, "join")]


def test_two_evaluators_at_once_enter_each_card_once(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        bonus = journey(session, program, "joined", actions=[{"type": "points", "points": 5}])
        ids = [card(session, program, f"M{n}") for n in range(120)]
    errors: list[BaseException] = []

    def evaluator() -> None:
        try:
            with app.extensions["db_sessionmaker"]() as own:
                evaluate.evaluate_events(own, utcnow() + MINUTE, batch=10)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=evaluator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        session = db.session()
        assert sorted(card_id for card_id, _ in keys(session, bonus)) == sorted(ids)
        earned = session.execute(select(LedgerEntry.card_id, func.count()).where(LedgerEntry.kind == "earn")
                                 .group_by(LedgerEntry.card_id)).all()
        assert sorted(earned) == sorted((card_id, 1) for card_id in ids)


def test_points_on_a_stamp_card_are_skipped_the_rest_still_runs(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        mixed = journey(session, program, "first_purchase", actions=[
            {"type": "stamps", "stamps": 2}, {"type": "points", "points": 7},
            {"type": "coupon", "name": "Free coffee", "valid_days": 30}, WELCOME, {"type": "webhook"}])
        anna = card(session, program, "Anna")
        purchase(session, anna, "1.00", "p1")  # 10 points
        version = session.get(Card, anna).version  # type: ignore[union-attr]
        events(session)
        (entry,) = entries(session, mixed)
        assert entry.points_given == 7 and entry.message == "sent"
        anna_card = session.get(Card, anna)
        assert anna_card is not None and anna_card.balance == 17
        # points (the engine's version) + coupon and message together (one more): two new versions
        assert anna_card.version == version + 2
        coupon = session.scalars(select(HeldReward).where(HeldReward.card_id == anna)).one()
        assert (coupon.name, coupon.origin, coupon.source) == ("Free coffee", "journey", "coupon")
        event = session.scalars(select(WebhookEvent).where(WebhookEvent.type == "journey.entered")).one()
        assert event.data["card_id"] == anna and event.data["occurrence"] == "first_purchase"
        assert event.data["journey_id"] == mixed and event.data["entry_id"] == entry.id


def test_an_nps_detractor_leaves_a_task_with_who_and_what(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program, store = seeded["program_id"], seeded["store_ids"][1]
        follow_up = journey(session, program, "nps_at_or_below", 6, [{"type": "task", "text": "Call back"}])
        anna = card(session, program, "Anna Smith", email="anna@example.com", phone="+31612345678")
        survey = NpsSurvey(brand_id=seeded["brand_id"], program_id=program)
        session.add(survey)
        session.flush()
        session.add(NpsAnswer(survey_id=survey.id, brand_id=seeded["brand_id"], card_id=anna, score=3,
                              comment="Cold coffee", store_id=store))
        session.commit()
        events(session)
        (entry,) = entries(session, follow_up)
        task = session.scalars(select(JourneyTask)).one()
        assert (task.entry_id, task.card_id, task.store_id, task.text, task.state) == (
            entry.id, anna, store, "Call back", "open")
        assert task.detail["customer"] == "Anna Smith" and task.detail["email"] == "anna@example.com"
        assert task.detail["phone"] == "+31612345678" and task.detail["card_number"]
        assert (task.detail["score"], task.detail["comment"]) == (3, "Cold coffee")


def test_a_birthday_journey_replaces_the_legacy_greeting(app: Flask, seeded: dict[str, Any]) -> None:
    now = dt.datetime(2027, 6, 15, 8, 7, tzinfo=dt.UTC)
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        row = session.get(Program, program)
        assert row is not None
        row.birthday_message = "Happy birthday (legacy)"
        session.commit()
        anna = card(session, program, "Anna", birthday=dt.date(1990, 6, 15))
        greeting = journey(session, program, "birthday", None,
                           [{"type": "message", "text": "Happy birthday, {name}!"}])
        assert birthday.run(session, now).cards == 0  # the journey greets this program
        evaluate.evaluate_daily(session, now)
        assert keys(session, greeting) == [(anna, "birthday:2027")]
        assert session.get(Card, anna).news == "Happy birthday, Anna!"  # type: ignore[union-attr]
        session.execute(update(Journey).where(Journey.id == greeting).values(enabled=False))
        session.commit()
        assert birthday.run(session, now.replace(year=2028)).cards == 1  # switched off: the legacy job again


def test_the_jobs_evaluate_and_send_the_google_messages(app: Flask, seeded: dict[str, Any]) -> None:
    from service.journeys import tasks

    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        journey(session, program, "joined", actions=[WELCOME])
        anna = card(session, program, "Anna")
        session.execute(update(Card).where(Card.id == anna).values(google_synced_version=1))
        session.commit()
        assert tasks.run_events(utcnow())["entered"] == 0  # younger than the settle time: next minute
        result = tasks.run_events(utcnow() + MINUTE)
        assert (result["entered"], result["sent"]) == (1, 1)
        session.expire_all()
        statuses = session.scalars(select(GoogleMessage.status)).all()
        assert len(statuses) == 1 and statuses[0] != "queued"  # sent by the Google job after the commit
        assert tasks.run_daily(utcnow())["entered"] == 0
        assert tasks.run_deferred(utcnow()) == 0
