"""PIN sign-in on a paired till: the brand sets PINs and pairs tills, cashiers sign in with a PIN
and get a session that the till's scan and purchase calls take like a cashier token; wrong PINs
lock PIN sign-in (in the database), disabled cashiers never get in, no answer shows a PIN."""

from __future__ import annotations

import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.cashier import pins as cashier_pins
from service.demo import create_brand, create_cashier
from service.models import Cashier, Till, utcnow
from service.platform import db
from service.platform.config import Settings
from tests.helpers import bearer
from tests.service.loyalty.test_loyalty import issue, ok, transact

PIN = "4071"
PROBLEM = "application/problem+json"


def api(client: FlaskClient, method: str, path: str, key: str, body: Any = None) -> Any:
    return client.open(f"/api/v1{path}", method=method, json=body, headers=bearer(key))


def stored(app: Flask, cashier_id: int) -> Cashier:
    with app.app_context():
        cashier = db.session().get(Cashier, cashier_id)
        assert cashier is not None
        db.session().expunge(cashier)
        return cashier


def no_secrets(response: Any, *secrets: str) -> None:
    """No PIN, PIN hash or hash scheme anywhere in an answer."""
    text = response.get_data(as_text=True)
    for secret in (*secrets, "scrypt", "pbkdf2", "pin_hash"):
        assert secret not in text, (secret, text)


@pytest.fixture
def till(client: FlaskClient, seeded: dict[str, Any]) -> dict[str, Any]:
    """The demo brand with Eva (PIN 4071) at its first store, and a till paired to that store."""
    key, store = seeded["api_key"], seeded["store_ids"][0]
    created = api(client, "POST", "/cashiers", key, {"name": "Eva", "store_id": store, "pin": PIN})
    assert created.status_code == 201, created.get_json()
    paired = api(client, "POST", "/tills", key, {"name": "Centraal, counter 1", "store_id": store})
    assert paired.status_code == 201, paired.get_json()
    return {**seeded, "eva": created.get_json(), "till": paired.get_json(), "till_key": paired.get_json()["key"]}


def sign_in(client: FlaskClient, till_key: str, cashier_id: int, pin: str) -> Any:
    return api(client, "POST", "/till/sign-in", till_key, {"cashier_id": cashier_id, "pin": pin})


def test_brand_sets_and_clears_pins_that_are_never_shown(client: FlaskClient, seeded: dict[str, Any],
                                                          app: Flask) -> None:
    key, store = seeded["api_key"], seeded["store_ids"][1]
    created = api(client, "POST", "/cashiers", key, {"name": "Eva", "store_id": store, "pin": "58213"})
    assert created.status_code == 201
    eva = created.get_json()
    assert (eva["name"], eva["store_id"], eva["active"], eva["has_pin"]) == ("Eva", store, True, True)
    assert eva["token"].startswith("ct_") and eva["pin_locked_until"] is None
    no_secrets(created, "58213")
    # Only a slow salted hash is stored; the cashier's new token works at the till at once.
    pin_hash = stored(app, eva["id"]).pin_hash
    assert pin_hash is not None and pin_hash.startswith("scrypt:") and "58213" not in pin_hash
    assert api(client, "GET", "/cashier/me", eva["token"]).get_json()["name"] == "Eva"

    for response in (api(client, "GET", f"/cashiers/{eva['id']}", key), api(client, "GET", "/cashiers", key)):
        assert response.status_code == 200
        no_secrets(response, "58213", eva["token"])
        assert "token" not in json.dumps(response.get_json())
    assert [c["name"] for c in api(client, "GET", "/cashiers", key).get_json()] == ["Demo Cashier", "Eva"]

    changed = api(client, "PUT", f"/cashiers/{eva['id']}/pin", key, {"pin": "902741"})
    assert changed.status_code == 200 and changed.get_json()["has_pin"] is True
    no_secrets(changed, "902741")
    new_hash = stored(app, eva["id"]).pin_hash
    assert new_hash is not None and new_hash != pin_hash
    cleared = api(client, "DELETE", f"/cashiers/{eva['id']}/pin", key)
    assert cleared.status_code == 200 and cleared.get_json()["has_pin"] is False
    assert stored(app, eva["id"]).pin_hash is None

    renamed = api(client, "PATCH", f"/cashiers/{eva['id']}", key, {"name": "Eva de Boer", "store_id": None})
    assert (renamed.get_json()["name"], renamed.get_json()["store_id"]) == ("Eva de Boer", None)
    # Another brand's cashier or store is not there for this key.
    with app.app_context():
        other = create_brand(db.session(), "Other Tea", "other-tea")
        create_cashier(db.session(), other, "Tea Cashier", None)
        db.session().commit()
        other_id = db.session().query(Cashier).filter_by(brand_id=other.id).one().id
    assert api(client, "PUT", f"/cashiers/{other_id}/pin", key, {"pin": PIN}).status_code == 404
    foreign_store = api(client, "POST", "/cashiers", key, {"name": "X", "store_id": 999})
    assert foreign_store.status_code == 404 and foreign_store.content_type == PROBLEM
    assert api(client, "GET", "/cashiers", seeded["cashier_token"]).status_code == 401  # a cashier is no brand


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "", " 4071", "4071\n", "٤٠٧١", 4071, None, "1111",
                                 "1234", "98765"])
