"""Google Wallet end to end against the loopback Google (tests/doubles/google.py): insert
before the link, patch on change, sweeper retries, messages within the quota, callbacks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select, update

from passes.google import root_keys_document, sign_callback
from service.google_wallet import messages, sync, tasks
from service.loyalty.cards import touch
from service.models import Card, GoogleMessage, GoogleWalletEvent, utcnow
from service.platform import db
from service.platform.config import Settings
from tests.conftest import _empty_tables
from tests.doubles.fcm import make_service_account
from tests.doubles.google import GoogleWalletDouble
from tests.helpers import bearer

ISSUER = "3388000000022123456"


@pytest.fixture(scope="module")
def google_account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_service_account(tmp_path_factory.mktemp("wallet-sa"), project_id="passcast-wallet",
                                client_email="wallet@passcast-wallet.iam.gserviceaccount.com")


@pytest.fixture(scope="module")
def callback_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {name: ec.generate_private_key(ec.SECP256R1()) for name in ("root", "intermediate", "rogue")}


@pytest.fixture
def google(google_account: Path) -> Iterator[GoogleWalletDouble]:
    with GoogleWalletDouble(google_account, ISSUER) as double:
        yield double


@pytest.fixture
def settings(settings: Settings, google: GoogleWalletDouble, google_account: Path,
             callback_keys: dict[str, ec.EllipticCurvePrivateKey]) -> Settings:
    roots = root_keys_document([(callback_keys["root"].public_key(), None)])
    return dataclasses.replace(
        settings, google_issuer_id=ISSUER, google_wallet_api=google.api_base, google_token_uri=google.token_uri,
        google_service_account_file=str(google_account), google_callback_root_keys=json.dumps(roots),
        google_origins=("https://shop.example.com",))


def _issue(client: FlaskClient, seeded: dict[str, Any], name: str = "Anna Smith") -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": name, "email": f"{name.split()[0].lower()}@example.com"}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _earn(client: FlaskClient, seeded: dict[str, Any], card_id: int, points: int) -> dict[str, Any]:
    response = client.post(f"/api/v1/cards/{card_id}/transactions", json={"type": "earn", "points": points},
                           headers={**bearer(seeded["api_key"]), "Idempotency-Key": f"k-{time.time_ns()}"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _public_key(account: Path) -> Any:
    info = json.loads(account.read_text())
    return serialization.load_pem_private_key(info["private_key"].encode(), None).public_key()


def test_issue_inserts_class_and_object_then_hands_out_the_link(
        client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble, google_account: Path) -> None:
    card = _issue(client, seeded)
    object_id = f"{ISSUER}.passcast-card-{card['serial_number']}"
    assert card["google_wallet"]["status"] == "inserted" and card["google_wallet"]["dev"] is False
    # inserted before the link: the class first (the demo tiers keep the brand's colour: one class), then the object
    assert [(r.method, r.path.split("/")[3]) for r in google.requests] == [("POST", "loyaltyClass")] * 1 + [
        ("POST", "loyaltyObject")]
    assert google.token_requests and google.token_requests[0]["iss"] == "wallet@passcast-wallet.iam.gserviceaccount.com"
    stored = google.objects[object_id]
    assert stored["loyaltyPoints"]["balance"] == {"int": 0}
    assert stored["accountName"] == "Anna Smith"
    assert stored["barcode"]["value"] == card["barcode_message"]
    assert stored["barcode"]["alternateText"] == card["number"]
    assert len(stored["merchantLocations"]) == 3
    google_class = google.classes[stored["classId"]]
    assert google_class["programName"] == "Demo Coffee Rewards"
    assert google_class["callbackOptions"]["url"].endswith("/google/callbacks")

    # The link's JWT verifies with the service account's public key and names the object.
    url = card["google_save_url"]
    assert url == card["google_wallet"]["save_url"] and url.startswith("https://pay.google.com/gp/v/save/")
    claims = jwt.decode(url.rsplit("/", 1)[1], _public_key(google_account), algorithms=["RS256"], audience="google")
    assert claims["typ"] == "savetowallet" and claims["iss"] == "wallet@passcast-wallet.iam.gserviceaccount.com"
    assert claims["origins"] == ["https://shop.example.com"]
    assert claims["payload"] == {"loyaltyObjects": [{"id": object_id}]}

    # What the Google card's QR holds scans at the counter.
    scan = client.post("/api/v1/cashier/scan", headers=bearer(seeded["cashier_token"]),
                       json={"code": stored["barcode"]["value"]})
    assert scan.status_code == 200 and scan.get_json()["id"] == card["id"]

    # Asking again inserts nothing more.
    before = len(google.requests)
    again = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()
    assert again["google_wallet"]["status"] == "inserted" and len(google.requests) == before


def test_a_change_patches_the_object_and_notifies_balance_changes(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    _earn(client, seeded, card["id"], 40)
    patch = [r for r in google.requests if r.method == "PATCH" and r.resource_id == object_id][-1]
    assert patch.status == 200
    assert patch.body["loyaltyPoints"]["balance"] == {"int": 40}
    assert patch.body["notifyPreference"] == "NOTIFY_ON_UPDATE"
    assert google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 40}
    with app.app_context():
        stored = db.session().get(Card, card["id"])
        assert stored.google_synced_version == stored.version and stored.google_synced_balance == 40
        # A change that is not a balance change patches without asking Google to notify.
        stored.news = "New seasonal menu"
        touch(stored)
        db.session().commit()
    patch = [r for r in google.requests if r.method == "PATCH" and r.resource_id == object_id][-1]
    assert "notifyPreference" not in patch.body
    news = next(m for m in google.objects[object_id]["textModulesData"] if m["id"] == "news")
    assert (news["header"], news["body"]) == ("News", "New seasonal menu")


def test_a_failed_patch_is_retried_by_the_sweeper(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    google.fail_next = [503]
    _earn(client, seeded, card["id"], 25)  # the change itself succeeds whatever Google does
    assert google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 0}
    with app.app_context():
        assert tasks.behind(db.session()) == [card["id"]]
        assert tasks.sweep_google_cards.call_local() == 1
        assert tasks.behind(db.session()) == []
    assert google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 25}


def test_an_object_removed_at_google_is_inserted_again(
        client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    del google.objects[object_id]
    _earn(client, seeded, card["id"], 5)
    assert google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 5}
    assert [r.status for r in google.requests if r.resource_id == object_id][-1] == 404


def test_messages_notify_three_times_a_day_then_go_silent(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    with app.app_context():
        session = db.session()
        stored = session.get(Card, card["id"])
        sent = [messages.send_message(session, stored, f"Offer {n}", "Double points today", campaign_id=n)
                for n in range(1, 6)]
        session.commit()
        assert [(row.message_type, row.status) for row in sent] == [("TEXT_AND_NOTIFY", "sent")] * 3 + [
            ("TEXT", "sent")] * 2
        assert messages.notifying_in_window(session, card["id"]) == 3
    adds = [r for r in google.requests if r.path.endswith("/addMessage")]
    assert [r.body["message"]["messageType"] for r in adds] == ["TEXT_AND_NOTIFY"] * 3 + ["TEXT"] * 2
    assert all(r.status == 200 for r in adds)  # never ran into Google's 429
    assert [m["header"] for m in google.objects[object_id]["messages"]] == [f"Offer {n}" for n in range(1, 6)]


def test_google_quota_exceeded_falls_back_to_a_silent_message(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    google.notified_at[object_id] = [time.time()] * 3  # notifications we do not know about
    with app.app_context():
        session = db.session()
        row = messages.send_message(session, session.get(Card, card["id"]), "Hello", "Welcome back")
        session.commit()
        assert (row.status, row.message_type) == ("sent", "TEXT")
        assert "quota" in (row.reason or "")
    assert [r.status for r in google.requests if r.path.endswith("/addMessage")] == [429, 200]
    google.advance(24 * 3600 + 1)  # the double's window moves on
    with app.app_context():
        session = db.session()
        session.query(GoogleMessage).delete()
        row = messages.send_message(session, session.get(Card, card["id"]), "Hello", "Again")
        assert row.message_type == "TEXT_AND_NOTIFY" and row.status == "sent"


def _callback(keys: dict[str, ec.EllipticCurvePrivateKey], object_id: str, event: str, nonce: str,
              root: str = "root") -> dict[str, Any]:
    now = int(time.time() * 1000)
    message = {"classId": object_id.split(".")[0] + ".x", "objectId": object_id, "expTimeMillis": now + 60_000,
               "eventType": event, "nonce": nonce}
    return sign_callback(message, ISSUER, keys[root], keys["intermediate"], now + 3_600_000)


def test_callbacks_record_saves_and_removals_once(
        app: Flask, client: FlaskClient, seeded: dict[str, Any],
        callback_keys: dict[str, ec.EllipticCurvePrivateKey]) -> None:
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    saved = _callback(callback_keys, object_id, "save", "nonce-1")
    first = client.post("/google/callbacks", json=saved)
    assert first.status_code == 200 and first.get_json() == {"status": "recorded", "card_id": card["id"]}
    replay = client.post("/google/callbacks", json=saved)
    assert replay.status_code == 200 and replay.get_json()["status"] == "duplicate"
    forged = client.post("/google/callbacks", json=_callback(callback_keys, object_id, "del", "nonce-2", "rogue"))
    assert forged.status_code == 400 and forged.content_type == "application/problem+json"
    view = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()["google_wallet"]
    assert (view["saves"], view["removals"], view["saved"]) == (1, 0, True)
    removed = client.post("/google/callbacks", json=_callback(callback_keys, object_id, "del", "nonce-3"))
    assert removed.status_code == 200
    view = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()["google_wallet"]
    assert (view["saves"], view["removals"], view["saved"]) == (1, 1, False)
    with app.app_context():
        assert sorted(e.nonce for e in db.session().scalars(select(GoogleWalletEvent))) == ["nonce-1", "nonce-3"]
    assert client.post("/google/callbacks", data="not json").status_code == 400


def test_program_logo_and_terms_are_served_for_google(
        client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    logo = client.get(f"/google/programs/{seeded['program_id']}/logo.png")
    assert logo.status_code == 200 and logo.data.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(logo.data)).size == (660, 660)  # Google's recommended size, not the 87 px icon
    assert client.get(f"/google/programs/{seeded['program_id']}/logo.png",
                      headers={"If-None-Match": logo.headers["ETag"]}).status_code == 304
    # An uploaded logo: Google's class gets a new logo URL, and that URL serves it at 660 x 660.
    card = _issue(client, seeded)
    class_id = google.objects[card["google_wallet"]["object_id"]]["classId"]
    first_uri = google.classes[class_id]["programLogo"]["sourceUri"]["uri"]
    upload = io.BytesIO()
    Image.new("RGB", (600, 200), (255, 0, 0)).save(upload, "PNG")
    put = client.put(f"/api/v1/programs/{seeded['program_id']}/images/logo", data=upload.getvalue(),
                     headers={**bearer(seeded["api_key"]), "Content-Type": "image/png"})
    assert put.status_code in (200, 204), put.get_json()
    _earn(client, seeded, card["id"], 1)
    uri = google.classes[class_id]["programLogo"]["sourceUri"]["uri"]
    assert uri != first_uri and uri.startswith(f"http://127.0.0.1:8000/google/programs/{seeded['program_id']}/")
    served = Image.open(io.BytesIO(client.get(uri.removeprefix("http://127.0.0.1:8000")).data)).convert("RGB")
    assert served.size == (660, 660) and served.getpixel((330, 330)) == (255, 0, 0)
    terms = client.get(f"/google/programs/{seeded['program_id']}/terms")
    assert terms.status_code == 200 and b"Every 1 EUR spent earns 10 points." in terms.data
    assert b"100 points = one free coffee." in terms.data  # the brand's own text follows the rules
    assert client.get("/google/programs/99999/logo.png").status_code == 404


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("mode", ["dev", "unreachable"])
def test_issuing_never_fails_without_google(mode: str, settings: Settings, google_account: Path,
                                            google: GoogleWalletDouble) -> None:
    from service import create_app, demo

    if mode == "dev":
        changed = dataclasses.replace(settings, google_issuer_id=None, google_callback_root_keys=None)
    else:
        dead = f"http://127.0.0.1:{_closed_port()}"
        changed = dataclasses.replace(settings, google_wallet_api=dead + "/walletobjects/v1",
                                      google_token_uri=dead + "/token", google_timeout_seconds=1.0)
    app = create_app(changed)
    try:
        with app.app_context():
            seeded = demo.seed(db.session(), changed)
        client = app.test_client()
        started = time.monotonic()
        card = _issue(client, seeded, f"{mode.title()} Person")
        assert time.monotonic() - started < 5
        view = card["google_wallet"]
        if mode == "dev":
            assert view["dev"] is True and view["status"] == "dev"
            assert card["google_save_url"].startswith("https://pay.google.com/gp/v/save/")
            assert view["object_id"].startswith(sync.DEV_ISSUER_ID + ".")
            _earn(client, seeded, card["id"], 3)  # changes never call Google in dev mode
            assert client.post("/google/callbacks", json={}).status_code == 503  # no root keys configured
        else:
            assert view["dev"] is False and view["status"] == "pending" and card["google_save_url"] is None
        assert google.requests == []
    finally:
        app.extensions["db_engine"].dispose()
        _empty_tables(changed.database_url)


def test_a_design_change_resends_the_class_once(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    first, second = _issue(client, seeded, "Anna Smith"), _issue(client, seeded, "Boris Ivanov")
    class_id = google.objects[first["google_wallet"]["object_id"]]["classId"]

    def of_the_class(r: Any) -> bool:
        return r.resource_id == class_id or (r.path.endswith("/loyaltyClass") and r.body["id"] == class_id)

    assert [r.method for r in google.requests if of_the_class(r)] == ["POST"]
    with app.app_context():
        session = db.session()
        session.get(Card, first["id"]).program.background_color = "#123456"
        for card_id in (first["id"], second["id"]):
            touch(session.get(Card, card_id))
        session.commit()
    class_calls = [r for r in google.requests if of_the_class(r)]
    assert [(r.method, r.status) for r in class_calls] == [("POST", 200), ("POST", 409), ("PATCH", 200)]
    assert google.classes[class_id]["hexBackgroundColor"] == "#123456"
    # the colour is the class's: Google's LoyaltyObject has no hexBackgroundColor
    assert google.objects[second["google_wallet"]["object_id"]]["classId"] == class_id


def test_bulk_changes_are_patched_after_commit_when_queued(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    with app.app_context():
        session = db.session()
        # what a bulk path does: no ORM objects, so no flush hook sees it
        session.execute(update(Card).where(Card.id == card["id"]).values(version=Card.version + 1, balance=99))
        tasks.queue_sync(session, [card["id"]])
        assert google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 0}
        session.commit()
    assert google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 99}
    with app.app_context():
        assert tasks.behind(db.session()) == []


def test_new_stores_and_design_changes_reach_google_objects_without_the_sweeper(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    """Stores and program edits change every card with bulk UPDATEs (no flush hook); they queue
    the Google patches themselves instead of waiting up to a minute for the sweeper."""
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    key = bearer(seeded["api_key"])
    created = client.post("/api/v1/stores", headers=key, json={
        "name": "Demo Coffee Zuid", "address": "Zuidas 1", "latitude": 52.338, "longitude": 4.872})
    assert created.status_code == 201, created.get_json()
    held = google.objects[object_id]
    assert any(abs(spot["latitude"] - 52.338) < 1e-6 for spot in held.get("merchantLocations", [])), held
    patched = client.patch(f"/api/v1/programs/{seeded['program_id']}", headers=key, json={"name": "Coffee Club"})
    assert patched.status_code == 200, patched.get_json()
    with app.app_context():
        assert tasks.behind(db.session()) == []  # nothing left for the sweeper


def test_two_syncs_of_one_card_never_leave_google_behind(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    """Job A sends version n and Google is slow; the card changes to n+1 and job B runs meanwhile.
    Google must end with n+1, and the database must never claim a version Google does not hold."""
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    with app.app_context():
        session = db.session()
        session.execute(update(Card).where(Card.id == card["id"]).values(version=Card.version + 1, balance=10))
        session.commit()
    gate = threading.Event()
    google.hold = gate

    def sync_in_another_worker() -> None:
        with app.app_context():
            tasks.sync_google_cards.call_local([card["id"]])

    job_a = threading.Thread(target=sync_in_another_worker)
    job_a.start()
    try:
        assert google.held.wait(10), "job A never reached Google"
        _earn(client, seeded, card["id"], 5)  # balance 15; its own sync job runs now, inline
        with app.app_context():
            mid = db.session().get(Card, card["id"])
            # B did not overtake A: nothing claims the newest version yet
            assert mid.google_synced_version is None or mid.google_synced_version < mid.version
    finally:
        gate.set()
        job_a.join(30)
    assert not job_a.is_alive()
    assert google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 15}
    patches = [r.body["loyaltyPoints"]["balance"]["int"] for r in google.requests
               if r.method == "PATCH" and r.resource_id == object_id]
    assert patches[-1] == 15
    with app.app_context():
        stored = db.session().get(Card, card["id"])
        assert (stored.google_synced_version, stored.google_synced_balance) == (stored.version, 15)
        assert stored.google_sync_lease is None
        assert tasks.behind(db.session()) == []


def test_a_sync_lease_left_by_a_dead_worker_runs_out(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    with app.app_context():
        session = db.session()
        held = utcnow() + dt.timedelta(minutes=1)
        session.execute(update(Card).where(Card.id == card["id"])
                        .values(version=Card.version + 1, balance=7, google_sync_lease=held))
        session.commit()
        assert tasks.sweep_google_cards.call_local() == 1  # found behind, but another job holds it
        assert google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 0}
        session.execute(update(Card).where(Card.id == card["id"])
                        .values(google_sync_lease=utcnow() - dt.timedelta(seconds=1)))
        session.commit()
        tasks.sweep_google_cards.call_local()
        assert tasks.behind(db.session()) == []
    assert google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 7}


def _campaign(client: FlaskClient, seeded: dict[str, Any], card_id: int, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": text, "audience": {"card_ids": [card_id]}, "message": text, "send_now": True,
        "holdout_percent": 0})  # the card must get every one (10 % would keep it back from some)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_campaigns_reach_google_objects_at_once_within_the_daily_quota(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    """Each campaign patches the object's News right after its batch commits (no sweeper) and adds a
    message; the 4th campaign of the day to one card is added silently, never refused by Google."""
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    for n in range(1, 5):
        campaign = _campaign(client, seeded, card["id"], f"Offer number {n}")
        news = next(m for m in google.objects[object_id]["textModulesData"] if m["id"] == "news")
        assert news["body"] == f"Offer number {n}"
        with app.app_context():
            assert tasks.behind(db.session()) == []
        report = client.get(f"/api/v1/campaigns/{campaign['id']}/report",
                            headers=bearer(seeded["api_key"])).get_json()
        assert report["status"] == "finished"
        figures = report["platforms"]["google"]
        assert (figures["accepted"], figures["failed"]) == (1, 0)
        assert (figures["notified"], figures["silent"]) == ((1, 0) if n < 4 else (0, 1))
    adds = [r for r in google.requests if r.path.endswith("/addMessage")]
    assert [r.body["message"]["messageType"] for r in adds] == ["TEXT_AND_NOTIFY"] * 3 + ["TEXT"]
    assert all(r.status == 200 for r in adds) and adds[0].body["message"]["header"] == "Demo Coffee"
    # back in stock goes the same way
    headers = bearer(seeded["api_key"])
    assert client.post(f"/api/v1/cards/{card['id']}/subscriptions", headers=headers,
                       json={"sku": "MUG-1", "product_name": "Travel mug"}).status_code == 201
    event = client.post("/api/v1/restock-events", headers=headers, json={"sku": "MUG-1"}).get_json()
    assert event["status"] == "done" and event["report"]["platforms"]["google"]["accepted"] == 1
    news = next(m for m in google.objects[object_id]["textModulesData"] if m["id"] == "news")
    assert news["body"] == "Travel mug is back in stock"
    assert google.objects[object_id]["messages"][-1]["body"] == "Travel mug is back in stock"


def test_callback_odd_input_is_a_problem_never_a_500(
        client: FlaskClient, seeded: dict[str, Any], settings: Settings, google_account: Path,
        callback_keys: dict[str, ec.EllipticCurvePrivateKey], tmp_path: Path) -> None:
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    long_nonce = _callback(callback_keys, object_id, "save", "n" * 201)
    assert client.post("/google/callbacks", json=long_nonce).status_code == 400
    for body in ([], {"protocolVersion": "ECv2SigningOnly", "intermediateSigningKey": "x"}, {"signedMessage": 5}):
        answer = client.post("/google/callbacks", json=body)
        assert answer.status_code == 400 and answer.content_type == "application/problem+json", body
    from service import create_app

    missing = dataclasses.replace(settings, google_callback_root_keys=str(tmp_path / "no-such-keys.json"))
    other = create_app(missing)
    try:
        answer = other.test_client().post("/google/callbacks", json=long_nonce)
        assert answer.status_code == 503 and answer.content_type == "application/problem+json"
    finally:
        other.extensions["db_engine"].dispose()


def test_blank_names_never_fail_a_card_at_google(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    """The API accepts a name of spaces (and terms may be empty); Google refuses blank texts."""
    with app.app_context():
        session = db.session()
        card_program = session.get(Card, _issue(client, seeded)["id"]).program
        card_program.terms, card_program.description = "", " "
        session.commit()
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": "   ", "email": "blank@example.com"}})
    assert response.status_code == 201, response.get_json()
    card = response.get_json()
    assert card["google_wallet"]["status"] == "inserted"
    stored = google.objects[card["google_wallet"]["object_id"]]
    assert stored["accountName"] == card["number"]
    terms = next(m for m in stored["textModulesData"] if m["id"] == "terms")
    # no free text: the rules alone (never blank, as they are written from the program)
    assert terms["header"] == "Terms and conditions" and terms["body"].startswith("Every 1 EUR spent earns 10 points.")


def test_google_messages_of_a_batch_survive_a_lost_job(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    """The batch commits its queued Google messages with it; if the job that sends them is lost
    (the worker died right after the commit), the minute sweeper sends them, once."""
    from service.campaigns import sending
    from service.campaigns import tasks as campaign_tasks
    from service.models import Campaign

    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    created = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Lost", "audience": {"card_ids": [card["id"]]}, "message": "Free refill today"})
    campaign_id = created.get_json()["id"]
    with app.app_context():
        session = db.session()
        session.execute(update(Campaign).where(Campaign.id == campaign_id)
                        .values(status="scheduled", send_at=utcnow()))
        session.commit()
        assert sending.send(session, campaign_id) == 1  # no after_batch: its Google job never ran
        rows = session.scalars(select(GoogleMessage).where(GoogleMessage.campaign_id == campaign_id)).all()
        assert [(row.card_id, row.status) for row in rows] == [(card["id"], "queued")]
    assert "messages" not in google.objects[object_id]
    report = client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=bearer(seeded["api_key"])).get_json()
    assert report["platforms"]["google"]["pending"] == 1
    with app.app_context():
        assert campaign_tasks.run_due(utcnow())["google_messages"] == 0  # too fresh: its job may still come
        assert campaign_tasks.run_due(utcnow() + dt.timedelta(minutes=2))["google_messages"] == 1
        assert campaign_tasks.run_due(utcnow() + dt.timedelta(minutes=2))["google_messages"] == 0
        assert campaign_tasks.google_messages.call_local(campaign_id) == 0  # nothing twice
    assert [m["body"] for m in google.objects[object_id]["messages"]] == ["Free refill today"]
    report = client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=bearer(seeded["api_key"])).get_json()
    figures = report["platforms"]["google"]
    assert (figures["pending"], figures["accepted"], figures["notified"]) == (0, 1, 1)
    # A sender that died after Google took the message but before recording it: the retry's
    # repeated message id is refused by Google (409) and counts as sent; nothing shows twice.
    with app.app_context():
        session = db.session()
        session.execute(update(GoogleMessage).where(GoogleMessage.campaign_id == campaign_id)
                        .values(status="queued", lease_until=utcnow() - dt.timedelta(seconds=1)))
        session.commit()
        assert campaign_tasks.run_due(utcnow() + dt.timedelta(minutes=2))["google_messages"] == 1
        row = session.scalar(select(GoogleMessage).where(GoogleMessage.campaign_id == campaign_id))
        assert row.status == "sent" and "earlier attempt" in (row.reason or "")
    assert [m["body"] for m in google.objects[object_id]["messages"]] == ["Free refill today"]
    assert [r.status for r in google.requests if r.path.endswith("/addMessage")][-1] == 409


def test_a_birthday_greeting_reaches_google_once_even_if_its_sender_died(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    from service.campaigns import birthday
    from service.campaigns import tasks as campaign_tasks

    headers = bearer(seeded["api_key"])
    client.put(f"/api/v1/programs/{seeded['program_id']}/birthday", headers=headers,
               json={"message": "Happy birthday, {name}!"})
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=headers, json={
        "customer": {"name": "Gina Rossi", "email": "gina@example.com", "birthday": "1991-06-15"}})
    card = response.get_json()
    object_id = card["google_wallet"]["object_id"]
    today = dt.datetime(2026, 6, 15, 8, 3, tzinfo=dt.UTC)
    with app.app_context():
        session = db.session()
        assert birthday.run(session, today).cards == 1  # no settings: as if the worker died before sending
        rows = session.scalars(select(GoogleMessage).where(GoogleMessage.card_id == card["id"])).all()
        assert [(row.status, row.body) for row in rows] == [("queued", "Happy birthday, Gina!")]
        assert campaign_tasks.run_due(utcnow() + dt.timedelta(minutes=2))["google_messages"] == 1
        assert birthday.run(session, today, app.config["PASSCAST"]).cards == 0  # once a year
    assert [m["body"] for m in google.objects[object_id]["messages"]] == ["Happy birthday, Gina!"]
    news = next(m for m in google.objects[object_id]["textModulesData"] if m["id"] == "news")
    assert news["body"] == "Happy birthday, Gina!"


def test_the_loopback_google_refuses_what_google_refuses(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], settings: Settings,
        google: GoogleWalletDouble) -> None:
    """Over the socket, as Google's front end answers: unknown names, wrong enum values and
    wrong types are 400 INVALID_ARGUMENT naming the field; a second insert is 409; a patch or
    message to an object that is not there is 404; a patch is a partial resource."""
    from service.google_wallet.client import AlreadyExists, GoogleWalletError, NotFound

    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    wallet = sync.client(settings)
    held = wallet.get_object(object_id)
    with pytest.raises(GoogleWalletError) as refused:
        wallet.insert_object({**held, "id": f"{ISSUER}.another", "hexBackgroundColor": "#112233"})
    assert refused.value.status == 400 and refused.value.message == (
        'Invalid JSON payload received. Unknown name "hexBackgroundColor" at \'resource\': Cannot find field.')
    with pytest.raises(GoogleWalletError) as refused:
        wallet.patch_object(object_id, {"state": "ACTIV"})
    assert refused.value.status == 400 and "'resource.state' (TYPE_ENUM)" in refused.value.message
    with pytest.raises(GoogleWalletError) as refused:
        wallet.patch_object(object_id, {"loyaltyPoints": {"balance": {"int": "lots"}}})
    assert "'resource.loyalty_points.balance.int' (TYPE_INT32)" in refused.value.message
    with pytest.raises(GoogleWalletError) as refused:
        wallet.add_message(object_id, {"header": "Hi", "body": "There", "messageType": "TEXT", "colour": "red"})
    assert "Unknown name \"colour\" at 'add_message_request.message'" in refused.value.message
    with pytest.raises(AlreadyExists):
        wallet.insert_object(held)
    with pytest.raises(NotFound):
        wallet.patch_object(f"{ISSUER}.passcast-card-missing", {"state": "ACTIVE"})
    with pytest.raises(NotFound):
        wallet.add_message(f"{ISSUER}.passcast-card-missing", {"header": "Hi", "body": "There"})
    assert wallet.patch_object(object_id, {"state": "INACTIVE"})["state"] == "INACTIVE"  # a subset is fine
    assert google.objects[object_id]["accountName"] == held["accountName"]


def test_a_russian_customer_reads_google_labels_texts_and_messages_in_russian(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": "Ольга Петрова", "email": "olga@example.com", "language": "ru"}})
    assert response.status_code == 201, response.get_json()
    card = response.get_json()
    assert card["google_wallet"]["status"] == "inserted"
    object_id = card["google_wallet"]["object_id"]
    stored = google.objects[object_id]
    label = stored["loyaltyPoints"]["localizedLabel"]
    assert label["defaultValue"] == {"language": "ru", "value": "Баллы"} and stored["loyaltyPoints"]["label"] == "Баллы"
    assert {"language": "ru", "value": "Баллы"} in label["translatedValues"]
    assert {"language": "en", "value": "Points"} in label["translatedValues"]
    modules = {module["id"]: module for module in stored["textModulesData"]}
    assert {"language": "ru", "value": "Новости"} in modules["news"]["localizedHeader"]["translatedValues"]
    assert modules["news"]["localizedBody"]["defaultValue"] == {"language": "ru", "value": "Пока новостей нет."}
    assert {"language": "ru", "value": "Условия программы"} in modules["terms"]["localizedHeader"]["translatedValues"]
    link = stored["linksModuleData"]["uris"][0]["localizedDescription"]
    assert {"language": "ru", "value": "Условия программы"} in link["translatedValues"]
    # The class is shared by every customer: English by default, Russian for Russian phones.
    google_class = google.classes[stored["classId"]]
    terms = google_class["textModulesData"][0]["localizedHeader"]
    assert terms["defaultValue"]["language"] == "en" and {"language": "ru", "value": "Условия программы"} in terms[
        "translatedValues"]
    with app.app_context():
        session = db.session()
        row = messages.send_message(session, session.get(Card, card["id"]), "Demo Coffee", "Двойные баллы")
        session.commit()
        assert row.status == "sent", row.reason
    sent = [r for r in google.requests if r.path.endswith("/addMessage")][-1].body["message"]
    assert sent["localizedBody"]["translatedValues"] == [{"language": "ru", "value": "Двойные баллы"}]
    assert sent["localizedHeader"]["defaultValue"]["language"] == "ru"
    # An English customer's object speaks English by default, Russian being one translation.
    english = google.objects[_issue(client, seeded, "Emma Jones")["google_wallet"]["object_id"]]
    assert english["loyaltyPoints"]["localizedLabel"]["defaultValue"] == {"language": "en", "value": "Points"}


def test_a_tier_with_its_own_colour_moves_the_card_to_that_tiers_class(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    """Google's LoyaltyObject cannot carry a colour: each tier colour is a class of its own."""
    tiers = client.get(f"/api/v1/programs/{seeded['program_id']}/tiers", headers=bearer(seeded["api_key"]))
    gold = next(tier for tier in tiers.get_json() if tier["name"] == "Gold")
    dressed = client.patch(f"/api/v1/programs/{seeded['program_id']}/tiers/{gold['id']}",
                           headers=bearer(seeded["api_key"]), json={"background_color": "#7c5e10"})
    assert dressed.status_code == 200, dressed.get_json()
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    base_class = google.objects[object_id]["classId"]
    assert google.classes[base_class]["hexBackgroundColor"] == "#3b2417"  # the program's own colour
    _earn(client, seeded, card["id"], 600)  # Gold (500 lifetime points)
    held = google.objects[object_id]
    assert held["classId"] != base_class and held["secondaryLoyaltyPoints"]["balance"] == {"string": "Gold"}
    assert google.classes[held["classId"]]["hexBackgroundColor"] == "#7c5e10"  # the colour Gold was given
    assert google.classes[held["classId"]]["programName"] == google.classes[base_class]["programName"]
    patch = [r for r in google.requests if r.method == "PATCH" and r.resource_id == object_id][-1]
    assert patch.status == 200 and "hexBackgroundColor" not in patch.body


