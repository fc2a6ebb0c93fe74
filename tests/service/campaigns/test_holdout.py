"""Holdouts and lift: the split's size and stability, a planted effect found inside the
interval (checked against a hand computation), "not causal" without a holdout, holdout cards
sent nothing, and conversions counted only among the recipients a campaign reached."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from service.analytics import figures as analytics
from service.analytics.figures import Period
from service.campaigns import lift, sending
from service.campaigns.holdout import BUCKETS, campaign_salt, in_holdout, split
from service.models import (
    Campaign,
    CampaignRecipient,
    Card,
    Customer,
    GoogleMessage,
    LedgerEntry,
    Program,
    PushDelivery,
    utcnow,
)
from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue, register, token

IDS = range(1, 20_001)


# -- the split ---------------------------------------------------------------------------------


@pytest.mark.parametrize("percent", [1, 10, 25, 50])
def test_the_split_keeps_back_the_percent_asked_for_over_20000_cards(percent: int) -> None:
    kept = len(split(campaign_salt(7), list(IDS), percent))
    expected = len(IDS) * percent / 100
    # four binomial standard deviations: a fair hash misses this about once in 16 000 runs
    tolerance = 4 * math.sqrt(len(IDS) * percent / 100 * (1 - percent / 100))
    assert abs(kept - expected) <= tolerance, (kept, expected)


def test_the_split_is_stable_and_differs_per_campaign() -> None:
    first = split(campaign_salt(1), list(IDS), 10)
    assert split(campaign_salt(1), list(IDS), 10) == first  # the same answer twice
    assert all(in_holdout(campaign_salt(1), card_id, 10) == (card_id in first) for card_id in IDS)
    other = split(campaign_salt(2), list(IDS), 10)
    assert other != first
    # independent splits: about 10 % of 10 % of the cards are kept back by both
    both = len(first & other)
    assert abs(both - 200) <= 4 * math.sqrt(20_000 * 0.01 * 0.99), both
    # a larger holdout of the same campaign contains the smaller one (the buckets only grow)
    assert first <= split(campaign_salt(1), list(IDS), 20)
    assert split(campaign_salt(1), list(IDS), 0) == set()


def test_the_split_is_auditable_by_hand() -> None:
    """Anyone can recompute it: SHA-256 of "salt:card id", first 8 bytes, modulo 10 000."""
    for card_id in (1, 42, 99_999):
        digest = hashlib.sha256(f"campaign-5:{card_id}".encode()).digest()
        by_hand = int.from_bytes(digest[:8], "big") % 10_000 < 10 * BUCKETS // 100
        assert in_holdout("campaign-5", card_id, 10) is by_hand


# -- the lift against a hand computation ----------------------------------------------------------

AMOUNTS = [Decimal(10), Decimal(20), Decimal(30), Decimal(40), Decimal(50)]
GROUP = 4000
HOLDOUT_BUYERS, TREATED_BUYERS = 1200, 1320  # 30 % and 33 %: a planted +10 % effect


def _plant(app: Flask, seeded: dict[str, Any]) -> int:
    """A finished campaign whose 4 000 treated cards convert at 33 % and 4 000 held-back cards at
    30 %, every buyer spending the same cycle of amounts: revenue per card 9.90 against 9.00."""
    started = utcnow() - dt.timedelta(days=10)
    with app.app_context():
        session = db.session()
        program = session.get(Program, seeded["program_id"])
        assert program is not None
        brand_id = program.brand_id
        campaign = Campaign(brand_id=brand_id, kind="message", name="Planted", message="Hi", audience={},
                            status="finished", started_at=started, finished_at=started, holdout_percent=50,
                            cost=Decimal("1000.00"))
        session.add(campaign)
        session.flush()
        customers = session.execute(insert(Customer).returning(Customer.id), [
            {"brand_id": brand_id, "name": f"c{i}", "language": "en", "created_at": started}
            for i in range(2 * GROUP)]).scalars().all()
        cards = session.execute(insert(Card).returning(Card.id), [
            {"program_id": seeded["program_id"], "customer_id": customer, "brand_id": brand_id,
             "number": 10_000_000 + i, "serial_number": f"planted-{i}", "authentication_token": "x" * 32,
             "balance": 0, "lifetime_points": 0, "version": 1, "updated_at": started, "created_at": started,
             "lifetime_spend": Decimal(0), "voided": False}
            for i, customer in enumerate(customers)]).scalars().all()
        treated, held = cards[:GROUP], cards[GROUP:]
        session.execute(insert(CampaignRecipient), [
            {"campaign_id": campaign.id, "card_id": card_id, "holdout": card_id in held, "reachable": True,
             "created_at": started} for card_id in cards])
        entries = []
        for group, buyers in ((treated, TREATED_BUYERS), (held, HOLDOUT_BUYERS)):
            for i, card_id in enumerate(group[:buyers]):
                entries.append({"card_id": card_id, "kind": "purchase", "points": 0, "amount": AMOUNTS[i % 5],
                                "created_at": started + dt.timedelta(days=1)})
            # a purchase after the 7-day window counts for nobody
            entries.append({"card_id": group[-1], "kind": "purchase", "points": 0, "amount": Decimal(999),
                            "created_at": started + dt.timedelta(days=8)})
        session.execute(insert(LedgerEntry), entries)
        session.commit()
        return campaign.id


def _by_hand(buyers: int, cards: int) -> tuple[float, float]:
    """Mean and sample variance of per-card revenue, summed card by card."""
    values = [float(AMOUNTS[i % 5]) for i in range(buyers)] + [0.0] * (cards - buyers)
    mean = sum(values) / cards
    return mean, sum((value - mean) ** 2 for value in values) / (cards - 1)


def test_the_report_finds_a_planted_ten_percent_effect_inside_its_interval(
        client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    campaign_id = _plant(app, seeded)
    body = client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=bearer(seeded["api_key"])).get_json()
    treated, holdout, measured = body["treated"], body["holdout"], body["lift"]
    assert (treated["compared"], treated["buyers"], treated["revenue"]) == (GROUP, TREATED_BUYERS, "39600.00")
    assert (holdout["compared"], holdout["buyers"], holdout["revenue"]) == (GROUP, HOLDOUT_BUYERS, "36000.00")
    assert (treated["revenue_per_card"], holdout["revenue_per_card"]) == ("9.90", "9.00")
    assert holdout["percent"] == 50 and holdout["salt"] == f"campaign-{campaign_id}"
    assert measured["causal"] is True and measured["note"] is None

    # by hand: Welch's standard error of the difference in revenue per card, 1.96 either side
    mean_t, var_t = _by_hand(TREATED_BUYERS, GROUP)
    mean_h, var_h = _by_hand(HOLDOUT_BUYERS, GROUP)
    se = math.sqrt(var_t / GROUP + var_h / GROUP)
    planted = mean_h * 0.10  # +10 % of the holdout's revenue per card
    assert mean_t - mean_h == pytest.approx(planted)
    revenue = measured["revenue_per_card_difference"]
    assert Decimal(revenue["estimate"]) == Decimal("0.90")
    assert float(revenue["low"]) == pytest.approx(mean_t - mean_h - 1.96 * se, abs=0.006)
    assert float(revenue["high"]) == pytest.approx(mean_t - mean_h + 1.96 * se, abs=0.006)
    assert float(revenue["low"]) < planted < float(revenue["high"]) and revenue["significant"] is True
    assert measured["relative_uplift"] == pytest.approx(0.10)

    # conversion: 33 % - 30 %, Agresti-Caffo (a buyer and a non-buyer added to each side)
    p_t, p_h = (TREATED_BUYERS + 1) / (GROUP + 2), (HOLDOUT_BUYERS + 1) / (GROUP + 2)
    se_p = math.sqrt(p_t * (1 - p_t) / (GROUP + 2) + p_h * (1 - p_h) / (GROUP + 2))
    conversion = measured["conversion_difference"]
    assert conversion["estimate"] == pytest.approx(0.03)
    assert conversion["low"] == pytest.approx(p_t - p_h - 1.96 * se_p, abs=1e-4)
    assert conversion["high"] == pytest.approx(p_t - p_h + 1.96 * se_p, abs=1e-4)
    assert conversion["low"] < 0.03 < conversion["high"]

    # incremental revenue = difference per card x treated cards; ROMI against the campaign's cost
    incremental = measured["incremental_revenue"]
    assert Decimal(incremental["estimate"]) == Decimal("3600.00")
    assert float(incremental["low"]) == pytest.approx(GROUP * (mean_t - mean_h - 1.96 * se), abs=1)
    assert measured["cost"] == "1000.00"
    assert measured["romi"]["estimate"] == pytest.approx(2.6)
    assert measured["romi"]["low"] < 2.6 < measured["romi"]["high"]
    assert measured["incremental_buyers"]["estimate"] == pytest.approx(120, abs=0.1)
    assert measured["window_closed"] is True and measured["window_days"] == 7


def test_lift_maths_on_no_effect_and_on_empty_groups() -> None:
    same = lift.Group(cards=100, buyers=10, purchases=10, revenue=Decimal(100), revenue_squares=Decimal(1000))
    measured = lift.measure(same, same)
    assert measured["causal"] is True
    interval = measured["revenue_per_card_difference"]
    assert Decimal(interval["estimate"]) == 0 and float(interval["low"]) < 0 < float(interval["high"])
    assert interval["significant"] is False and measured["romi"] is None  # no cost: no ROMI
    empty = lift.measure(same, lift.Group(cards=0))
    assert empty["causal"] is False and empty["note"] == lift.TOO_SMALL
    assert lift.measure(same, lift.Group(cards=1, buyers=1, revenue=Decimal(5)))["note"] == lift.TOO_SMALL
    assert measured["note"] is None  # 10 buyers a side: the normal approximation is fair enough
    few = lift.Group(cards=100, buyers=5, purchases=5, revenue=Decimal(50), revenue_squares=Decimal(500))
    rough = lift.measure(same, few)
    assert rough["causal"] is True and rough["note"] == lift.FEW_BUYERS
    assert lift.measure(same, None)["note"] == lift.NOT_CAUSAL


# -- through the API: nothing for the holdout, "not causal" without one ------------------------------


def test_holdout_cards_get_no_push_no_message_and_are_recorded(client: FlaskClient, seeded: dict[str, Any],
                                                               app: Flask, apns: ApnsDouble) -> None:
    cards = [issue(client, seeded, f"Customer {n}")["id"] for n in range(40)]
    for n, card_id in enumerate(cards):
        register(app, card_id, token(n + 1))
    google_card = cards[-1]
    with app.app_context():
        card = db.session().get(Card, google_card)
        assert card is not None
        card.google_synced_version = card.version
        db.session().commit()
    headers = bearer(seeded["api_key"])
    created = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Held", "message": "Hello", "send_now": True, "audience": {"all_cards": True},
        "holdout_percent": 50})
    assert created.status_code == 201, created.get_json()
    campaign = created.get_json()
    assert campaign["status"] == "finished" and campaign["holdout_percent"] == 50
    kept = split(campaign_salt(campaign["id"]), cards, 50)
    assert 0 < len(kept) < len(cards)
    tokens = {token(n + 1): card_id for n, card_id in enumerate(cards)}
    pushed = {tokens[request.token] for request in apns.requests}
    assert pushed == set(cards) - kept, "the holdout got no push; everyone else did"
    with app.app_context():
        session = db.session()
        rows = dict(session.execute(select(CampaignRecipient.card_id, CampaignRecipient.holdout)
                                    .where(CampaignRecipient.campaign_id == campaign["id"])).all())
        assert rows == {card_id: card_id in kept for card_id in cards}, "every card recorded, the holdout marked"
        assert all(session.get(Card, card_id).news is None for card_id in kept)  # type: ignore[union-attr]
        assert all(session.get(Card, card_id).news == "Hello" for card_id in set(cards) - kept)  # type: ignore
        assert not session.scalars(select(PushDelivery.card_id).where(
            PushDelivery.campaign_id == campaign["id"], PushDelivery.card_id.in_(kept))).all()
        google = session.scalars(select(GoogleMessage.card_id).where(
            GoogleMessage.campaign_id == campaign["id"])).all()
        assert google == ([] if google_card in kept else [google_card])
        assert not session.scalars(select(LedgerEntry.id).where(LedgerEntry.card_id.in_(kept),
                                                                LedgerEntry.kind != "issue")).all()
        # a second run (a restarted worker) sends nobody anything
        assert sending.send(session, campaign["id"]) == 0
    assert len(apns.requests) == len(cards) - len(kept)
    body = client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=headers).get_json()
    assert body["targeted"] == len(cards) - len(kept)
    assert body["holdout"]["recipients"] == len(kept) and body["holdout"]["reachable"] == len(kept)
    assert body["treated"]["recipients"] == len(cards) - len(kept)
    assert body["treated"]["reached"] == len(cards) - len(kept)  # every push was accepted
    assert body["lift"]["causal"] is True
    listed = client.get(f"/api/v1/campaigns/{campaign['id']}/recipients?limit=100", headers=headers).get_json()
    assert {row["card_id"] for row in listed if row["state"] == "holdout"} == kept
    assert all(row["holdout"] == (row["card_id"] in kept) and row["reachable"] for row in listed)


def test_without_a_holdout_the_report_says_it_is_not_causal(client: FlaskClient, seeded: dict[str, Any],
                                                            app: Flask, apns: ApnsDouble) -> None:
    card = issue(client, seeded, "Anna")["id"]
    register(app, card, token(1))
    headers = bearer(seeded["api_key"])
    campaign = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "All", "message": "Hello", "send_now": True, "audience": {"all_cards": True},
        "holdout_percent": 0}).get_json()
    body = client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=headers).get_json()
    assert body["lift"]["causal"] is False and "not causal" in body["lift"]["note"]
    assert body["lift"]["incremental_revenue"] is None and body["lift"]["romi"] is None
    assert body["holdout"]["percent"] == 0 and body["holdout"]["recipients"] == 0
    assert body["targeted"] == 1 and len(apns.requests) == 1


def test_the_holdout_defaults_to_ten_percent_and_is_bounded(client: FlaskClient, seeded: dict[str, Any]) -> None:
    headers = bearer(seeded["api_key"])
    base = {"name": "Draft", "message": "Hello", "audience": {"all_cards": True}}
    assert client.post("/api/v1/campaigns", headers=headers, json=base).get_json()["holdout_percent"] == 10
    for bad in (51, -1, "10", 12.5):
        answer = client.post("/api/v1/campaigns", headers=headers, json={**base, "holdout_percent": bad})
        assert answer.status_code == 422, bad
        assert answer.content_type == "application/problem+json"


def test_a_campaign_that_reached_no_phone_shows_no_conversions(client: FlaskClient, seeded: dict[str, Any],
                                                               app: Flask, apns: ApnsDouble) -> None:
    """Every recipient bought within the week; only the one whose phone took the push counts."""
    headers = bearer(seeded["api_key"])
    silent = [issue(client, seeded, f"No phone {n}")["id"] for n in range(3)]
    nobody = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Nobody", "message": "Hello", "send_now": True, "audience": {"card_ids": silent},
        "holdout_percent": 0}).get_json()
    phone = issue(client, seeded, "Phone")["id"]
    register(app, phone, token(9))
    some = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Some", "message": "Hello", "send_now": True, "audience": {"card_ids": [*silent, phone]},
        "holdout_percent": 0}).get_json()
    with app.app_context():
        session = db.session()
        for card_id in [*silent, phone]:
            session.add(LedgerEntry(card_id=card_id, kind="purchase", points=0, amount=Decimal("20.00"),
                                    created_at=utcnow() + dt.timedelta(hours=1)))
        session.commit()
    first = client.get(f"/api/v1/campaigns/{nobody['id']}/report", headers=headers).get_json()
    assert first["targeted"] == 3 and first["treated"]["reached"] == 0
    assert (first["treated"]["buyers"], first["treated"]["revenue"], first["treated"]["conversion"]) == (0, "0.00",
                                                                                                         None)
    second = client.get(f"/api/v1/campaigns/{some['id']}/report", headers=headers).get_json()
    assert (second["treated"]["reached"], second["treated"]["buyers"], second["treated"]["revenue"]) == (1, 1,
                                                                                                         "20.00")
    with app.app_context():
        session = db.session()
        brand_id = session.get(Campaign, nobody["id"]).brand_id  # type: ignore[union-attr]
        today = utcnow().date()
        period = Period(dt.datetime.combine(today, dt.time(), dt.UTC),
                        dt.datetime.combine(today + dt.timedelta(days=2), dt.time(), dt.UTC))
        by_id = {row["id"]: row for row in analytics.campaigns(session, brand_id, period)}
    assert (by_id[nobody["id"]]["buyers_7d"], by_id[nobody["id"]]["reached"],
            by_id[nobody["id"]]["conversion_7d"]) == (0, 0, None)
    assert (by_id[some["id"]]["buyers_7d"], by_id[some["id"]]["reached"], by_id[some["id"]]["conversion_7d"]) == (
        1, 1, 1.0)


# -- the console and the CSV -----------------------------------------------------------------------


def test_the_console_shows_the_lift_or_says_plainly_it_is_not_causal(client: FlaskClient, seeded: dict[str, Any],
                                                                     app: Flask) -> None:
    from tests.console_helpers import as_role

    planted = _plant(app, seeded)
    card = issue(client, seeded, "Anna")["id"]
    register(app, card, token(1))
    plain = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Plain", "message": "Hello", "audience": {"all_cards": True}, "holdout_percent": 0}).get_json()
    with app.app_context():  # started, so that it has a report, without sending it to 8 000 cards
        session = db.session()
        row = session.get(Campaign, plain["id"])
        assert row is not None
        row.status, row.started_at = "finished", utcnow()
        session.commit()
    analyst = as_role(app, "analyst")
    page = analyst.get(f"/console/campaigns/{planted}").get_data(as_text=True)
    assert 'id="campaign-lift" data-causal="true"' in page and 'id="lift-not-causal"' not in page
    assert '<tr data-row="buyers"><th scope="row">Buyers</th>' in page
    assert "1320" in page and "1200" in page
    assert '<dd data-figure="incremental_revenue"><strong>3600.00 EUR' in page
    assert "260 %" in page  # ROMI: (3600 - 1000) / 1000
    assert "The interval excludes zero" in page
    russian = analyst.get(f"/console/campaigns/{planted}?lang=ru").get_data(as_text=True)
    assert "Дополнительная выручка" in russian and "Контрольная группа" in russian
    page = analyst.get(f"/console/campaigns/{plain['id']}?lang=en").get_data(as_text=True)
    assert 'data-causal="false"' in page and "these figures are not causal" in page
    russian = analyst.get(f"/console/campaigns/{plain['id']}?lang=ru").get_data(as_text=True)
    assert "эти цифры не причинные" in russian
    compose = as_role(app, "marketer").get("/console/campaigns/new").get_data(as_text=True)
    assert 'name="holdout_percent" type="number" data-type="int" min="0" max="50" step="1" value="10"' in compose


def test_the_campaigns_csv_carries_the_lift_columns(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    planted = _plant(app, seeded)
    today = utcnow().date()
    answer = client.get(f"/api/v1/analytics/campaigns?format=csv&from={today - dt.timedelta(days=30)}&to={today}",
                        headers=bearer(seeded["api_key"]))
    if answer.status_code == 202:  # counted in the background the first time: ask again
        answer = client.get(f"/api/v1/analytics/campaigns?format=csv&from={today - dt.timedelta(days=30)}"
                            f"&to={today}", headers=bearer(seeded["api_key"]))
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    lines = [line for line in answer.get_data(as_text=True).splitlines() if line and not line.startswith("#")]
    header = lines[0].split(",")
    for column in ("reached", "holdout_percent", "holdout", "causal", "incremental_revenue",
                   "incremental_revenue_low", "incremental_revenue_high", "romi"):
        assert column in header
    row = dict(zip(header, next(line for line in lines[1:] if line.startswith(f"{planted},")).split(","),
                   strict=True))
    assert (row["holdout_percent"], row["holdout"], row["causal"]) == ("50", str(GROUP), "True")
    assert row["incremental_revenue"] == "3600.00" and float(row["romi"]) == pytest.approx(2.6)
    assert float(row["incremental_revenue_low"]) < 3600 < float(row["incremental_revenue_high"])


def test_points_given_cost_their_money_value(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    """Cashback points are money; a points program's point is worth what the brand says (PATCH
    point_value, which re-sends no pass); until then points given make the cost unknown."""
    from service.campaigns.outcomes import cost, points_money

    headers = bearer(seeded["api_key"])
    program_id = seeded["program_id"]
    with app.app_context():
        program = db.session().get(Program, program_id)
        assert program is not None and program.kind == "points"
        assert points_money(program, 500) is None
        assert cost(Decimal("10.00"), points_money(program, 500)) is None  # an unknown value flatters no ROMI
    answer = client.patch(f"/api/v1/programs/{program_id}", headers=headers, json={"point_value": "0.02"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["point_value"] == "0.0200"
    with app.app_context():
        program = db.session().get(Program, program_id)
        assert program is not None
        assert points_money(program, 500) == Decimal("10.00")
        assert cost(Decimal("5.00"), points_money(program, 500)) == Decimal("15.00")
        program.kind = "cashback"
        assert points_money(program, 1234) == Decimal("12.34")  # minor units of money
    assert cost(None) is None and cost(Decimal("0")) == Decimal("0")


def test_the_campaign_report_as_csv_is_the_lift_table(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    planted = _plant(app, seeded)
    answer = client.get(f"/api/v1/campaigns/{planted}/report?format=csv", headers=bearer(seeded["api_key"]))
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0] == "figure,treated,holdout,difference,low,high,currency"
    rows = {line.split(",")[0]: line.split(",")[1:] for line in lines[1:]}
    assert rows["buyers"][:2] == [str(TREATED_BUYERS), str(HOLDOUT_BUYERS)]
    assert rows["revenue_per_card"][:3] == ["9.90", "9.00", "0.90"] and rows["revenue_per_card"][-1] == "EUR"
    assert rows["incremental_revenue"][2] == "3600.00"
    assert float(rows["incremental_revenue"][3]) < 3600 < float(rows["incremental_revenue"][4])
    assert rows["causal"][2] == "True" and rows["holdout_percent"][1] == "50"
    bad = client.get(f"/api/v1/campaigns/{planted}/report?format=xml", headers=bearer(seeded["api_key"]))
    assert bad.status_code == 422


def test_a_side_at_all_or_nothing_still_gets_an_interval_with_width() -> None:
    """5 buyers of 5 against 0 of 5: the plain normal approximation says [1, 1], certain; it is not."""
    all_bought = lift.Group(cards=5, buyers=5, purchases=5, revenue=Decimal(50), revenue_squares=Decimal(500))
    none_bought = lift.Group(cards=5)
    conversion = lift.measure(all_bought, none_bought)["conversion_difference"]
    assert conversion["estimate"] == pytest.approx(1.0)
    assert conversion["high"] - conversion["low"] > 0.5
    p = 6 / 7  # (5 + 1) / (5 + 2) and its mirror 1 / 7
    margin = 1.959963984540054 * math.sqrt(2 * p * (1 - p) / 7)
    assert conversion["low"] == pytest.approx(p - (1 - p) - margin, abs=1e-6)
    # revenue: every buyer spent the same, so no spread was seen; a zero-width interval is not "significant"
    revenue = lift.measure(all_bought, none_bought)["revenue_per_card_difference"]
    assert revenue["low"] == revenue["high"] and revenue["significant"] is False
