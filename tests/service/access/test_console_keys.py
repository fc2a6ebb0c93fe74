"""API keys in the console: the page lists the brand's keys with their scopes; a key made through
the API (as the page's form does) is in that one answer and never on the page, works with exactly
its scope, and stops working (401) once revoked; roles without `keys` are refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from console_helpers import api_headers, as_role
from flask import Flask
from flask.testing import FlaskClient

#: One call per permission a scope may hold; the permission is checked before the body is read (and
#: before the card is looked up), so an empty body is a 422 or 404 for a key that may, a 403 for one
#: that may not.
PROBES: dict[str, tuple[str, str]] = {
    "read": ("GET", "/api/v1/stores"),
    "cashier": ("POST", "/api/v1/cards/{card_id}/transactions"),
    "campaigns": ("POST", "/api/v1/campaigns/preview"),
    "stores": ("POST", "/api/v1/stores"),
    "keys": ("POST", "/api/v1/api-keys"),
    "audit": ("GET", "/api/v1/audit-log"),
}
EXPECTED: dict[str, set[str]] = {
    "read_only": {"read"}, "cashier": {"read", "cashier"}, "campaigns": {"read", "campaigns"},
    "full": set(PROBES),
}


@pytest.fixture
def owner(app: Flask, seeded: dict[str, Any]) -> FlaskClient:
    return as_role(app, "owner")


def _make(client: FlaskClient, name: str, scope: str) -> dict[str, Any]:
    answer = client.post("/api/v1/api-keys", json={"name": name, "scope": scope}, headers=api_headers(client))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def _allowed(app: Flask, key: str, card_id: int) -> set[str]:
    caller = app.test_client()
    held = set()
    for permission, (method, url) in PROBES.items():
        answer = caller.open(url.format(card_id=card_id), method=method, json=None if method == "GET" else {},
                             headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"probe-{permission}"})
        assert answer.status_code != 401, (permission, answer.get_data(as_text=True))
        if answer.status_code != 403:
            held.add(permission)
    return held


@pytest.mark.parametrize("scope", ["read_only", "cashier", "campaigns", "full"])
def test_a_key_made_with_each_scope_works_with_exactly_that_scope(app: Flask, owner: FlaskClient, scope: str) -> None:
    made = _make(owner, f"Integration {scope}", scope)
    assert made["scope"] == scope and made["key"].startswith(f"pk_{made['prefix']}_")
    assert _allowed(app, made["key"], 999999) == EXPECTED[scope]
    page = owner.get("/console/keys").get_data(as_text=True)
    assert f'<tr data-id="{made["id"]}" data-scope="{scope}">' in page
    assert f"pk_{made['prefix']}_…" in page  # its public prefix, to tell keys apart
    assert made["key"] not in page  # the secret: only in the creation's answer


def test_the_key_is_shown_once(app: Flask, owner: FlaskClient) -> None:
    made = _make(owner, "POS sync", "read_only")
    for _ in range(2):
        assert made["key"] not in owner.get("/console/keys").get_data(as_text=True)
        listed = owner.get("/api/v1/api-keys").get_json()
        assert made["key"] not in str(listed) and any(row["id"] == made["id"] for row in listed)
        assert "key" not in owner.get(f"/api/v1/api-keys/{made['id']}").get_json()


def test_the_page_offers_the_four_scopes_narrowest_first_and_posts_to_the_api(owner: FlaskClient) -> None:
    page = owner.get("/console/keys").get_data(as_text=True)
    assert re.findall(r'name="scope" value="([a-z_]+)"', page) == ["read_only", "cashier", "campaigns", "full"]
    assert 'value="read_only" id="scope-read_only" checked' in page
    assert 'data-api="POST /api/v1/api-keys" data-then="event:key-created"' in page
    assert 'src="/static/keys/keys.js"' in page and "<script>" not in page


def test_revoking_makes_the_key_401(app: Flask, owner: FlaskClient) -> None:
    made = _make(owner, "Old till", "cashier")
    bearer = {"Authorization": f"Bearer {made['key']}"}
    assert app.test_client().get("/api/v1/stores", headers=bearer).status_code == 200
    page = owner.get("/console/keys").get_data(as_text=True)
    assert f'data-api="DELETE /api/v1/api-keys/{made["id"]}"' in page and "data-confirm=" in page
    assert owner.delete(f"/api/v1/api-keys/{made['id']}", headers=api_headers(owner)).status_code == 200
    assert app.test_client().get("/api/v1/stores", headers=bearer).status_code == 401
    page = owner.get("/console/keys").get_data(as_text=True)
    row = re.search(rf'<tr data-id="{made["id"]}".*?</tr>', page, re.S)[0]  # type: ignore[index]
    assert "revoked" in row and "DELETE" not in row


@pytest.mark.parametrize("role", ["analyst", "marketer", "store_manager"])
def test_roles_without_keys_are_refused(app: Flask, seeded: dict[str, Any], role: str) -> None:
    client = as_role(app, role)
    assert client.get("/console/keys").status_code == 403
    assert "/console/keys" not in client.get("/console/security").get_data(as_text=True)
    answer = client.post("/api/v1/api-keys", json={"name": "mine", "scope": "read_only"}, headers=api_headers(client))
    assert answer.status_code == 403


def test_another_brand_sees_none_of_our_keys(app: Flask, owner: FlaskClient) -> None:
    made = _make(owner, "Ours", "full")
    other = as_role(app, "owner", brand_name="Other Tea")
    page = other.get("/console/keys").get_data(as_text=True)
    assert "Ours" not in page and made["prefix"] not in page
    assert other.delete(f"/api/v1/api-keys/{made['id']}", headers=api_headers(other)).status_code == 404


def test_the_page_speaks_russian(owner: FlaskClient) -> None:
    page = owner.get("/console/keys?lang=ru").get_data(as_text=True)
    for text in ("API-ключи", "Область доступа", "Только чтение", "Создать ключ", "Отозвать"):
        assert text in page, text
