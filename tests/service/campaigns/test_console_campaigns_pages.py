"""The console's campaigns pages (service/campaigns/console_page.py) through the Flask test client:
the pages render in English and Russian, the live count is the segment's real size, a send
reads back as a funnel and a recipients list with each card's push state (the API's too), a
relay with no URL configured is "not sent" rather than sent, the analyst sees no controls and
the API refuses them, another brand's campaign is a 404, and geo and restock have their pages.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.campaigns import segments
from service.models import Campaign, CampaignRecipient, Card, GoogleMessage, PushDelivery, Registration, utcnow
from service.platform import db
from tests.console_helpers import api_headers, as_role
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import PASS_TYPE, issue, other_brand_key, register, token


def _text(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _set(app: Flask, card_id: int, **values: Any) -> None:
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        for key, value in values.items():
            setattr(card, key, value)
        db.session().commit()


def _cell(page: str, card_id: int) -> str:
    """The recipients table's row of a card."""
    found = re.search(rf'<tr data-card-id="{card_id}" data-state="([a-z_]+)">', page)
    assert found, f"card {card_id} is not listed"
    return found[1]


def _step(page: str, step: str) -> int:
    found = re.search(rf'data-step="{step}"[^<]*<span>[^<]*</span> <strong>(\d+)</strong>', page) or \
        re.search(rf'data-step="{step}">[^<]*<strong>(\d+)</strong>', page)
    assert found, f"no funnel step {step}"
    return int(found[1])


