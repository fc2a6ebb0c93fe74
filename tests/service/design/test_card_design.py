"""The default card as a brand first sees it (issue 13), and terms that follow the rules.

Apple's pass is read as the phone fetches it (the PassKit web service), Google's class and
object as the loopback Google (tests/doubles/google.py) holds them.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from passes.localization import parse_strings
from passes.package import read_pkpass
from service.models import Card
from service.platform import db
from service.platform.config import Settings
from tests.doubles.fcm import make_service_account
from tests.doubles.google import GoogleWalletDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import PASS_TYPE

ISSUER = "3388000000022654321"
BROWN = "rgb(59, 36, 23)"  # the demo program's background, #3b2417


@pytest.fixture(scope="module")
def google_account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_service_account(tmp_path_factory.mktemp("design-sa"), project_id="passcast-design",
                                client_email="design@passcast-design.iam.gserviceaccount.com")


@pytest.fixture
def google(google_account: Path) -> Iterator[GoogleWalletDouble]:
    with GoogleWalletDouble(google_account, ISSUER) as double:
        yield double


@pytest.fixture
def settings(settings: Settings, google: GoogleWalletDouble, google_account: Path) -> Settings:
    return dataclasses.replace(settings, google_issuer_id=ISSUER, google_wallet_api=google.api_base,
                               google_token_uri=google.token_uri, google_service_account_file=str(google_account))


def _issue(client: FlaskClient, seeded: dict[str, Any], name: str = "Anna Smith", language: str = "en") -> Any:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": name, "email": f"{name.split()[0].lower()}@example.com",
                                              "language": language}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _earn(client: FlaskClient, seeded: dict[str, Any], card_id: int, points: int, key: str) -> None:
    response = client.post(f"/api/v1/cards/{card_id}/transactions", json={"type": "earn", "points": points},
                           headers={**bearer(seeded["api_key"]), "Idempotency-Key": key})
    assert response.status_code == 201, response.get_json()


def _pkpass(client: FlaskClient, app: Flask, card_id: int) -> dict[str, bytes]:
    """The card's pass as the phone fetches it after a push."""
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        serial, auth = card.serial_number, card.authentication_token
    response = client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}", headers={"Authorization": f"ApplePass {auth}"})
    assert response.status_code == 200
    return read_pkpass(response.data)


def _back(pass_json: dict[str, Any], key: str) -> str:
    return next(field["value"] for field in pass_json["storeCard"]["backFields"] if field["key"] == key)


def test_the_default_card_names_the_program_once_and_shows_the_balance_over_a_drawn_strip(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = _issue(client, seeded)
    files = _pkpass(client, app, card["id"])
    pass_json = json.loads(files["pass.json"])
    # Once: Wallet writes the name (logoText) beside a generated monogram, not beside a wordmark of it.
    assert pass_json["logoText"] == "Demo Coffee Rewards"
    assert Image.open(io.BytesIO(files["logo@3x.png"])).size == (150, 150)  # square: a mark, not a name
    # The balance is the storeCard's primary field, drawn large over the strip; nothing repeats it.
    card_fields = pass_json["storeCard"]
    assert [(f["key"], f["value"], f["label"]) for f in card_fields["primaryFields"]] == [("balance", 0, "Points")]
    assert "balance" not in [f["key"] for group in ("headerFields", "secondaryFields", "auxiliaryFields")
                             for f in card_fields.get(group, [])]
    strip = Image.open(io.BytesIO(files["strip@2x.png"])).convert("RGB")
    assert strip.size == (750, 246) and len(strip.getcolors(1 << 20)) > 500  # a plain gradient has 47
    assert len({strip.getpixel((x, 123)) for x in range(750)}) > 10  # and one colour per row


def test_an_uploaded_logo_is_not_followed_by_the_name_again(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 100), (200, 160, 90)).save(buffer, "PNG")
    put = client.put(f"/api/v1/programs/{seeded['program_id']}/images/logo", data=buffer.getvalue(),
                     headers={**bearer(seeded["api_key"]), "Content-Type": "image/png"})
    assert put.status_code in (200, 204), put.get_json()
    files = _pkpass(client, app, _issue(client, seeded)["id"])
    assert "logoText" not in json.loads(files["pass.json"])
    assert Image.open(io.BytesIO(files["logo@3x.png"])).size == (480, 150)  # the brand's own mark


