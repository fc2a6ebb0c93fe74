"""Apple's PassKit web service, driven over real HTTP exactly as a phone drives it,
with pushes arriving at the loopback APNs (HTTP/2 + TLS, client-certificate auth)."""

from __future__ import annotations

import datetime as dt
import json
import time
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from passes.package import read_pkpass
from service import db, updates
from service.models import DeviceLog, PushDelivery, Registration
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer, openssl_verify, verified_pass

TOKEN_A = "a1" * 32
TOKEN_B = "b2" * 32


class Phone:
    """What iOS Wallet does, as HTTP calls against webServiceURL."""

    def __init__(self, http: httpx.Client, pass_json: dict[str, Any], device: str = "device-1") -> None:
        self.http, self.device = http, device
        self.base = pass_json["webServiceURL"] + "/v1"
        self.type_id, self.serial = pass_json["passTypeIdentifier"], pass_json["serialNumber"]
        self.auth = {"Authorization": f"ApplePass {pass_json['authenticationToken']}"}

    def register(self, push_token: str, auth: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(f"{self.base}/devices/{self.device}/registrations/{self.type_id}/{self.serial}",
                              json={"pushToken": push_token}, headers=self.auth if auth is None else auth)

    def updatable(self, tag: str | None = None) -> httpx.Response:
        params = {"passesUpdatedSince": tag} if tag is not None else {}
        return self.http.get(f"{self.base}/devices/{self.device}/registrations/{self.type_id}", params=params)

    def fetch(self, if_modified_since: str | None = None, method: str = "GET") -> httpx.Response:
        headers = dict(self.auth)
        if if_modified_since:
            headers["If-Modified-Since"] = if_modified_since
        return self.http.request(method, f"{self.base}/passes/{self.type_id}/{self.serial}", headers=headers)

    def unregister(self) -> httpx.Response:
        return self.http.delete(f"{self.base}/devices/{self.device}/registrations/{self.type_id}/{self.serial}",
                                headers=self.auth)


def issue_and_install(http: httpx.Client, live: dict[str, Any], tmp_path: Path,
                      device: str = "device-1") -> tuple[dict[str, Any], Phone]:
    card = http.post(f"{live['base']}/api/v1/programs/{live['program_id']}/cards",
                     json={"customer": {"name": "Nina Berg"}}, headers=bearer(live["api_key"])).json()
    download = http.get(card["apple_pass_url"])
    assert download.headers["content-type"] == "application/vnd.apple.pkpass"
    pass_json, _ = verified_pass(download.content, live["dev_ca_file"], tmp_path / "installed")
    return card, Phone(http, pass_json, device)


def change_card(http: httpx.Client, live: dict[str, Any], card: dict[str, Any], points: int) -> None:
    """A visible change made through the brand API (the transaction path, when present)."""
    response = http.post(f"{live['base']}/api/v1/cards/{card['id']}/transactions",
                         json={"type": "earn", "points": points},
                         headers={**bearer(live["api_key"]), "Idempotency-Key": f"k-{time.time_ns()}"})
    assert response.status_code == 201, response.text


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_phone_lifecycle_end_to_end(live: dict[str, Any], apns: ApnsDouble, tmp_path: Path) -> None:
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        assert phone.register(TOKEN_A).status_code == 201
        assert phone.register(TOKEN_A).status_code == 200

        first = phone.updatable()
        assert first.status_code == 200
        assert first.json()["serialNumbers"] == [card["serial_number"]]
        tag = first.json()["lastUpdated"]
        assert phone.updatable(tag).status_code == 204

        original = phone.fetch()
        assert original.status_code == 200
        assert original.headers["content-type"] == "application/vnd.apple.pkpass"
        original_modified = parsedate_to_datetime(original.headers["Last-Modified"])

        change_card(http, live, card, 25)
        push = wait_for(lambda: [r for r in apns.requests if r.token == TOKEN_A])[0]
        assert push.method == "POST" and push.path == f"/3/device/{TOKEN_A}"
        assert push.topic == phone.type_id
        assert push.body == b"{}"
        assert push.auth == "certificate" and push.status == 200

        listed = phone.updatable(tag)
        assert listed.status_code == 200
        assert listed.json()["serialNumbers"] == [card["serial_number"]]
        new_tag = listed.json()["lastUpdated"]
        assert phone.updatable(new_tag).status_code == 204  # nothing unchanged listed again

        fresh = phone.fetch(if_modified_since=original.headers["Last-Modified"])
        assert fresh.status_code == 200
        assert parsedate_to_datetime(fresh.headers["Last-Modified"]) > original_modified
        updated_json, _ = verified_pass(fresh.content, live["dev_ca_file"], tmp_path / "updated")
        assert updated_json["storeCard"]["headerFields"][0]["value"] == 25
        # Pitfall 10: an update never changes the serial number or the authentication token.
        assert updated_json["serialNumber"] == phone.serial
        assert f"ApplePass {updated_json['authenticationToken']}" == phone.auth["Authorization"]

        again = phone.fetch(if_modified_since=fresh.headers["Last-Modified"])
        assert again.status_code == 304
        assert again.headers["Last-Modified"] == fresh.headers["Last-Modified"]
        assert phone.fetch(method="HEAD").status_code == 200

        devices = http.get(f"{live['base']}/api/v1/cards/{card['id']}/devices", headers=bearer(live["api_key"])).json()
        [registration] = devices["registrations"]
        assert [d["status"] for d in registration["deliveries"]] == ["confirmed"]

        assert phone.unregister().status_code == 200
        assert phone.updatable().status_code == 204
        log = http.post(f"{live['base']}/passkit/v1/log",
                        json={"logs": [f"[2026-11-23] Failed to fetch pass {phone.serial}: test"]})
        assert log.status_code == 200
        found = http.get(f"{live['base']}/api/v1/cards/{card['id']}/logs", params={"q": "Failed to fetch"},
                         headers=bearer(live["api_key"])).json()
        assert [entry["message"] for entry in found] == [f"[2026-11-23] Failed to fetch pass {phone.serial}: test"]
        assert http.get(f"{live['base']}/api/v1/cards/{card['id']}/logs", params={"q": "nothing like it"},
                        headers=bearer(live["api_key"])).json() == []
    with live["app"].app_context():
        logs = db.session().scalars(select(DeviceLog)).all()
        assert [entry.card_id for entry in logs] == [card["id"]]


def test_wrong_token_and_unknown_serial_are_both_401(live: dict[str, Any], tmp_path: Path) -> None:
    with httpx.Client(timeout=20) as http:
        _, phone = issue_and_install(http, live, tmp_path)
        wrong = {"Authorization": "ApplePass " + "z" * 32}
        assert phone.register(TOKEN_A, auth=wrong).status_code == 401
        assert phone.register(TOKEN_A, auth={}).status_code == 401
        phone.auth = wrong
        assert phone.fetch().status_code == 401
        assert phone.unregister().status_code == 401
        stranger = Phone(http, {"webServiceURL": phone.base[:-3], "passTypeIdentifier": phone.type_id,
                                "serialNumber": "no-such-serial", "authenticationToken": "z" * 32})
        assert stranger.fetch().status_code == 401
        assert stranger.register(TOKEN_A).status_code == 401


def test_register_without_push_token_is_400(live: dict[str, Any], tmp_path: Path) -> None:
    with httpx.Client(timeout=20) as http:
        _, phone = issue_and_install(http, live, tmp_path)
        url = f"{phone.base}/devices/{phone.device}/registrations/{phone.type_id}/{phone.serial}"
        assert http.post(url, content=b"not json", headers=phone.auth).status_code == 400


@pytest.mark.parametrize("tag", ["garbage", "", "2.", "2.abc", "9" * 40, "2.1.x-y", "-1", "1732350000"])
def test_unparseable_tag_means_since_the_beginning(live: dict[str, Any], tmp_path: Path, tag: str) -> None:
    """Pitfall 6: never a 400 or a 500 for a tag we cannot read."""
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        phone.register(TOKEN_A)
        response = phone.updatable(tag)
        assert response.status_code == 200
        assert response.json()["serialNumbers"] == [card["serial_number"]]


def test_unknown_device_gets_204(live: dict[str, Any]) -> None:
    with httpx.Client(timeout=20) as http:
        url = f"{live['base']}/passkit/v1/devices/nobody/registrations/pass.dev.passcast.loyalty"
        assert http.get(url).status_code == 204


def test_reregistration_replaces_a_stale_push_token(live: dict[str, Any], apns: ApnsDouble, tmp_path: Path) -> None:
    """Pitfall 9: the new token is pushed, the old one never again."""
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        assert phone.register(TOKEN_A).status_code == 201
        assert phone.register(TOKEN_B).status_code == 200
        change_card(http, live, card, 5)
        wait_for(lambda: [r for r in apns.requests if r.token == TOKEN_B])
        assert [r.token for r in apns.requests] == [TOKEN_B]


def test_410_removes_the_registration(live: dict[str, Any], apns: ApnsDouble, tmp_path: Path) -> None:
    """Pitfall 9: APNs says the token is gone; so is the registration, and no more pushes."""
    apns.set_answer(TOKEN_A, "unregistered")
    apns.set_answer(TOKEN_B, "bad_token")
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        phone.register(TOKEN_A)
        other = Phone(http, {"webServiceURL": phone.base[:-3], "passTypeIdentifier": phone.type_id,
                             "serialNumber": phone.serial,
                             "authenticationToken": phone.auth["Authorization"].split(" ", 1)[1]}, "device-2")
        other.register(TOKEN_B)
        change_card(http, live, card, 5)
        wait_for(lambda: len(apns.requests) == 2)
        with live["app"].app_context():
            session = db.session()
            registrations = session.scalars(select(Registration)).all()
            assert [(r.push_token, r.active, r.dead_reason) for r in registrations] == [
                (TOKEN_B, False, "BadDeviceToken")]
            outcomes = {d.push_token: (d.status, d.reason) for d in session.scalars(select(PushDelivery))}
            assert outcomes == {TOKEN_A: ("unregistered", "Unregistered"), TOKEN_B: ("failed", "BadDeviceToken")}
        change_card(http, live, card, 5)
        time.sleep(0.3)
        assert len(apns.requests) == 2


def test_429_is_retried_later(live: dict[str, Any], apns: ApnsDouble, tmp_path: Path) -> None:
    apns.set_answer(TOKEN_A, "too_many")
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        phone.register(TOKEN_A)
        change_card(http, live, card, 5)
        wait_for(lambda: apns.requests)
    with live["app"].app_context():
        [delivery] = db.session().scalars(select(PushDelivery)).all()
        assert delivery.status == "retry" and delivery.next_attempt_at is not None
        assert delivery.next_attempt_at > delivery.sent_at


def test_pass_fetch_honours_if_modified_since_exactly(live: dict[str, Any], tmp_path: Path) -> None:
    """Pitfall 5: Last-Modified always, 304 when the phone's copy is not older."""
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        first = phone.fetch()
        modified = parsedate_to_datetime(first.headers["Last-Modified"])
        assert phone.fetch(if_modified_since=first.headers["Last-Modified"]).status_code == 304
        later = format_datetime(modified + dt.timedelta(hours=1), usegmt=True)
        assert phone.fetch(if_modified_since=later).status_code == 304
        earlier = format_datetime(modified - dt.timedelta(seconds=1), usegmt=True)
        assert phone.fetch(if_modified_since=earlier).status_code == 200
        assert phone.fetch(if_modified_since="not a date").status_code == 200
        # Two changes inside one second still give two different Last-Modified values.
        change_card(http, live, card, 1)
        one = phone.fetch().headers["Last-Modified"]
        change_card(http, live, card, 1)
        two = phone.fetch(if_modified_since=one)
        assert two.status_code == 200 and two.headers["Last-Modified"] != one
        assert json.loads(read_pkpass(two.content)["pass.json"])["storeCard"]["headerFields"][0]["value"] == 2


def test_tag_never_drops_a_late_commit_nor_repeats() -> None:
    """Pitfall 6 at the unit level: a card stamped before the tag but committed after it
    is still reported; a card already reported is not reported again."""
    now = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.UTC)
    seen = (1, 3, now - dt.timedelta(seconds=2))
    tag = updates.next_tag(updates.Since(), [seen], now=now)
    since = updates.parse_tag(tag)
    assert (1, 3) in since.reported
    late_commit = now - dt.timedelta(seconds=5)  # stamped earlier, visible only now
    assert late_commit > since.watermark
    assert seen[2] > since.watermark and (seen[0], seen[1]) in since.reported
    later = updates.next_tag(since, [seen, (2, 7, late_commit)], now=now + dt.timedelta(minutes=5))
    assert updates.parse_tag(later).watermark > late_commit


