"""Recovery codes for the console's TOTP step: ten, shown once when two-factor sign-in is turned on,
each signs in once, stored hashed, made anew on demand (the old ones die), gone with TOTP, and a
wrong one counts toward the lockout exactly like a wrong TOTP code."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from console_helpers import PASSWORD, add_staff, csrf, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.access import accounts, recovery_codes
from service.models import AuditEntry, StaffAccount, StaffRecoveryCode
from service.platform import db

EMAIL = "owner@codes.example"


def _codes(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>", html)


def _turn_on(client: FlaskClient) -> tuple[str, list[str]]:
    page = client.get("/console/security").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)[1]  # type: ignore[index]
    answer = client.post("/console/security", data={"csrf_token": csrf(client), "action": "enable",
                                                    "secret": secret, "code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    return secret, _codes(answer.get_data(as_text=True))


def _second_step(app: Flask, code: str, email: str = EMAIL) -> Any:
    fresh = app.test_client()
    assert sign_in(fresh, email).headers["Location"].startswith("/console/sign-in/code")
    return fresh, fresh.post("/console/sign-in/code", data={"code": code})


def _rows(app: Flask) -> list[StaffRecoveryCode]:
    with app.app_context():
        session = db.session()
        account_id = session.scalar(select(StaffAccount.id).where(StaffAccount.email == EMAIL))
        rows = list(session.scalars(select(StaffRecoveryCode).where(StaffRecoveryCode.account_id == account_id)))
        for row in rows:
            session.expunge(row)
        return rows


@pytest.fixture
def owner(app: Flask, seeded: dict[str, Any]) -> FlaskClient:
    add_staff(app, EMAIL, "owner")
    client = app.test_client()
    assert sign_in(client, EMAIL).status_code == 302
    return client


def test_ten_codes_are_shown_once_and_stored_only_as_hashes(app: Flask, owner: FlaskClient) -> None:
    _, codes = _turn_on(owner)
    assert len(codes) == recovery_codes.COUNT == len(set(codes))
    resent = owner.post("/console/security", data={"csrf_token": csrf(owner), "action": "enable", "secret": "X",
                                                   "code": "1"})  # the form sent again (a reload)
    assert resent.status_code == 302 and len(_rows(app)) == 10
    again = owner.get("/console/security").get_data(as_text=True)
    assert not _codes(again) and "Recovery codes left: 10 of 10." in again
    rows = _rows(app)
    assert len(rows) == 10
    stored = {row.code_hash for row in rows}
    for code in codes:
        bare = code.replace("-", "")
        assert code not in stored and bare not in stored
        assert all(bare not in value for value in stored)
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in stored)


def test_each_code_signs_in_once_and_its_use_is_in_the_audit_log(app: Flask, owner: FlaskClient) -> None:
    _, codes = _turn_on(owner)
    fresh, done = _second_step(app, codes[0].upper().replace("-", " "))  # as typed off paper
    assert done.status_code == 302 and fresh.get("/api/v1/stores").status_code == 200
    _, again = _second_step(app, codes[0])
    assert again.status_code == 401
    fresh, other = _second_step(app, codes[1])
    assert other.status_code == 302
    assert "Recovery codes left: 8 of 10." in fresh.get("/console/security").get_data(as_text=True)
    with app.app_context():
        used = list(db.session().scalars(select(AuditEntry).where(AuditEntry.action == "staff.recovery_code_used")
                                         .order_by(AuditEntry.id)))
        assert [entry.changes["remaining"] for entry in used] == [9, 8]
        assert used[0].actor_kind == "staff" and used[0].actor_label == f"staff {EMAIL}"
        assert all(codes[0].replace("-", "") not in str(entry.changes) for entry in used)


def test_the_totp_code_still_works_beside_the_recovery_codes(app: Flask, owner: FlaskClient) -> None:
    secret, _ = _turn_on(owner)
    _, done = _second_step(app, pyotp.TOTP(secret).now())
    assert done.status_code == 302
    assert sum(row.used_at is None for row in _rows(app)) == 10


def test_regenerating_invalidates_the_old_codes(app: Flask, owner: FlaskClient) -> None:
    _, old = _turn_on(owner)
    answer = owner.post("/console/security", data={"csrf_token": csrf(owner), "action": "regenerate-codes"})
    assert answer.status_code == 200
    new = _codes(answer.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    assert _second_step(app, old[2])[1].status_code == 401
    assert _second_step(app, new[2])[1].status_code == 302
    with app.app_context():
        assert db.session().scalar(select(AuditEntry.id).where(
            AuditEntry.action == "staff.recovery_codes_regenerated")) is not None


def test_regenerating_without_two_factor_makes_nothing(app: Flask, owner: FlaskClient) -> None:
    answer = owner.post("/console/security", data={"csrf_token": csrf(owner), "action": "regenerate-codes"})
    assert answer.status_code == 302 and _rows(app) == []
    crafted = owner.post("/console/security", data={"csrf_token": csrf(owner), "action": "enable",
                                                    "secret": "SHORT", "code": "123456"})
    assert crafted.status_code == 422 and _rows(app) == []


def test_turning_totp_off_deletes_the_codes(app: Flask, owner: FlaskClient) -> None:
    _, codes = _turn_on(owner)
    assert owner.post("/console/security", data={"csrf_token": csrf(owner), "action": "disable"}).status_code == 302
    assert _rows(app) == []
    fresh = app.test_client()
    assert sign_in(fresh, EMAIL).headers["Location"] == "/console/dashboard"  # no second step any more
    _, again = _turn_on(owner)  # on again: new codes, the first ones stay dead
    assert not set(again) & set(codes) and len(_rows(app)) == 10


def test_wrong_recovery_codes_count_toward_the_lockout_like_wrong_totp_codes(app: Flask, owner: FlaskClient) -> None:
    _, codes = _turn_on(owner)
    fresh = app.test_client()
    assert sign_in(fresh, EMAIL).status_code == 302
    wrong = "aaaa-bbbb-cccc-dddd"
    assert wrong not in codes
    for left in (4, 3):  # two wrong recovery codes ...
        answer = fresh.post("/console/sign-in/code", data={"code": wrong})
        assert answer.status_code == 401
        if left < 4:  # the page says so from the second wrong try on (service/console/page.py _refusal)
            assert f"{left} tries left" in answer.get_data(as_text=True)
    for _ in range(2):  # ... and two wrong TOTP codes share the one counter
        assert fresh.post("/console/sign-in/code", data={"code": "000000"}).status_code == 401
    locked = fresh.post("/console/sign-in/code", data={"code": wrong})
    assert locked.status_code == 429  # the fifth wrong one locks sign-in
    assert fresh.post("/console/sign-in/code", data={"code": codes[0]}).status_code == 429  # even a right one now
    assert sum(row.used_at is None for row in _rows(app)) == 10  # and it was not spent
    with app.app_context():
        account = db.session().scalar(select(StaffAccount).where(StaffAccount.email == EMAIL))
        assert account is not None and account.locked_until is not None


def test_removing_an_account_removes_its_codes(app: Flask, seeded: dict[str, Any]) -> None:
    add_staff(app, EMAIL, "marketer")
    with app.app_context():
        session = db.session()
        account = session.scalar(select(StaffAccount).where(StaffAccount.email == EMAIL))
        assert account is not None
        secret = pyotp.random_base32()
        codes = accounts.enable_totp(session, account, secret, pyotp.TOTP(secret).now())
        assert codes is not None and len(codes) == 10
        account_id = account.id
    boss = app.test_client()
    assert sign_in(boss, seeded["owner_email"], seeded["owner_password"]).status_code == 302
    assert boss.post(f"/console/team/{account_id}/remove", data={"csrf_token": csrf(boss)}).status_code == 302
    with app.app_context():
        assert db.session().scalars(select(StaffRecoveryCode).where(
            StaffRecoveryCode.account_id == account_id)).all() == []


def test_the_code_step_says_a_recovery_code_works_in_russian(app: Flask, owner: FlaskClient) -> None:
    _turn_on(owner)
    fresh = app.test_client()
    sign_in(fresh, EMAIL, PASSWORD)
    page = fresh.get("/console/sign-in/code?lang=ru").get_data(as_text=True)
    assert "кодов восстановления" in page
