"""Android wallet apps speak the PassKit web service too; their pushes go elsewhere:
`AndroidPass` registrations through the WalletPasses relay, FCM tokens through FCM HTTP v1."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from service.models import PushDelivery, Registration
from service.platform import db
from service.platform.config import Settings
from tests.doubles.apns import ApnsDouble
from tests.doubles.fcm import FcmDouble, make_service_account
from tests.doubles.relay import RelayDouble
from tests.helpers import bearer
from tests.service.apple.test_passkit import TOKEN_A, Phone, change_card, issue_and_install, wait_for

FCM_TOKEN = "cX1y:APA91bHqL9-example_fcm_registration_token_0123456789"
RELAY_TOKEN = "walletpasses-device-token-42"


@pytest.fixture
def fcm_account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_service_account(tmp_path_factory.mktemp("fcm"))


@pytest.fixture
def fcm(fcm_account: Path) -> Iterator[FcmDouble]:
    with FcmDouble(fcm_account) as double:
        yield double


@pytest.fixture
def relay() -> Iterator[RelayDouble]:
    with RelayDouble(api_key="relay-secret") as double:
        yield double


@pytest.fixture
def settings(settings: Settings, fcm: FcmDouble, fcm_account: Path, relay: RelayDouble) -> Settings:
    return dataclasses.replace(
        settings, fcm_endpoint=fcm.url, google_token_uri=fcm.token_uri,
        fcm_service_account_file=str(fcm_account), walletpasses_push_url=relay.url,
        walletpasses_api_key="relay-secret")


def test_androidpass_registration_is_pushed_through_the_relay(live: dict[str, Any], relay: RelayDouble,
                                                               tmp_path: Path) -> None:
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        token = phone.auth["Authorization"].split(" ", 1)[1]
        assert phone.register(RELAY_TOKEN, auth={"Authorization": f"AndroidPass {token}"}).status_code == 201
        change_card(http, live, card, 10)
        [request] = wait_for(lambda: relay.requests)
        assert request.json == {"passTypeIdentifier": phone.type_id, "pushTokens": [RELAY_TOKEN]}
        assert request.headers.get("authorization") == "relay-secret"
        # The Android app then fetches the pass exactly as iOS does.
        listed = phone.updatable()
        assert listed.json()["serialNumbers"] == [card["serial_number"]]
    with live["app"].app_context():
        [delivery] = db.session().scalars(select(PushDelivery)).all()
        assert (delivery.client_kind, delivery.status) == ("relay", "accepted")


def test_fcm_token_is_pushed_through_fcm(live: dict[str, Any], fcm: FcmDouble, tmp_path: Path) -> None:
    fcm.set_answer(FCM_TOKEN, "ok")
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        assert phone.register(FCM_TOKEN).status_code == 201
        change_card(http, live, card, 10)
        [message] = wait_for(lambda: fcm.messages)
        assert message.token == FCM_TOKEN
        assert message.authorization.startswith("Bearer ")
    with live["app"].app_context():
        [registration] = db.session().scalars(select(Registration)).all()
        assert registration.client_kind == "fcm"
        [delivery] = db.session().scalars(select(PushDelivery)).all()
        assert delivery.status == "accepted"


def test_fcm_unregistered_removes_the_registration(live: dict[str, Any], fcm: FcmDouble, tmp_path: Path) -> None:
    fcm.set_answer(FCM_TOKEN, "unregistered")
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        phone.register(FCM_TOKEN)
        change_card(http, live, card, 10)
        wait_for(lambda: fcm.messages)
    with live["app"].app_context():
        assert db.session().scalars(select(Registration)).all() == []
        [delivery] = db.session().scalars(select(PushDelivery)).all()
        assert delivery.status == "unregistered"


def test_devices_show_each_registrations_kind_and_its_pushes(
        live: dict[str, Any], apns: ApnsDouble, fcm: FcmDouble, relay: RelayDouble, tmp_path: Path) -> None:
    fcm.set_answer(FCM_TOKEN, "ok")
    with httpx.Client(timeout=20) as http:
        card, iphone = issue_and_install(http, live, tmp_path, device="iphone")
        pass_json = {"webServiceURL": iphone.base[:-3], "passTypeIdentifier": iphone.type_id,
                     "serialNumber": iphone.serial, "authenticationToken": iphone.auth["Authorization"].split()[1]}
        walletpasses, fcm_app = Phone(http, pass_json, "walletpasses"), Phone(http, pass_json, "fcm-app")
        assert iphone.register(TOKEN_A).status_code == 201
        android_auth = {"Authorization": f"AndroidPass {pass_json['authenticationToken']}"}
        assert walletpasses.register(RELAY_TOKEN, auth=android_auth).status_code == 201
        assert fcm_app.register(FCM_TOKEN).status_code == 201
        # AndroidPass with a wrong token is refused like ApplePass would be
        assert walletpasses.register(RELAY_TOKEN, auth={"Authorization": "AndroidPass wrong"}).status_code == 401
        change_card(http, live, card, 10)
        wait_for(lambda: relay.requests and fcm.messages and apns.requests)

        def settled() -> dict[str, Any] | None:
            answer = http.get(f"{live['base']}/api/v1/cards/{card['id']}/devices",
                              headers=bearer(live["api_key"])).json()
            done = all(r["deliveries"] and r["deliveries"][0]["status"] == "accepted"
                       for r in answer["registrations"])
            return answer if done else None

        devices = wait_for(settled)
    kinds = {r["device_library_identifier"]: r["client_kind"] for r in devices["registrations"]}
    assert kinds == {"iphone": "apple", "walletpasses": "relay", "fcm-app": "fcm"}
    for registration in devices["registrations"]:
        [delivery] = registration["deliveries"]
        assert delivery["client_kind"] == registration["client_kind"]
        assert delivery["card_version"] > 1
    assert [request.json["pushTokens"] for request in relay.requests] == [[RELAY_TOKEN]]
    assert [message.token for message in fcm.messages] == [FCM_TOKEN]
