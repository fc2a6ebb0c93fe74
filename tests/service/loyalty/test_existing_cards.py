"""Cards brands already have (issue 16): a program keeps its plastic cards' symbology, a card keeps
its plastic number (API and members import), both wallets show it as the barcode, and the till
finds the card by what the POS scanner reads; QR with the signed code stays the default."""

from __future__ import annotations

import io
import re
from typing import Any

import zxingcpp
from console_helpers import api_headers, as_role
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from passes import preview
from passes.barcodes import barcode_png, ean13_check_digit, ean13_for_card_number
from service.enrolment.imports import import_members
from service.google_wallet import sync
from service.loyalty import legacy_numbers
from service.models import Card, Program
from service.platform import db
from tests.helpers import bearer
from tests.service.enrolment.test_join import join
from tests.service.loyalty.test_loyalty import download_pass, make_program, pass_field

EAN = "4006381333931"  # GS1's example EAN-13 number


def issue(client: FlaskClient, seeded: dict[str, Any], program_id: int, name: str = "Anna Smith",
          **extra: Any) -> Any:
    return client.post(f"/api/v1/programs/{program_id}/cards", json={"customer": {"name": name}, **extra},
                       headers=bearer(seeded["api_key"]))


def scan(client: FlaskClient, seeded: dict[str, Any], code: str) -> Any:
    return client.post("/api/v1/cashier/scan", json={"code": code}, headers=bearer(seeded["cashier_token"]))