def test_malformed_and_trivial_pins_are_refused(client: FlaskClient, till: dict[str, Any], pin: Any) -> None:
    response = api(client, "PUT", f"/cashiers/{till['eva']['id']}/pin", till["api_key"], {"pin": pin})
    assert response.status_code == 422 and response.content_type == PROBLEM
    assert [error["field"] for error in response.get_json()["errors"]] == ["pin"]


def test_pin_sign_in_gives_a_session_the_till_api_takes(client: FlaskClient, till: dict[str, Any],
                                                       app: Flask) -> None:
    key, till_key, eva = till["api_key"], till["till_key"], till["eva"]
    assert till["till"]["pair_url"] == f"http://127.0.0.1:8000/cashier#till={till_key}"
    # Who can sign in here: Eva (this store, PIN); not the demo cashier (no PIN) nor one of another store.
    api(client, "POST", "/cashiers", key, {"name": "Olga", "store_id": till["store_ids"][1], "pin": "8080"})
    api(client, "POST", "/cashiers", key, {"name": "Anywhere Ann", "pin": "5150"})
    info = api(client, "GET", "/till", till_key)
    assert info.status_code == 200
    body = info.get_json()
    assert body["store"] == {"id": till["store_ids"][0], "name": "Demo Coffee Centraal"}
    assert body["brand"]["name"] == "Demo Coffee"
    assert [c["name"] for c in body["cashiers"]] == ["Anywhere Ann", "Eva"]
    no_secrets(info)

    signed_in = sign_in(client, till_key, eva["id"], PIN)
    assert signed_in.status_code == 200, signed_in.get_json()
    session = signed_in.get_json()
    assert session["cashier"] == {"id": eva["id"], "name": "Eva"}
    assert session["token"].startswith(f"ct_s{eva['id']}t{till['till']['id']}_")
    expires = dt.datetime.fromisoformat(session["expires_at"])
    assert dt.timedelta(hours=11) < expires - utcnow() <= cashier_pins.SESSION_LIFETIME
    no_secrets(signed_in, PIN)

    # The scan and purchase calls are the ones the page already makes, with the session token.
    token = session["token"]
    me = api(client, "GET", "/cashier/me", token).get_json()
    assert (me["id"], me["name"], me["store"]["id"]) == (eva["id"], "Eva", till["store_ids"][0])
    card = issue(client, till)
    assert api(client, "POST", "/cashier/scan", token, {"code": card["barcode_message"]}).status_code == 200
    ok(transact(client, token, card["id"], {"type": "purchase", "amount": "10.00"}))
    ledger = api(client, "GET", f"/cards/{card['id']}/transactions", key).get_json()
    assert (ledger[0]["cashier_id"], ledger[0]["store_id"]) == (eva["id"], till["store_ids"][0])

    # A forged or altered session is nobody; a new PIN ends the sessions made with the old one.
    forged = f"ct_s{eva['id']}t{till['till']['id']}_{int(expires.timestamp())}.{'A' * 43}"
    assert api(client, "GET", "/cashier/me", forged).status_code == 401
    longer = token.replace(f"_{int(expires.timestamp())}.", f"_{int(expires.timestamp()) + 3600}.")
    assert api(client, "GET", "/cashier/me", longer).status_code == 401
    assert api(client, "PUT", f"/cashiers/{eva['id']}/pin", key, {"pin": "7302"}).status_code == 200
    ended = api(client, "GET", "/cashier/me", token)
    assert ended.status_code == 401 and ended.content_type == PROBLEM


