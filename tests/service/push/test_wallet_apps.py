"""Android wallet apps with their own relays (issue 13): WalletUnion (FCM and HMS phones),
Pass2U and Passworks register with our PassKit web service; each one's pushes go to its own
relay, never through our FCM project, and a token nothing reaches is marked, not retried."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import PushDelivery, Registration
from service.platform import db
from service.platform.config import Settings
from service.push import delivery as push_delivery
from tests.doubles.fcm import FcmDouble
from tests.doubles.relay import RelayDouble
from tests.helpers import bearer
from tests.service.apple.test_passkit import Phone, change_card, issue_and_install, wait_for
from tests.service.campaigns.campaign_helpers import PASS_TYPE, issue
from tests.service.push.test_android_push import fcm, fcm_account  # noqa: F401 (fixtures)

UNION_TOKEN = "walletunion-fcm-token-0001"
UNION_HMS_TOKEN = "walletunion-hms-token-0002"
PASS2U_TOKEN = "APA91bPass2U-registration-id-0003"
PASSWORKS_TOKEN = "APA91bPassworks-registration-id-0004"


@pytest.fixture
def walletunion() -> Iterator[RelayDouble]:
    with RelayDouble(api_key="union-secret", app="walletunion") as double:
        yield double


@pytest.fixture
def pass2u() -> Iterator[RelayDouble]:
    with RelayDouble(api_key="pass2u-secret", app="pass2u") as double:
        yield double


@pytest.fixture
def settings(settings: Settings, fcm: FcmDouble, fcm_account: Path,  # noqa: F811
             walletunion: RelayDouble, pass2u: RelayDouble) -> Settings:
    """FCM, WalletUnion's and Pass2U's relays configured; Passworks' left unconfigured."""
    return dataclasses.replace(
        settings, fcm_endpoint=fcm.url, google_token_uri=fcm.token_uri, fcm_service_account_file=str(fcm_account),
        walletunion_push_url=walletunion.url, walletunion_api_key="union-secret",
        pass2u_push_url=pass2u.url, pass2u_api_key="pass2u-secret")


def _phone(http: httpx.Client, phone: Phone, device: str) -> Phone:
    pass_json = {"webServiceURL": phone.base[:-3], "passTypeIdentifier": phone.type_id, "serialNumber": phone.serial,
                 "authenticationToken": phone.auth["Authorization"].split()[1]}
    return Phone(http, pass_json, device)


def _auth(phone: Phone, scheme: str, pass_client: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"{scheme} {phone.auth['Authorization'].split()[1]}"}
    if pass_client is not None:
        headers["X-Pass-Client"] = pass_client
    return headers


def _rows(live: dict[str, Any], model: Any) -> list[Any]:
    with live["app"].app_context():
        session = db.session()
        rows = session.scalars(select(model).order_by(model.id)).all()
        session.expunge_all()
        return list(rows)


@pytest.mark.parametrize(("scheme", "pass_client", "route"), [
    ("ApplePass", None, ("apple", None)),
    ("applepass", None, ("apple", None)),
    ("APPLEPASS", None, ("apple", None)),
    ("AndroidPass", None, ("relay", "walletpasses")),
    ("androidpass", None, ("relay", "walletpasses")),
    ("WalletUnionPass", None, ("relay", "walletunion")),
    ("walletunionpass", None, ("relay", "walletunion")),
    ("WalletUnionHMSPass", None, ("relay", "walletunion-hms")),
    ("WALLETUNIONHMSPASS", None, ("relay", "walletunion-hms")),
    ("ApplePass", "Passes", ("relay", "pass2u")),
    ("applepass", "passworks", ("relay", "passworks")),
])
def test_each_scheme_in_any_case_registers_its_route(live: dict[str, Any], tmp_path: Path, scheme: str,
                                                     pass_client: str | None, route: tuple[str, str | None]) -> None:
    token = "c3" * 32 if route[0] == "apple" else "android-token-for-" + scheme
    with httpx.Client(timeout=20) as http:
        _, phone = issue_and_install(http, live, tmp_path)
        assert phone.register(token, auth=_auth(phone, scheme, pass_client)).status_code == 201
        assert phone.register(token, auth=_auth(phone, scheme, pass_client)).status_code == 200
        assert phone.fetch().status_code == 200  # the latest-pass call takes the scheme too
        # ... and a wrong token under the same scheme is still a 401
        assert phone.register(token, auth={"Authorization": f"{scheme} wrong-token"}).status_code == 401
    [registration] = _rows(live, Registration)
    assert (registration.client_kind, registration.client_app) == route


