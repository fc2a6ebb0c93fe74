"""The journeys API (service/api/journeys.py): create, list, read, change, switch on and off and
delete a program's journeys; 422 lists every problem, the program's own included; scopes; another
brand's journey is a 404; a journey cards have entered cannot be deleted."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import AuditEntry, Card, Customer, JourneyEntry
from service.platform import db
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue, other_brand_key

WELCOME = {"name": "Welcome", "trigger": "joined",
           "actions": [{"type": "message", "text": "Welcome, {name}!",
                        "variants": {"ru": "Добро пожаловать, {name}!"}}]}


def _key_with_scope(client: FlaskClient, seeded: dict[str, Any], scope: str) -> str:
    made = client.post("/api/v1/api-keys", json={"name": scope, "scope": scope}, headers=bearer(seeded["api_key"]))
    assert made.status_code == 201, made.get_json()
    return str(made.get_json()["key"])


def _create(client: FlaskClient, seeded: dict[str, Any], body: dict[str, Any], key: str | None = None) -> Any:
    return client.post(f"/api/v1/programs/{seeded['program_id']}/journeys", json=body,
                       headers=bearer(key or seeded["api_key"]))


def test_a_journey_is_created_listed_changed_switched_and_deleted(app: Flask, client: FlaskClient,
                                                                   seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    made = _create(client, seeded, {**WELCOME, "holdout_percent": 20, "cost_per_entry": "0.25"})
    assert made.status_code == 201, made.get_json()
    journey = made.get_json()
    assert journey["enabled"] is False and journey["holdout_percent"] == 20 and journey["cost_per_entry"] == "0.25"
    assert journey["trigger"] == "joined" and journey["trigger_value"] is None and journey["playbook"] is None
    listed = client.get(f"/api/v1/programs/{seeded['program_id']}/journeys", headers=key).get_json()
    assert [one["id"] for one in listed] == [journey["id"]]
    assert client.get(f"/api/v1/journeys/{journey['id']}", headers=key).get_json()["name"] == "Welcome"

    changed = client.patch(f"/api/v1/journeys/{journey['id']}", headers=key,
                           json={"trigger": "lapsed", "trigger_value": 45, "conditions": {"tiers": ["Gold"]}})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["trigger_value"] == 45 and changed.get_json()["conditions"] == {"tiers": ["Gold"]}
    # a change that breaks the whole (lapsed needs its days) is refused and nothing is written
    broken = client.patch(f"/api/v1/journeys/{journey['id']}", headers=key, json={"trigger_value": None})
    assert broken.status_code == 422 and broken.get_json()["errors"][0]["field"] == "trigger_value"
    assert client.get(f"/api/v1/journeys/{journey['id']}", headers=key).get_json()["trigger_value"] == 45

    on = client.post(f"/api/v1/journeys/{journey['id']}/enable", headers=key)
    assert on.status_code == 200 and on.get_json()["enabled"] is True
    off = client.post(f"/api/v1/journeys/{journey['id']}/disable", headers=key)
    assert off.status_code == 200 and off.get_json()["enabled"] is False
    with app.app_context():
        actions = list(db.session().scalars(select(AuditEntry.action).where(AuditEntry.target_type == "journey")
                                            .order_by(AuditEntry.id)))
    assert actions == ["journey.created", "journey.updated", "journey.updated", "journey.updated"]

    assert client.delete(f"/api/v1/journeys/{journey['id']}", headers=key).status_code == 204
    assert client.get(f"/api/v1/journeys/{journey['id']}", headers=key).status_code == 404


def test_every_problem_is_listed_at_once_the_programs_own_included(client: FlaskClient,
                                                                   seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    stamps = client.post("/api/v1/programs", headers=key,
                         json={"name": "Coffee stamps", "kind": "stamps", "stamps_required": 8}).get_json()
    other_reward = client.post(f"/api/v1/programs/{seeded['program_id']}/rewards", headers=key,
                               json={"name": "Croissant", "cost_points": 200}).get_json()
    refused = client.post(f"/api/v1/programs/{stamps['id']}/journeys", headers=key, json={
        "name": "", "trigger": "lapsed", "trigger_value": 0, "holdout_percent": 80,
        "conditions": {"tiers": ["Gold"], "store_ids": [seeded["store_ids"][0], 999999]},
        "actions": [{"type": "points", "points": 50}, {"type": "coupon", "reward_id": other_reward["id"]},
                    {"type": "message", "text": "Hi", "variants": {"Russian!": "Привет"}}]})
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    fields = [error["field"] for error in refused.get_json()["errors"]]
    # the shape first (name, holdout, the trigger's value): the program's checks wait for a valid shape
    assert fields == ["name", "holdout_percent", "trigger_value"]

    refused = client.post(f"/api/v1/programs/{stamps['id']}/journeys", headers=key, json={
        "name": "Lapsed", "trigger": "tier_up",
        "conditions": {"tiers": ["Gold"], "store_ids": [seeded["store_ids"][0], 999999], "min_balance": 2},
        "actions": [{"type": "points", "points": 50}, {"type": "coupon", "reward_id": other_reward["id"]},
                    {"type": "message", "text": "Hi", "variants": {"Russian!": "Привет"}}]})
    assert refused.status_code == 422
    errors = {error["field"]: error["message"] for error in refused.get_json()["errors"]}
    assert set(errors) == {"trigger", "conditions.tiers", "conditions.store_ids", "actions[0].points",
                           "actions[1].reward_id", "actions[2].variants"}
    assert "give stamps instead" in errors["actions[0].points"]
    assert "999999" in errors["conditions.store_ids"]
    assert "no tiers" in errors["trigger"]
    # the same journey with stamps is fine on the stamp card
    fine = client.post(f"/api/v1/programs/{stamps['id']}/journeys", headers=key, json={
        "name": "Lapsed", "trigger": "lapsed", "trigger_value": 30, "actions": [{"type": "stamps", "stamps": 1}]})
    assert fine.status_code == 201, fine.get_json()
    # and a stamps action on the points program is refused
    refused = _create(client, seeded, {"name": "x", "trigger": "joined", "actions": [{"type": "stamps", "stamps": 1}]})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "actions[0].stamps"


def test_scopes_and_tenancy(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    journey = _create(client, seeded, WELCOME).get_json()
    read_only = _key_with_scope(client, seeded, "read_only")
    assert client.get(f"/api/v1/journeys/{journey['id']}", headers=bearer(read_only)).status_code == 200
    refused = _create(client, seeded, WELCOME, key=read_only)
    assert refused.status_code == 403 and refused.get_json()["permission"] == "campaigns"
    assert _create(client, seeded, WELCOME, key=_key_with_scope(client, seeded, "campaigns")).status_code == 201

    other = bearer(other_brand_key(app))
    for method, path in (("get", f"/api/v1/journeys/{journey['id']}"),
                         ("patch", f"/api/v1/journeys/{journey['id']}"),
                         ("post", f"/api/v1/journeys/{journey['id']}/enable"),
                         ("get", f"/api/v1/journeys/{journey['id']}/report"),
                         ("delete", f"/api/v1/journeys/{journey['id']}"),
                         ("get", f"/api/v1/programs/{seeded['program_id']}/journeys"),
                         ("get", f"/api/v1/programs/{seeded['program_id']}/playbooks")):
        answer = getattr(client, method)(path, headers=other, **({"json": {}} if method == "patch" else {}))
        assert answer.status_code == 404, (method, path, answer.status_code)
        assert answer.headers["Content-Type"] == "application/problem+json"


def test_a_journey_cards_entered_is_switched_off_not_deleted(app: Flask, client: FlaskClient,
                                                             seeded: dict[str, Any]) -> None:
    journey = _create(client, seeded, WELCOME).get_json()
    card = issue(client, seeded, "Anna Smith", email="anna@example.com")
    with app.app_context():
        db.session().add(JourneyEntry(journey_id=journey["id"], card_id=card["id"], occurrence="join"))
        db.session().commit()
    refused = client.delete(f"/api/v1/journeys/{journey['id']}", headers=bearer(seeded["api_key"]))
    assert refused.status_code == 409 and refused.get_json()["type"] == "/problems/journey-has-history"
    with app.app_context():
        assert db.session().get(Card, card["id"]) is not None
        assert db.session().scalar(select(Customer.name).where(Customer.id == db.session().get(
            Card, card["id"]).customer_id)) == "Anna Smith"


def test_switching_on_rechecks_a_coupon_retired_since(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    reward = client.post(f"/api/v1/programs/{seeded['program_id']}/rewards", headers=key,
                         json={"name": "Free coffee", "valid_days": 30}).get_json()
    journey = _create(client, seeded, {"name": "Birthday coffee", "trigger": "birthday",
                                       "actions": [{"type": "coupon", "reward_id": reward["id"]}]}).get_json()
    assert client.delete(f"/api/v1/programs/{seeded['program_id']}/rewards/{reward['id']}",
                         headers=key).status_code in (200, 204)
    refused = client.post(f"/api/v1/journeys/{journey['id']}/enable", headers=key)
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "actions[0].reward_id"
    assert client.get(f"/api/v1/journeys/{journey['id']}", headers=key).get_json()["enabled"] is False


def test_the_openapi_description_lists_the_journey_endpoints(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/programs/{program_id}/journeys", "/api/v1/journeys/{journey_id}",
                 "/api/v1/journeys/{journey_id}/report", "/api/v1/programs/{program_id}/playbooks/{name}",
                 "/api/v1/journey-tasks", "/api/v1/journey-tasks/{task_id}/done"):
        assert path in spec["paths"], path
    assert spec["paths"]["/api/v1/programs/{program_id}/journeys"]["post"]["x-permission"] == "campaigns"
