"""Apple's PassKit web service, driven over real HTTP exactly as a phone drives it,
with pushes arriving at the loopback APNs (HTTP/2 + TLS, client-certificate auth)."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
import time
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from sqlalchemy import select, update

from passes.package import build_pkpass, read_pkpass
from passes.personalization import PERSONALIZATION_FILE
from service import demo
from service.apple import pass_files, signing, updates
from service.apple.web_service import MAX_LOG_ENTRIES, MAX_LOG_ENTRY_LENGTH
from service.design.card_design import build_pass, program_files
from service.models import Card, DeviceLog, PassPersonalization, Program, PushDelivery, Registration
from service.platform import db
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
        assert updated_json["storeCard"]["primaryFields"][0]["value"] == 25
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
        assert [(entry["verified"], entry["client_address"]) for entry in found] == [(False, "127.0.0.1")]
        assert http.get(f"{live['base']}/api/v1/cards/{card['id']}/logs", params={"q": "nothing like it"},
                        headers=bearer(live["api_key"])).json() == []
    with live["app"].app_context():
        logs = db.session().scalars(select(DeviceLog)).all()
        assert [(entry.card_id, entry.mentioned_card_id) for entry in logs] == [(None, card["id"])]


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
        assert json.loads(read_pkpass(two.content)["pass.json"])["storeCard"]["primaryFields"][0]["value"] == 2


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


IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
WALLET_TOKEN = "3BD6C5FA1F1B4E0A9E4C7D2B"
HOLDER_INFO = {"givenName": "Olga", "familyName": "Petrova", "emailAddress": "Olga@Example.com",
               "phoneNumber": "+31 6 5555 0000", "postalCode": "1011"}


def join_on_public_page(http: httpx.Client, live: dict[str, Any], tmp_path: Path) -> tuple[dict[str, Any], dict]:
    """What anyone can do: join on /join/demo-coffee and download the pass it offers."""
    page = http.get(f"{live['base']}/join/demo-coffee")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    done = http.post(f"{live['base']}/join/demo-coffee", headers={"User-Agent": IPHONE}, data={
        "name": "Mallory", "phone": "+31 6 1111 2222", "consent": "yes", "csrf_token": csrf.group(1)})
    assert done.status_code == 303, done.text
    welcome = http.get(urljoin(f"{live['base']}/", done.headers["Location"]), headers={"User-Agent": IPHONE})
    link = re.search(r'id="add-apple" href="([^"]+)"', welcome.text)
    assert link
    return verified_pass(http.get(html.unescape(link.group(1))).content, live["dev_ca_file"], tmp_path / "joined")


def forged_manifest(pass_json: dict[str, Any], files: dict[str, bytes]) -> bytes:
    """manifest.json of the same pass with a balance of 999 999 and someone else's web service."""
    forged = {**pass_json, "webServiceURL": "https://attacker.example/passkit"}
    forged["storeCard"]["primaryFields"][0]["value"] = 999_999
    manifest = json.loads(files["manifest.json"])
    manifest["pass.json"] = hashlib.sha1(json.dumps(forged).encode(), usedforsecurity=False).hexdigest()
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def personalize(http: httpx.Client, phone: Phone, token: Any, info: dict[str, Any] | None = None) -> httpx.Response:
    return http.post(f"{phone.base}/passes/{phone.type_id}/{phone.serial}/personalize",
                     json={"personalizationToken": token, "requiredPersonalizationInfo": info or HOLDER_INFO})


def offer_for_personalization(live: dict[str, Any], card_id: int) -> None:
    """What no pass we build has yet: the pass the phone holds carries personalization.json."""
    with live["app"].app_context():
        session = db.session()
        card = session.get(Card, card_id)
        assert card is not None
        web_service_url = live["app"].config["PASSCAST"].web_service_url
        stored = pass_files.current(session, card, web_service_url)
        offer = json.dumps({"requiredPersonalizationFields": ["PKPassPersonalizationFieldName",
                                                              "PKPassPersonalizationFieldEmailAddress"],
                            "description": "Join Demo Coffee Rewards"}).encode()
        files = {**program_files(card.program, card.current_tier), PERSONALIZATION_FILE: offer}
        # stored whole, as rows from before migration 0022 are (resources NULL): served as they are
        stored.data = build_pkpass(build_pass(card, web_service_url), files, signing.signer_for(card.program))
        stored.resources = None
        session.commit()


