"""Each journey trigger on crafted data, at its boundary: the card enters once per occurrence."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from service.journeys import evaluate
from service.loyalty import rewards
from service.loyalty.engine import TransactionRequest, post_transaction
from service.models import Card, CatalogueReward, Journey, NpsAnswer, NpsSurvey, Program, utcnow
from service.platform import db
from tests.service.journeys.journey_helpers import MINUTE, card, entries, events, journey, keys, purchase
from tests.service.loyalty.test_stamps import stamp_program

DAY = dt.timedelta(days=1)


def test_joined_fires_for_new_cards_not_imported_ones(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        welcome = journey(session, program, "joined")
        anna = card(session, program, "Anna")
        run = events(session)
        assert keys(session, welcome) == [(anna, "join")] and run.entered == 1
        assert events(session).entered == 0  # nothing new: nothing entered again


def test_first_purchase_once_and_nth_visit_at_its_boundary(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        first = journey(session, program, "first_purchase")
        third = journey(session, program, "nth_visit", 3)
        anna = card(session, program, "Anna")
        purchase(session, anna, "1.00", "v1")
        purchase(session, anna, "1.00", "v2")  # visit 2 = N - 1: not yet
        events(session)
        assert keys(session, first) == [(anna, "first_purchase")]
        assert keys(session, third) == []
        purchase(session, anna, "1.00", "v3")  # N
        events(session)
        assert keys(session, third) == [(anna, "visit:3")]
        purchase(session, anna, "1.00", "v4")  # N + 1: no new entry
        events(session)
        assert keys(session, third) == [(anna, "visit:3")]
        assert keys(session, first) == [(anna, "first_purchase")]


def test_bonus_points_are_not_visits(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        first = journey(session, program, "first_purchase")
        anna = card(session, program, "Anna")
        post_transaction(session, anna, TransactionRequest(type="earn", points=50), "gift")
        session.commit()
        events(session)
        assert keys(session, first) == []
        assert session.get(Card, anna).last_visit_at is None  # type: ignore[union-attr]
        purchase(session, anna, "1.00", "v1")
        events(session)
        assert keys(session, first) == [(anna, "first_purchase")]
        assert session.get(Card, anna).last_visit_at is not None  # type: ignore[union-attr]


def test_tier_up_and_tier_down_are_told_apart(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        session.get(Program, program).tier_basis = "points"  # type: ignore[union-attr]  # redeeming moves down
        session.commit()
        up, down = journey(session, program, "tier_up"), journey(session, program, "tier_down")
        anna = card(session, program, "Anna")
        answer = purchase(session, anna, "12.50", "p1")  # 125 points: Silver
        assert answer["tier_change"] == "up"
        events(session)
        assert keys(session, up) == [(anna, f"tier_up:{answer['id']}")] and keys(session, down) == []
        redeemed = post_transaction(session, anna, TransactionRequest(type="redeem", points=100), "r1").response
        session.commit()
        assert redeemed["tier_change"] == "down"
        events(session)
        assert keys(session, down) == [(anna, f"tier_down:{redeemed['id']}")] and len(keys(session, up)) == 1


def test_reward_within_reach_fires_once_per_reward_and_cycle(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        reward = CatalogueReward(brand_id=seeded["brand_id"], program_id=program, name="Cake", cost_points=500)
        session.add(reward)
        session.commit()
        reach = journey(session, program, "reward_within_reach", 100)
        anna = card(session, program, "Anna")
        purchase(session, anna, "30.00", "p1")  # 300 + tier multipliers: still more than 100 away
        events(session)
        assert keys(session, reach) == []
        balance = session.get(Card, anna).balance  # type: ignore[union-attr]
        assert 500 - balance > 100
        purchase(session, anna, "12.00", "p2")  # now within 100 of 500
        events(session)
        assert session.get(Card, anna).balance < 500  # type: ignore[union-attr]
        assert keys(session, reach) == [(anna, f"reach:{reward.id}:0")]
        purchase(session, anna, "1.00", "p3")  # still in reach: not again
        events(session)
        assert len(keys(session, reach)) == 1
        purchase(session, anna, "10.00", "p4")
        rewards.buy(session, anna, reward.id, "buy-1")
        session.commit()
        while session.get(Card, anna).balance < 400:  # type: ignore[union-attr]
            purchase(session, anna, "5.00", f"again-{session.get(Card, anna).balance}")  # type: ignore[union-attr]
        events(session)
        assert keys(session, reach) == [(anna, f"reach:{reward.id}:0"), (anna, f"reach:{reward.id}:1")]


def test_nps_at_or_below_a_score(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        detractors = journey(session, program, "nps_at_or_below", 6,
                             [{"type": "task", "text": "Call them back"}])
        survey = NpsSurvey(brand_id=seeded["brand_id"], program_id=program)
        session.add(survey)
        session.flush()
        cards = {score: card(session, program, f"Score {score}") for score in (5, 6, 7)}
        answers = {}
        for score, card_id in cards.items():
            answer = NpsAnswer(survey_id=survey.id, brand_id=seeded["brand_id"], card_id=card_id, score=score,
                               comment=f"gave {score}", store_id=seeded["store_ids"][0])
            session.add(answer)
            session.flush()
            answers[score] = answer.id
        session.commit()
        events(session)
        assert sorted(keys(session, detractors)) == sorted(
            [(cards[5], f"nps:{answers[5]}"), (cards[6], f"nps:{answers[6]}")])  # at and below, not above


def _set_card(session: Any, card_id: int, **values: Any) -> None:
    session.execute(update(Card).where(Card.id == card_id).values(**values))
    session.commit()


def test_points_expiring_in_n_days_not_n_plus_or_minus_one(app: Flask, seeded: dict[str, Any]) -> None:
    now = dt.datetime(2027, 3, 10, 8, 7, tzinfo=dt.UTC)
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        expiring = journey(session, program, "points_expiring", 7)
        made = {}
        for days in (6, 7, 8):
            made[days] = card(session, program, f"In {days}")
            _set_card(session, made[days], balance=100,
                      points_expire_at=dt.datetime(2027, 3, 10, 23, 30, tzinfo=dt.UTC) + dt.timedelta(days=days))
        edge = card(session, program, "Midnight")  # the first moment of the day is that day
        _set_card(session, edge, balance=100, points_expire_at=dt.datetime(2027, 3, 17, 0, 0, tzinfo=dt.UTC))
        run = evaluate.evaluate_daily(session, now)
        assert sorted(keys(session, expiring)) == sorted([(made[7], "expiring:2027-03-17"),
                                                          (edge, "expiring:2027-03-17")])
        assert run.entered == 2
        assert evaluate.evaluate_daily(session, now + dt.timedelta(hours=2)).entered == 0  # the same day again


def test_lapsed_exactly_n_days(app: Flask, seeded: dict[str, Any]) -> None:
    now = dt.datetime(2027, 3, 10, 8, 7, tzinfo=dt.UTC)
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        lapsed = journey(session, program, "lapsed", 30)
        made = {}
        for days in (29, 30, 31):
            made[days] = card(session, program, f"{days} days")
            _set_card(session, made[days], last_visit_at=now - dt.timedelta(days=days))
        never = card(session, program, "Never visited")
        evaluate.evaluate_daily(session, now)
        assert keys(session, lapsed) == [(made[30], "lapsed:2027-02-08")]
        assert never not in [card_id for card_id, _ in keys(session, lapsed)]
        # the next day, the card that had been away 29 days is away 30
        evaluate.evaluate_daily(session, now + DAY)
        assert sorted(keys(session, lapsed)) == sorted([(made[30], "lapsed:2027-02-08"),
                                                       (made[29], "lapsed:2027-02-09")])


def test_a_missed_day_is_caught_up(app: Flask, seeded: dict[str, Any]) -> None:
    now = dt.datetime(2027, 3, 10, 8, 7, tzinfo=dt.UTC)
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        lapsed = journey(session, program, "lapsed", 30)
        evaluate.evaluate_daily(session, now - DAY * 2)  # ran on the 8th, not on the 9th
        missed = card(session, program, "Missed")
        _set_card(session, missed, last_visit_at=now - DAY * 31)  # lapsed 30 days on the 9th
        session.execute(update(Journey).values(created_at=now - DAY * 10))
        session.commit()
        evaluate.evaluate_daily(session, now)
        assert keys(session, lapsed) == [(missed, "lapsed:2027-02-07")]


def test_birthday_once_a_year(app: Flask, seeded: dict[str, Any]) -> None:
    now = dt.datetime(2027, 6, 15, 8, 7, tzinfo=dt.UTC)
    with app.app_context():
        session = db.session()
        program = seeded["program_id"]
        birthdays = journey(session, program, "birthday", None, [{"type": "points", "points": 50}])
        today = card(session, program, "Today", birthday=dt.date(1990, 6, 15))
        card(session, program, "Tomorrow", birthday=dt.date(1990, 6, 16))
        evaluate.evaluate_daily(session, now)
        evaluate.evaluate_daily(session, now + dt.timedelta(hours=1))
        assert keys(session, birthdays) == [(today, "birthday:2027")]
        assert entries(session, birthdays)[0].points_given == 50
        assert session.get(Card, today).balance == 50  # type: ignore[union-attr]
        evaluate.evaluate_daily(session, now.replace(year=2028))
        assert keys(session, birthdays) == [(today, "birthday:2027"), (today, "birthday:2028")]


def test_stamp_cards_reach_once_per_cycle_and_bonus_stamps_are_no_visit(client: FlaskClient, app: Flask,
                                                                         seeded: dict[str, Any]) -> None:
    program = stamp_program(client, seeded, stamps_required=5)["id"]
    with app.app_context():
        session = db.session()
        reach = journey(session, program, "reward_within_reach", 1)
        second = journey(session, program, "nth_visit", 2,
                         [{"type": "stamps", "stamps": 1}, {"type": "points", "points": 10}])
        anna = card(session, program, "Anna")

        def stamp(key: str) -> None:
            post_transaction(session, anna, TransactionRequest(type="stamp", stamps=1), key)
            session.commit()

        for n in range(3):  # 3 of 5 stamps: 2 away
            stamp(f"s{n}")
        events(session)
        assert keys(session, reach) == []
        # the 2nd visit gave a bonus stamp (4 of 5: within 1); the points action is skipped on stamps
        (entry,) = entries(session, second)
        assert entry.points_given == 1 and session.get(Card, anna).balance == 4  # type: ignore[union-attr]
        # the bonus stamp's own entry (written at the evaluation's moment, a minute ahead here): within
        # reach of the full card, and no 3rd visit
        events(session, utcnow() + MINUTE)
        assert keys(session, reach) == [(anna, "reach:1:5")]
        assert len(entries(session, second)) == 1
        for n in range(3, 8):  # fills the first card, then 3 + 1 on the second card... within reach again
            stamp(f"s{n}")
        events(session, utcnow() + MINUTE)
        assert keys(session, reach) == [(anna, "reach:1:5"), (anna, "reach:2:5")]
