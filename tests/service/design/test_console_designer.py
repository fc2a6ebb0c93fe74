"""The console's card designer: the page for each role, the brand's own labels on both wallets,
the reach of a save and the update's progress to the phones, and the Google lock-screen preview."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from console_helpers import api_headers, as_role
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from passes import preview as draw
from service.design.card_design import build_pass, program_strings
from service.google_wallet import sync as google
from service.models import Card, GoogleWalletEvent, Program, PushDelivery, Registration, utcnow
from service.platform import db
from tests.helpers import bearer

PAGE = "/console/design"
CONTROLS = re.compile(r"<(input|select|textarea)\b(?![^>]*type=\"hidden\")|<button\b(?![^>]*id=\"sign-out)", re.I)


def _issue(client: FlaskClient, seeded: dict[str, Any], name: str) -> dict[str, Any]:
    answer = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                         json={"customer": {"name": name}})
    assert answer.status_code == 201, answer.data[:300]
    return answer.get_json()


def _register(app: Flask, card_id: int, device: str, token: str, kind: str = "apple", active: bool = True) -> None:
    with app.app_context():
        session = db.session()
        session.add(Registration(device_library_identifier=device, card_id=card_id, push_token=token,
                                 pass_type_identifier="pass.dev.passcast.loyalty", client_kind=kind, active=active))
        session.commit()


def _reach(client: FlaskClient, seeded: dict[str, Any]) -> dict[str, Any]:
    answer = client.get(f"/api/v1/programs/{seeded['program_id']}/reach", headers=bearer(seeded["api_key"]))
    assert answer.status_code == 200, answer.data[:300]
    return answer.get_json()


def test_the_marketer_gets_the_form_previews_and_reach_note(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    page = marketer.get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for element in ('id="design-form"', 'id="design-background_color"', 'id="design-label-balance-en"',
                    'id="design-label-balance-ru"', 'id="design-save"', 'id="design-reach"', 'id="design-progress"',
                    'id="preview-apple-front"', 'id="preview-apple-back"', 'id="preview-google"',
                    'id="preview-lock-apple"', 'id="preview-lock-google"', 'id="design-preset-cafe"',
                    'id="design-image-logo"', 'data-upload', "designer.js"):
        assert element in html, element
    assert f'data-api="POST /api/v1/programs/{seeded["program_id"]}/apply-preset"' in html
    assert f'data-api="PUT /api/v1/programs/{seeded["program_id"]}/images/strip"' in html
    # every visible input has a label
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    # the preview images the page starts with are the saved card's, and they are PNGs the role may read
    for src in re.findall(r'<img id="preview-[^"]+" src="([^"]+)"', html):
        answer = marketer.get(src.replace("&amp;", "&"))
        assert answer.status_code == 200 and answer.data.startswith(b"\x89PNG"), src
    assert "Card design" in html  # the menu entry
    script = marketer.get(re.search(r'src="([^"]*designer\.js)"', html).group(1))
    assert script.status_code == 200 and b"createObjectURL" in script.data


def test_an_analyst_sees_the_previews_without_a_control_and_the_api_refuses_the_change(
        app: Flask, seeded: dict[str, Any]) -> None:
    analyst = as_role(app, "analyst")
    html = analyst.get(PAGE).get_data(as_text=True)
    main = html.split('<main id="main">', 1)[1]
    assert 'id="preview-apple-front"' in main and 'id="design-read-only"' in main
    assert not CONTROLS.search(main), CONTROLS.search(main)
    assert "designer.js" not in html and "data-api" not in main
    program_id = seeded["program_id"]
    refused = analyst.patch(f"/api/v1/programs/{program_id}", json={"background_color": "#000000"},
                            headers=api_headers(analyst))
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert analyst.post(f"/api/v1/programs/{program_id}/apply-preset", json={"name": "cafe"},
                        headers=api_headers(analyst)).status_code == 403
    with app.app_context():
        assert db.session().get(Program, program_id).background_color != "#000000"
    # reading is allowed: the reach and a draft preview (which stores nothing)
    assert analyst.get(f"/api/v1/programs/{program_id}/reach").status_code == 200


def test_the_page_speaks_russian(app: Flask, seeded: dict[str, Any]) -> None:
    html = as_role(app, "marketer").get(PAGE + "?lang=ru").get_data(as_text=True)
    for text in ("Конструктор карты", "Готовые дизайны", "Показатели и их подписи", "По-русски", "Сохранить",
                 "Экран блокировки Android", 'placeholder="Баллы"', "Кофейня"):
        assert text in html, text
    assert 'lang="ru"' in html and "language=ru" in html


def test_labels_reach_the_apple_pass_in_both_languages_and_the_google_object(
        app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    answer = marketer.patch(f"/api/v1/programs/{seeded['program_id']}", headers=api_headers(marketer), json={
        "labels": {"balance": {"en": "Beans", "ru": "Зёрна"}, "holder": {"ru": "Гость"}, "news": {"en": " "}}})
    assert answer.status_code == 200, answer.data[:300]
    assert answer.get_json()["labels"] == {"balance": {"en": "Beans", "ru": "Зёрна"}, "holder": {"ru": "Гость"}}
    card = _issue(app.test_client(), seeded, "Ola Lind")
    with app.app_context():
        row = db.session().get(Card, card["id"])
        fields = draw.fields_of(build_pass(row, "http://x").to_json_dict())
        assert fields["balance"]["label"] == "Beans" and fields["holder"]["label"] == "Member"
        assert fields["news"]["label"] == "News"  # a blank label is no label
        strings = program_strings(row.program)
        assert strings["ru"]["Beans"] == "Зёрна" and strings["en"]["Beans"] == "Beans"
        assert strings["ru"]["Member"] == "Гость"
        body = google.object_resource(app.config["PASSCAST"], row)
        assert draw._google_text(body["loyaltyPoints"], "label", "en") == "Beans"
        assert draw._google_text(body["loyaltyPoints"], "label", "ru") == "Зёрна"
    too_long = marketer.patch(f"/api/v1/programs/{seeded['program_id']}", headers=api_headers(marketer),
                              json={"labels": {"balance": {"en": "x" * 41}, "bogus": {"en": "y"}}})
    assert too_long.status_code == 422
    assert {error["field"] for error in too_long.get_json()["errors"]} == {"labels.balance.en", "labels.bogus"}


def test_a_draft_label_changes_the_preview_and_an_invalid_one_is_named(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    url = f"/api/v1/programs/{seeded['program_id']}/preview.png?platform=apple&side=front"
    plain = marketer.post(url, json={}, headers=api_headers(marketer))
    labelled = marketer.post(url, json={"labels": {"balance": {"en": "Beans"}}}, headers=api_headers(marketer))
    assert plain.status_code == labelled.status_code == 200 and plain.data != labelled.data
    bad = marketer.post(url, json={"background_color": "blue"}, headers=api_headers(marketer))
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "background_color"


def test_the_google_lock_screen_preview_shows_the_changed_figure(app: Flask, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    base = f"/api/v1/programs/{seeded['program_id']}/preview.png?platform=google"
    apple = app.test_client().get(base.replace("google", "apple") + "&message=balance", headers=key)
    for message in ("balance", "news", "tier"):
        answer = app.test_client().get(f"{base}&message={message}", headers=key)
        assert answer.status_code == 200 and answer.data.startswith(b"\x89PNG"), answer.data[:200]
        assert Image.open(io.BytesIO(answer.data)).size[0] == draw.LOCK_WIDTH
    assert app.test_client().get(f"{base}&message=balance", headers=key).data != apple.data
    body = {"loyaltyPoints": {"label": "Points", "localizedLabel": {
        "defaultValue": {"language": "en", "value": "Points"},
        "translatedValues": [{"language": "ru", "value": "Баллы"}]}, "balance": {"int": 145}}}
    assert draw.google_change_message(body, "balance", "ru") == "Баллы: 145"
    assert draw.google_change_message(body, "tier") is None
    refused = app.test_client().get(f"{base}&message=expiry", headers=key)
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "message"


def test_reach_counts_cards_phones_and_google_saves(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    before = _reach(client, seeded)
    cards = [_issue(client, seeded, name) for name in ("A", "B", "C", "D")]
    _register(app, cards[0]["id"], "iphone-1", "a1" * 32)
    _register(app, cards[1]["id"], "iphone-1", "a1" * 32)  # one iPhone holding two cards
    _register(app, cards[1]["id"], "iphone-2", "b2" * 32)
    _register(app, cards[2]["id"], "pixel-1", "fcm-token-1", kind="fcm")
    _register(app, cards[2]["id"], "iphone-3", "c3" * 32, active=False)  # unregistered: not reached
    with app.app_context():
        session = db.session()
        voided = session.get(Card, cards[3]["id"])
        voided.voided = True
        _register(app, cards[3]["id"], "iphone-4", "d4" * 32)  # a voided card's phone is not counted
        for card, events in ((cards[0], ("save",)), (cards[1], ("save", "del")), (cards[2], ("del", "save"))):
            row = session.get(Card, card["id"])
            row.google_synced_version = row.version
            for number, kind in enumerate(events):
                session.add(GoogleWalletEvent(nonce=f"{card['id']}-{number}", card_id=row.id, object_id="x",
                                              event_type=kind))
        session.commit()
    after = _reach(client, seeded)
    grown = {key: after[key] - before[key] for key in after if key != "as_of"}
    assert grown == {"cards": 3, "phones": 3, "apple_phones": 2, "android_app_phones": 1, "registrations": 4,
                     "google_objects": 3, "google_saved": 2}
    assert dt.datetime.fromisoformat(after["as_of"]).microsecond == 0


def test_progress_counts_the_pushes_of_a_save_as_they_reach_the_phones(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    cards = [_issue(client, seeded, name) for name in ("A", "B")]
    _register(app, cards[0]["id"], "iphone-1", "a1" * 32)
    _register(app, cards[1]["id"], "iphone-2", "b2" * 32)
    marketer = as_role(app, "marketer")
    since = _reach(client, seeded)["as_of"]
    url = f"/api/v1/programs/{seeded['program_id']}/update-progress"
    idle = marketer.get(url, query_string={"since": since}).get_json()
    assert idle["pushes"] == 0 and idle["done"] is True
    saved = marketer.patch(f"/api/v1/programs/{seeded['program_id']}", json={"background_color": "#123456"},
                           headers=api_headers(marketer))
    assert saved.status_code == 200
    with app.app_context():
        session = db.session()
        ours = select(Card.id).where(Card.program_id == seeded["program_id"])
        deliveries = list(session.scalars(select(PushDelivery).where(PushDelivery.card_id.in_(ours))))
        expected_cards = session.query(Card).filter(Card.program_id == seeded["program_id"]).count()
    progress = marketer.get(url, query_string={"since": since}).get_json()
    assert progress["pushes"] == len(deliveries) >= 2 and progress["phones"] == len({d.push_token for d in deliveries})
    assert progress["cards_updated"] == expected_cards
    groups = ("waiting", "sent", "fetched", "not_reachable")
    assert sum(progress[group] for group in groups) == progress["pushes"]
    # the phone fetches the new pass through the web service: its push counts as fetched
    with app.app_context():
        card = db.session().get(Card, cards[0]["id"])
        fetched = client.get(f"/passkit/v1/passes/{card.program.pass_type_identifier}/{card.serial_number}",
                             headers={"Authorization": f"ApplePass {card.authentication_token}"})
    assert fetched.status_code == 200
    after = marketer.get(url, query_string={"since": since}).get_json()
    assert after["fetched"] == progress["fetched"] + 1
    # each status lands in its group
    with app.app_context():
        session = db.session()
        rows = list(session.scalars(select(PushDelivery).where(PushDelivery.card_id.in_(ours))))
        for row, status in zip(rows, ("queued", "failed"), strict=False):
            row.status = status
        session.commit()
    mixed = marketer.get(url, query_string={"since": since}).get_json()
    assert mixed["waiting"] >= 1 and mixed["not_reachable"] >= 1 and mixed["done"] is False
    later = (utcnow() + dt.timedelta(minutes=1)).isoformat()
    assert marketer.get(url, query_string={"since": later}).get_json()["pushes"] == 0
    assert marketer.get(url).status_code == 422  # since is required


def test_reach_and_progress_are_the_brands_own(app: Flask, seeded: dict[str, Any]) -> None:
    other = as_role(app, "owner", brand_name="Other Tea")
    for path in ("reach", "update-progress?since=2026-01-01T00:00:00Z"):
        answer = other.get(f"/api/v1/programs/{seeded['program_id']}/{path}")
        assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
