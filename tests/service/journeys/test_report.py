"""A journey's report (service/journeys/report.py and GET /api/v1/journeys/{id}/report): on a
synthetic population where treated cards spend 10 % more, the interval holds the planted effect
and every figure matches a hand computation; each entry's own 7-day window; unreachable and
skipped entries left out; cost and ROMI; "not causal" without a holdout; the CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
import uuid
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.campaigns import holdout as holdout_split
from service.journeys import report as journey_report
from service.models import Card, Customer, Journey, JourneyEntry, LedgerEntry, Program, utcnow
from service.platform import db
from tests.helpers import bearer

Z95 = 1.959963984540054
MESSAGE = [{"type": "message", "text": "We miss you, {name}!"}]


def _journey(app: Flask, seeded: dict[str, Any], percent: int, actions: list[dict[str, Any]] | None = None,
             cost_per_entry: Decimal | None = None) -> int:
    with app.app_context():
        session = db.session()
        journey = Journey(brand_id=seeded["brand_id"], program_id=seeded["program_id"], name="Win-back",
                          trigger="lapsed", trigger_value=30, conditions={}, actions=actions or MESSAGE,
                          holdout_percent=percent, enabled=True, cost_per_entry=cost_per_entry)
        session.add(journey)
        session.commit()
        return journey.id


def _cards(session: Any, seeded: dict[str, Any], n: int) -> list[int]:
    customers = [Customer(brand_id=seeded["brand_id"], name=f"Customer {i}") for i in range(n)]
    session.add_all(customers)
    session.flush()
    cards = [Card(program_id=seeded["program_id"], customer_id=customer.id, brand_id=seeded["brand_id"],
                  number=900_000_000 + i, serial_number=str(uuid.uuid4()), authentication_token="x" * 32)
             for i, customer in enumerate(customers)]
    session.add_all(cards)
    session.flush()
    return [card.id for card in cards]


def _plant(app: Flask, seeded: dict[str, Any], journey_id: int, percent: int, n: int,
           uplift: float = 0.10) -> dict[bool, list[Decimal]]:
    """n cards enter at staggered times; each buys (or not) in its window, the treated spending
    `uplift` more. Also: purchases outside the windows, unreachable and skipped entries, which the
    report must not count. Returns each compared entry's revenue in its window, per side."""
    rng = random.Random(17)
    revenue: dict[bool, list[Decimal]] = {False: [], True: []}
    start = utcnow() - dt.timedelta(days=40)
    with app.app_context():
        session = db.session()
        card_ids = _cards(session, seeded, n)
        entries, ledger = [], []
        salt = journey_report.salt(journey_id)
        for index, card_id in enumerate(card_ids):
            held = holdout_split.in_holdout(salt, card_id, percent)
            entered = start + dt.timedelta(hours=index % 240)
            reachable = index % 10 != 9  # one in ten had no phone: left out of the comparison
            skipped = index % 25 == 3  # failed the conditions: left out on both sides
            entries.append(JourneyEntry(journey_id=journey_id, card_id=card_id, occurrence=f"lapsed:{index}",
                                        holdout=held, reachable=reachable, entered_at=entered,
                                        outcome="conditions" if skipped else "held" if held else "done",
                                        message=None if held or skipped else "sent"))
            mine = Decimal(0)
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                amount = Decimal(str(round(rng.uniform(5, 35) * (1 if held else 1 + uplift), 2)))
                at = entered + dt.timedelta(hours=rng.uniform(0.1, 24 * 7 - 0.1))
                ledger.append(LedgerEntry(card_id=card_id, kind="purchase", points=0, amount=amount, created_at=at))
                mine += amount
            # before the entry and after its window: not the journey's
            ledger.append(LedgerEntry(card_id=card_id, kind="purchase", points=0, amount=Decimal("50.00"),
                                      created_at=entered - dt.timedelta(hours=1)))
            ledger.append(LedgerEntry(card_id=card_id, kind="purchase", points=0, amount=Decimal("50.00"),
                                      created_at=entered + dt.timedelta(days=7, minutes=1)))
            if reachable and not skipped:
                revenue[held].append(mine)
        session.add_all(entries)
        session.add_all(ledger)
        session.commit()
    return revenue


def _welch(treated: list[Decimal], held: list[Decimal]) -> tuple[float, float, float]:
    def mean_var(values: list[Decimal]) -> tuple[float, float]:
        floats = [float(v) for v in values]
        mean = sum(floats) / len(floats)
        return mean, sum((v - mean) ** 2 for v in floats) / (len(floats) - 1)
    (m_t, v_t), (m_h, v_h) = mean_var(treated), mean_var(held)
    se = math.sqrt(v_t / len(treated) + v_h / len(held))
    return m_t - m_h, m_t - m_h - Z95 * se, m_t - m_h + Z95 * se


