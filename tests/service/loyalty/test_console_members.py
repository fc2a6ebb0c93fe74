"""The console's members pages (issue 15) and the API under them: search by each field, a card's page,
why a phone has not updated (each case, in the API and on the page, English and Russian), points
adjusted with a reason, void, the card link resent (to the mail log in development), the GDPR export
and erasure (personal data gone, ledger sums and analytics unchanged), and who may do what."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import zipfile
from typing import Any

import pytest
from console_helpers import api_headers, as_role
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.models import (
    Card,
    CardRecovery,
    Customer,
    LedgerEntry,
    NpsAnswer,
    NpsSurvey,
    PushDelivery,
    Registration,
)
from service.platform import db
from tests.helpers import bearer

APPLE_TOKEN = "ab" * 32


def issue(client: FlaskClient, seeded: dict[str, Any], name: str, **contact: str) -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": name, **contact}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def earn(client: FlaskClient, seeded: dict[str, Any], card_id: int, points: int, key: str) -> None:
    response = client.post(f"/api/v1/cards/{card_id}/transactions", json={"type": "earn", "points": points},
                           headers={**bearer(seeded["api_key"]), "Idempotency-Key": key})
    assert response.status_code == 201, response.get_json()


def register(app: Flask, card_id: int, **values: Any) -> int:
    """A PassKit registration as the web service writes it (created now unless told)."""
    with app.app_context():
        session = db.session()
        card = session.get(Card, card_id)
        row = Registration(device_library_identifier=values.pop("device", "device-1"), card_id=card_id,
                           pass_type_identifier=card.program.pass_type_identifier,
                           push_token=values.pop("push_token", APPLE_TOKEN), **values)
        session.add(row)
        session.commit()
        return row.id


def push(app: Flask, card_id: int, registration_id: int | None, status: str, *, version: int | None = None,
         reason: str | None = None, token: str = APPLE_TOKEN) -> None:
    with app.app_context():
        session = db.session()
        card = session.get(Card, card_id)
        session.add(PushDelivery(card_id=card_id, card_version=card.version if version is None else version,
                                 registration_id=registration_id,
                                 push_token=token, client_kind="apple", topic="pass.test", status=status,
                                 reason=reason, attempts=1))
        session.commit()


def backdate_registration(app: Flask, registration_id: int, card_id: int) -> None:
    """The phone added the pass before the card's last change."""
    with app.app_context():
        session = db.session()
        card, row = session.get(Card, card_id), session.get(Registration, registration_id)
        row.created_at = row.updated_at = card.updated_at - dt.timedelta(minutes=5)
        session.commit()