def test_sessions_expire(client: FlaskClient, till: dict[str, Any], app: Flask) -> None:
    with app.app_context():
        cashier = db.session().get(Cashier, till["eva"]["id"])
        paired = db.session().get(Till, till["till"]["id"])
        assert cashier is not None and paired is not None
        long_ago = utcnow() - cashier_pins.SESSION_LIFETIME - dt.timedelta(seconds=5)
        old, _ = cashier_pins.new_session(cashier, paired, now=long_ago)
        fresh, _ = cashier_pins.new_session(cashier, paired)
    assert api(client, "GET", "/cashier/me", old).status_code == 401
    assert api(client, "GET", "/cashier/me", fresh).status_code == 200


def test_wrong_pins_lock_pin_sign_in_for_that_cashier(client: FlaskClient, till: dict[str, Any], app: Flask,
                                                      settings: Settings) -> None:
    till_key, eva = till["till_key"], till["eva"]
    for left in (4, 3, 2, 1):
        wrong = sign_in(client, till_key, eva["id"], "0000")
        assert wrong.status_code == 401 and wrong.content_type == PROBLEM
        problem = wrong.get_json()
        assert (problem["type"], problem["title"], problem["attempts_left"]) == ("/problems/wrong-pin", "Wrong PIN",
                                                                                 left)
        assert "token" not in problem
    assert stored(app, eva["id"]).pin_failed_attempts == 4
    fifth = sign_in(client, till_key, eva["id"], "9999")
    assert fifth.status_code == 429 and fifth.content_type == PROBLEM
    assert fifth.get_json()["type"] == "/problems/pin-locked"
    retry_after = int(fifth.headers["Retry-After"])
    assert 14 * 60 < retry_after <= 15 * 60 + 1
    locked_until = stored(app, eva["id"]).pin_locked_until
    assert locked_until is not None
    assert dt.datetime.fromisoformat(fifth.get_json()["locked_until"]) == locked_until

    # Now even the right PIN is refused, and not checked (nothing more is counted) ...
    right = sign_in(client, till_key, eva["id"], PIN)
    assert right.status_code == 429 and "token" not in right.get_json()
    assert stored(app, eva["id"]).pin_failed_attempts == 5
    # ... in every process: the lock is in the database, not in this app's memory.
    other_process = create_app(settings)
    try:
        assert sign_in(other_process.test_client(), till_key, eva["id"], PIN).status_code == 429
    finally:
        other_process.extensions["db_engine"].dispose()
    # Other cashiers are not locked out; the brand sees the lock.
    anne = api(client, "POST", "/cashiers", till["api_key"], {"name": "Anne", "pin": "2580"}).get_json()
    assert sign_in(client, till_key, anne["id"], "2580").status_code == 200
    shown = api(client, "GET", f"/cashiers/{eva['id']}", till["api_key"]).get_json()
    assert dt.datetime.fromisoformat(shown["pin_locked_until"]) == locked_until

    # Once the lock has run out, the right PIN signs in and the count starts again from zero.
    with app.app_context():
        cashier = db.session().get(Cashier, eva["id"])
        assert cashier is not None
        cashier.pin_locked_until = utcnow() - dt.timedelta(seconds=1)
        db.session().commit()
    assert sign_in(client, till_key, eva["id"], "1357").get_json()["attempts_left"] == 4  # a fresh count
    assert sign_in(client, till_key, eva["id"], PIN).status_code == 200
    after = stored(app, eva["id"])
    assert (after.pin_failed_attempts, after.pin_locked_until) == (0, None)

    # A manager unlocks at once by setting a new PIN.
    for _ in range(5):
        sign_in(client, till_key, eva["id"], "0000")
    assert sign_in(client, till_key, eva["id"], PIN).status_code == 429
    assert api(client, "PUT", f"/cashiers/{eva['id']}/pin", till["api_key"], {"pin": "3308"}).status_code == 200
    assert sign_in(client, till_key, eva["id"], "3308").status_code == 200