def test_unknown_scheme_is_refused(live: dict[str, Any], tmp_path: Path) -> None:
    with httpx.Client(timeout=20) as http:
        _, phone = issue_and_install(http, live, tmp_path)
        assert phone.register("t" * 20, auth=_auth(phone, "Bearer")).status_code == 401
        assert phone.register("t" * 20, auth=_auth(phone, "ApplePassX")).status_code == 401


def test_walletunion_phones_are_pushed_through_walletunion_with_the_hms_flag(
        live: dict[str, Any], walletunion: RelayDouble, fcm: FcmDouble, tmp_path: Path) -> None:  # noqa: F811
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        google, huawei = _phone(http, phone, "union-google"), _phone(http, phone, "union-huawei")
        assert google.register(UNION_TOKEN, auth=_auth(phone, "WalletUnionPass")).status_code == 201
        assert huawei.register(UNION_HMS_TOKEN, auth=_auth(phone, "WalletUnionHMSPass")).status_code == 201
        change_card(http, live, card, 10)
        requests = wait_for(lambda: len(walletunion.requests) >= 2 and walletunion.requests)
    bodies = sorted((r.json for r in requests), key=lambda body: body["hms"])
    assert bodies == [{"passTypeIdentifier": phone.type_id, "pushTokens": [UNION_TOKEN], "hms": False},
                      {"passTypeIdentifier": phone.type_id, "pushTokens": [UNION_HMS_TOKEN], "hms": True}]
    assert all(r.headers.get("authorization") == "union-secret" and r.status == 200 for r in requests)
    assert fcm.messages == []
    deliveries = wait_for(lambda: all(d.status == "accepted" for d in _rows(live, PushDelivery))
                          and _rows(live, PushDelivery))
    assert sorted(d.client_app for d in deliveries) == ["walletunion", "walletunion-hms"]


def test_pass2u_token_goes_to_pass2u_never_through_our_fcm(
        live: dict[str, Any], pass2u: RelayDouble, fcm: FcmDouble, tmp_path: Path) -> None:  # noqa: F811
    fcm.foreign_token(PASS2U_TOKEN, project="pass2u-wallet")
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        assert phone.register(PASS2U_TOKEN, auth=_auth(phone, "ApplePass", "Passes")).status_code == 201
        change_card(http, live, card, 10)
        [request] = wait_for(lambda: pass2u.requests)
    assert request.path == f"/v2/registrations/{phone.type_id}/push"
    assert request.headers.get("x-api-key") == "pass2u-secret"
    assert request.json == {"registrationIds": [PASS2U_TOKEN]}
    assert fcm.messages == []
    [delivery] = wait_for(lambda: [d for d in _rows(live, PushDelivery) if d.status == "accepted"])
    assert (delivery.client_kind, delivery.client_app) == ("relay", "pass2u")


def test_sender_id_mismatch_marks_the_token_unreachable_and_it_is_not_pushed_again(
        live: dict[str, Any], fcm: FcmDouble, tmp_path: Path) -> None:  # noqa: F811
    """A Pass2U phone registered before X-Pass-Client was read (or an app we do not know):
    FCM answers 403 SENDER_ID_MISMATCH once; the token is marked and never sent again."""
    token = fcm.foreign_token("APA91bForeign-project-token-0005", project="someone-elses-firebase")
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        assert phone.register(token).status_code == 201  # ApplePass, no X-Pass-Client, not hex: FCM
        change_card(http, live, card, 10)
        [message] = wait_for(lambda: fcm.messages)
        assert (message.token, message.status) == (token, 403)
        [delivery] = wait_for(lambda: [d for d in _rows(live, PushDelivery) if d.status == "unreachable"])
        assert (delivery.reason, delivery.attempts) == ("SENDER_ID_MISMATCH", 1)
        [registration] = _rows(live, Registration)
        assert (registration.active, registration.dead_reason) == (False, "unreachable: SENDER_ID_MISMATCH")
        devices = http.get(f"{live['base']}/api/v1/cards/{card['id']}/devices", headers=bearer(live["api_key"])).json()
        [shown] = devices["registrations"]
        assert (shown["active"], shown["dead_reason"]) == (False, "unreachable: SENDER_ID_MISMATCH")
        assert [(d["status"], d["reason"]) for d in shown["deliveries"]] == [("unreachable", "SENDER_ID_MISMATCH")]
        change_card(http, live, card, 5)
        # The phone registering again (a new token, the right app) would clear the mark.
    assert len(fcm.messages) == 1
    assert len(_rows(live, PushDelivery)) == 1