def test_the_pages_render_for_a_marketer_in_english_and_russian(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    listing = _text(marketer.get("/console/campaigns"))
    assert 'id="campaigns-none"' in listing and 'id="campaigns-new"' in listing
    assert 'aria-current="page">Campaigns</a>' in listing  # the menu entry, current
    compose = _text(marketer.get("/console/campaigns/new"))
    for element in ("campaign-name", "campaign-message", "campaign-message-ru", "audience-program", "audience-tier-1",
                    "audience-activity", "audience-days", "audience-birthday", "audience-count", "audience-json",
                    "preview-apple", "preview-google", "when-choice", "campaign-send-at-local", "campaign-send"):
        assert f'id="{element}"' in compose, element
    for tier in ("Silver", "Gold", "Platinum"):  # the demo program's tiers, to tick
        assert f'value="{tier}"' in compose
    assert 'data-api="POST /api/v1/campaigns"' in compose
    # every visible input has its label
    for input_id in re.findall(r'<(?:input|select|textarea) id="([^"]+)"(?![^>]*type="hidden")(?![^>]*hidden>)',
                               compose):
        if input_id.startswith("audience-tier-"):
            continue  # inside its <label class="check">
        assert f'for="{input_id}"' in compose, input_id
    assert 'id="geo-form"' in _text(marketer.get("/console/campaigns/geo/new"))
    assert 'id="restock-form"' in _text(marketer.get("/console/campaigns/restock"))
    russian = _text(marketer.get("/console/campaigns/new?lang=ru"))
    assert "Новая рассылка" in russian and "Сообщение на русском (необязательно)" in russian
    assert "Рассылки</a>" in russian


def test_the_live_count_is_the_segments_real_size(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    cards = [issue(client, seeded, f"Guest {n}")["id"] for n in range(6)]
    _set(app, cards[0], tier="Gold")
    _set(app, cards[1], tier="Gold")
    _set(app, cards[2], tier="Silver")
    _set(app, cards[3], tier="Gold", voided=True)  # a voided card is in no audience
    _set(app, cards[4], created_at=utcnow() - dt.timedelta(days=90))
    marketer = as_role(app, "marketer")
    headers = api_headers(marketer)
    audiences = [
        {"all_cards": True},
        {"tier": ["Gold"]},
        {"tier": ["Gold", "Silver"]},
        {"all": [{"tier": ["Gold", "Silver"]}, {"new": {"days": 30}}]},
        {"all": [{"program_id": seeded["program_id"]}, {"new": {"days": 30}}]},
        {"lapsed": {"days": 60}},
    ]
    counted = []
    for audience in audiences:
        answer = marketer.post("/api/v1/campaigns/preview", json={"audience": audience}, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        counted.append(answer.get_json()["count"])
        with app.app_context():
            real = db.session().scalar(select(func.count()).select_from(
                segments.card_ids(seeded["brand_id"], audience, utcnow()).order_by(None).subquery()))
        assert answer.get_json()["count"] == real
    # and against the cards themselves: 5 live; Gold 2; Gold/Silver 3; new Gold/Silver 3; new 4; lapsed 1
    assert counted == [5, 2, 3, 3, 4, 1]
    typo = marketer.post("/api/v1/campaigns/preview", json={"audience": {"tier": ["Gld"]}}, headers=headers)
    assert typo.status_code == 422 and "unknown tier" in typo.get_data(as_text=True)


def test_a_send_reads_back_as_funnel_and_recipients_with_their_states(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], apns: ApnsDouble) -> None:
    reached = issue(client, seeded, "Anna Apple")["id"]
    broken = issue(client, seeded, "Bad Token")["id"]
    relay = issue(client, seeded, "Olga Relay", language="ru")["id"]
    silent = issue(client, seeded, "No Phone")["id"]
    register(app, reached, token(1))
    register(app, broken, token(2))
    apns.set_answer(token(2), "bad_token")
    with app.app_context():  # a phone whose wallet app's relay (PASSWORKS_PUSH_URL) is not configured
        db.session().add(Registration(device_library_identifier="passworks-1", card_id=relay,
                                      pass_type_identifier=PASS_TYPE, push_token="passworks-token-1",
                                      client_kind="relay", client_app="passworks"))
        db.session().commit()
    marketer = as_role(app, "marketer")
    created = marketer.post("/api/v1/campaigns", headers=api_headers(marketer), json={
        "name": "Weekend", "message": "Double points this weekend", "messages": {"ru": "Двойные баллы"},
        "audience": {"all_cards": True}, "send_now": True})
    assert created.status_code == 201, created.get_json()
    campaign_id = created.get_json()["id"]
    assert created.get_json()["status"] == "finished"  # jobs run at once in tests

    report = marketer.get(f"/api/v1/campaigns/{campaign_id}/report").get_json()
    assert (report["targeted"], report["cards_with_devices"]) == (4, 3)
    # the relay push never left: not sent (and failed, with its reason), never counted as sent
    assert report["platforms"]["relay"]["sent"] == 0 and report["platforms"]["relay"]["not_sent"] == 1
    assert (report["sent"], report["accepted"], report["not_sent"]) == (2, 1, 1)
    assert report["failure_reasons"] == {"BadDeviceToken": 1, "PASSWORKS_PUSH_URL is not configured": 1}

    page = _text(marketer.get(f"/console/campaigns/{campaign_id}"))
    assert (_step(page, "targeted"), _step(page, "devices"), _step(page, "sent"), _step(page, "accepted")) == (
        4, 3, 2, 1)
    assert (_step(page, "failed"), _step(page, "not_sent")) == (1, 1)
    assert 'id="campaign-funnel"' in page and 'id="campaign-recipients"' in page
    assert {card: _cell(page, card) for card in (reached, broken, relay, silent)} == {
        reached: "pushed", broken: "failed", relay: "not_sent", silent: "no_device"}
    assert "PASSWORKS_PUSH_URL is not configured" in page and "Olga Relay" in page
    assert 'id="campaign-cancel"' not in page and 'id="campaign-send-now"' not in page  # finished: nothing to do

    listed = marketer.get(f"/api/v1/campaigns/{campaign_id}/recipients").get_json()
    states = {one["card_id"]: (one["state"], one["reasons"], one["language"]) for one in listed}
    assert states == {reached: ("pushed", [], "en"), broken: ("failed", ["BadDeviceToken"], "en"),
                      relay: ("not_sent", ["PASSWORKS_PUSH_URL is not configured"], "ru"),
                      silent: ("no_device", [], "en")}
    [push] = next(one for one in listed if one["card_id"] == reached)["pushes"]
    assert (push["platform"], push["status"], push["state"]) == ("apple", "accepted", "pushed")

    # paged: 3 then 1, the Link header to the next page
    first = marketer.get(f"/api/v1/campaigns/{campaign_id}/recipients?limit=3")
    assert len(first.get_json()) == 3 and 'rel="next"' in first.headers["Link"]
    cursor = re.search(r"cursor=([^&>]+)", first.headers["Link"])[1]  # type: ignore[index]
    rest = marketer.get(f"/api/v1/campaigns/{campaign_id}/recipients?limit=3&cursor={cursor}")
    assert [one["card_id"] for one in rest.get_json()] == [silent] and "Link" not in rest.headers

    # the phone fetching its pass moves it to "fetched"
    with app.app_context():
        card = db.session().get(Card, reached)
        assert card is not None
        serial, auth = card.serial_number, card.authentication_token
    assert client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}",
                      headers={"Authorization": f"ApplePass {auth}"}).status_code == 200
    assert _cell(_text(marketer.get(f"/console/campaigns/{campaign_id}")), reached) == "fetched"


