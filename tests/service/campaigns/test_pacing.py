"""Messaging rules: frequency caps across campaigns, quiet hours in the customer's time zone (DST
included), deferred messages sent once their time comes, and the report saying which and why."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.campaigns import deferred, pacing, sending, tasks
from service.models import Campaign, Card, CardMessage, GoogleMessage, PacedRecipient, Program, PushDelivery, Store
from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue, news, pass_json, register, token

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def quiet_rules(zone: str = "Europe/Berlin", start: str = "21:00", end: str = "08:00") -> pacing.CardRules:
    return pacing.CardRules(zone=ZoneInfo(zone), quiet_start=pacing.clock_minutes(start),
                            quiet_end=pacing.clock_minutes(end))


# -- the rules on plain values ---------------------------------------------------------------------


@pytest.mark.parametrize(("now", "expected"), [
    # Saturday 24 October 2026, summer time (UTC+2): quiet from 21:00 local = 19:00 UTC
    (at(2026, 10, 24, 18, 59, 59), None),
    # ... until Sunday 08:00 local, and the clocks went back at 03:00: 08:00 CET is 07:00 UTC, not 06:00
    (at(2026, 10, 24, 19, 0), at(2026, 10, 25, 7, 0)),
    (at(2026, 10, 25, 0, 30), at(2026, 10, 25, 7, 0)),  # 02:30 CEST, the first of the two 02:30s
    (at(2026, 10, 25, 1, 30), at(2026, 10, 25, 7, 0)),  # 02:30 CET, the second one
    (at(2026, 10, 25, 6, 0), at(2026, 10, 25, 7, 0)),  # 07:00 CET: what a fixed UTC+2 would call 08:00
    (at(2026, 10, 25, 6, 59, 59), at(2026, 10, 25, 7, 0)),
    (at(2026, 10, 25, 7, 0), None),  # 08:00 CET: quiet hours are over
    # that Sunday evening, in winter time (UTC+1): quiet from 20:00 UTC
    (at(2026, 10, 25, 19, 59), None),
    (at(2026, 10, 25, 20, 0), at(2026, 10, 26, 7, 0)),
    # spring: Saturday 28 March 2026 21:00 CET (20:00 UTC) until Sunday 08:00 CEST (06:00 UTC)
    (at(2026, 3, 28, 20, 0), at(2026, 3, 29, 6, 0)),
    (at(2026, 3, 29, 5, 59), at(2026, 3, 29, 6, 0)),
    (at(2026, 3, 29, 6, 0), None),
])
def test_quiet_hours_at_their_boundaries_across_the_change_of_time(now: dt.datetime,
                                                                   expected: dt.datetime | None) -> None:
    decision = pacing.decide(quiet_rules(), [], now)
    if expected is None:
        assert decision == pacing.ALLOWED
    else:
        assert decision == pacing.Decision("defer", "quiet_hours", expected)
        assert expected.astimezone(BERLIN).time() == dt.time(8, 0)


def test_quiet_hours_within_one_day_and_to_midnight() -> None:
    lunch = quiet_rules("Europe/Moscow", "13:00", "14:00")  # UTC+3 all year
    assert pacing.decide(lunch, [], at(2026, 6, 1, 9, 59)).allowed
    assert pacing.decide(lunch, [], at(2026, 6, 1, 10, 0)).defer_until == at(2026, 6, 1, 11, 0)
    assert pacing.decide(lunch, [], at(2026, 6, 1, 11, 0)).allowed
    late = quiet_rules("UTC", "22:00", "24:00")
    assert pacing.decide(late, [], at(2026, 6, 1, 23, 0)).defer_until == at(2026, 6, 2, 0, 0)
    assert pacing.decide(late, [], at(2026, 6, 2, 0, 0)).allowed


def test_the_cap_counts_a_rolling_window_and_defers_to_when_a_place_frees() -> None:
    rules = pacing.CardRules(cap_count=2, cap_days=7)
    monday, wednesday = at(2026, 3, 2, 10, 0), at(2026, 3, 4, 10, 0)
    assert pacing.decide(rules, [monday], wednesday).allowed
    held = pacing.decide(rules, [monday, wednesday], at(2026, 3, 5, 10, 0))
    assert held == pacing.Decision("defer", "cap", monday + dt.timedelta(days=7))
    assert pacing.decide(rules, [monday, wednesday], monday + dt.timedelta(days=7)).allowed  # Monday left the window
    dropping = pacing.CardRules(cap_count=2, cap_days=7, over_cap="drop")
    assert pacing.decide(dropping, [monday, wednesday], at(2026, 3, 5, 10, 0)) == pacing.Decision("drop", "cap")
    # a place that frees in quiet hours is taken when they end
    quiet_capped = pacing.CardRules(cap_count=1, cap_days=1, zone=BERLIN, quiet_start=21 * 60, quiet_end=8 * 60)
    evening = at(2026, 3, 2, 21, 0)  # 22:00 in Berlin
    assert pacing.decide(quiet_capped, [evening], at(2026, 3, 3, 12, 0)).defer_until == at(2026, 3, 4, 7, 0)
    # the opt-out comes first, whatever else applies
    assert pacing.decide(pacing.CardRules(opted_out=True, cap_count=1), [], evening).reason == "opted_out"


# -- campaigns through the database ----------------------------------------------------------------


def set_rules(client: FlaskClient, seeded: dict[str, Any], **rules: Any) -> dict[str, Any]:
    response = client.put(f"/api/v1/programs/{seeded['program_id']}/messaging-rules", json=rules,
                          headers=bearer(seeded["api_key"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def send_campaign(client: FlaskClient, seeded: dict[str, Any], app: Flask, name: str, message: str,
                  now: dt.datetime, audience: dict[str, Any] | None = None) -> int:
    """A campaign sent by the worker at `now` (a draft through the API, then the send job at that moment)."""
    draft = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": name, "message": message, "audience": audience or {"all_cards": True}, "holdout_percent": 0})
    assert draft.status_code == 201, draft.get_json()
    campaign_id = int(draft.get_json()["id"])
    with app.app_context():
        session = db.session()
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.status, campaign.send_at = "scheduled", now
        session.commit()
        sending.send(session, campaign_id, now=now)
    return campaign_id


def report(client: FlaskClient, seeded: dict[str, Any], campaign_id: int) -> dict[str, Any]:
    return client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=bearer(seeded["api_key"])).get_json()


def recipients(client: FlaskClient, seeded: dict[str, Any], campaign_id: int) -> dict[int, dict[str, Any]]:
    listed = client.get(f"/api/v1/campaigns/{campaign_id}/recipients", headers=bearer(seeded["api_key"])).get_json()
    return {row["card_id"]: row for row in listed}


def pushes_of(app: Flask, campaign_id: int) -> list[int]:
    with app.app_context():
        return sorted(db.session().scalars(select(PushDelivery.card_id).where(PushDelivery.campaign_id == campaign_id)))


MONDAY = at(2026, 3, 2, 12, 0)


def test_the_third_message_in_a_week_is_deferred_across_campaigns_then_sent(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble) -> None:
    busy = issue(client, seeded, "Busy Bee", email="bee@example.com")["id"]
    register(app, busy, token(31))
    rules = set_rules(client, seeded, cap_count=2, cap_days=7, over_cap="defer")
    assert rules["cap_count"] == 2 and rules["quiet_start"] is None
    first = send_campaign(client, seeded, app, "One", "First offer", MONDAY)
    second = send_campaign(client, seeded, app, "Two", "Second offer", MONDAY + dt.timedelta(days=2))
    late = issue(client, seeded, "Late Joiner", email="late@example.com")["id"]  # no messages yet: not capped
    third = send_campaign(client, seeded, app, "Three", "Third offer", MONDAY + dt.timedelta(days=3))
    assert pushes_of(app, first) == pushes_of(app, second) == [busy]
    assert pushes_of(app, third) == []

    figures = report(client, seeded, third)
    assert figures["targeted"] == 2
    assert figures["paced"] == {"deferred": 1, "deferred_reasons": {"cap": 1}, "sent_later": 0,
                                "dropped": {"cap": 0, "quiet_hours": 0, "opted_out": 0}}
    listed = recipients(client, seeded, third)
    assert listed[busy]["state"] == "deferred" and listed[busy]["reasons"] == ["cap"]
    assert listed[busy]["paced"]["defer_until"].startswith("2026-03-09T12:00:00")  # Monday's left the window
    assert listed[late]["paced"] is None and listed[late]["state"] == "no_device"
    with app.app_context():
        assert db.session().get(Card, late).news == "Third offer"  # type: ignore[union-attr]
        assert db.session().get(Card, busy).news == "Second offer"  # type: ignore[union-attr]

    # a minute before its time nothing goes; at its time the worker's job sends it, once
    with app.app_context():
        assert tasks.run_deferred(at(2026, 3, 9, 11, 59)) == 0
        assert tasks.run_deferred(at(2026, 3, 9, 12, 0)) == 1
        assert tasks.run_deferred(at(2026, 3, 9, 12, 1)) == 0
    assert pushes_of(app, third) == [busy]
    assert news(pass_json(client, app, busy))["value"] == "Third offer"
    assert report(client, seeded, third)["paced"]["sent_later"] == 1
    assert recipients(client, seeded, third)[busy]["paced"]["state"] == "sent"
    with app.app_context():  # every message the card got counts: the two on time, the deferred one
        sources = db.session().scalars(select(CardMessage.source).where(CardMessage.card_id == busy)
                                       .order_by(CardMessage.sent_at)).all()
        assert sources == [f"campaign:{first}", f"campaign:{second}", f"campaign:{third}"]


def test_over_the_cap_dropped_when_the_brand_says_so(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                     apns: ApnsDouble) -> None:
    card = issue(client, seeded, "Busy Bee", email="bee@example.com")["id"]
    register(app, card, token(41))
    set_rules(client, seeded, cap_count=2, cap_days=7, over_cap="drop")
    for day, name in enumerate(("One", "Two")):
        send_campaign(client, seeded, app, name, f"Offer {name}", MONDAY + dt.timedelta(days=day))
    third = send_campaign(client, seeded, app, "Three", "Offer Three", MONDAY + dt.timedelta(days=2))
    assert report(client, seeded, third)["paced"]["dropped"] == {"cap": 1, "quiet_hours": 0, "opted_out": 0}
    assert recipients(client, seeded, third)[card]["state"] == "dropped"
    with app.app_context():
        assert tasks.run_deferred(MONDAY + dt.timedelta(days=30)) == 0  # dropped is never sent
    assert pushes_of(app, third) == []
    # a week after the first, there is room again
    fourth = send_campaign(client, seeded, app, "Four", "Offer Four", MONDAY + dt.timedelta(days=7))
    assert pushes_of(app, fourth) == [card]


def test_quiet_hours_in_the_home_stores_zone_defer_until_their_end_over_the_change_of_time(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble) -> None:
    berliner = issue(client, seeded, "Berlin Home", email="berlin@example.com")["id"]
    new_yorker = issue(client, seeded, "No Home Store", email="ny@example.com")["id"]
    register(app, berliner, token(51))
    register(app, new_yorker, token(52))
    store = client.post("/api/v1/stores", headers=bearer(seeded["api_key"]), json={
        "name": "Berlin Mitte", "latitude": 52.52, "longitude": 13.40, "time_zone": "Europe/Berlin"})
    assert store.status_code == 201 and store.get_json()["time_zone"] == "Europe/Berlin"
    bad_zone = client.patch(f"/api/v1/stores/{store.get_json()['id']}", json={"time_zone": "Mars/Olympus"},
                            headers=bearer(seeded["api_key"]))
    assert bad_zone.status_code == 422
    with app.app_context():
        session = db.session()
        card = session.get(Card, berliner)
        program = session.get(Program, seeded["program_id"])
        assert card is not None and program is not None
        card.customer.home_store_id = store.get_json()["id"]
        program.time_zone = "America/New_York"  # the program's zone: for customers without a home store
        session.commit()
    set_rules(client, seeded, quiet_start="21:00", quiet_end="08:00")

    saturday_night = at(2026, 10, 24, 20, 30)  # 22:30 in Berlin (summer time), 16:30 in New York
    campaign = send_campaign(client, seeded, app, "Sunday brunch", "Brunch tomorrow", saturday_night)
    assert pushes_of(app, campaign) == [new_yorker]
    listed = recipients(client, seeded, campaign)
    assert listed[berliner]["state"] == "deferred" and listed[berliner]["reasons"] == ["quiet_hours"]
    # 08:00 on Sunday in Berlin is 07:00 UTC: the clocks went back an hour at 03:00
    assert listed[berliner]["paced"]["defer_until"].startswith("2026-10-25T07:00:00")
    assert report(client, seeded, campaign)["paced"]["deferred_reasons"] == {"quiet_hours": 1}

    before = len(apns.requests)
    with app.app_context():
        assert tasks.run_deferred(at(2026, 10, 25, 6, 0)) == 0  # 07:00 in Berlin: still quiet
        assert tasks.run_deferred(at(2026, 10, 25, 7, 0)) == 1
    assert pushes_of(app, campaign) == sorted([berliner, new_yorker])
    assert [request.token for request in apns.requests[before:]] == [token(51)]  # the Berliner's phone, now
    assert news(pass_json(client, app, berliner))["value"] == "Brunch tomorrow"
    figures = report(client, seeded, campaign)["paced"]
    assert figures["deferred"] == 0 and figures["sent_later"] == 1


def test_a_deferred_message_waits_again_if_the_rules_say_so_and_a_cancelled_one_is_dropped(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble) -> None:
    issue(client, seeded, "Anna", email="anna@example.com")
    set_rules(client, seeded, cap_count=1, cap_days=1, quiet_start="21:00", quiet_end="08:00")
    morning = at(2026, 6, 1, 9, 0)  # the program has no zone: UTC
    first = send_campaign(client, seeded, app, "One", "One", morning)
    second = send_campaign(client, seeded, app, "Two", "Two", morning + dt.timedelta(hours=1))
    third = send_campaign(client, seeded, app, "Three", "Three", morning + dt.timedelta(hours=2))
    cancelled = send_campaign(client, seeded, app, "Four", "Four", morning + dt.timedelta(hours=3))
    tomorrow = morning + dt.timedelta(days=1)
    with app.app_context():
        session = db.session()
        rows = dict(session.execute(select(PacedRecipient.campaign_id, PacedRecipient.defer_until)).all())
        assert rows == {second: tomorrow, third: tomorrow, cancelled: tomorrow}
        campaign = session.get(Campaign, cancelled)
        assert campaign is not None
        campaign.status = "cancelled"
        session.commit()
        # the next day the cap frees one place: the oldest deferred takes it, the next waits a day more
        assert deferred.send_due(session, tomorrow) == 1
        again = session.scalars(select(PacedRecipient).order_by(PacedRecipient.campaign_id)).all()
        assert [(row.campaign_id, row.state, row.reason, row.defer_until) for row in again] == [
            (second, "sent", "cap", tomorrow), (third, "deferred", "cap", tomorrow + dt.timedelta(days=1)),
            (cancelled, "dropped", "cancelled", None)]
        assert deferred.send_due(session, tomorrow + dt.timedelta(days=1)) == 1
    assert report(client, seeded, first)["paced"]["deferred"] == 0
    assert report(client, seeded, third)["paced"]["sent_later"] == 1
    assert report(client, seeded, cancelled)["paced"]["dropped"]["cancelled"] == 1


def test_deferred_google_messages_are_queued_when_sent(client: FlaskClient, seeded: dict[str, Any],
                                                       app: Flask) -> None:
    card = issue(client, seeded, "Gina", email="gina@example.com")["id"]
    with app.app_context():
        row = db.session().get(Card, card)
        assert row is not None
        row.google_synced_version = row.version
        db.session().commit()
    set_rules(client, seeded, quiet_start="00:00", quiet_end="06:00")
    campaign = send_campaign(client, seeded, app, "Night", "Good morning", at(2026, 6, 1, 3, 0))
    with app.app_context():
        session = db.session()
        count = select(func.count()).select_from(GoogleMessage).where(GoogleMessage.campaign_id == campaign)
        assert session.scalar(count) == 0
        assert deferred.send_due(session, at(2026, 6, 1, 6, 0)) == 1
        assert session.scalar(count) == 1


def test_may_message_is_one_function_for_campaigns_and_journeys(client: FlaskClient, seeded: dict[str, Any],
                                                                app: Flask) -> None:
    card_id = issue(client, seeded, "Journey Jo", email="jo@example.com")["id"]
    set_rules(client, seeded, cap_count=1, cap_days=7)
    with app.app_context():
        session = db.session()
        card = session.get(Card, card_id)
        assert card is not None
        assert pacing.may_message(session, card, MONDAY).allowed
        pacing.record_message(session, card, "journey:1:welcome", MONDAY)
        session.commit()
        decision = pacing.may_message(session, card, MONDAY + dt.timedelta(hours=1))
        assert (decision.allowed, decision.reason, decision.defer_until) == (
            False, "cap", MONDAY + dt.timedelta(days=7))
    # the journey's message took the card's place: a campaign the same day waits
    campaign = send_campaign(client, seeded, app, "Same day", "Hi", MONDAY + dt.timedelta(hours=2))
    assert recipients(client, seeded, campaign)[card_id]["paced"]["reason"] == "cap"


def test_messaging_rules_api_validates_and_is_audited(client: FlaskClient, seeded: dict[str, Any],
                                                     app: Flask) -> None:
    headers = bearer(seeded["api_key"])
    path = f"/api/v1/programs/{seeded['program_id']}/messaging-rules"
    assert client.get(path, headers=headers).get_json() == {
        "program_id": seeded["program_id"], "cap_count": None, "cap_days": 7, "over_cap": "defer",
        "quiet_start": None, "quiet_end": None, "time_zone": None}
    for body in ({"quiet_start": "21:00"}, {"quiet_start": "25:00", "quiet_end": "08:00"},
                 {"cap_count": 0}, {"over_cap": "later"}, {"quiet_start": "08:00", "quiet_end": "08:00"}):
        refused = client.put(path, json=body, headers=headers)
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json", body
    assert client.put(path, json={"cap_count": 3}, headers=headers).get_json()["cap_count"] == 3
    assert client.put("/api/v1/programs/999999/messaging-rules", json={}, headers=headers).status_code == 404
    log = client.get("/api/v1/audit-log", headers=headers).get_json()
    entry = next(row for row in log if row["action"] == "program.messaging_rules_updated")
    assert entry["changes"] == {"cap_count": {"before": None, "after": 3}}


def test_store_time_zone_changes_do_not_touch_passes(client: FlaskClient, seeded: dict[str, Any],
                                                     app: Flask) -> None:
    card = issue(client, seeded, "Anna", email="anna@example.com")["id"]
    with app.app_context():
        version = db.session().get(Card, card).version  # type: ignore[union-attr]
        store_id = db.session().scalar(select(Store.id).where(Store.brand_id == seeded["brand_id"]).limit(1))
    changed = client.patch(f"/api/v1/stores/{store_id}", json={"time_zone": "Asia/Tokyo"},
                           headers=bearer(seeded["api_key"]))
    assert changed.status_code == 200 and changed.get_json()["time_zone"] == "Asia/Tokyo"
    with app.app_context():
        assert db.session().get(Card, card).version == version  # type: ignore[union-attr]


def test_messages_older_than_any_cap_are_purged(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded, "Anna", email="anna@example.com")["id"]
    with app.app_context():
        session = db.session()
        pacing.record_message(session, card, "campaign:1", MONDAY - dt.timedelta(days=pacing.MAX_CAP_DAYS + 2))
        pacing.record_message(session, card, "campaign:2", MONDAY - dt.timedelta(days=pacing.MAX_CAP_DAYS))
        session.commit()
        assert pacing.purge_old_messages(session, MONDAY) == 1
        session.commit()
        assert session.scalars(select(CardMessage.source)).all() == ["campaign:2"]


def test_a_whole_campaign_released_at_the_end_of_quiet_hours_goes_in_one_run(
        client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    cards = [issue(client, seeded, f"Member {n}", email=f"m{n}@example.com")["id"] for n in range(7)]
    set_rules(client, seeded, quiet_start="22:00", quiet_end="07:00")
    campaign = send_campaign(client, seeded, app, "Night", "Morning offer", at(2026, 6, 1, 23, 0))
    with app.app_context():
        session = db.session()
        # three at a time (the job's batch), all of them in one run of the minute job
        assert deferred.send_due(session, at(2026, 6, 2, 7, 0), limit=3) == len(cards)
        assert deferred.send_due(session, at(2026, 6, 2, 7, 1), limit=3) == 0
    assert pushes_of(app, campaign) == []  # no phones here: every card has the message on its pass
    assert report(client, seeded, campaign)["paced"]["sent_later"] == len(cards)