def _rewards_module(stored: dict[str, Any]) -> dict[str, Any] | None:
    return next((module for module in stored.get("textModulesData", []) if module.get("id") == "rewards"), None)


def test_rewards_and_coupons_a_card_holds_show_on_googles_object_until_redeemed(
        client: FlaskClient, seeded: dict[str, Any], google: GoogleWalletDouble) -> None:
    """Through the double, which refuses any body its discovery document does not allow: the
    rewards the till can redeem are a text module of the LoyaltyObject (no OfferObject), changed
    by each grant, purchase and redemption."""
    key, cashier = bearer(seeded["api_key"]), bearer(seeded["cashier_token"])
    card = _issue(client, seeded)
    object_id = card["google_wallet"]["object_id"]
    assert _rewards_module(google.objects[object_id]) is None
    coupon = client.post(f"/api/v1/cards/{card['id']}/coupons", headers={**key, "Idempotency-Key": "c-1"},
                         json={"name": "Birthday cake", "expires_at": "2099-12-12T10:00:00Z"})
    assert coupon.status_code == 201, coupon.get_json()
    coffee = client.post(f"/api/v1/programs/{seeded['program_id']}/rewards", headers=key,
                         json={"name": "Free coffee", "cost_points": 30})
    assert coffee.status_code == 201, coffee.get_json()
    _earn(client, seeded, card["id"], 40)
    bought = client.post(f"/api/v1/cards/{card['id']}/rewards", headers={**cashier, "Idempotency-Key": "b-1"},
                         json={"reward_id": coffee.get_json()["id"]})
    assert bought.status_code == 201, bought.get_json()

    patches = [r for r in google.requests if r.method == "PATCH" and r.resource_id == object_id]
    assert patches and all(r.status == 200 for r in patches), "every patch passed the discovery document"
    stored = google.objects[object_id]
    module = _rewards_module(stored)
    assert module is not None and module["header"] == "Your rewards (valid until)"
    assert module["body"].splitlines() == ["Birthday cake \N{EM DASH} 2099-12-12", "Free coffee"]
    assert stored["loyaltyPoints"]["balance"] == {"int": 10}
    assert not [r for r in google.requests if "offer" in r.path.lower()], "no Google offer objects"

    held = {one["name"]: one["id"] for one in client.get(f"/api/v1/cards/{card['id']}/rewards", headers=key).get_json()}
    for name, left in (("Birthday cake", ["Free coffee"]), ("Free coffee", None)):
        redeemed = client.post(f"/api/v1/cards/{card['id']}/rewards/{held[name]}/redeem", json={},
                               headers={**cashier, "Idempotency-Key": f"r-{name}"})
        assert redeemed.status_code == 201, redeemed.get_json()
        module = _rewards_module(google.objects[object_id])
        assert (module["body"].splitlines() if module else None) == left
    assert all(r.status == 200 for r in google.requests if r.resource_id == object_id)