def decoded(png: bytes) -> list[tuple[Any, str]]:
    return [(code.format, code.text) for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def google_barcode(app: Flask, card_id: int) -> dict[str, Any]:
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        return sync.object_resource(app.config["PASSCAST"], card)["barcode"]


def test_an_ean13_card_carries_its_plastic_number_on_both_wallets(client: FlaskClient, app: Flask,
                                                                   seeded: dict[str, Any]) -> None:
    program_id = make_program(app, seeded, barcode_format="ean13")
    response = issue(client, seeded, program_id, legacy_number="400638133393")  # 12 digits: check digit added
    assert response.status_code == 201, response.get_json()
    card = response.get_json()
    assert (card["legacy_number"], card["barcode_message"], card["barcode_format"]) == (EAN, EAN, "ean13")

    pass_json, files = download_pass(client, card)
    assert [(b["format"], b["message"], b["altText"]) for b in pass_json["barcodes"]] == [
        ("PKBarcodeFormatEAN13", EAN, EAN), ("PKBarcodeFormatCode128", EAN, EAN)]  # older iPhones: Code 128
    assert pass_field(pass_json, "number")["value"] == EAN  # the number the plastic card printed
    assert decoded(preview.render_front(pass_json, files)) == [(zxingcpp.BarcodeFormat.EAN13, EAN)]
    assert decoded(barcode_png(EAN, "code128")) == [(zxingcpp.BarcodeFormat.Code128, EAN)]
    assert google_barcode(app, card["id"]) == {"type": "EAN_13", "value": EAN, "alternateText": EAN}

    # a card of the same program without a plastic number gets an EAN-13 of its own (13 digits
    # cannot carry the signed code): see test_new_members_of_an_ean13_program_get_a_number
    plain = issue(client, seeded, program_id, name="Boris").get_json()
    assert plain["legacy_number"].startswith("20") and plain["barcode_format"] == "ean13"
    plain_pass, _ = download_pass(client, plain)
    assert [b["format"] for b in plain_pass["barcodes"]] == ["PKBarcodeFormatEAN13", "PKBarcodeFormatCode128"]


def test_qr_stays_the_default_even_for_a_card_with_a_plastic_number(client: FlaskClient, app: Flask,
                                                                     seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, seeded["program_id"], legacy_number="ACME-0042").get_json()
    assert card["legacy_number"] == "ACME-0042" and card["barcode_format"] == "qr"
    pass_json, _ = download_pass(client, card)
    assert [(b["format"], b["message"]) for b in pass_json["barcodes"]] == [
        ("PKBarcodeFormatQR", card["barcode_message"])]
    assert card["barcode_message"].startswith("PC1:") and pass_field(pass_json, "number")["value"] == card["number"]
    assert google_barcode(app, card["id"])["type"] == "QR_CODE"
    # a QR program's cards are scanned by their signed code, not by the unsigned plastic number
    assert scan(client, seeded, "ACME-0042").status_code == 422
    assert scan(client, seeded, card["barcode_message"]).get_json()["id"] == card["id"]


def test_the_till_finds_a_card_by_what_the_pos_scanner_reads(client: FlaskClient, app: Flask,
                                                             seeded: dict[str, Any]) -> None:
    ean_program = make_program(app, seeded, barcode_format="ean13")
    code128_program = make_program(app, seeded, barcode_format="code128")
    ean_card = issue(client, seeded, ean_program, legacy_number=EAN).get_json()
    code_card = issue(client, seeded, code128_program, name="Chen", legacy_number="ACME-0042/7").get_json()
    for text, card in ((EAN, ean_card), (f"  {EAN}\r\n", ean_card), ("400638133393", ean_card),
                       ("4006 3813 3393 1", ean_card), ("ACME-0042/7", code_card),
                       (ean_card["barcode_message"], ean_card), (code_card["number"], code_card)):
        response = scan(client, seeded, text)
        assert response.status_code == 200, (text, response.get_json())
        found = response.get_json()
        assert found["id"] == card["id"]
        # the counter view never hands out the plastic number (the barcode itself, unsigned)
        assert found["number"] == card["number"] != card["legacy_number"] and "legacy_number" not in found
    pass_json, _ = download_pass(client, code_card)
    assert [(b["format"], b["message"]) for b in pass_json["barcodes"]] == [("PKBarcodeFormatCode128", "ACME-0042/7")]
    assert scan(client, seeded, "ACME-0042/8").status_code == 422  # nobody's number, and no signed code


def test_a_number_the_format_cannot_carry_or_another_card_has_is_refused(client: FlaskClient, app: Flask,
                                                                        seeded: dict[str, Any]) -> None:
    program_id = make_program(app, seeded, barcode_format="ean13")
    response = issue(client, seeded, program_id, legacy_number="4006381333932")
    assert response.status_code == 422
    assert "check digit is 2, the first 12 digits need 1" in str(response.get_json())
    assert issue(client, seeded, program_id, legacy_number=EAN).status_code == 201
    taken = issue(client, seeded, seeded["program_id"], name="Other", legacy_number=EAN)  # the brand's, any program
    assert taken.status_code == 409 and taken.get_json()["type"].endswith("/problems/legacy-number-taken")
    with app.app_context():
        assert db.session().scalars(select(Card.legacy_number).where(Card.legacy_number.is_not(None))).all() == [EAN]


def test_a_format_change_the_cards_numbers_do_not_fit_is_refused(client: FlaskClient, app: Flask,
                                                                 seeded: dict[str, Any]) -> None:
    program_id = make_program(app, seeded, barcode_format="code128")
    card = issue(client, seeded, program_id, legacy_number="ACME-0042").get_json()
    headers = bearer(seeded["api_key"])
    refused = client.patch(f"/api/v1/programs/{program_id}", json={"barcode_format": "ean13"}, headers=headers)
    assert refused.status_code == 409
    assert f"card {card['id']}: 'ACME-0042' is not an EAN-13 number" in refused.get_json()["detail"]
    moved = client.patch(f"/api/v1/programs/{program_id}", json={"barcode_format": "aztec"}, headers=headers)
    assert moved.status_code == 200 and moved.get_json()["barcode_format"] == "aztec"
    after = client.get(f"/api/v1/cards/{card['id']}", headers=headers).get_json()
    assert after["version"] > card["version"]  # every pass of the program is updated
    pass_json, files = download_pass(client, after)
    assert [(b["format"], b["message"]) for b in pass_json["barcodes"]] == [("PKBarcodeFormatAztec", "ACME-0042")]
    assert decoded(preview.render_front(pass_json, files)) == [(zxingcpp.BarcodeFormat.Aztec, "ACME-0042")]
    bad = client.patch(f"/api/v1/programs/{program_id}", json={"barcode_format": "datamatrix"}, headers=headers)
    assert bad.status_code == 422


def test_the_members_import_keeps_existing_card_numbers(client: FlaskClient, app: Flask,
                                                        seeded: dict[str, Any]) -> None:
    program_id = make_program(app, seeded, barcode_format="ean13")
    other = issue(client, seeded, seeded["program_id"], name="Held", legacy_number="5901234123457").get_json()
    csv_text = ("name,email,balance,card_number\n"
                "Anna Smith,anna@example.com,10,400638133393\n"  # 2: 12 digits, the check digit is added
                "Boris,boris@example.com,5,4006381333932\n"       # 3: wrong check digit
                "Chen,chen@example.com,5,5901234123457\n"          # 4: another card's number
                "Dana,,7,9780201379624\n"                           # 5: the number alone identifies the member
                "Eve,eve@example.com,1,\n")                         # 6: no plastic card
    with app.app_context():
        session = db.session()
        program = session.get(Program, program_id)
        assert program is not None
        dry = import_members(session, program, csv_text, dry_run=True)
        assert (dry.created, dry.error_rows) == (3, 2)
        report = import_members(session, program, csv_text)
        errors = {(e.line, e.field): e.message for e in report.errors}
        assert (report.created, report.error_rows) == (3, 2)
        assert "its check digit is 2, the first 12 digits need 1" in errors[(3, "card_number")]
        assert errors[(4, "card_number")] == (f"'5901234123457' is already the number of card {other['id']} "
                                              "of this brand")
        cards = {c.customer.name: c.legacy_number for c in session.scalars(select(Card).where(
            Card.program_id == program_id))}
        eve = cards.pop("Eve")  # no plastic card: a number of its own, derived from its card number
        assert cards == {"Anna Smith": EAN, "Dana": "9780201379624"}
        assert eve is not None and eve.startswith("20") and len(eve) == 13
        again = import_members(session, program, csv_text)  # a re-run finds the same cards
        assert (again.created, again.matched, again.balances_added) == (0, 3, 0)
    dana = scan(client, seeded, "9780201379624").get_json()
    assert dana["customer"]["name"] == "Dana" and dana["balance"] == 7


def test_the_designer_offers_the_format_and_previews_the_draft_in_it(client: FlaskClient, app: Flask,
                                                                     seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    html = marketer.get("/console/design").get_data(as_text=True)
    select_html = html.split('id="design-barcode_format"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\w+)"', select_html) == ["qr", "code128", "ean13", "pdf417", "aztec"]
    assert '<option value="qr" selected>' in select_html and 'for="design-barcode_format"' in html
    russian = marketer.get("/console/design?lang=ru").get_data(as_text=True)
    assert "Штрихкод карт" in russian and "номера ваших пластиковых карт" in russian
    # the live preview of an unsaved draft: the sample card carries a sample plastic number
    url = f"/api/v1/programs/{seeded['program_id']}/preview.png"
    for format_name, expected in (("ean13", (zxingcpp.BarcodeFormat.EAN13, EAN)),
                                  ("pdf417", (zxingcpp.BarcodeFormat.PDF417, "CARD-00123456"))):
        picture = client.post(url, json={"barcode_format": format_name}, headers=bearer(seeded["api_key"]))
        assert picture.status_code == 200 and decoded(picture.data) == [expected]
        google = client.post(url + "?platform=google", json={"barcode_format": format_name},
                             headers=bearer(seeded["api_key"]))
        assert decoded(google.data) == [expected]
    saved = client.get(url, headers=bearer(seeded["api_key"]))  # nothing was saved: the signed QR code
    assert [found[0] for found in decoded(saved.data)] == [zxingcpp.BarcodeFormat.QRCode]


def test_a_cards_number_is_corrected_found_and_audited(client: FlaskClient, app: Flask,
                                                       seeded: dict[str, Any]) -> None:
    program_id = make_program(app, seeded, barcode_format="code128")
    headers = bearer(seeded["api_key"])
    card = issue(client, seeded, program_id, legacy_number="ACME-0042").get_json()
    issue(client, seeded, program_id, name="Boris", legacy_number="4006381333931")
    url = f"/api/v1/cards/{card['id']}"
    assert client.patch(url, json={"legacy_number": "4006381333931"}, headers=headers).status_code == 409
    assert client.patch(url, json={"legacy_number": "Grüße"}, headers=headers).status_code == 422
    fixed = client.patch(url, json={"legacy_number": "5901234123457"}, headers=headers)
    assert fixed.status_code == 200 and fixed.get_json()["legacy_number"] == "5901234123457"
    assert fixed.get_json()["version"] > card["version"]
    pass_json, _ = download_pass(client, fixed.get_json())
    assert pass_json["barcodes"][0]["message"] == "5901234123457"
    assert scan(client, seeded, "5901234123457").get_json()["id"] == card["id"]
    assert scan(client, seeded, "ACME-0042").status_code == 422  # the old number names nobody now
    found = client.get("/api/v1/cards?q=5901234123457", headers=headers).get_json()
    assert [c["id"] for c in found] == [card["id"]]
    log = client.get(f"/api/v1/audit-log?action=card.updated&target=card:{card['id']}", headers=headers).get_json()
    assert [entry["changes"] for entry in log] == [
        {"legacy_number": {"before": "ACME-0042", "after": "5901234123457"}}]
    cleared = client.patch(url, json={"legacy_number": None}, headers=headers).get_json()
    assert cleared["legacy_number"] is None and cleared["barcode_message"].startswith("PC1:")


def test_the_plastic_number_is_in_the_customers_export_and_gone_after_erasure(client: FlaskClient, app: Flask,
                                                                              seeded: dict[str, Any]) -> None:
    program_id = make_program(app, seeded, barcode_format="ean13")
    card = issue(client, seeded, program_id, legacy_number=EAN).get_json()
    owner = as_role(app, "owner")
    customer = f"/api/v1/customers/{card['customer']['id']}"
    assert owner.get(f"{customer}/export").get_json()["cards"][0]["legacy_number"] == EAN
    page = owner.get(f"/console/members/{card['id']}").get_data(as_text=True)
    assert f'<dd id="card-legacy-number">{EAN}</dd>' in page and "Plastic card number" in page
    assert f"/console/members/{card['id']}" in owner.get(f"/console/members?q={EAN}").get_data(as_text=True)
    erased = owner.post(f"{customer}/erase", json={"reason": "Art. 17 request"}, headers=api_headers(owner))
    assert erased.status_code == 200, erased.get_json()
    after = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()
    assert after["legacy_number"] is None and after["voided"]
    assert scan(client, seeded, EAN).status_code == 422  # the number names no card any more


def _valid_ean13(number: str) -> bool:
    return len(number) == 13 and number.isdigit() and int(number[12]) == ean13_check_digit(number[:12])


def test_new_members_of_an_ean13_program_get_a_number_every_scanner_reads(client: FlaskClient, app: Flask,
                                                                          seeded: dict[str, Any]) -> None:
    """API, join page and import: each card without a plastic number gets a valid, unique EAN-13,
    drawn and decoded as EAN-13, and the till finds the card by it."""
    program_id = make_program(app, seeded, barcode_format="ean13")
    by_api = issue(client, seeded, program_id, name="Anna").get_json()
    with app.app_context():
        session = db.session()
        program = session.get(Program, program_id)
        assert program is not None
        program.slug = "ean-club"
        session.commit()
        report = import_members(session, program, "name,email\nBoris,boris@example.com\nChen,chen@example.com\n")
        assert report.created == 2 and not report.errors
    joined = join(client, path="/join/ean-club", name="Dana", phone="+31600000009")
    assert joined.status_code == 303, joined.get_data(as_text=True)[:500]
    with app.app_context():
        cards = list(db.session().scalars(select(Card).where(Card.program_id == program_id).order_by(Card.id)))
        assert [card.customer.name for card in cards] == ["Anna", "Boris", "Chen", "Dana"]
        numbers = {card.id: card.legacy_number for card in cards}
        assert numbers[by_api["id"]] == by_api["legacy_number"] == by_api["barcode_message"]
        for card in cards:
            assert card.legacy_number is not None and _valid_ean13(card.legacy_number)
            assert card.legacy_number == ean13_for_card_number(card.number)  # 20 + the card's number + check
        assert len(set(numbers.values())) == len(cards), "unique"
    for card_id, number in numbers.items():
        card = client.get(f"/api/v1/cards/{card_id}", headers=bearer(seeded["api_key"])).get_json()
        assert card["barcode_format"] == "ean13" and card["barcode_message"] == number
        pass_json, files = download_pass(client, card)
        assert [(b["format"], b["message"]) for b in pass_json["barcodes"]][0] == ("PKBarcodeFormatEAN13", number)
        assert decoded(preview.render_front(pass_json, files)) == [(zxingcpp.BarcodeFormat.EAN13, number)]
        assert google_barcode(app, card_id) == {"type": "EAN_13", "value": number, "alternateText": number}
        assert scan(client, seeded, number).get_json()["id"] == card_id  # what the POS scanner reads
    # a plastic number the brand brings later replaces the derived one (API issue and import alike)
    body = {"customer": {"name": "Eve", "email": "eve@example.com"}}
    url = f"/api/v1/programs/{program_id}/cards"
    eve = client.post(url, json=body, headers=bearer(seeded["api_key"])).get_json()
    assert _valid_ean13(eve["legacy_number"])
    again = client.post(url, json={**body, "legacy_number": EAN}, headers=bearer(seeded["api_key"]))
    assert again.status_code == 200 and again.get_json()["id"] == eve["id"]
    assert again.get_json()["legacy_number"] == EAN
    with app.app_context():
        session = db.session()
        program = session.get(Program, program_id)
        assert program is not None
        report = import_members(session, program, "name,email,card_number\nBoris,boris@example.com,9780201379624\n")
        assert (report.matched, report.error_rows) == (1, 0), [e.message for e in report.errors]
        boris = session.scalar(select(Card).where(Card.legacy_number == "9780201379624"))
        assert boris is not None and boris.customer.name == "Boris"
    assert scan(client, seeded, "9780201379624").get_json()["customer"]["name"] == "Boris"


def test_a_derived_number_that_a_plastic_card_has_is_not_given_twice(client: FlaskClient, app: Flask,
                                                                     seeded: dict[str, Any]) -> None:
    program_id = make_program(app, seeded, barcode_format="ean13")
    first = issue(client, seeded, program_id, name="Anna").get_json()
    with app.app_context():
        session = db.session()
        card = session.get(Card, first["id"])
        assert card is not None
        taken = ean13_for_card_number(card.number + 1)
        session.add(Card(program_id=seeded["program_id"], brand_id=card.brand_id, customer_id=card.customer_id,
                         number=card.number + 2, serial_number="clash-test", authentication_token="t" * 32,
                         legacy_number=taken))
        session.flush()
        numbers = legacy_numbers.free_numbers(session, card.brand_id, [card.number + 1, card.number + 1])
        assert taken not in numbers and len(set(numbers)) == 2 and all(_valid_ean13(n) for n in numbers)
        session.rollback()


def test_a_program_switched_to_ean13_numbers_its_cards(client: FlaskClient, app: Flask,
                                                       seeded: dict[str, Any]) -> None:
    program_id = make_program(app, seeded)  # qr: no numbers
    cards = [issue(client, seeded, program_id, name=name).get_json() for name in ("Anna", "Boris")]
    plastic = issue(client, seeded, program_id, name="Chen", legacy_number=EAN).get_json()
    assert all(card["legacy_number"] is None for card in cards)
    switched = client.patch(f"/api/v1/programs/{program_id}", json={"barcode_format": "ean13"},
                            headers=bearer(seeded["api_key"]))
    assert switched.status_code == 200, switched.get_json()
    for card in (*cards, plastic):
        now = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()
        assert now["barcode_format"] == "ean13" and _valid_ean13(now["legacy_number"])
        assert now["barcode_message"] == now["legacy_number"]
    assert client.get(f"/api/v1/cards/{plastic['id']}", headers=bearer(seeded["api_key"])).get_json()[
        "legacy_number"] == EAN, "a plastic number stays"
    # back to a format that carries the signed code: the derived numbers go, the plastic one stays;
    # and back to EAN-13: the same numbers again
    numbered = {card["id"]: client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()[
        "legacy_number"] for card in cards}
    assert client.patch(f"/api/v1/programs/{program_id}", json={"barcode_format": "code128"},
                        headers=bearer(seeded["api_key"])).status_code == 200
    for card in cards:
        now = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()
        assert now["legacy_number"] is None and now["barcode_message"].startswith("PC1:")
    assert client.get(f"/api/v1/cards/{plastic['id']}", headers=bearer(seeded["api_key"])).get_json()[
        "legacy_number"] == EAN
    assert client.patch(f"/api/v1/programs/{program_id}", json={"barcode_format": "ean13"},
                        headers=bearer(seeded["api_key"])).status_code == 200
    assert {card["id"]: client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()[
        "legacy_number"] for card in cards} == numbered
