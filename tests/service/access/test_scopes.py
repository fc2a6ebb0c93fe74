"""API key scopes: every brand-API endpoint names the permission it needs, and a key without it is
refused (403 problem+json naming the permission and the key's scope) before anything is read or written."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service.access import scopes
from service.access.scopes import PERMISSIONS, SCOPES
from service.models import ApiKey, Card
from service.platform import db
from tests.helpers import bearer

NOT_BRAND_API = {"/api/v1/openapi.json"}


def api_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, item in spec["paths"].items() for method, operation in item.items()
            if method in ("get", "post", "put", "patch", "delete")]


def new_key(client: FlaskClient, full_key: str, scope: str, name: str | None = None) -> dict[str, Any]:
    created = client.post("/api/v1/api-keys", headers=bearer(full_key), json={"name": name or scope, "scope": scope})
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def test_every_route_of_the_brand_api_declares_a_permission(app: Flask, client: FlaskClient) -> None:
    """No endpoint forgotten: every /api/v1 rule's view carries a known permission, and so does every
    operation of the OpenAPI document (`x-permission`), and the two agree."""
    declared: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule in NOT_BRAND_API:
            continue
        view = app.view_functions[rule.endpoint]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            permission = getattr(view, "permission", None)
            assert permission in PERMISSIONS, (rule.rule, method, permission)
            declared[(method.lower(), re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))] = permission
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {(method, path): operation.get("x-permission") for method, path, operation in api_operations(spec)}
    assert documented == declared
    assert len(declared) > 80
    # A GET only reads: `read`, except the audit log and the team (who did what, and who may sign in
    # to the console, are the owner's business) and a customer's data export (all their personal
    # data at once: `members`, GDPR).
    gets = {path: permission for (method, path), permission in declared.items() if method == "get"}
    assert {path: permission for path, permission in gets.items() if permission != "read"} == {
        "/api/v1/audit-log": "audit", "/api/v1/staff": "accounts", "/api/v1/staff/invites": "accounts",
        "/api/v1/customers/{customer_id}/export": "members"}
    assert all("403" in operation["responses"] for _, _, operation in api_operations(spec))


@pytest.mark.parametrize("scope", ["read_only", "cashier", "campaigns"])
def test_a_key_is_refused_every_operation_its_scope_lacks(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                          scope: str) -> None:
    key = new_key(client, seeded["api_key"], scope)["key"]
    spec = client.get("/api/v1/openapi.json").get_json()
    with app.app_context():
        before = db.session().execute(select(Card.id, Card.balance, Card.voided, Card.version)).all()
    refused = 0
    for method, path, operation in api_operations(spec):
        if not any("apiKey" in option for option in operation.get("security", spec["security"])):
            continue  # the counter's own endpoints: a brand key never signs in there
        permission = operation["x-permission"]
        if permission in SCOPES[scope] or operation.get("x-permission-also") in SCOPES[scope]:
            continue  # the scope holds the permission, or the second one that opens it too
        url = re.sub(r"{kind}", "logo", re.sub(r"{\w+_id}", "1", path))
        content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        response = client.open(url, method=method.upper(), headers={**bearer(key), "Idempotency-Key": "s-1"},
                               data=json.dumps(content.get("example", {})), content_type="application/json")
        assert response.status_code == 403, (scope, method, path, response.status_code, response.get_json())
        assert response.headers["Content-Type"] == "application/problem+json"
        problem = response.get_json()
        assert (problem["permission"], problem["scope"]) == (permission, scope)
        assert f"`{permission}`" in problem["detail"] and f"`{scope}`" in problem["detail"]
        refused += 1
    assert refused >= 30
    with app.app_context():
        assert db.session().execute(select(Card.id, Card.balance, Card.voided, Card.version)).all() == before


def test_what_each_scope_may_do(client: FlaskClient, seeded: dict[str, Any]) -> None:
    full = bearer(seeded["api_key"])
    program = seeded["program_id"]
    card = client.post(f"/api/v1/programs/{program}/cards", headers=full,
                       json={"customer": {"name": "Ann", "email": "ann@example.com"}}).get_json()
    read_only = bearer(new_key(client, seeded["api_key"], "read_only")["key"])
    cashier = bearer(new_key(client, seeded["api_key"], "cashier")["key"])
    campaigns = bearer(new_key(client, seeded["api_key"], "campaigns")["key"])
    demo_key_id = client.get("/api/v1/api-keys", headers=full).get_json()[0]["id"]

    # read_only: every GET, nothing else; in particular it can neither revoke keys nor void cards
    for url in ("/api/v1/programs", f"/api/v1/cards/{card['id']}", "/api/v1/analytics/summary", "/api/v1/api-keys"):
        assert client.get(url, headers=read_only).status_code == 200, url
    assert client.delete(f"/api/v1/api-keys/{demo_key_id}", headers=read_only).status_code == 403
    assert client.post(f"/api/v1/cards/{card['id']}/void", headers=read_only, json={}).status_code == 403
    assert client.get("/api/v1/audit-log", headers=read_only).status_code == 403
    # cashier: the counter's transactions
    earned = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**cashier, "Idempotency-Key": "c-1"},
                         json={"type": "earn", "points": 5})
    assert earned.status_code == 201
    assert client.post("/api/v1/stores", headers=cashier,
                       json={"name": "X", "latitude": 1.0, "longitude": 2.0}).status_code == 403
    assert client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**read_only, "Idempotency-Key": "r-1"},
                       json={"type": "earn", "points": 5}).status_code == 403
    # campaigns: campaigns, not the card design
    draft = client.post("/api/v1/campaigns", headers=campaigns,
                        json={"name": "Hello", "audience": {"any": [{"new": {"days": 30}}]},
                              "message": "Hi"})
    assert draft.status_code == 201, draft.get_json()
    assert client.patch(f"/api/v1/programs/{program}", headers=campaigns,
                        json={"background_color": "#000000"}).status_code == 403
    assert client.post("/api/v1/campaigns", headers=cashier,
                       json={"name": "No", "audience": {"any": [{"new": {"days": 30}}]}, "message": "Hi"}
                       ).status_code == 403
    # full: everything, the audit log and voids included
    assert client.get("/api/v1/audit-log", headers=full).status_code == 200
    assert client.post(f"/api/v1/cards/{card['id']}/void", headers=full, json={}).status_code == 200


def test_keys_list_their_scope_and_old_keys_are_full(client: FlaskClient, seeded: dict[str, Any]) -> None:
    """The demo key is made without a scope (as every key before scopes): it is `full`."""
    full = bearer(seeded["api_key"])
    created = new_key(client, seeded["api_key"], "cashier", "till sync")
    assert created["scope"] == "cashier"
    listed = {key["name"]: key["scope"] for key in client.get("/api/v1/api-keys", headers=full).get_json()}
    assert listed == {"demo": "full", "till sync": "cashier"}
    assert client.get(f"/api/v1/api-keys/{created['id']}", headers=full).get_json()["scope"] == "cashier"
    default = client.post("/api/v1/api-keys", headers=full, json={"name": "no scope said"}).get_json()
    assert default["scope"] == "full"
    wrong = client.post("/api/v1/api-keys", headers=full, json={"name": "x", "scope": "admin"})
    assert wrong.status_code == 422 and wrong.get_json()["errors"][0]["field"] == "scope"


def test_a_key_never_grants_more_than_its_creator_holds(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Only `full` keys hold `keys` today; a principal that may create keys but holds less (a staff role,
    here a scope made for the test) can hand out only what it has."""
    monkeypatch.setitem(scopes.SCOPES, "key_manager", frozenset({"read", "keys"}))
    manager = new_key(client, seeded["api_key"], "read_only", "manager")
    with app.app_context():
        db.session().execute(update(ApiKey).where(ApiKey.id == manager["id"]).values(scope="key_manager"))
        db.session().commit()
    headers = bearer(manager["key"])
    for scope, status in (("full", 403), ("cashier", 403), ("campaigns", 403), ("read_only", 201)):
        response = client.post("/api/v1/api-keys", headers=headers, json={"name": scope, "scope": scope})
        assert response.status_code == status, (scope, response.get_json())
    refused = client.post("/api/v1/api-keys", headers=headers, json={"name": "x", "scope": "full"}).get_json()
    assert refused["type"] == "/problems/permission-missing" and "`audit`" in refused["detail"]


def test_a_key_of_an_unknown_scope_may_do_nothing(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = new_key(client, seeded["api_key"], "read_only")
    with app.app_context():
        db.session().execute(update(ApiKey).where(ApiKey.id == key["id"]).values(scope="edited-by-hand"))
        db.session().commit()
    assert client.get("/api/v1/programs", headers=bearer(key["key"])).status_code == 403


def test_cashier_tokens_keep_working_at_the_counter(client: FlaskClient, seeded: dict[str, Any]) -> None:
    full = bearer(seeded["api_key"])
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=full,
                       json={"customer": {"name": "Bo"}}).get_json()
    cashier = bearer(seeded["cashier_token"])
    assert client.get(f"/api/v1/cards/{card['id']}", headers=cashier).status_code == 200
    assert client.get("/api/v1/cashier/me", headers=cashier).status_code == 200
    posted = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**cashier, "Idempotency-Key": "k"},
                         json={"type": "earn", "points": 3})
    assert posted.status_code == 201