def customer_of(live: dict[str, Any], card_id: int) -> tuple[str, str | None, str | None]:
    with live["app"].app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        return card.customer.name, card.customer.email, card.customer.phone


def personalizations(live: dict[str, Any]) -> int:
    with live["app"].app_context():
        return len(db.session().scalars(select(PassPersonalization)).all())


def test_personalize_is_no_signing_oracle_for_forged_passes(live: dict[str, Any], tmp_path: Path) -> None:
    """The attack: join, then have an edited manifest.json signed as a 'personalizationToken'."""
    with httpx.Client(timeout=20) as http:
        pass_json, files = join_on_public_page(http, live, tmp_path)
        phone = Phone(http, pass_json)
        manifest = forged_manifest(pass_json, files)
        response = personalize(http, phone, manifest.decode(), {"fullName": "Mallory"})
        assert response.status_code == 404
        assert response.content == b""
        assert openssl_verify(response.content, manifest, live["dev_ca_file"], tmp_path / "forged").returncode != 0
        # A token of Wallet's shape gets nothing either: no pass we build is offered for personalization.
        assert personalize(http, phone, WALLET_TOKEN).status_code == 404
    assert personalizations(live) == 0


def test_personalize_cannot_rewrite_a_walk_in_holder(live: dict[str, Any], tmp_path: Path) -> None:
    """A card without email or phone (walk-in, imported) was anyone's to rename, unauthenticated."""
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        before = phone.fetch()
        response = personalize(http, phone, WALLET_TOKEN, {"fullName": "Mallory", "emailAddress": "m@attacker.example",
                                                          "phoneNumber": "+1 555 0100"})
        assert response.status_code == 404
        assert customer_of(live, card["id"]) == ("Nina Berg", None, None)
        assert phone.fetch(if_modified_since=before.headers["Last-Modified"]).status_code == 304


def test_an_offered_pass_is_personalized_once_with_a_wallet_token(live: dict[str, Any], tmp_path: Path) -> None:
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        offer_for_personalization(live, card["id"])
        before = phone.fetch()
        manifest = forged_manifest(*verified_pass(before.content, live["dev_ca_file"], tmp_path / "offered"))
        for token in (manifest.decode(), '{"pass.json":"' + "0" * 40 + '"}', "[1,2,3,4,5,6,7,8,9,10]",
                      "12345678901234567890", "x" * 513, "a token with spaces", "short", None):
            refused = personalize(http, phone, token)
            assert refused.status_code == 400, token
            assert refused.headers["content-type"] == "application/problem+json"
        assert personalizations(live) == 0 and customer_of(live, card["id"]) == ("Nina Berg", None, None)

        response = personalize(http, phone, WALLET_TOKEN)
        assert response.status_code == 200
        verified = openssl_verify(response.content, WALLET_TOKEN.encode(), live["dev_ca_file"], tmp_path / "p")
        assert verified.returncode == 0, verified.stderr
        # Only what the holder did not have: the name the shop recorded stays.
        assert customer_of(live, card["id"]) == ("Nina Berg", "olga@example.com", "+31 6 5555 0000")

        again = personalize(http, phone, "B" * 24, {"fullName": "Mallory", "emailAddress": "m@attacker.example"})
        assert again.status_code == 404 and again.content == b""
        assert customer_of(live, card["id"]) == ("Nina Berg", "olga@example.com", "+31 6 5555 0000")
        assert personalizations(live) == 1
        after = phone.fetch(if_modified_since=before.headers["Last-Modified"])
        assert after.status_code == 200  # the personalised pass replaces the personalizable one
        assert PERSONALIZATION_FILE not in read_pkpass(after.content)
        assert personalize(http, phone, "C" * 24).status_code == 404


def second_brand_card(http: httpx.Client, live: dict[str, Any]) -> dict[str, Any]:
    """A card of another brand (same dev certificate), issued through that brand's own key."""
    with live["app"].app_context():
        session = db.session()
        first = session.get(Program, live["program_id"])
        assert first is not None
        brand = demo.create_brand(session, "Other Tea", "other-tea")
        key = demo.create_api_key(session, brand)
        program = Program(brand_id=brand.id, name="Other Tea Club", kind="points", description="Other Tea card",
                          currency="EUR", points_per_unit=first.points_per_unit,
                          pass_type_identifier=first.pass_type_identifier, team_identifier=first.team_identifier,
                          certificate=first.certificate)
        session.add(program)
        session.commit()
        program_id = program.id
    response = http.post(f"{live['base']}/api/v1/programs/{program_id}/cards",
                         json={"customer": {"name": "Bob Tea"}}, headers=bearer(key))
    assert response.status_code == 201, response.text
    return response.json()


