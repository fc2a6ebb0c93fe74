"""The challenges API and console page: validation as problem+json naming each field (never a silently
dropped field), another brand's challenges and programs answered as missing, scopes, switching off,
changing and removing; the console page in English and Russian, its forms posting to the API, and
roles without the permission seeing no forms."""

from __future__ import annotations

from typing import Any

import pytest
from console_helpers import api_headers, as_role
from flask import Flask
from flask.testing import FlaskClient

from service import demo
from service.models import Program
from service.platform import db
from tests.helpers import bearer
from tests.service.journeys.test_challenges import buy, card_of, make_challenge, windows
from tests.service.loyalty.test_loyalty import issue

PROBLEM = "application/problem+json"
GOOD = {"name": "December challenge", "target": 5, "starts_at": "2026-12-01T00:00:00Z",
        "ends_at": "2027-01-01T00:00:00Z", "bonus": "points", "bonus_amount": 100}


def post(client: FlaskClient, key: str, program_id: int, **changes: Any) -> Any:
    body = {name: value for name, value in {**GOOD, **changes}.items() if value is not ...}
    return client.post(f"/api/v1/programs/{program_id}/challenges", json=body, headers=bearer(key))


def invalid(response: Any) -> dict[str, str]:
    """{field: message} of a 422 problem."""
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM
    body = response.get_json()
    return {error["field"]: error["message"] for error in body["errors"]}


@pytest.mark.parametrize(("changes", "field"), [
    ({"target": 0}, "target"),
    ({"target": 101}, "target"),
    ({"ends_at": None}, "ends_at"),  # neither an end nor rolling days
    ({"ends_at": "2026-11-30T00:00:00Z"}, "ends_at"),  # before the start
    ({"min_amount": "5.00"}, "min_amount"),  # a visits challenge has no least amount
    ({"counts": "likes"}, "counts"),
    ({"bonus_amount": None}, "bonus_amount"),
    ({"bonus": "stamps", "bonus_amount": 2}, "bonus"),  # the demo program is a points program
    ({"bonus": "coupon", "bonus_amount": None}, "coupon_name"),
    ({"bonus": "coupon", "bonus_amount": None, "coupon_reward_id": 2147483647}, "coupon_reward_id"),
    ({"coupon_name": "Cake"}, "bonus"),  # coupon fields with a points bonus
    ({"rolling_days": 0}, "rolling_days"),
    ({"name": ""}, "name"),
    ({"surprise": True}, "surprise"),  # an unknown field is refused, not dropped
])
def test_what_a_challenge_may_not_be_is_a_422_naming_the_field(
        client: FlaskClient, seeded: dict[str, Any], changes: dict[str, Any], field: str) -> None:
    assert field in invalid(post(client, seeded["api_key"], seeded["program_id"], **changes))


def test_a_discount_program_gives_a_coupon_and_a_rolling_challenge_needs_no_end(
        client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = seeded["api_key"]
    program = client.post("/api/v1/programs", json={"name": "Ten off", "kind": "discount", "discount_percent": "10"},
                          headers=bearer(key)).get_json()
    assert "bonus" in invalid(post(client, key, program["id"]))
    made = post(client, key, program["id"], bonus="coupon", bonus_amount=None, coupon_name="Free cake",
                ends_at=None, rolling_days=30)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["bonus"], body["coupon_name"], body["rolling_days"], body["ends_at"], body["enabled"]) == (
        "coupon", "Free cake", 30, None, True)