def test_parallel_guesses_get_no_more_than_the_allowed_checks(client: FlaskClient, till: dict[str, Any],
                                                              app: Flask) -> None:
    if not app.config["PASSCAST"].database_url.startswith("postgresql"):
        pytest.skip("row-level concurrency runs against PostgreSQL (set TEST_DATABASE_URL)")
    start = threading.Barrier(12)

    def guess(pin: str) -> int:
        local = app.test_client()
        start.wait()
        return sign_in(local, till["till_key"], till["eva"]["id"], pin).status_code

    # Twelve wrong guesses at once: 5 are checked (4 told "wrong", the 5th locks), 7 refused unchecked.
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(guess, [f"{n:04d}" for n in range(5000, 5012)]))
    assert sorted(statuses) == [401] * 4 + [429] * 8
    assert stored(app, till["eva"]["id"]).pin_failed_attempts == 5


def test_disabled_cashiers_cannot_sign_in(client: FlaskClient, till: dict[str, Any]) -> None:
    key, till_key, eva = till["api_key"], till["till_key"], till["eva"]
    session = sign_in(client, till_key, eva["id"], PIN).get_json()["token"]
    disabled = api(client, "PATCH", f"/cashiers/{eva['id']}", key, {"active": False})
    assert disabled.status_code == 200 and disabled.get_json()["active"] is False
    refused = sign_in(client, till_key, eva["id"], PIN)
    assert refused.status_code == 403 and refused.content_type == PROBLEM
    assert refused.get_json()["title"] == "Cashier disabled" and "token" not in refused.get_json()
    assert api(client, "GET", "/cashier/me", session).status_code == 403  # the open session stops too
    assert api(client, "GET", "/till", till_key).get_json()["cashiers"] == []
    api(client, "PATCH", f"/cashiers/{eva['id']}", key, {"active": True})
    assert api(client, "GET", "/cashier/me", session).status_code == 200


