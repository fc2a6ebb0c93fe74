"""People and access in the console: sign-in with the lockout (also under parallel guesses), CSRF,
sign out everywhere, invite and reset links, roles through the API, TOTP, and brands kept apart."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service import demo
from service.access import accounts
from service.models import Brand, StaffAccount, StaffSession, Store
from service.platform import db

PROBLEM = "application/problem+json"
STORE = {"name": "Pop-up", "latitude": 52.37, "longitude": 4.89}


def sign_in(client: FlaskClient, email: str, password: str) -> Any:
    return client.post("/console/sign-in", data={"email": email, "password": password})


def csrf(client: FlaskClient) -> str:
    page = client.get("/console/security")
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))[1]  # type: ignore[index]


def account(app: Flask, email: str) -> StaffAccount:
    with app.app_context():
        found = db.session().scalar(select(StaffAccount).where(StaffAccount.email == email))
        assert found is not None
        db.session().expunge(found)
        return found


def add_staff(app: Flask, email: str, role: str, password: str = "correct horse battery", brand_id: int | None = None,
              brand_name: str | None = None) -> None:
    with app.app_context():
        session = db.session()
        brand = (demo.create_brand(session, brand_name, brand_name.lower().replace(" ", "-")) if brand_name
                 else session.get(Brand, brand_id))
        accounts.create_account(session, brand, email, password, role)
        session.commit()


@pytest.fixture
def owner(seeded: dict[str, Any], client: FlaskClient) -> dict[str, Any]:
    assert seeded["console_url"].endswith("/console") and seeded["owner_email"] and seeded["owner_password"]
    response = sign_in(client, seeded["owner_email"], seeded["owner_password"])
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/dashboard")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # http base URL
    return seeded


def test_five_wrong_passwords_lock_sign_in_for_15_minutes(app: Flask, client: FlaskClient,
                                                          seeded: dict[str, Any]) -> None:
    email, password = seeded["owner_email"], seeded["owner_password"]
    statuses = [sign_in(client, email, "wrong password!").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    locked = sign_in(client, email, password)  # even the right password, while locked
    assert locked.status_code == 429 and "locked until" in locked.get_data(as_text=True)
    assert account(app, email).failed_attempts == 5
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)):
        assert sign_in(client, email, password).status_code == 302
    assert account(app, email).failed_attempts == 0
    assert sign_in(client, "nobody@example.com", password).status_code == 401  # no telling who exists


def test_parallel_wrong_passwords_get_no_more_than_five_checks(app: Flask, seeded: dict[str, Any]) -> None:
    if not app.config["PASSCAST"].database_url.startswith("postgresql"):
        pytest.skip("row-level concurrency runs against PostgreSQL (set TEST_DATABASE_URL)")
    start = threading.Barrier(10)

    def guess(n: int) -> int:
        local = app.test_client()
        start.wait()
        return sign_in(local, seeded["owner_email"], f"wrong password {n}").status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(guess, range(10)))
    assert sorted(statuses) == [401] * 4 + [429] * 6
    assert account(app, seeded["owner_email"]).failed_attempts == 5


def test_unsafe_requests_without_the_csrf_token_are_refused(client: FlaskClient, owner: dict[str, Any]) -> None:
    token = csrf(client)
    refused = client.post("/console/sign-out")
    assert refused.status_code == 403 and client.get("/console/team").status_code == 200  # still signed in
    api = client.post("/api/v1/stores", json=STORE)
    assert api.status_code == 403 and api.content_type == PROBLEM and api.get_json()["type"] == "/problems/csrf"
    wrong = client.post("/api/v1/stores", json=STORE, headers={"X-CSRF-Token": token[:-2] + "xx"})
    assert wrong.status_code == 403
    made = client.post("/api/v1/stores", json=STORE, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.get_json()
    assert client.get("/api/v1/analytics/summary").status_code == 200  # reads need no token
    assert client.post("/console/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/stores").status_code == 401


def test_sign_out_everywhere_ends_every_session_of_the_account(app: Flask, client: FlaskClient,
                                                               owner: dict[str, Any]) -> None:
    laptop, phone = client, app.test_client()
    assert sign_in(phone, owner["owner_email"], owner["owner_password"]).status_code == 302
    assert phone.get("/api/v1/stores").status_code == 200
    assert laptop.post("/console/sign-out-everywhere", data={"csrf_token": csrf(laptop)}).status_code == 302
    assert phone.get("/api/v1/stores").status_code == 401
    assert phone.get("/console/team").headers["Location"].startswith("/console/sign-in")
    assert laptop.get("/console/team").status_code == 302
    with app.app_context():
        assert db.session().scalars(select(StaffSession)).all() == []


def _invite(client: FlaskClient, email: str, role: str) -> str:
    page = client.post("/console/team/invite", data={"csrf_token": csrf(client), "email": email, "role": role})
    assert page.status_code == 200, page.get_data(as_text=True)
    return re.search(r'id="made-link"[^>]*>http://[^/]+(/console/invite/[^<]+)<', page.get_data(as_text=True))[1]  # type: ignore[index]


def test_an_invite_link_works_once_and_for_seven_days(app: Flask, client: FlaskClient, owner: dict[str, Any]) -> None:
    link = _invite(client, "Mia@Example.com", "marketer")
    invitee = app.test_client()
    assert "mia@example.com" in invitee.get(link).get_data(as_text=True)
    assert invitee.post(link, data={"password": "short"}).status_code == 422
    assert invitee.post(link, data={"password": "a long good password"}).status_code == 200
    assert account(app, "mia@example.com").role == "marketer"
    assert invitee.post(link, data={"password": "another good password"}).status_code == 410  # used
    assert sign_in(invitee, "mia@example.com", "a long good password").status_code == 302
    assert invitee.get("/console/team").status_code == 403  # a marketer does not manage the team

    late = _invite(client, "late@example.com", "analyst")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=7, minutes=1)):
        assert app.test_client().post(late, data={"password": "a long good password"}).status_code == 410
    assert app.test_client().get(late).status_code == 200  # still open before the seven days end


def test_an_analyst_reads_but_cannot_post_anything_through_the_api(app: Flask, owner: dict[str, Any]) -> None:
    add_staff(app, "ana@example.com", "analyst", brand_id=owner["brand_id"])
    analyst = app.test_client()
    assert sign_in(analyst, "ana@example.com", "correct horse battery").status_code == 302
    token = csrf(analyst)
    assert analyst.get("/api/v1/analytics/summary").status_code == 200
    assert analyst.get("/console/dashboard").status_code == 200
    for method, path, body in (("POST", "/api/v1/stores", STORE), ("POST", "/api/v1/api-keys", {"name": "x"}),
                               ("PATCH", f"/api/v1/stores/{owner['store_ids'][0]}", {"name": "Renamed"}),
                               ("DELETE", f"/api/v1/stores/{owner['store_ids'][0]}", None)):
        refused = analyst.open(path, method=method, json=body, headers={"X-CSRF-Token": token})
        assert refused.status_code == 403 and refused.content_type == PROBLEM, (method, path)
    assert analyst.get("/console/team").status_code == 403


def test_totp_second_step(app: Flask, client: FlaskClient, owner: dict[str, Any]) -> None:
    page = client.get("/console/security").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)[1]  # type: ignore[index]
    assert 'src="data:image/png;base64,' in page  # the QR is drawn here, not fetched
    assert client.post("/console/security", data={"csrf_token": csrf(client), "action": "enable", "secret": secret,
                                                   "code": "000000"}).status_code == 422
    assert client.post("/console/security", data={"csrf_token": csrf(client), "action": "enable", "secret": secret,
                                                   "code": pyotp.TOTP(secret).now()}).status_code == 200  # the codes
    assert account(app, owner["owner_email"]).totp_enabled

    fresh = app.test_client()
    step = sign_in(fresh, owner["owner_email"], owner["owner_password"])
    assert step.headers["Location"].startswith("/console/sign-in/code")
    assert fresh.get("/api/v1/stores").status_code == 401  # not signed in before the code
    assert fresh.post("/console/sign-in/code", data={"code": "123456"}).status_code == 401
    done = fresh.post("/console/sign-in/code", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302 and fresh.get("/api/v1/stores").status_code == 200


def test_another_brands_staff_see_nothing_of_ours(app: Flask, client: FlaskClient, owner: dict[str, Any]) -> None:
    add_staff(app, "boss@other.example", "owner", brand_name="Other Tea")
    ours = account(app, owner["owner_email"])
    other = app.test_client()
    assert sign_in(other, "boss@other.example", "correct horse battery").status_code == 302
    assert other.get("/api/v1/stores").get_json() == []
    assert other.get(f"/api/v1/stores/{owner['store_ids'][0]}").status_code == 404
    team = other.get("/console/team").get_data(as_text=True)
    assert owner["owner_email"] not in team and "Demo Coffee" not in team
    token = csrf(other)
    for action in ("remove", "reset-link", "role"):
        assert other.post(f"/console/team/{ours.id}/{action}", data={"csrf_token": token,
                                                                     "role": "analyst"}).status_code == 404
    assert account(app, owner["owner_email"]).role == "owner"


def test_a_reset_link_from_the_owner_sets_a_password_once_and_ends_the_sessions(
        app: Flask, client: FlaskClient, owner: dict[str, Any]) -> None:
    add_staff(app, "mark@example.com", "marketer", brand_id=owner["brand_id"])
    mark = app.test_client()
    assert sign_in(mark, "mark@example.com", "correct horse battery").status_code == 302
    page = client.post(f"/console/team/{account(app, 'mark@example.com').id}/reset-link",
                       data={"csrf_token": csrf(client)}).get_data(as_text=True)
    link = re.search(r'id="made-link"[^>]*>http://[^/]+(/console/reset/[^<]+)<', page)[1]  # type: ignore[index]
    assert app.test_client().post(link, data={"password": "a brand new password"}).status_code == 200
    assert app.test_client().post(link, data={"password": "yet another password"}).status_code == 410
    assert mark.get("/api/v1/stores").status_code == 401
    assert sign_in(mark, "mark@example.com", "a brand new password").status_code == 302


def test_forgotten_password_mail_goes_to_the_log_without_smtp(client: FlaskClient, seeded: dict[str, Any],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="service.console.page"):
        assert client.post("/console/forgot", data={"email": seeded["owner_email"]}).status_code == 200
        assert client.post("/console/forgot", data={"email": "nobody@example.com"}).status_code == 200
    mails = [r.getMessage() for r in caplog.records if "/console/reset/cl_" in r.getMessage()]
    assert len(mails) == 1 and seeded["owner_email"] in mails[0]


def test_pages_speak_russian_from_the_browser_and_the_switch(client: FlaskClient) -> None:
    assert "Войти" in client.get("/console/sign-in", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Sign in" in client.get("/console/sign-in?lang=en", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Sign in" in client.get("/console/sign-in", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert client.get("/dashboard").headers["Location"].endswith("/console/dashboard")
    assert client.get("/console/dashboard").headers["Location"].startswith("/console/sign-in")


def test_team_changes_are_in_the_audit_log_with_the_owner_as_actor(app: Flask, client: FlaskClient,
                                                                    owner: dict[str, Any]) -> None:
    _invite(client, "nia@example.com", "analyst")
    add_staff(app, "leo@example.com", "analyst", brand_id=owner["brand_id"])
    leo = account(app, "leo@example.com")
    token = csrf(client)
    role = client.post(f"/console/team/{leo.id}/role", data={"csrf_token": token, "role": "marketer"})
    assert role.status_code == 302
    assert client.post(f"/console/team/{leo.id}/reset-link", data={"csrf_token": token}).status_code == 200
    assert client.post(f"/console/team/{leo.id}/remove", data={"csrf_token": token}).status_code == 302
    entries = client.get("/api/v1/audit-log?action=staff.", headers={"X-CSRF-Token": token}).get_json()
    rows = entries["items"] if isinstance(entries, dict) else entries
    by_action = {row["action"]: row for row in rows}
    assert set(by_action) == {"staff.invited", "staff.role_changed", "staff.reset_link_issued", "staff.removed"}
    assert by_action["staff.role_changed"]["changes"]["role"] == {"before": "analyst", "after": "marketer"}
    assert by_action["staff.invited"]["changes"] == {"email": "nia@example.com", "role": "analyst"}
    assert all(row["actor"]["label"] == f"staff {owner['owner_email']}" for row in rows), rows
    assert "token" not in str(rows) and "password" not in str(rows)


def test_another_brands_store_ids_never_land_on_our_accounts(app: Flask, client: FlaskClient,
                                                            owner: dict[str, Any]) -> None:
    """A crafted team form naming another brand's store must not put it on one of our accounts."""
    with app.app_context():
        session = db.session()
        other = demo.create_brand(session, "Other Bakery", "other-bakery")
        session.flush()
        theirs = Store(brand_id=other.id, name="Their shop", latitude=52.0, longitude=4.0)
        session.add(theirs)
        session.commit()
        their_store = theirs.id
    ours = owner["store_ids"][0]
    add_staff(app, "sam@example.com", "analyst", brand_id=owner["brand_id"])
    sam = account(app, "sam@example.com")
    token = csrf(client)
    changed = client.post(f"/console/team/{sam.id}/role", data={
        "csrf_token": token, "role": "store_manager", "store_ids": [str(ours), str(their_store)]})
    assert changed.status_code == 302
    assert account(app, "sam@example.com").stores == frozenset({ours})