def test_changing_switching_off_and_removing_a_challenge(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    challenge = make_challenge(client, seeded, target=3)
    card = issue(client, seeded)
    buy(client, seeded, card["id"])
    got = client.get(f"/api/v1/challenges/{challenge['id']}", headers=key).get_json()
    assert (got["cards_started"], got["cards_completed"]) == (1, 0)
    changed = client.patch(f"/api/v1/challenges/{challenge['id']}", json={"target": 2, "name": "Two visits"},
                           headers=key)
    assert changed.status_code == 200 and changed.get_json()["target"] == 2
    done = buy(client, seeded, card["id"])
    assert done["challenges_completed"][0]["name"] == "Two visits", "a changed target applies at once"
    assert "ends_at" in invalid(client.patch(f"/api/v1/challenges/{challenge['id']}", json={"ends_at": None},
                                             headers=key)), "the whole challenge is checked again"
    off = client.patch(f"/api/v1/challenges/{challenge['id']}", json={"enabled": False}, headers=key)
    assert off.status_code == 200 and off.get_json()["enabled"] is False
    listed = client.get(f"/api/v1/programs/{seeded['program_id']}/challenges", headers=key).get_json()
    assert [(item["id"], item["enabled"]) for item in listed] == [(challenge["id"], False)]
    assert card_of(client, seeded, card["id"])["challenges"] == []
    assert client.delete(f"/api/v1/challenges/{challenge['id']}", headers=key).status_code == 204
    assert client.get(f"/api/v1/challenges/{challenge['id']}", headers=key).status_code == 404
    assert card_of(client, seeded, card["id"])["balance"] == 120, "the bonus given stays on the card"
    log = client.get("/api/v1/audit-log", headers=key).get_json()
    actions = {entry["action"] for entry in log}
    assert {"challenge.created", "challenge.updated", "challenge.deleted"} <= actions


def test_another_brand_sees_none_of_our_challenges_and_scopes_are_kept(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    challenge = make_challenge(client, seeded)
    with app.app_context():
        session = db.session()
        brand = demo.create_brand(session, "Other Tea", "other-tea")
        other = demo.create_api_key(session, brand, "b")
        session.commit()
    theirs = bearer(other)
    for answer in (client.get(f"/api/v1/challenges/{challenge['id']}", headers=theirs),
                   client.patch(f"/api/v1/challenges/{challenge['id']}", json={"enabled": False}, headers=theirs),
                   client.delete(f"/api/v1/challenges/{challenge['id']}", headers=theirs),
                   client.get(f"/api/v1/programs/{seeded['program_id']}/challenges", headers=theirs),
                   post(client, other, seeded["program_id"])):
        assert answer.status_code == 404 and answer.mimetype == PROBLEM
    owner = as_role(app, "owner")
    read_only = owner.post("/api/v1/api-keys", json={"name": "ro", "scope": "read_only"},
                           headers=api_headers(owner)).get_json()
    secret = next(value for name, value in read_only.items() if isinstance(value, str) and value.startswith("pk_"))
    assert client.get(f"/api/v1/challenges/{challenge['id']}", headers=bearer(secret)).status_code == 200
    refused = post(client, secret, seeded["program_id"])
    assert refused.status_code == 403 and refused.get_json()["permission"] == "campaigns"
    assert client.get(f"/api/v1/challenges/{challenge['id']}").status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/challenges/{challenge_id}" in spec["paths"]
    assert "/api/v1/programs/{program_id}/challenges" in spec["paths"]


# --- the console ----------------------------------------------------------------------------------


def test_the_console_page_lists_makes_and_switches_challenges_in_both_languages(
        app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    program_id = seeded["program_id"]
    page = marketer.get("/console/challenges")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-api="POST /api/v1/programs/{program_id}/challenges"' in html and "challenges-none" in html
    assert 'href="/console/challenges"' in html  # in the menu
    # what console.js sends from the form: datetime-local values (no zone: UTC), numbers, a blank left out
    made = marketer.post(f"/api/v1/programs/{program_id}/challenges", headers=api_headers(marketer), json={
        "name": "December challenge", "counts": "purchases", "min_amount": "10.00", "target": 5,
        "starts_at": "2026-12-01T00:00", "ends_at": "2027-01-01T00:00", "bonus": "points", "bonus_amount": 100})
    assert made.status_code == 201, made.get_json()
    challenge = made.get_json()
    assert challenge["starts_at"].startswith("2026-12-01T00:00:00")
    html = marketer.get("/console/challenges").get_data(as_text=True)
    assert "December challenge" in html and "100 Points" in html
    assert f'data-api="PATCH /api/v1/challenges/{challenge["id"]}"' in html and "Switch off" in html
    switched = marketer.patch(f"/api/v1/challenges/{challenge['id']}", json={"enabled": False},
                              headers=api_headers(marketer))
    assert switched.status_code == 200
    russian = marketer.get("/console/challenges?lang=ru").get_data(as_text=True)
    assert "Челленджи" in russian and "выключен" in russian and "Включить" in russian
    analyst = as_role(app, "analyst")
    seen = analyst.get("/console/challenges").get_data(as_text=True)
    assert "December challenge" in seen and "data-api=" not in seen and "challenges-read-only" in seen
    with app.app_context():
        program = db.session().get(Program, program_id)
        assert program is not None and program.challenges_version == 2, "made, then switched off"


def test_a_fixed_periods_new_dates_move_the_cards_windows_and_fixed_stays_fixed_once_started(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    challenge = make_challenge(client, seeded, target=2)
    card = issue(client, seeded)
    buy(client, seeded, card["id"])
    later = "2099-01-01T00:00:00Z"
    assert client.patch(f"/api/v1/challenges/{challenge['id']}", json={"ends_at": later},
                        headers=key).status_code == 200
    [window] = windows(app, card["id"])
    assert window.window_ends_at.isoformat() == "2099-01-01T00:00:00+00:00"
    assert buy(client, seeded, card["id"])["challenges_completed"], "the same window, completed"
    assert "rolling_days" in invalid(client.patch(f"/api/v1/challenges/{challenge['id']}",
                                                  json={"rolling_days": 7}, headers=key))