def test_only_a_paired_till_signs_in_and_only_its_cashiers(client: FlaskClient, till: dict[str, Any],
                                                           app: Flask) -> None:
    key, till_key, eva = till["api_key"], till["till_key"], till["eva"]
    for wrong_key in (till["cashier_token"], key, "tl_000000000000_nope", till_key[:-2] + "xx"):
        refused = sign_in(client, wrong_key, eva["id"], PIN)
        assert refused.status_code == 401 and refused.content_type == PROBLEM
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert client.post("/api/v1/till/sign-in", json={"cashier_id": eva["id"], "pin": PIN}).status_code == 401

    # A cashier of another store (or brand) is not signed in here, whatever the PIN.
    olga = api(client, "POST", "/cashiers", key, {"name": "Olga", "store_id": till["store_ids"][1], "pin": "8080"})
    assert sign_in(client, till_key, olga.get_json()["id"], "8080").status_code == 401
    with app.app_context():
        other = create_brand(db.session(), "Other Tea", "other-tea")
        create_cashier(db.session(), other, "Tea Cashier", None)
        tea = db.session().query(Cashier).filter_by(brand_id=other.id).one()
        cashier_pins.set_pin(tea, "8080")
        db.session().commit()
        tea_id = tea.id
    assert sign_in(client, till_key, tea_id, "8080").status_code == 401
    assert sign_in(client, till_key, 10**6, "8080").status_code == 401
    bad = api(client, "POST", "/till/sign-in", till_key, {"cashier_id": "eva", "pin": 4071})
    assert bad.status_code == 422 and {e["field"] for e in bad.get_json()["errors"]} == {"cashier_id", "pin"}

    # Unpairing a lost tablet: its key stops at once; the brand's other tills are untouched.
    revoked = api(client, "DELETE", f"/tills/{till['till']['id']}", key)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"] is not None
    gone = api(client, "GET", "/till", till_key)
    assert gone.status_code == 401 and gone.get_json()["type"] == "/problems/till-unpaired"
    listed = api(client, "GET", "/tills", key)
    assert [t["id"] for t in listed.get_json()] == [till["till"]["id"]]
    assert "key" not in listed.get_json()[0] and till_key not in listed.get_data(as_text=True)


def test_unpairing_a_till_ends_its_sessions_and_a_brand_wide_cashier_posts_for_its_store(
        client: FlaskClient, till: dict[str, Any]) -> None:
    key, till_key, store = till["api_key"], till["till_key"], till["store_ids"][0]
    ann = api(client, "POST", "/cashiers", key, {"name": "Anywhere Ann", "pin": "5150"}).get_json()
    assert ann["store_id"] is None
    token = sign_in(client, till_key, ann["id"], "5150").get_json()["token"]
    assert api(client, "GET", "/cashier/me", token).get_json()["store"]["id"] == store
    card = issue(client, till)
    ok(transact(client, token, card["id"], {"type": "purchase", "amount": "10.00"}))
    ledger = api(client, "GET", f"/cards/{card['id']}/transactions", key).get_json()
    assert (ledger[0]["cashier_id"], ledger[0]["store_id"]) == (ann["id"], store)  # the till's store
    other_store = till["store_ids"][1]
    refused = transact(client, token, card["id"], {"type": "purchase", "amount": "1.00", "store_id": other_store})
    assert refused.status_code == 422
    # A session is bound to its till: another till id in the token is a forgery.
    other = api(client, "POST", "/tills", key, {"name": "Zuid", "store_id": other_store}).get_json()
    moved = token.replace(f"t{till['till']['id']}_", f"t{other['id']}_", 1)
    assert api(client, "GET", "/cashier/me", moved).status_code == 401
    # Unpairing the till (a lost tablet) ends the sessions opened on it at once.
    assert api(client, "GET", "/cashier/me", token).status_code == 200
    assert api(client, "DELETE", f"/tills/{till['till']['id']}", key).status_code == 200
    ended = api(client, "GET", "/cashier/me", token)
    assert ended.status_code == 401 and ended.content_type == PROBLEM
    assert api(client, "GET", "/cashier/me", till["cashier_token"]).status_code == 200  # tokens are not sessions


def test_a_till_has_an_idle_time_for_pin_sessions(client: FlaskClient, till: dict[str, Any]) -> None:
    key, store = till["api_key"], till["store_ids"][0]
    assert till["till"]["idle_seconds"] == 600  # ten minutes unless the brand says otherwise
    assert api(client, "GET", "/till", till["till_key"]).get_json()["till"]["idle_seconds"] == 600
    quick = api(client, "POST", "/tills", key, {"name": "Kiosk", "store_id": store, "idle_seconds": 60})
    assert quick.status_code == 201 and quick.get_json()["idle_seconds"] == 60
    for bad in (0, 4, 86401, "600", None):
        refused = api(client, "POST", "/tills", key, {"name": "Bad", "idle_seconds": bad})
        assert refused.status_code == 422 and refused.content_type == PROBLEM, bad