def test_unconfigured_relay_marks_the_token_unreachable_without_sending_it(
        live: dict[str, Any], fcm: FcmDouble, tmp_path: Path) -> None:  # noqa: F811
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        assert phone.register(PASSWORKS_TOKEN, auth=_auth(phone, "ApplePass", "Passworks")).status_code == 201
        change_card(http, live, card, 10)
        [delivery] = wait_for(lambda: [d for d in _rows(live, PushDelivery) if d.status == "unreachable"])
        devices = http.get(f"{live['base']}/api/v1/cards/{card['id']}/devices", headers=bearer(live["api_key"])).json()
    assert (delivery.client_app, delivery.reason, delivery.attempts) == (
        "passworks", "PASSWORKS_PUSH_URL is not configured", 1)
    [shown] = devices["registrations"]
    # Still active: once PASSWORKS_PUSH_URL is set, the card's next change reaches the phone.
    assert (shown["active"], shown["dead_reason"]) == (True, "unreachable: PASSWORKS_PUSH_URL is not configured")
    assert fcm.messages == []


def test_relay_unknown_token_is_unreachable_and_expired_token_is_removed(
        live: dict[str, Any], walletunion: RelayDouble, tmp_path: Path) -> None:
    walletunion.unknown_tokens = {UNION_TOKEN}
    walletunion.expired_tokens = {"walletunion-expired-token"}
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        unknown, expired = _phone(http, phone, "union-unknown"), _phone(http, phone, "union-expired")
        assert unknown.register(UNION_TOKEN, auth=_auth(phone, "WalletUnionPass")).status_code == 201
        assert expired.register("walletunion-expired-token", auth=_auth(phone, "walletunionpass")).status_code == 201
        change_card(http, live, card, 10)
        wait_for(lambda: {d.status for d in _rows(live, PushDelivery)} == {"unreachable", "unregistered"})
    [registration] = _rows(live, Registration)  # the expired one is gone
    assert (registration.push_token, registration.active, registration.dead_reason) == (
        UNION_TOKEN, False, "unreachable: unknown_push_tokens")


def test_transient_relay_errors_are_retried_a_bounded_number_of_times(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], settings: Settings, walletunion: RelayDouble) -> None:
    """503 from the relay: retried with back-off, given up after MAX_ATTEMPTS (never forever)."""
    walletunion.respond_with(503, {"status": "ERROR"}, {"Retry-After": "1"})
    card = issue(client, seeded, "Nina Berg")
    with app.app_context():
        session = db.session()
        registration = Registration(device_library_identifier="union-1", card_id=card["id"],
                                    pass_type_identifier=PASS_TYPE, push_token=UNION_TOKEN, client_kind="relay",
                                    client_app="walletunion")
        session.add(registration)
        session.flush()
        row = PushDelivery(card_id=card["id"], card_version=2, registration_id=registration.id, push_token=UNION_TOKEN,
                           client_kind="relay", client_app="walletunion", topic=PASS_TYPE)
        session.add(row)  # not through the outbox: this test drives each attempt itself
        session.commit()
        delivery_id = row.id
    factory = app.extensions["db_sessionmaker"]
    delays: list[float] = []
    for _ in range(push_delivery.MAX_ATTEMPTS + 2):
        push_delivery.deliver(factory, settings, [delivery_id], lambda ids, delay: delays.append(delay))
    assert len(walletunion.requests) == push_delivery.MAX_ATTEMPTS
    assert len(delays) == push_delivery.MAX_ATTEMPTS - 1 and all(delay >= 1 for delay in delays)
    with app.app_context():
        stored = db.session().get(PushDelivery, delivery_id)
        assert stored is not None and stored.status == "failed"
        assert (stored.reason or "").startswith(f"gave up after {push_delivery.MAX_ATTEMPTS} attempts")


def test_campaign_report_counts_unreachable_phones_with_their_reason(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], fcm: FcmDouble) -> None:  # noqa: F811
    card = issue(client, seeded, "Olga Orlova")
    with app.app_context():
        session = db.session()
        session.add(Registration(device_library_identifier="passworks-1", card_id=card["id"],
                                 pass_type_identifier=PASS_TYPE, push_token=PASSWORKS_TOKEN, client_kind="relay",
                                 client_app="passworks"))
        session.commit()
    response = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Weekend", "message": "Double points this weekend", "send_now": True, "audience": {"all_cards": True}})
    assert response.status_code == 201, response.get_json()
    report = client.get(f"/api/v1/campaigns/{response.get_json()['id']}/report",
                        headers=bearer(seeded["api_key"])).get_json()
    relay = report["platforms"]["relay"]
    assert (relay["pushes"], relay["accepted"], relay["failed"], relay["pending"]) == (1, 0, 1, 0)
    assert relay["failure_reasons"] == {"PASSWORKS_PUSH_URL is not configured": 1}
    assert fcm.messages == []