def test_registering_one_pass_leaves_the_devices_other_passes_alone(live: dict[str, Any], tmp_path: Path) -> None:
    """Registering a known deviceLibraryIdentifier on one's own card rewrote every brand's rows for it."""
    with httpx.Client(timeout=20) as http:
        card_a, phone_a = issue_and_install(http, live, tmp_path / "a", device="device-D")
        card_b = second_brand_card(http, live)
        pass_b, _ = verified_pass(http.get(card_b["apple_pass_url"]).content, live["dev_ca_file"], tmp_path / "b")
        phone_b = Phone(http, pass_b, device="device-D")
        assert phone_a.register(TOKEN_A).status_code == 201
        assert phone_b.register(TOKEN_A).status_code == 201
        with live["app"].app_context():
            session = db.session()
            session.execute(update(Registration).where(Registration.card_id == card_a["id"])
                            .values(active=False, dead_reason="BadDeviceToken"))
            session.commit()
        fcm_token = "fcm:" + "x" * 60
        assert phone_b.register(fcm_token).status_code == 200
    with live["app"].app_context():
        rows = {r.card_id: (r.push_token, r.client_kind, r.active, r.dead_reason)
                for r in db.session().scalars(select(Registration))}
    assert rows == {card_a["id"]: (TOKEN_A, "apple", False, "BadDeviceToken"),
                    card_b["id"]: (fcm_token, "fcm", True, None)}


def stored_logs(live: dict[str, Any]) -> list[DeviceLog]:
    with live["app"].app_context():
        return list(db.session().scalars(select(DeviceLog).order_by(DeviceLog.id)))


def test_log_is_bounded_per_request_and_per_entry(live: dict[str, Any]) -> None:
    with httpx.Client(timeout=20) as http:
        url = f"{live['base']}/passkit/v1/log"
        # 5 000 entries still fit the 64 KiB body limit; 10 000 would be refused whole (413).
        assert http.post(url, json={"logs": [f"entry {i}" for i in range(5_000)]}).status_code == 200
        assert [entry.message for entry in stored_logs(live)] == [f"entry {i}" for i in range(MAX_LOG_ENTRIES)]
        assert http.post(url, json={"logs": ["y" * 5_000]}).status_code == 200
        # 1 MB in one entry is refused whole by the request size limit.
        assert http.post(url, json={"logs": ["z" * 1_000_000]}).status_code == 413
    long_ones = [entry.message for entry in stored_logs(live)[MAX_LOG_ENTRIES:]]
    assert long_ones[0] == "y" * MAX_LOG_ENTRY_LENGTH
    assert all(len(message) == MAX_LOG_ENTRY_LENGTH for message in long_ones)


def test_log_naming_another_card_is_not_that_cards_log(live: dict[str, Any], tmp_path: Path) -> None:
    """Anyone can post text naming a victim's serial: it is kept as an unverified mention, with its origin,
    at most CARD_MENTION_LIMIT an hour for one card, and at most the address's budget in all."""
    with httpx.Client(timeout=20) as http:
        victim, _ = issue_and_install(http, live, tmp_path)
        url = f"{live['base']}/passkit/v1/log"
        line = f"Pass {victim['serial_number']} says: call +1 555 0100 for a refund"
        for _ in range(16):  # 16 x 20 entries: more than the address's 300 an hour
            assert http.post(url, json={"logs": [line] * MAX_LOG_ENTRIES},
                             headers={"User-Agent": "attacker/1.0"}).status_code == 200
        shown = http.get(f"{live['base']}/api/v1/cards/{victim['id']}/logs", params={"limit": 1000},
                         headers=bearer(live["api_key"])).json()
    logs = stored_logs(live)
    assert len(logs) == 300
    assert all(entry.card_id is None for entry in logs)
    assert all((entry.client_address, entry.user_agent) == ("127.0.0.1", "attacker/1.0") for entry in logs)
    assert sum(entry.mentioned_card_id == victim["id"] for entry in logs) == 20
    assert len(shown) == 20
    assert {(entry["verified"], entry["client_address"], entry["user_agent"]) for entry in shown} == {
        (False, "127.0.0.1", "attacker/1.0")}
