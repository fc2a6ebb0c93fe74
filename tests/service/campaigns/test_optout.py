"""The holder's opt-out of marketing messages: the link on the pass (Apple back, Google links
module), the page in English and Russian, honoured by campaigns and the birthday greeting, while a
balance change still reaches the phone."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from passes.package import read_pkpass
from service.campaigns import optout, tasks
from service.google_wallet import sync
from service.models import Card, MessageOptOut, PushDelivery
from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import PASS_TYPE, issue, news, pass_json, register, token


def link_on_pass(client: FlaskClient, app: Flask, card_id: int) -> str:
    back = {field["key"]: field for field in pass_json(client, app, card_id)["storeCard"]["backFields"]}
    assert back["messages"]["label"] == optout.LINK_LABEL
    assert list(back)[-1] == "terms"  # the terms stay last
    return str(back["messages"]["value"])


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_the_link_is_on_the_pass_and_the_google_object_in_both_languages(client: FlaskClient,
                                                                         seeded: dict[str, Any],
                                                                         app: Flask) -> None:
    card_id = issue(client, seeded, "Ivan", email="ivan@example.com", language="ru")["id"]
    url = link_on_pass(client, app, card_id)
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        assert url == optout.messages_url(card, app.config["PASSCAST"].public_base_url)
        serial, auth = card.serial_number, card.authentication_token
    pkpass = client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}", headers={"Authorization": f"ApplePass {auth}"})
    strings = read_pkpass(pkpass.data)["ru.lproj/pass.strings"].decode("utf-16")
    assert f'"{optout.LINK_LABEL}" = "Наши сообщения: выключить или включить";' in strings
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        resource = sync.object_resource(app.config["PASSCAST"], card)
    links = {link["id"]: link for link in resource["linksModuleData"]["uris"]}
    assert links["messages"]["uri"] == url
    description = links["messages"]["localizedDescription"]
    assert description["defaultValue"] == {"language": "ru", "value": "Наши сообщения: выключить или включить"}
    assert {"language": "en", "value": optout.LINK_LABEL} in description["translatedValues"]


def test_the_page_needs_the_cards_key_and_switches_messages_off_and_on(client: FlaskClient, seeded: dict[str, Any],
                                                                        app: Flask) -> None:
    card_id = issue(client, seeded, "Anna", email="anna@example.com")["id"]
    other = issue(client, seeded, "Bob", email="bob@example.com")["id"]
    page = path_of(link_on_pass(client, app, card_id))
    serial, _, key = page.removeprefix("/cards/").partition("/messages?key=")
    other_key = path_of(link_on_pass(client, app, other)).partition("?key=")[2]

    shown = client.get(page)
    assert shown.status_code == 200 and shown.headers["Referrer-Policy"] == "no-referrer"
    html = shown.get_data(as_text=True)
    assert 'data-state="on"' in html and "Turn offers and news off" in html and "balance" in html
    for wrong in (f"/cards/{serial}/messages", f"/cards/{serial}/messages?key={other_key}",
                  f"/cards/{serial}/messages?key={'0' * 32}", f"/cards/{uuid.uuid4()}/messages?key={key}"):
        assert client.get(wrong).status_code == 404, wrong
        assert client.post(wrong.partition("?")[0], data={"key": wrong.partition("key=")[2],
                                                          "messages": "off"}).status_code == 404
    assert client.post(f"/cards/{serial}/messages", data={"key": key, "messages": "maybe"}).status_code == 400

    turned = client.post(f"/cards/{serial}/messages?lang=ru", data={"key": key, "messages": "off"})
    assert turned.status_code == 303
    after = client.get(path_of(turned.headers["Location"]))
    russian = after.get_data(as_text=True)
    assert 'data-state="off"' in russian and 'lang="ru"' in russian
    assert "Готово: предложений и новостей на этой карте больше не будет." in russian
    assert "Снова включить предложения и новости" in russian
    # twice (a double tap) is the same as once
    assert client.post(f"/cards/{serial}/messages", data={"key": key, "messages": "off"}).status_code == 303
    with app.app_context():
        assert db.session().scalars(select(MessageOptOut.card_id)).all() == [card_id]
    back_on = client.post(f"/cards/{serial}/messages", data={"key": key, "messages": "on"})
    assert 'data-state="on"' in client.get(path_of(back_on.headers["Location"])).get_data(as_text=True)
    with app.app_context():
        assert db.session().scalars(select(MessageOptOut.card_id)).all() == []


def test_campaigns_skip_an_opted_out_card_while_its_balance_still_reaches_the_phone(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, apns: ApnsDouble) -> None:
    quiet = issue(client, seeded, "No Offers", email="no@example.com")["id"]
    keen = issue(client, seeded, "All Offers", email="yes@example.com")["id"]
    register(app, quiet, token(61))
    register(app, keen, token(62))
    page = path_of(link_on_pass(client, app, quiet))
    serial, _, key = page.removeprefix("/cards/").partition("/messages?key=")
    assert client.post(f"/cards/{serial}/messages", data={"key": key, "messages": "off"}).status_code == 303

    headers = bearer(seeded["api_key"])
    campaign = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Weekend", "message": "Double points", "send_now": True, "audience": {"all_cards": True},
        "holdout_percent": 0}).get_json()
    assert campaign["status"] == "finished"
    assert [request.token for request in apns.requests] == [token(62)]
    report = client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=headers).get_json()
    assert report["targeted"] == 2
    assert report["paced"]["dropped"] == {"cap": 0, "quiet_hours": 0, "opted_out": 1}
    listed = client.get(f"/api/v1/campaigns/{campaign['id']}/recipients", headers=headers).get_json()
    state = {row["card_id"]: (row["state"], row["reasons"]) for row in listed}
    assert state[quiet] == ("dropped", ["opted_out"]) and state[keen][0] == "pushed"
    with app.app_context():  # the opted-out card's pass is untouched by the campaign
        assert db.session().get(Card, quiet).news is None  # type: ignore[union-attr]
    assert news(pass_json(client, app, quiet))["value"] == "No news yet."

    # a purchase is not marketing: the balance change is pushed as always
    earned = client.post(f"/api/v1/cards/{quiet}/transactions", json={"type": "earn", "points": 25},
                         headers={**headers, "Idempotency-Key": "optout-earn-1"})
    assert earned.status_code == 201 and earned.get_json()["balance"] == 25
    assert [request.token for request in apns.requests] == [token(62), token(61)]
    with app.app_context():
        pushed = db.session().scalars(select(PushDelivery.campaign_id).where(PushDelivery.card_id == quiet)).all()
        assert pushed == [None]  # the transaction's push, no campaign's
    assert pass_json(client, app, quiet)["storeCard"]["primaryFields"][0]["value"] == 25


def test_the_birthday_greeting_respects_the_opt_out_but_the_points_still_come(
        client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    program = seeded["program_id"]
    client.put(f"/api/v1/programs/{program}/birthday", headers=bearer(seeded["api_key"]),
               json={"points": 50, "message": "Happy birthday, {name}!"})
    card_id = issue(client, seeded, "Anna", email="anna@example.com", birthday="1990-06-15")["id"]
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        assert optout.set_opt_out(db.session(), card, True)
        assert not optout.set_opt_out(db.session(), card, True)  # already off
        db.session().commit()
        assert tasks.run_birthdays(dt.datetime(2026, 6, 15, 8, 3, tzinfo=dt.UTC)) == {"cards": 1, "points": 50}
        card = db.session().get(Card, card_id, populate_existing=True)
        assert card is not None and card.balance == 50 and card.news is None


def test_the_messages_link_opens_that_page_only_and_the_download_key_does_not_open_it(
        client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    """A forwarded opt-out link must not hand over the pass (which carries its authentication token)."""
    card = issue(client, seeded, "Anna", email="anna@example.com")
    serial, _, key = path_of(link_on_pass(client, app, card["id"])).removeprefix("/cards/").partition("/messages?key=")
    download_key = card["apple_pass_url"].partition("?key=")[2]
    assert key and download_key and key != download_key
    assert client.get(f"/passes/{serial}.pkpass?key={key}").status_code == 404
    assert client.get(f"/cards/{serial}/messages?key={download_key}").status_code == 404
    assert client.get(f"/passes/{serial}.pkpass?key={download_key}").status_code == 200
