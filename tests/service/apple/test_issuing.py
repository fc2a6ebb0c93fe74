"""Issuing a card through the brand API and downloading its signed Apple pass."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import qrcode
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient

from passes.cardcode import decode_card_code, parse_short_number
from passes.errors import CardCodeError
from passes.package import read_pkpass
from service.apple import pass_files, signing
from service.models import Brand, Card, PassFile
from service.platform import db
from tests.helpers import bearer, openssl_verify, verified_pass


def issue(client: FlaskClient, seeded: dict[str, Any], **customer: Any) -> Any:
    body = {"customer": {"name": "Anna Smith", **customer}}
    return client.post(f"/api/v1/programs/{seeded['program_id']}/cards", json=body,
                       headers=bearer(seeded["api_key"]))


def download(client: FlaskClient, card: dict[str, Any]) -> Any:
    return client.get(card["apple_pass_url"].removeprefix("http://127.0.0.1:8000"))


def test_issue_card_returns_contract_fields(client: FlaskClient, seeded: dict[str, Any]) -> None:
    response = issue(client, seeded, email="Anna@Example.com", phone="+31 6 1234 5678")
    assert response.status_code == 201
    card = response.get_json()
    for key in ("id", "serial_number", "balance", "barcode_message", "apple_pass_url", "google_save_url"):
        assert key in card
    assert card["balance"] == 0
    assert card["customer"]["email"] == "anna@example.com"
    again = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"]))
    assert again.status_code == 200
    assert again.get_json()["serial_number"] == card["serial_number"]


def test_same_email_gets_the_existing_card(client: FlaskClient, seeded: dict[str, Any]) -> None:
    first = issue(client, seeded, email="anna@example.com").get_json()
    second = issue(client, seeded, name="Anna S.", email="ANNA@example.com")
    assert second.status_code == 200
    assert second.get_json()["id"] == first["id"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "customer"),
    ({"customer": {}}, "customer.name"),
    ({"customer": {"name": ""}}, "customer.name"),
    ({"customer": {"name": "A", "email": "not-an-email"}}, "customer.email"),
    ({"customer": {"name": "A", "birthday": "31-12-1990"}}, "customer.birthday"),
    ({"customer": {"name": "A", "language": "xx"}}, "customer.language"),
    ({"customer": {"name": "A", "home_store_id": "1"}}, "customer.home_store_id"),
])
def test_bad_input_is_a_problem_and_writes_nothing(client: FlaskClient, seeded: dict[str, Any],
                                                  body: dict[str, Any], field: str) -> None:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", json=body,
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 422
    assert field in [error["field"] for error in problem["errors"]]
    listing = client.get("/api/v1/cards", headers=bearer(seeded["api_key"])).get_json()
    assert listing == []


def test_unauthenticated_and_foreign_requests(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    url = f"/api/v1/programs/{seeded['program_id']}/cards"
    no_key = client.post(url, json={"customer": {"name": "A"}})
    assert no_key.status_code == 401 and no_key.mimetype == "application/problem+json"
    wrong_key = client.post(url, json={"customer": {"name": "A"}}, headers=bearer("pk_000000000000_nope"))
    assert wrong_key.status_code == 401
    with app.app_context():
        from service.demo import create_api_key, create_brand

        other = create_brand(db.session(), "Other Tea", "other-tea")
        other_key = create_api_key(db.session(), other)
        db.session().commit()
    foreign = client.post(url, json={"customer": {"name": "A"}}, headers=bearer(other_key))
    assert foreign.status_code == 404
    card = issue(client, seeded).get_json()
    assert client.get(f"/api/v1/cards/{card['id']}", headers=bearer(other_key)).status_code == 404


def test_pkpass_is_served_signed_and_verifies(client: FlaskClient, seeded: dict[str, Any], tmp_path: Path) -> None:
    card = issue(client, seeded, home_store_id=seeded["store_ids"][2]).get_json()
    response = download(client, card)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.apple.pkpass"  # pitfall 4: otherwise a .zip
    assert response.headers["Last-Modified"]  # pitfall 5
    assert response.headers["Content-Disposition"] == 'attachment; filename="demo-coffee-rewards.pkpass"'
    pass_json, files = verified_pass(response.data, seeded["dev_ca_file"], tmp_path / "ok")

    assert pass_json["serialNumber"] == card["serial_number"]
    assert pass_json["passTypeIdentifier"] == "pass.dev.passcast.loyalty"
    assert pass_json["webServiceURL"] == "http://127.0.0.1:8000/passkit"
    assert len(pass_json["authenticationToken"]) >= 16
    assert "barcode" not in pass_json
    assert pass_json["barcodes"] == [{"format": "PKBarcodeFormatQR", "message": card["barcode_message"],
                                      "messageEncoding": "iso-8859-1", "altText": card["number"]}]
    primary = pass_json["storeCard"]["primaryFields"][0]  # large, over the strip
    assert (primary["key"], primary["value"], primary["changeMessage"]) == ("balance", 0, "Balance: %@")
    news = next(f for f in pass_json["storeCard"]["backFields"] if f["key"] == "news")
    assert news["changeMessage"] == "%@"
    # The home store (the third) comes first: locations are the stores nearest to it.
    assert pass_json["locations"][0]["latitude"] == pytest.approx(52.3557)
    for name in ("icon.png", "icon@2x.png", "icon@3x.png", "logo.png", "strip@3x.png",
                 "en.lproj/pass.strings", "ru.lproj/pass.strings"):
        assert name in files
    assert "Баланс: %@".encode("utf-16-le") in files["ru.lproj/pass.strings"]

    tampered = files["manifest.json"].replace(b'"', b"'", 1)
    result = openssl_verify(files["signature"], tampered, seeded["dev_ca_file"], tmp_path / "bad")
    assert result.returncode != 0


def test_unchanged_pass_is_served_from_stored_bytes(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    card = issue(client, seeded).get_json()
    signatures: list[int] = []
    original = signing.signer_for

    def counting_signer(program: Any) -> Any:
        signer = original(program)
        signatures.append(1)
        return signer

    monkeypatch.setattr(signing, "signer_for", counting_signer)
    first = download(client, card)
    second = download(client, card)
    assert first.data == second.data
    assert len(signatures) == 1
    with app.app_context():
        session = db.session()
        stored = session.get(PassFile, card["id"])
        # the card's own members only, its resource set by key; served whole, the very bytes downloaded
        assert stored is not None and stored.resources is not None and len(stored.data) < len(first.data) / 4
        holder = session.get(Card, card["id"])
        assert holder is not None and pass_files.archive(stored, holder) == first.data


def test_download_link_needs_its_key(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded).get_json()
    url = card["apple_pass_url"].removeprefix("http://127.0.0.1:8000")
    assert client.get(url.split("?")[0]).status_code == 404
    assert client.get(url[:-1] + ("0" if url[-1] != "0" else "1")).status_code == 404


def test_qr_code_scans_back_to_the_card(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded).get_json()
    image = qrcode.make(card["barcode_message"]).get_image()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    from PIL import Image

    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(buffer.getvalue())))
    assert [result.text for result in decoded] == [card["barcode_message"]]
    with app.app_context():
        brand = db.session().get(Brand, seeded["brand_id"])
        assert brand is not None
        secrets = {brand.code_ref: brand.code_secret}
    code = decode_card_code(decoded[0].text, secrets.get)
    assert code.card_number == parse_short_number(card["number"])
    altered = card["barcode_message"][:-1] + ("A" if card["barcode_message"][-1] != "A" else "B")
    with pytest.raises(CardCodeError):
        decode_card_code(altered, secrets.get)


def test_demo_command_is_idempotent(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "INSTANCE_DIR": str(tmp_path / "instance"),
           "CERTS_DIR": str(tmp_path / "certs"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--json"]
    root = Path(__file__).resolve().parents[3]
    first = json.loads(subprocess.run(command, env=env, cwd=root, capture_output=True, text=True,
                                      check=True, timeout=120).stdout)
    second = json.loads(subprocess.run(command, env=env, cwd=root, capture_output=True, text=True,
                                       check=True, timeout=120).stdout)
    for key in ("api_key", "program_id", "cashier_token", "store_ids", "dev_ca_file", "google_service_account_file"):
        assert key in first
    assert first == second
    assert len(first["store_ids"]) == 3
    assert Path(first["dev_ca_file"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert json.loads(Path(first["google_service_account_file"]).read_text())["type"] == "service_account"


def test_stored_bytes_round_trip(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded).get_json()
    files = read_pkpass(download(client, card).data)
    assert json.loads(files["pass.json"])["storeCard"]["secondaryFields"][0]["value"] == "Anna Smith"


def test_certificate_command_installs_a_real_certificate_directory(tmp_path: Path, certs_dir: Path) -> None:
    """`flask certificate DIR --program N`: a fitting certificate is installed, a foreign one refused."""
    root = Path(__file__).resolve().parents[3]
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "INSTANCE_DIR": str(tmp_path / "instance"),
           "CERTS_DIR": str(tmp_path / "certs"), "PATH": "/usr/bin:/bin"}
    base = [sys.executable, "-m", "flask", "--app", "wsgi"]
    demo_json = json.loads(subprocess.run(base + ["demo", "--json"], env=env, cwd=root, capture_output=True,
                                          text=True, check=True, timeout=120).stdout)
    good = tmp_path / "good"
    good.mkdir()
    for name in ("pass.pem", "pass.key", "wwdr.pem"):
        (good / name).write_bytes((certs_dir / "dev" / name).read_bytes())
    installed = subprocess.run(base + ["certificate", str(good), "--program", str(demo_json["program_id"])],
                               env=env, cwd=root, capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    assert "now signs with pass.dev.passcast.loyalty" in installed.stdout

    from passes.certificates import ensure_dev_pki

    other = ensure_dev_pki(tmp_path / "other", "pass.com.other.loyalty", "OTHERTEAM1")
    refused = subprocess.run(base + ["certificate", str(other.cert_file.parent), "--program",
                                     str(demo_json["program_id"])], env=env, cwd=root, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0
    assert "pass.com.other.loyalty" in refused.stderr