def test_the_recipients_page_pages(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    for n in range(53):
        issue(client, seeded, f"Guest {n}")
    response = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "All", "message": "Hello", "audience": {"all_cards": True}, "send_now": True})
    campaign_id = response.get_json()["id"]
    owner = as_role(app, "owner", email="owner2@demo.example")
    first = _text(owner.get(f"/console/campaigns/{campaign_id}"))
    assert first.count("<tr data-card-id=") == 50
    following = re.search(r'href="([^"]+)" id="recipients-next"', first)
    assert following
    second = _text(owner.get(following[1].replace("&amp;", "&")))
    assert second.count("<tr data-card-id=") == 3 and 'id="recipients-next"' not in second
    assert 'id="recipients-first"' in second


def test_a_scheduled_campaign_can_be_moved_and_cancelled(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    headers = api_headers(marketer)
    later = (utcnow() + dt.timedelta(days=2)).replace(microsecond=0)
    created = marketer.post("/api/v1/campaigns", headers=headers, json={
        "name": "Friday", "message": "See you Friday", "audience": {"tier": ["Gold"]}, "send_at": later.isoformat()})
    assert created.status_code == 201 and created.get_json()["status"] == "scheduled"
    campaign_id = created.get_json()["id"]
    page = _text(marketer.get(f"/console/campaigns/{campaign_id}"))
    for element in ("campaign-send-now", "campaign-reschedule", "campaign-reschedule-local", "campaign-cancel"):
        assert f'id="{element}"' in page, element
    assert "Tiers (any of those ticked): Gold" in page and _step(page, "audience") == 0
    moved = marketer.post(f"/api/v1/campaigns/{campaign_id}/send", headers=headers,
                          json={"send_at": (later + dt.timedelta(hours=1)).isoformat()})
    assert moved.status_code == 200 and moved.get_json()["status"] == "scheduled"
    cancelled = marketer.post(f"/api/v1/campaigns/{campaign_id}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    page = _text(marketer.get(f"/console/campaigns/{campaign_id}"))
    assert 'data-status="cancelled"' in page and 'id="campaign-cancel"' not in page
    listing = _text(marketer.get("/console/campaigns"))
    assert f'data-campaign-id="{campaign_id}"' in listing and "Cancelled" in listing


def test_the_analyst_sees_no_controls_and_the_api_refuses_them(app: Flask, client: FlaskClient,
                                                               seeded: dict[str, Any]) -> None:
    issue(client, seeded, "Guest")
    draft = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Draft", "message": "Soon", "audience": {"all_cards": True}}).get_json()
    analyst = as_role(app, "analyst")
    listing = _text(analyst.get("/console/campaigns"))
    assert "Draft" in listing and 'id="campaigns-new"' not in listing
    page = _text(analyst.get(f"/console/campaigns/{draft['id']}"))
    assert 'id="campaign-funnel"' in page and 'id="campaign-actions"' not in page and "data-api" not in page
    for path in ("/console/campaigns/new", "/console/campaigns/geo/new", "/console/campaigns/restock"):
        assert analyst.get(path).status_code == 403, path
    headers = api_headers(analyst)
    for path, body in (("/api/v1/campaigns", {"name": "x", "message": "x", "audience": {"all_cards": True}}),
                       (f"/api/v1/campaigns/{draft['id']}/send", {}),
                       (f"/api/v1/campaigns/{draft['id']}/cancel", None),
                       ("/api/v1/campaigns/preview", {"audience": {"all_cards": True}}),
                       ("/api/v1/restock-events", {"sku": "X"})):
        assert analyst.post(path, json=body, headers=headers).status_code == 403, path
    with app.app_context():
        assert db.session().get(Campaign, draft["id"]).status == "draft"  # type: ignore[union-attr]
    # reading is theirs
    assert analyst.get(f"/api/v1/campaigns/{draft['id']}/recipients").status_code == 200


def test_another_brands_campaign_is_not_found(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    other_key = other_brand_key(app)
    theirs = client.post("/api/v1/campaigns", headers=bearer(other_key), json={
        "name": "Theirs", "message": "Tea time", "audience": {"all_cards": True}}).get_json()
    marketer = as_role(app, "marketer")
    assert marketer.get(f"/console/campaigns/{theirs['id']}").status_code == 404
    assert marketer.get(f"/api/v1/campaigns/{theirs['id']}/recipients").status_code == 404
    assert marketer.post(f"/api/v1/campaigns/{theirs['id']}/cancel", headers=api_headers(marketer)).status_code == 404
    assert "Theirs" not in _text(marketer.get("/console/campaigns"))
    assert marketer.get("/console/campaigns/999999").status_code == 404


def test_geo_and_back_in_stock_have_their_pages(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Shirt Fan")["id"]
    subscribed = client.post(f"/api/v1/cards/{card}/subscriptions", headers=bearer(seeded["api_key"]),
                             json={"sku": "SHIRT-1", "size": "M", "product_name": "Linen shirt"})
    assert subscribed.status_code == 201
    marketer = as_role(app, "marketer")
    headers = api_headers(marketer)
    restock_page = _text(marketer.get("/console/campaigns/restock"))
    assert 'data-sku="SHIRT-1"' in restock_page and "Linen shirt" in restock_page
    event = marketer.post("/api/v1/restock-events", headers=headers,
                          json={"sku": "SHIRT-1", "size": "M", "store_id": seeded["store_ids"][0]})
    assert event.status_code == 202, event.get_json()
    page = _text(marketer.get(f"/console/campaigns/{event.get_json()['campaign_id']}"))
    assert 'id="campaign-product"' in page and "SHIRT-1" in page and _cell(page, card) == "no_device"
    assert 'id="campaign-cancel"' not in page  # a restock event cannot be cancelled
    assert 'data-sku="SHIRT-1"' not in _text(marketer.get("/console/campaigns/restock"))  # told: nobody waits

    geo_page = _text(marketer.get("/console/campaigns/geo/new"))
    assert 'name="store_ids"' in geo_page
    geo = marketer.post("/api/v1/geo-campaigns", headers=headers, json={
        "name": "Coffee hour", "store_ids": seeded["store_ids"][:1], "relevant_text": "Today -20% on coffee here",
        "starts_at": (utcnow() + dt.timedelta(hours=1)).isoformat(),
        "ends_at": (utcnow() + dt.timedelta(hours=3)).isoformat()})
    assert geo.status_code == 201, geo.get_json()
    page = _text(marketer.get(f"/console/campaigns/{geo.get_json()['id']}"))
    assert 'id="campaign-stores"' in page and "Today -20% on coffee here" in page and 'id="campaign-cancel"' in page
    russian = _text(marketer.get(f"/console/campaigns/{geo.get_json()['id']}?lang=ru"))
    assert "Воронка" in russian and "Запланирована" in russian


def test_the_report_counts_pushes_refused_here_as_not_sent(app: Flask, client: FlaskClient,
                                                           seeded: dict[str, Any]) -> None:
    """A relay with no URL configured and Google Wallet in development never send anything: not
    sent, in the report and the recipients; a vendor's "unreachable" did leave us: sent."""
    relay, vendor, google = (issue(client, seeded, name)["id"] for name in ("Relay", "Vendor", "Google"))
    with app.app_context():
        session = db.session()
        campaign = Campaign(brand_id=seeded["brand_id"], kind="message", name="Rows", message="Hi",
                            audience={"all_cards": True}, status="finished")
        session.add(campaign)
        session.flush()
        session.add_all([
            CampaignRecipient(campaign_id=campaign.id, card_id=card_id, language="en")
            for card_id in (relay, vendor, google)])
        session.add_all([
            PushDelivery(card_id=relay, card_version=2, push_token="r1", client_kind="relay", client_app="pass2u",
                         topic=PASS_TYPE, campaign_id=campaign.id, status="unreachable",
                         reason="PASS2U_PUSH_URL is not configured"),
            PushDelivery(card_id=vendor, card_version=2, push_token="f1", client_kind="fcm", topic=PASS_TYPE,
                         campaign_id=campaign.id, status="unreachable", reason="SENDER_ID_MISMATCH"),
            GoogleMessage(card_id=google, campaign_id=campaign.id, message_id="m-1", header="Demo Coffee", body="Hi",
                          message_type="TEXT_AND_NOTIFY", status="dev")])
        session.commit()
        campaign_id = campaign.id
    owner = as_role(app, "owner", email="owner3@demo.example")
    report = owner.get(f"/api/v1/campaigns/{campaign_id}/report").get_json()
    platforms = report["platforms"]
    assert (platforms["relay"]["sent"], platforms["relay"]["not_sent"], platforms["relay"]["failed"]) == (0, 1, 1)
    assert (platforms["fcm"]["sent"], platforms["fcm"]["not_sent"], platforms["fcm"]["failed"]) == (1, 0, 1)
    assert (platforms["google"]["sent"], platforms["google"]["accepted"], platforms["google"]["not_sent"]) == (0, 0, 1)
    assert (report["sent"], report["not_sent"]) == (1, 2)
    listed = owner.get(f"/api/v1/campaigns/{campaign_id}/recipients").get_json()
    states = {one["card_id"]: one["state"] for one in listed}
    assert states == {relay: "not_sent", vendor: "unreachable", google: "not_sent"}
    page = _text(owner.get(f"/console/campaigns/{campaign_id}"))
    assert (_step(page, "sent"), _step(page, "not_sent"), _step(page, "failed")) == (1, 2, 1)