def diagnosis(client: FlaskClient, seeded: dict[str, Any], card_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/cards/{card_id}/diagnosis", headers=bearer(seeded["api_key"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture(autouse=True)
def _no_analytics_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow (loaded) machine would keep the first report in the cache; the tests compare fresh ones."""
    from service.analytics import reports

    monkeypatch.setattr(reports, "SLOW_SECONDS", float("inf"))


@pytest.fixture
def owner(app: Flask, seeded: dict[str, Any]) -> FlaskClient:
    return as_role(app, "owner", email="boss@demo.example")


# ---- search -----------------------------------------------------------------------------------

def test_search_by_each_field_in_the_api_and_on_the_page(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                         owner: FlaskClient) -> None:
    anna = issue(client, seeded, "Anna de Vries", email="anna@example.com", phone="+31 6 1234 5678")
    issue(client, seeded, "Boris Petrov", email="boris@example.com", phone="+7 900 000 00 00")
    key = bearer(seeded["api_key"])
    for query in ({"q": "anna de"}, {"q": "ANNA@example.com"}, {"q": "+31 6 1234 5678"}, {"q": anna["number"]},
                  {"q": anna["number"].replace(" ", "")}, {"q": anna["serial_number"]}, {"name": "vries"},
                  {"email": "anna@example.com"}, {"phone": "+31 6 1234 5678"}, {"number": anna["number"]}):
        found = client.get("/api/v1/cards", query_string=query, headers=key).get_json()
        assert [card["id"] for card in found] == [anna["id"]], query
        page = owner.get("/console/members", query_string={"q": next(iter(query.values()))}).get_data(as_text=True)
        assert 'id="member-results"' in page and "Anna de Vries" in page and "Boris Petrov" not in page, query
    # a number with a wrong check digit is a typo: the API says so; the search box simply finds nothing
    wrong = anna["number"][:-1] + str((int(anna["number"][-1]) + 1) % 10)
    refused = client.get("/api/v1/cards", query_string={"number": wrong}, headers=key)
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "number"
    assert client.get("/api/v1/cards", query_string={"q": wrong}, headers=key).get_json() == []
    assert "member-results-none" in owner.get("/console/members?q=nobody").get_data(as_text=True)


def test_the_list_is_paginated(client: FlaskClient, seeded: dict[str, Any], owner: FlaskClient) -> None:
    for i in range(27):
        issue(client, seeded, f"Member {i:02d}", email=f"m{i}@example.com")
    first = owner.get("/console/members").get_data(as_text=True)
    assert first.count("data-card-id=") == 25 and "Member 26" in first and "Member 01" not in first
    next_link = first.split('id="members-next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = owner.get(next_link).get_data(as_text=True)
    assert second.count("data-card-id=") == 2 and "Member 01" in second and "Member 00" in second
    assert 'id="members-next"' not in second and 'id="members-first"' in second
    # the API pages the same search the same way
    api = client.get("/api/v1/cards", query_string={"q": "member", "limit": 25}, headers=bearer(seeded["api_key"]))
    assert len(api.get_json()) == 25 and 'rel="next"' in api.headers["Link"]


# ---- the card page ----------------------------------------------------------------------------

def test_card_page_shows_balance_tier_ledger_devices_and_google(app: Flask, client: FlaskClient,
                                                                 seeded: dict[str, Any], owner: FlaskClient) -> None:
    card = issue(client, seeded, "Clara Holm", email="clara@example.com")
    earn(client, seeded, card["id"], 40, "e-1")
    registration = register(app, card["id"])
    page = owner.get(f"/console/members/{card['id']}").get_data(as_text=True)
    assert "Clara Holm" in page and card["number"] in page and "clara@example.com" in page
    assert '<dd id="card-balance">40</dd>' in page and 'id="card-tier"' in page
    assert 'id="ledger"' in page and "+40" in page
    assert 'id="devices"' in page and "Apple Wallet" in page
    assert f'data-registration-id="{registration}"' in page and 'id="diagnosis-list"' in page
    assert "Google Wallet is not configured" in page  # the test settings have no Google issuer
    for control in ("adjust-form", "resend-form", "void-form", "export-link", "erase-form"):
        assert f'id="{control}"' in page, control


def test_another_brands_card_is_404_on_the_page_and_in_the_api(app: Flask, client: FlaskClient,
                                                               seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Dana Kovac", email="dana@example.com")
    other = as_role(app, "owner", brand_name="Other Tea")
    assert other.get(f"/console/members/{card['id']}").status_code == 404
    assert "Dana" not in other.get("/console/members?q=dana").get_data(as_text=True)
    headers = api_headers(other)
    with app.app_context():
        customer_id = db.session().get(Card, card["id"]).customer_id
    for method, url in (("GET", f"/api/v1/cards/{card['id']}/diagnosis"),
                        ("POST", f"/api/v1/cards/{card['id']}/resend"),
                        ("GET", f"/api/v1/customers/{customer_id}/export"),
                        ("POST", f"/api/v1/customers/{customer_id}/erase")):
        response = other.open(url, method=method, json={} if method == "POST" else None, headers=headers)
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.headers["Content-Type"] == "application/problem+json"


# ---- why hasn't this phone updated? ------------------------------------------------------------

def test_no_registration_and_removed(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                     owner: FlaskClient) -> None:
    card = issue(client, seeded, "Emil Sand")
    answer = diagnosis(client, seeded, card["id"])
    assert answer["devices"] == [] and answer["apple"]["state"] == "no_registration"
    assert answer["apple"]["removed"] is False
    assert "never added" in owner.get(f"/console/members/{card['id']}").get_data(as_text=True)
    push(app, card["id"], None, "unregistered", reason="Unregistered")  # a push whose registration is gone
    answer = diagnosis(client, seeded, card["id"])
    assert answer["apple"]["removed"] is True and "removed" in answer["apple"]["summary"]
    assert 'data-state="removed"' in owner.get(f"/console/members/{card['id']}").get_data(as_text=True)


def test_token_dead_with_its_reason(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                    owner: FlaskClient) -> None:
    card = issue(client, seeded, "Fay Lund")
    register(app, card["id"], active=False, dead_reason="BadDeviceToken")
    [device] = diagnosis(client, seeded, card["id"])["devices"]
    assert device["state"] == "token_dead" and device["reason"] == "BadDeviceToken"
    assert "BadDeviceToken" in device["summary"]
    page = owner.get(f"/console/members/{card['id']}").get_data(as_text=True)
    assert 'data-state="token_dead"' in page and "refused this phone&#39;s push token (BadDeviceToken)" in page
    devices = client.get(f"/api/v1/cards/{card['id']}/devices", headers=bearer(seeded["api_key"])).get_json()
    assert devices["registrations"][0]["diagnosis"]["state"] == "token_dead"


def test_relay_not_configured(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Gus Ahl")
    register(app, card["id"], client_kind="relay", client_app="pass2u", push_token="APA91b-pass2u-0001")
    [device] = diagnosis(client, seeded, card["id"])["devices"]
    assert device["state"] == "relay_not_configured" and device["app"] == "pass2u"
    assert device["reason"] == "PASS2U_PUSH_URL is not configured"


def test_pushed_but_not_fetched_then_up_to_date_once_the_phone_asks(app: Flask, client: FlaskClient,
                                                                    seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Hana Ito")
    registration = register(app, card["id"])
    earn(client, seeded, card["id"], 5, "h-1")  # a change after the phone added it: a push is queued and sent
    backdate_registration(app, registration, card["id"])
    with app.app_context():
        session = db.session()
        session.query(PushDelivery).filter_by(card_id=card["id"]).delete()
        session.commit()
    push(app, card["id"], registration, "accepted")
    [device] = diagnosis(client, seeded, card["id"])["devices"]
    assert device["state"] == "pushed_not_fetched" and device["last_push_status"] == "accepted"
    # the phone asks for the pass (PassKit web service): that confirms the push
    with app.app_context():
        row = db.session().get(Card, card["id"])
        type_id, serial, token = row.program.pass_type_identifier, row.serial_number, row.authentication_token
    fetched = client.get(f"/passkit/v1/passes/{type_id}/{serial}", headers={"Authorization": f"ApplePass {token}"})
    assert fetched.status_code == 200
    [device] = diagnosis(client, seeded, card["id"])["devices"]
    assert device["state"] == "up_to_date"


def test_push_pending_failed_unreachable_and_not_pushed(app: Flask, client: FlaskClient,
                                                        seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Ivo Rak")
    registration = register(app, card["id"])
    backdate_registration(app, registration, card["id"])
    assert diagnosis(client, seeded, card["id"])["devices"][0]["state"] == "not_pushed"
    push(app, card["id"], registration, "confirmed", version=card["version"] - 1 if card["version"] > 1 else 0)
    assert diagnosis(client, seeded, card["id"])["devices"][0]["state"] == "not_pushed"
    for status, expected, reason in (("retry", "push_pending", None), ("failed", "push_failed", "TopicDisallowed"),
                                     ("unreachable", "unreachable", "SENDER_ID_MISMATCH")):
        with app.app_context():
            session = db.session()
            session.query(PushDelivery).filter_by(card_id=card["id"], card_version=card["version"]).delete()
            session.commit()
        push(app, card["id"], registration, status, reason=reason)
        [device] = diagnosis(client, seeded, card["id"])["devices"]
        assert device["state"] == expected, status
        if reason:
            assert reason in device["summary"]


def test_a_phone_that_added_the_card_after_its_last_change_is_up_to_date(app: Flask, client: FlaskClient,
                                                                        seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Jon Berg")
    register(app, card["id"])
    [device] = diagnosis(client, seeded, card["id"])["devices"]
    assert device["state"] == "up_to_date"


def test_the_diagnosis_in_russian(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                  owner: FlaskClient) -> None:
    card = issue(client, seeded, "Katya Orlova")
    registration = register(app, card["id"])
    backdate_registration(app, registration, card["id"])
    push(app, card["id"], registration, "accepted")
    page = owner.get(f"/console/members/{card['id']}?lang=ru").get_data(as_text=True)
    assert "Почему телефон не обновился?" in page and "Пуш отправлен, но карта не загружена" in page
    assert "Изменить баллы" in page and "Журнал операций" in page
    assert "Google Wallet на этом сервере не настроен" in page
    index = owner.get("/console/members?lang=ru").get_data(as_text=True)
    assert "Найти участника" in index and '<html lang="ru">' in index


# ---- actions ------------------------------------------------------------------------------------

def test_adjust_points_with_a_reason_as_the_console_posts_it(app: Flask, client: FlaskClient,
                                                             seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Lena Vik")
    marketer = as_role(app, "marketer")  # `members`, no `cashier`: adjustments only
    headers = {**api_headers(marketer), "Idempotency-Key": "adj-1"}
    url = f"/api/v1/cards/{card['id']}/transactions"
    added = marketer.post(url, json={"type": "earn", "points": 25, "reason": "Coffee machine broke"}, headers=headers)
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["balance"] == 25 and added.get_json()["reason"] == "Coffee machine broke"
    replay = marketer.post(url, json={"type": "earn", "points": 25, "reason": "Coffee machine broke"}, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.get_json()["balance"] == 25
    # a reason is required for an adjustment without `cashier`; a purchase is the counter's
    no_reason = marketer.post(url, json={"type": "redeem", "points": 5},
                              headers={**api_headers(marketer), "Idempotency-Key": "adj-2"})
    assert no_reason.status_code == 422 and no_reason.get_json()["errors"][0]["field"] == "reason"
    purchase = marketer.post(url, json={"type": "purchase", "amount": "5.00", "reason": "x"},
                             headers={**api_headers(marketer), "Idempotency-Key": "adj-3"})
    assert purchase.status_code == 403 and purchase.get_json()["permission"] == "cashier"
    taken = marketer.post(url, json={"type": "redeem", "points": 5, "reason": "Double scan"},
                          headers={**api_headers(marketer), "Idempotency-Key": "adj-4"})
    assert taken.status_code == 201 and taken.get_json()["balance"] == 20
    page = marketer.get(f"/console/members/{card['id']}").get_data(as_text=True)
    assert "Coffee machine broke" in page and "Double scan" in page and "+25" in page and "-5" in page
    with app.app_context():
        from service.models import AuditEntry

        audited = db.session().scalars(select(AuditEntry).where(AuditEntry.action == "card.points_adjusted")).all()
        assert sorted(entry.changes["reason"] for entry in audited) == ["Coffee machine broke", "Double scan"]
    # the page's form is what console.js posts: JSON from named inputs, with an Idempotency-Key
    assert 'data-api="POST /api/v1/cards/{}/transactions" data-idempotent'.format(card["id"]) in page
    assert 'name="reason"' in page and 'name="points"' in page and 'data-type="int"' in page


def test_void_from_the_console(app: Flask, client: FlaskClient, seeded: dict[str, Any], owner: FlaskClient) -> None:
    card = issue(client, seeded, "Mia Roos")
    voided = owner.post(f"/api/v1/cards/{card['id']}/void", json={"reason": "Duplicate"}, headers=api_headers(owner))
    assert voided.status_code == 200 and voided.get_json()["voided"] is True
    page = owner.get(f"/console/members/{card['id']}").get_data(as_text=True)
    assert "voided" in page and "voided: Duplicate" in page and 'id="adjust-form"' not in page


def test_resend_the_card_link_goes_to_the_mail_log(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                   owner: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    card = issue(client, seeded, "Nora Falk", email="nora@example.com")
    caplog.set_level(logging.WARNING, logger="passcast.notify")
    sent = owner.post(f"/api/v1/cards/{card['id']}/resend", json={}, headers=api_headers(owner))
    assert sent.status_code == 202, sent.get_json()
    assert sent.get_json()["to"] == "nora@example.com" and sent.get_json()["queued"] is True
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "passcast.notify")
    assert "nora@example.com" in logged and "/recover/" in logged and "SMTP_HOST" in logged
    with app.app_context():
        row = db.session().scalars(select(CardRecovery).where(CardRecovery.card_id == card["id"])).one()
        assert row.channel == "email" and row.sent_at is not None
    nobody = issue(client, seeded, "Otto Noemail", phone="+49 151 0000000")
    refused = owner.post(f"/api/v1/cards/{nobody['id']}/resend", json={}, headers=api_headers(owner))
    assert refused.status_code == 409 and refused.get_json()["type"].endswith("/problems/no-email")


def _customer_id(app: Flask, card_id: int) -> int:
    with app.app_context():
        return db.session().get(Card, card_id).customer_id


def _nps_answer(app: Flask, card_id: int, score: int, comment: str) -> None:
    with app.app_context():
        session = db.session()
        card = session.get(Card, card_id)
        survey = NpsSurvey(brand_id=card.brand_id, program_id=card.program_id)
        session.add(survey)
        session.flush()
        session.add(NpsAnswer(survey_id=survey.id, brand_id=card.brand_id, card_id=card_id, score=score,
                              comment=comment))
        session.commit()


def test_export_contains_everything_we_hold(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                            owner: FlaskClient) -> None:
    card = issue(client, seeded, "Pia Dahl", email="pia@example.com", phone="+45 20 00 00 00")
    earn(client, seeded, card["id"], 12, "p-1")
    registration = register(app, card["id"])
    push(app, card["id"], registration, "accepted")
    referred = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": "Friend of Pia"}}).get_json()
    with app.app_context():
        session = db.session()
        session.get(Card, referred["id"]).referred_by_id = card["id"]
        session.commit()
    customer_id = _customer_id(app, card["id"])
    response = owner.get(f"/api/v1/customers/{customer_id}/export")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    document = json.loads(response.get_data(as_text=True))
    assert document["profile"]["name"] == "Pia Dahl" and document["profile"]["email"] == "pia@example.com"
    assert document["profile"]["phone"] == "+45 20 00 00 00"
    assert document["consents"][0]["kind"] == "program_terms"
    [exported] = document["cards"]
    assert exported["number"] == card["number"] and exported["balance"] == 12
    assert [row["points"] for row in exported["ledger"] if row["kind"] == "earn"] == [12]
    assert exported["devices"][0]["push_token"] == APPLE_TOKEN
    assert exported["pushes"][0]["status"] == "accepted"
    assert exported["referred_card_ids"] == [referred["id"]]
    assert document["referrals"] == [{"card_id": referred["id"], "referred_by_card_id": card["id"],
                                      "created_at": document["referrals"][0]["created_at"]}]


def _analytics(client: FlaskClient, seeded: dict[str, Any]) -> dict[str, Any]:
    response = client.get("/api/v1/analytics/summary", headers=bearer(seeded["api_key"]))
    assert response.status_code == 200, response.get_json()
    return {key: value for key, value in response.get_json().items() if key != "computed_at"}


def test_erase_removes_personal_data_and_keeps_the_ledger_and_analytics(app: Flask, client: FlaskClient,
                                                                        seeded: dict[str, Any],
                                                                        owner: FlaskClient) -> None:
    card = issue(client, seeded, "Quinn Ek", email="quinn@example.com", phone="+46 70 000 00 00")
    earn(client, seeded, card["id"], 30, "q-1")
    client.post(f"/api/v1/cards/{card['id']}/transactions", json={"type": "redeem", "points": 10},
                headers={**bearer(seeded["api_key"]), "Idempotency-Key": "q-2"})
    bought = client.post(f"/api/v1/cards/{card['id']}/transactions", json={"type": "purchase", "amount": "12.50"},
                         headers={**bearer(seeded["api_key"]), "Idempotency-Key": "q-3"})
    assert bought.status_code == 201
    register(app, card["id"])
    with app.app_context():
        session = db.session()
        session.get(Customer, _customer_id(app, card["id"])).birthday = dt.date(1990, 4, 1)
        session.commit()
    customer_id = _customer_id(app, card["id"])
    with app.app_context():
        sums_before = db.session().execute(select(func.sum(LedgerEntry.points), func.count(LedgerEntry.id))
                                           .where(LedgerEntry.card_id == card["id"])).one()
    analytics_before = _analytics(client, seeded)

    erased = owner.post(f"/api/v1/customers/{customer_id}/erase", json={"reason": "Art. 17 request"},
                        headers=api_headers(owner))
    assert erased.status_code == 200, erased.get_json()
    assert erased.get_json()["cards_voided"] == 1 and erased.get_json()["registrations_deleted"] == 1
    with app.app_context():
        session = db.session()
        customer = session.get(Customer, customer_id)
        assert (customer.name, customer.email, customer.phone, customer.birthday) == ("", None, None, None)
        row = session.get(Card, card["id"])
        assert row.voided is True and row.balance == sums_before[0]
        assert session.scalars(select(Registration).where(Registration.card_id == card["id"])).all() == []
        assert all(p.push_token.startswith("erased:")
                   for p in session.scalars(select(PushDelivery).where(PushDelivery.card_id == card["id"])))
        sums_after = session.execute(select(func.sum(LedgerEntry.points), func.count(LedgerEntry.id))
                                     .where(LedgerEntry.card_id == card["id"])).one()
        assert sums_after[0] == sums_before[0] and sums_after[1] == sums_before[1] + 1  # + the 0-point void
        from service.models import AuditEntry

        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.erased")).one()
        assert entry.changes["reason"] == "Art. 17 request" and "quinn" not in json.dumps(entry.changes)
    analytics_after = _analytics(client, seeded)
    # Every total stays; only "in an Apple wallet now" drops, as the registration is gone and the card voided.
    assert analytics_before["cards"].pop("installed_apple") == 1
    assert analytics_after["cards"].pop("installed_apple") == 0
    assert analytics_before["purchases"]["revenue"] == "12.50"
    assert analytics_before["redemption"]["points_redeemed"] == 10
    assert analytics_after == analytics_before
    page = owner.get(f"/console/members/{card['id']}").get_data(as_text=True)
    assert "Anonymous (data erased)" in page and "quinn@example.com" not in page and 'id="erase-form"' not in page
    assert "Quinn" not in owner.get("/console/members?q=quinn").get_data(as_text=True)
    document = owner.get(f"/api/v1/customers/{customer_id}/export").get_json()
    assert document["profile"]["erased"] is True and document["cards"][0]["devices"] == []
    # the pass is signed again without the name (the stored one printed it)
    download = client.get(card["apple_pass_url"].removeprefix("http://127.0.0.1:8000"))
    assert download.status_code == 200, download.status_code
    with zipfile.ZipFile(io.BytesIO(download.data)) as pkpass:
        pass_json = pkpass.read("pass.json").decode()
    assert "Quinn" not in pass_json and '"voided": true' in pass_json.replace('"voided":true', '"voided": true')
    again = owner.post(f"/api/v1/customers/{customer_id}/erase", json={}, headers=api_headers(owner))
    assert again.status_code == 200 and again.get_json()["cards_voided"] == 0


def test_erase_removes_nps_comments_but_keeps_scores(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                     owner: FlaskClient) -> None:
    card = issue(client, seeded, "Rut Alm", email="rut@example.com")
    _nps_answer(app, card["id"], 9, "Lovely staff, ask for Rut")
    nps_before = _analytics_nps(client, seeded)
    owner.post(f"/api/v1/customers/{_customer_id(app, card['id'])}/erase", json={}, headers=api_headers(owner))
    with app.app_context():
        answer = db.session().scalars(select(NpsAnswer).where(NpsAnswer.card_id == card["id"])).one()
        assert answer.score == 9 and answer.comment is None
    assert _analytics_nps(client, seeded) == nps_before


def _analytics_nps(client: FlaskClient, seeded: dict[str, Any]) -> Any:
    response = client.get("/api/v1/analytics/nps", headers=bearer(seeded["api_key"]))
    assert response.status_code == 200, response.get_json()
    return {key: value for key, value in response.get_json().items() if key != "computed_at"}


# ---- who may do what -------------------------------------------------------------------------------

def test_an_analyst_sees_no_controls_and_the_api_refuses_them(app: Flask, client: FlaskClient,
                                                              seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Sami Oja", email="sami@example.com")
    analyst = as_role(app, "analyst")
    page = analyst.get(f"/console/members/{card['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="diagnosis-list"' in html and "Sami Oja" in html
    for control in ("adjust-form", "resend-form", "void-form", "export-link", "erase-form"):
        assert f'id="{control}"' not in html, control
    customer_id = _customer_id(app, card["id"])
    headers = api_headers(analyst)
    for method, url, body in (("POST", f"/api/v1/cards/{card['id']}/transactions", {"type": "earn", "points": 5,
                                                                                       "reason": "x"}),
                              ("POST", f"/api/v1/cards/{card['id']}/void", {}),
                              ("POST", f"/api/v1/cards/{card['id']}/resend", {}),
                              ("GET", f"/api/v1/customers/{customer_id}/export", None),
                              ("POST", f"/api/v1/customers/{customer_id}/erase", {})):
        response = analyst.open(url, method=method, json=body, headers={**headers, "Idempotency-Key": "a-1"})
        assert response.status_code == 403, (url, response.status_code)
    assert analyst.get(f"/api/v1/cards/{card['id']}/diagnosis").status_code == 200
    with app.app_context():
        assert db.session().get(Card, card["id"]).balance == 0


def test_a_store_manager_reads_members_but_changes_nothing(app: Flask, client: FlaskClient,
                                                           seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Tove Brink", email="tove@example.com")
    manager = as_role(app, "store_manager", store_ids=[seeded["store_ids"][0]])
    assert "Tove Brink" in manager.get("/console/members?q=tove").get_data(as_text=True)
    html = manager.get(f"/console/members/{card['id']}").get_data(as_text=True)
    assert 'id="adjust-form"' not in html and 'id="export-link"' not in html
    export = manager.get(f"/api/v1/customers/{_customer_id(app, card['id'])}/export")
    assert export.status_code == 403 and export.get_json()["permission"] == "members"


def test_the_menu_has_members_for_everyone_signed_in(app: Flask, seeded: dict[str, Any]) -> None:
    analyst = as_role(app, "analyst")
    html = analyst.get("/console/dashboard").get_data(as_text=True)
    assert 'href="/console/members"' in html