def test_personalize_signs_the_token_and_updates_the_pass(live: dict[str, Any], tmp_path: Path) -> None:
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        before = phone.fetch()
        response = http.post(f"{phone.base}/passes/{phone.type_id}/{phone.serial}/personalize", json={
            "personalizationToken": "token-from-wallet-123",
            "requiredPersonalizationInfo": {"givenName": "Olga", "familyName": "Petrova",
                                            "emailAddress": "Olga@Example.com", "postalCode": "1011"}})
        assert response.status_code == 200
        verified = openssl_verify(response.content, b"token-from-wallet-123", live["dev_ca_file"], tmp_path / "p")
        assert verified.returncode == 0, verified.stderr
        after = phone.fetch(if_modified_since=before.headers["Last-Modified"])
        assert after.status_code == 200
        pass_json = json.loads(read_pkpass(after.content)["pass.json"])
        assert pass_json["storeCard"]["secondaryFields"][0]["value"] == "Olga Petrova"
        looked_up = http.get(f"{live['base']}/api/v1/cards/{card['id']}", headers=bearer(live["api_key"])).json()
        assert looked_up["customer"]["email"] == "olga@example.com"
        bad = http.post(f"{phone.base}/passes/{phone.type_id}/{phone.serial}/personalize", json={})
        assert bad.status_code == 400