def test_the_interval_holds_a_planted_ten_percent_effect_and_matches_a_hand_computation(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    journey_id = _journey(app, seeded, percent=50)
    revenue = _plant(app, seeded, journey_id, percent=50, n=3000)
    figures = client.get(f"/api/v1/journeys/{journey_id}/report", headers=bearer(seeded["api_key"])).get_json()
    treated, held, lift = figures["treated"], figures["holdout"], figures["lift"]
    assert lift["causal"] is True and lift["unit"] == "entry" and lift["window_days"] == 7
    assert treated["compared"] == len(revenue[False]) and held["compared"] == len(revenue[True])
    assert treated["entered"] + held["entered"] == 3000
    assert treated["skipped"] + held["skipped"] == 120  # 3000 / 25
    assert treated["revenue"] == str(sum(revenue[False], Decimal(0)))
    assert held["revenue"] == str(sum(revenue[True], Decimal(0)))
    assert treated["buyers"] == sum(1 for value in revenue[False] if value > 0)
    assert treated["reached"] == treated["reachable"] == treated["compared"]

    estimate, low, high = _welch(revenue[False], revenue[True])
    shown = lift["revenue_per_card_difference"]
    assert abs(float(shown["estimate"]) - estimate) < 0.006
    assert abs(float(shown["low"]) - low) < 0.006 and abs(float(shown["high"]) - high) < 0.006
    # the planted effect: 10 % of what a held-back entry spends on average
    held_mean = float(sum(revenue[True], Decimal(0))) / len(revenue[True])
    planted = 0.10 * held_mean
    assert float(shown["low"]) < planted < float(shown["high"])
    assert shown["significant"] == (float(shown["low"]) > 0 or float(shown["high"]) < 0)
    incremental = lift["incremental_revenue"]
    assert abs(float(incremental["estimate"]) - estimate * treated["compared"]) < 0.01 * treated["compared"]
    p_t = treated["buyers"] / treated["compared"]
    p_h = held["buyers"] / held["compared"]
    assert abs(lift["conversion_difference"]["estimate"] - (p_t - p_h)) < 1e-6
    assert lift["cost"] is None and lift["romi"] is None  # a message alone: no cost to divide by


def test_cost_counts_points_coupons_and_the_per_entry_cost_into_romi(app: Flask, client: FlaskClient,
                                                                       seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    reward = client.post(f"/api/v1/programs/{seeded['program_id']}/rewards", headers=key,
                         json={"name": "Croissant", "cost_points": 200}).get_json()
    with app.app_context():
        program = db.session().get(Program, seeded["program_id"])
        assert program is not None
        program.point_value = Decimal("0.01")
        db.session().commit()
    journey_id = _journey(app, seeded, percent=50, cost_per_entry=Decimal("0.10"), actions=[
        *MESSAGE, {"type": "points", "points": 50}, {"type": "coupon", "reward_id": reward["id"]}])
    _plant(app, seeded, journey_id, percent=50, n=400)
    with app.app_context():
        session = db.session()
        done = list(session.scalars(select(JourneyEntry).where(
            JourneyEntry.journey_id == journey_id, JourneyEntry.holdout.is_(False), JourneyEntry.outcome == "done")))
        for entry in done:
            entry.points_given = 50
        session.commit()
        treated_done = len(done)
    figures = client.get(f"/api/v1/journeys/{journey_id}/report", headers=key).get_json()
    cost = figures["cost"]
    assert cost["points_given"] == 50 * treated_done and cost["points_value"] == f"{Decimal(treated_done) / 2:.2f}"
    assert cost["coupons_given"] == treated_done
    assert cost["coupons_value"] == f"{Decimal(treated_done) * 2:.2f}"  # 200 points at 0.01
    assert cost["per_entry_total"] == f"{Decimal(treated_done) * Decimal('0.10'):.2f}"
    total = Decimal(treated_done) * Decimal("2.60")
    assert cost["total"] == f"{total:.2f}" and cost["unknown"] == []
    lift = figures["lift"]
    assert lift["cost"] == cost["total"]
    incremental = float(lift["incremental_revenue"]["estimate"])
    assert abs(lift["romi"]["estimate"] - (incremental - float(total)) / float(total)) < 1e-3

    # a coupon without a catalogue price and no per-entry cost: the cost is unknown, and says why
    with app.app_context():
        journey = db.session().get(Journey, journey_id)
        assert journey is not None
        journey.actions = [*MESSAGE, {"type": "coupon", "name": "A treat on us"}]
        journey.cost_per_entry = None
        db.session().commit()
    cost = client.get(f"/api/v1/journeys/{journey_id}/report", headers=key).get_json()["cost"]
    assert cost["total"] is None and "coupons" in cost["unknown"][0]


def test_without_a_holdout_the_report_says_it_is_not_causal_in_json_and_csv(app: Flask, client: FlaskClient,
                                                                             seeded: dict[str, Any]) -> None:
    journey_id = _journey(app, seeded, percent=0)
    _plant(app, seeded, journey_id, percent=0, n=60)
    key = bearer(seeded["api_key"])
    figures = client.get(f"/api/v1/journeys/{journey_id}/report", headers=key).get_json()
    assert figures["lift"]["causal"] is False and "not causal" in figures["lift"]["note"]
    assert figures["lift"]["revenue_per_card_difference"] is None and figures["holdout"]["entered"] == 0
    assert figures["treated"]["compared"] > 0

    answer = client.get(f"/api/v1/journeys/{journey_id}/report?format=csv", headers=key)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert f"passcast-journey-{journey_id}-report.csv" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == journey_report.COLUMNS
    by_figure = {row[0]: row for row in rows[1:]}
    assert by_figure["causal"][3] == "False" and by_figure["holdout_percent"][2] == "0"
    assert by_figure["entered"][1] == "60" and by_figure["compared"][1] == str(figures["treated"]["compared"])
    assert {"points_given", "coupons_given", "cost_per_entry", "romi", "incremental_revenue"} <= set(by_figure)


def test_an_empty_journey_reports_zeros(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    journey_id = _journey(app, seeded, percent=10)
    figures = client.get(f"/api/v1/journeys/{journey_id}/report", headers=bearer(seeded["api_key"])).get_json()
    assert figures["treated"]["entered"] == 0 and figures["lift"]["causal"] is False
    assert figures["lift"]["window_ends_at"] is None and figures["holdout"]["salt"] == f"journey-{journey_id}"
