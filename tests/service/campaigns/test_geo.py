"""Geo campaigns and beacons: passes carry their stores (at most 10, nearest the home store)
with relevant text and iBeacons; a geo campaign changes the text near chosen stores for a
period, pushing the passes concerned at its start and at its end."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.campaigns import geo, tasks
from service.models import Campaign, Card, Customer, Store, utcnow
from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue, other_brand_key, pass_json, register, token

# Figures here depend on "now": each test runs at the awkward moments of tests/conftest.py.
pytestmark = pytest.mark.usefixtures("awkward_moment")

TEXT = "Today -20% on coffee here"


def texts(pass_data: dict[str, Any]) -> list[str]:
    return [location["relevantText"] for location in pass_data["locations"]]


def run_due(app: Flask, now: dt.datetime | None = None) -> dict[str, int]:
    with app.app_context():
        return tasks.run_due(now)


def test_geo_campaign_starts_and_ends(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                      apns: ApnsDouble) -> None:
    cards = [issue(client, seeded, f"Member {n}", email=f"m{n}@example.com")["id"] for n in range(3)]
    for n, card_id in enumerate(cards):
        register(app, card_id, token(n + 1))
    chosen = seeded["store_ids"][1]
    before = pass_json(client, app, cards[0])
    assert TEXT not in texts(before) and len(before["locations"]) == 3

    starts = utcnow() + dt.timedelta(minutes=30)
    response = client.post("/api/v1/geo-campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Coffee hour", "store_ids": [chosen], "relevant_text": TEXT,
        "starts_at": starts.isoformat(), "ends_at": (starts + dt.timedelta(hours=2)).isoformat()})
    assert response.status_code == 201, response.get_json()
    campaign_id = response.get_json()["id"]
    assert response.get_json()["status"] == "scheduled"
    assert run_due(app)["geo_starts"] == 0 and apns.requests == []  # not yet

    assert run_due(app, starts + dt.timedelta(seconds=1))["geo_starts"] == 1
    assert sorted(r.token for r in apns.requests) == [token(1), token(2), token(3)]
    during = pass_json(client, app, cards[0])
    store_order = [s.id for s in _stores(app, seeded)]
    assert during["locations"][store_order.index(chosen)]["relevantText"] == TEXT
    assert texts(during).count(TEXT) == 1  # only near the chosen store
    assert run_due(app, starts + dt.timedelta(minutes=1))["geo_starts"] == 0  # started once
    assert len(apns.requests) == 3

    assert run_due(app, starts + dt.timedelta(hours=2, seconds=1))["geo_ends"] == 1
    assert len(apns.requests) == 6  # every concerned pass pushed again
    after = pass_json(client, app, cards[0])
    assert texts(after) == texts(before)
    with app.app_context():
        campaign = db.session().get(Campaign, campaign_id)
        assert campaign is not None and campaign.status == "finished"
        store = db.session().get(Store, chosen)
        assert store is not None and store.geo_relevant_text is None
    report = client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=bearer(seeded["api_key"])).get_json()
    assert report["targeted"] == 3 and report["platforms"]["apple"]["pushes"] == 6


def _stores(app: Flask, seeded: dict[str, Any]) -> list[Store]:
    with app.app_context():
        return list(db.session().scalars(select(Store).where(Store.brand_id == seeded["brand_id"])
                                         .order_by(Store.id)))


def test_only_passes_listing_the_store_are_concerned(client: FlaskClient, seeded: dict[str, Any],
                                                    app: Flask) -> None:
    """With 13 stores on a line, a pass lists the 10 nearest its home: the far end is not on every pass."""
    with app.app_context():
        session = db.session()
        line = [Store(brand_id=seeded["brand_id"], name=f"Line {n}", latitude=52.0 + n * 0.01, longitude=5.0)
                for n in range(13)]
        session.add_all(line)
        session.commit()
        line_ids = [store.id for store in line]
    near_start = issue(client, seeded, "West", email="w@example.com", home_store_id=line_ids[0])["id"]
    near_end = issue(client, seeded, "East", email="e@example.com", home_store_id=line_ids[12])["id"]
    with app.app_context():
        session = db.session()
        concerned = geo.concerned(session, seeded["brand_id"], [line_ids[12]])
        ids = set(session.scalars(select(Card.id).join(Customer).where(concerned)))
        assert ids == {near_end}
        both = geo.concerned(session, seeded["brand_id"], [line_ids[6]])
        assert set(session.scalars(select(Card.id).join(Customer).where(both))) == {near_start, near_end}
    east = pass_json(client, app, near_end)
    assert len(east["locations"]) == 10


def test_cancel_ends_a_running_geo_campaign_now(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                apns: ApnsDouble) -> None:
    card = issue(client, seeded, "Anna", email="anna@example.com")["id"]
    register(app, card, token(9))
    headers = bearer(seeded["api_key"])
    campaign = client.post("/api/v1/geo-campaigns", headers=headers, json={
        "name": "Now", "store_ids": seeded["store_ids"], "relevant_text": TEXT,
        "ends_at": (utcnow() + dt.timedelta(days=1)).isoformat()}).get_json()
    assert campaign["status"] == "running"
    assert texts(pass_json(client, app, card)) == [TEXT] * 3
    ended = client.post(f"/api/v1/campaigns/{campaign['id']}/cancel", headers=headers).get_json()
    assert ended["status"] == "finished"
    assert TEXT not in texts(pass_json(client, app, card))
    assert len(apns.requests) == 2


def test_geo_input_and_tenancy(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    headers = bearer(seeded["api_key"])
    ends = (utcnow() + dt.timedelta(hours=1)).isoformat()
    theirs = bearer(other_brand_key(app))
    ours = client.post("/api/v1/geo-campaigns", headers=headers, json={
        "name": "x", "store_ids": [seeded["store_ids"][0]], "relevant_text": TEXT,
        "starts_at": ends, "ends_at": ends})
    assert ours.status_code == 422
    foreign = client.post("/api/v1/geo-campaigns", headers=theirs, json={
        "name": "x", "store_ids": [seeded["store_ids"][0]], "relevant_text": TEXT, "ends_at": ends})
    assert foreign.status_code == 422 and "no such stores" in foreign.get_json()["detail"]
    created = client.post("/api/v1/geo-campaigns", headers=headers, json={
        "name": "x", "store_ids": [seeded["store_ids"][0]], "relevant_text": TEXT,
        "starts_at": (utcnow() + dt.timedelta(minutes=5)).isoformat(), "ends_at": ends}).get_json()
    assert client.post(f"/api/v1/campaigns/{created['id']}/cancel", headers=theirs).status_code == 404
    assert client.get(f"/api/v1/campaigns/{created['id']}/report", headers=theirs).status_code == 404


def test_beacons_go_into_passes(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded, "Anna", email="anna@example.com")["id"]
    with app.app_context():
        session = db.session()
        stores = list(session.scalars(select(Store).where(Store.brand_id == seeded["brand_id"]).order_by(Store.id)))
        stores[0].beacon_uuid, stores[0].beacon_major, stores[0].beacon_minor = (
            "f7826da6-4fa2-4e98-8024-bc5b71e0893e", 100, 7)
        stores[1].beacon_uuid, stores[1].beacon_minor = "f7826da6-4fa2-4e98-8024-bc5b71e0893e", 3  # no major: left out
        card_row = session.get(Card, card)
        assert card_row is not None
        card_row.version += 1
        session.commit()
    data = pass_json(client, app, card)
    assert data["beacons"] == [{"proximityUUID": "F7826DA6-4FA2-4E98-8024-BC5B71E0893E", "major": 100, "minor": 7,
                                "relevantText": data["locations"][0]["relevantText"]}]


def test_card_issued_during_the_campaign_is_reset_too_and_overlaps_are_refused(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble) -> None:
    headers = bearer(seeded["api_key"])
    ends = utcnow() + dt.timedelta(hours=1)
    campaign = client.post("/api/v1/geo-campaigns", headers=headers, json={
        "name": "Now", "store_ids": [seeded["store_ids"][0]], "relevant_text": TEXT,
        "ends_at": ends.isoformat()}).get_json()
    clash = client.post("/api/v1/geo-campaigns", headers=headers, json={
        "name": "Clash", "store_ids": seeded["store_ids"], "relevant_text": "Other",
        "starts_at": (ends - dt.timedelta(minutes=1)).isoformat(),
        "ends_at": (ends + dt.timedelta(hours=1)).isoformat()})
    assert clash.status_code == 409
    late = issue(client, seeded, "Late", email="late@example.com")["id"]
    register(app, late, token(5))
    assert TEXT in texts(pass_json(client, app, late))
    assert run_due(app, ends + dt.timedelta(seconds=1))["geo_ends"] == 1
    assert [r.token for r in apns.requests] == [token(5)]
    assert TEXT not in texts(pass_json(client, app, late))
    after = client.post("/api/v1/geo-campaigns", headers=headers, json={
        "name": "After", "store_ids": seeded["store_ids"], "relevant_text": "Other",
        "starts_at": (ends + dt.timedelta(minutes=1)).isoformat(),
        "ends_at": (ends + dt.timedelta(hours=1)).isoformat()})
    assert after.status_code == 201, after.get_json()
    assert campaign["id"] != after.get_json()["id"]


def test_a_pass_carries_at_most_ten_locations_and_beacons(client: FlaskClient, seeded: dict[str, Any],
                                                          app: Flask) -> None:
    headers = bearer(seeded["api_key"])
    for n in range(12):
        response = client.post("/api/v1/stores", headers=headers, json={
            "name": f"Kiosk {n}", "latitude": 52.30 + n / 100, "longitude": 4.85, "relevant_text": f"Kiosk {n}",
            "beacon_uuid": "E2C56DB5-DFFB-48D2-B060-D0F5A71096E0", "beacon_major": 1, "beacon_minor": n})
        assert response.status_code == 201, response.get_json()
    card = issue(client, seeded, "Anna", email="anna@example.com")["id"]
    data = pass_json(client, app, card)
    assert len(data["locations"]) == 10
    # the beacons of exactly the listed stores that have one (12 kiosks exist, at most 10 listed)
    listed = sorted(int(loc["relevantText"].split()[-1]) for loc in data["locations"]
                    if loc["relevantText"].startswith("Kiosk "))
    assert sorted(beacon["minor"] for beacon in data["beacons"]) == listed
    assert 0 < len(data["beacons"]) <= 10


def test_a_holder_who_turned_messages_off_gets_no_geo_text_and_is_not_pushed(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble) -> None:
    from service.campaigns import optout

    cards = [issue(client, seeded, f"Member {n}", email=f"m{n}@example.com") for n in range(2)]
    for n, card in enumerate(cards):
        register(app, card["id"], token(n + 1))
    with app.app_context():
        session = db.session()
        quiet = session.get(Card, cards[1]["id"])
        assert quiet is not None and optout.set_opt_out(session, quiet, True)
        session.commit()
        key = optout.messages_key(quiet, quiet.program.brand)
    chosen = seeded["store_ids"][1]
    starts = utcnow() + dt.timedelta(minutes=5)
    assert client.post("/api/v1/geo-campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Coffee hour", "store_ids": [chosen], "relevant_text": TEXT, "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=2)).isoformat()}).status_code == 201
    assert run_due(app, starts + dt.timedelta(seconds=1))["geo_starts"] == 1
    assert [r.token for r in apns.requests] == [token(1)]  # the opted-out card is not pushed
    assert TEXT in texts(pass_json(client, app, cards[0]["id"]))
    assert TEXT not in texts(pass_json(client, app, cards[1]["id"]))  # its pass keeps the store's own text

    # turning messages back on updates the pass, which now shows the running campaign's text
    back_on = client.post(f"/cards/{cards[1]['serial_number']}/messages", data={"key": key, "messages": "on"})
    assert back_on.status_code == 303
    assert TEXT in texts(pass_json(client, app, cards[1]["id"]))
    assert sorted(r.token for r in apns.requests) == [token(1), token(2)]  # the change reached its phone