def test_a_tier_without_its_own_colour_keeps_the_brand_colour_on_both_wallets(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    """The demo's Silver sets no colour: a brown coffee card stays brown; the Tier field marks it."""
    card = _issue(client, seeded)
    base = json.loads(_pkpass(client, app, card["id"])["pass.json"])
    base_class = google.objects[card["google_wallet"]["object_id"]]["classId"]
    _earn(client, seeded, card["id"], 150, "design-silver")  # Silver from 100 lifetime points
    silver = json.loads(_pkpass(client, app, card["id"])["pass.json"])
    assert [(f["key"], f["value"]) for f in silver["storeCard"]["headerFields"]] == [("tier", "Silver")]
    colours = ("backgroundColor", "foregroundColor", "labelColor")
    assert [silver[key] for key in colours] == [base[key] for key in colours] and silver["backgroundColor"] == BROWN
    held = google.objects[card["google_wallet"]["object_id"]]
    assert held["secondaryLoyaltyPoints"]["balance"] == {"string": "Silver"}
    assert held["classId"] == base_class and google.classes[base_class]["hexBackgroundColor"] == "#3b2417"
    assert len(google.classes) == 1  # no tier sets a colour: no class per tier


def test_changed_earn_rules_reach_the_join_page_the_pass_back_and_google(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    card = _issue(client, seeded, "Olga Petrova", language="ru")
    object_id = card["google_wallet"]["object_id"]
    old_en, old_ru = "Every 1 EUR spent earns 10 points.", "За каждый потраченный 1 EUR — 10 баллов."
    assert old_en in _back(json.loads(_pkpass(client, app, card["id"])["pass.json"]), "terms")
    class_id = google.objects[object_id]["classId"]
    assert old_en in google.classes[class_id]["textModulesData"][0]["body"]

    patched = client.patch(f"/api/v1/programs/{seeded['program_id']}", headers=bearer(seeded["api_key"]),
                           json={"points_per_unit": "12.5", "rounding": "nearest"})
    assert patched.status_code == 200, patched.get_json()
    new_en, new_ru = "Every 1 EUR spent earns 12.5 points.", "За каждый потраченный 1 EUR — 12,5 балла."
    rounding_en, old_rounding_en = "rounded to the nearest whole point", "rounded down"

    page = client.get("/join/demo-coffee").get_data(as_text=True)
    assert new_en in page and rounding_en in page and old_en not in page and old_rounding_en not in page
    assert "100 points = one free coffee." in page  # the brand's own text stays
    page_ru = client.get("/join/demo-coffee?lang=ru").get_data(as_text=True)
    assert new_ru in page_ru and old_ru not in page_ru

    files = _pkpass(client, app, card["id"])
    terms = _back(json.loads(files["pass.json"]), "terms")
    assert new_en in terms and rounding_en in terms and old_en not in terms and old_rounding_en not in terms
    assert terms.endswith("100 points = one free coffee.")
    russian = parse_strings(files["ru.lproj/pass.strings"])[terms]  # what a Russian phone shows instead
    assert new_ru in russian and old_ru not in russian and russian.endswith("100 points = one free coffee.")

    google_class = google.classes[class_id]
    class_terms = next(m for m in google_class["textModulesData"] if m["id"] == "terms")
    assert new_en in class_terms["body"] and old_en not in class_terms["body"]
    assert {t["language"]: new_ru in t["value"] or new_en in t["value"]
            for t in class_terms["localizedBody"]["translatedValues"]} == {"en": True, "ru": True}
    object_terms = next(m for m in google.objects[object_id]["textModulesData"] if m["id"] == "terms")
    assert new_ru in object_terms["body"] and old_ru not in object_terms["body"]  # the customer's language
    assert old_en not in json.dumps(google.objects[object_id], ensure_ascii=False)
    assert old_en not in json.dumps(google_class, ensure_ascii=False)
    link = google.objects[object_id]["linksModuleData"]["uris"][0]["uri"]
    served = client.get(link.removeprefix("http://127.0.0.1:8000")).get_data(as_text=True)
    assert new_ru in served and old_ru not in served


def test_tier_and_expiry_changes_are_in_the_terms_too(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    tiers = client.get(f"/api/v1/programs/{seeded['program_id']}/tiers", headers=key).get_json()
    gold = next(tier for tier in tiers if tier["name"] == "Gold")
    assert client.patch(f"/api/v1/programs/{seeded['program_id']}/tiers/{gold['id']}", headers=key,
                        json={"threshold": "400", "earn_multiplier": "2"}).status_code == 200
    assert client.patch(f"/api/v1/programs/{seeded['program_id']}", headers=key,
                        json={"points_expire_days": 90}).status_code == 200
    with app.app_context():  # no API field sets the referral bonus (yet): the demo's 50, then 25
        program = db.session().get(Card, _issue(client, seeded)["id"]).program
        assert program.referral_points == 50
        program.referral_points = 25
        db.session().commit()
    card = _issue(client, seeded, "Boris Ivanov")
    terms = _back(json.loads(_pkpass(client, app, card["id"])["pass.json"]), "terms")
    assert "Gold: from 400 points earned in total (earning ×2)" in terms and "from 500" not in terms
    assert "Points expire 90 days after they are earned." in terms and "365 days" not in terms
    assert "you both get 25 points" in terms and "50 points" not in terms
