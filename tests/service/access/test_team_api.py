"""The team through the API (/api/v1/staff) and the console's team page share one set of rules:
invites, role changes, removal, reset links; never the brand's last owner, never oneself."""

from __future__ import annotations

from typing import Any

from console_helpers import add_staff, api_headers, as_role, sign_in
from flask import Flask
from flask.testing import FlaskClient
from helpers import bearer

PROBLEM = "application/problem+json"


def _staff(client: FlaskClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    answer = client.get("/api/v1/staff", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return {person["email"]: person for person in answer.get_json()}


def test_an_integration_invites_changes_and_removes_people(app: Flask, client: FlaskClient,
                                                          seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    made = client.post("/api/v1/staff/invites", json={"email": "Anna@Example.com", "role": "marketer"}, headers=key)
    assert made.status_code == 201, made.get_json()
    link = made.get_json()["invite_url"]
    assert made.get_json()["email"] == "anna@example.com" and "/console/invite/" in link
    assert [i["email"] for i in client.get("/api/v1/staff/invites", headers=key).get_json()] == ["anna@example.com"]
    again = client.post("/api/v1/staff/invites", json={"email": seeded["owner_email"], "role": "analyst"}, headers=key)
    assert again.status_code == 409 and again.content_type == PROBLEM

    accept = client.post(link.replace("http://127.0.0.1:8000", ""), data={"password": "correct horse battery",
                                                                          "password_again": "correct horse battery"})
    assert accept.status_code in (200, 302)
    anna = _staff(client, key)["anna@example.com"]
    assert anna["role"] == "marketer" and anna["store_ids"] == []

    store = client.post("/api/v1/stores", json={"name": "Pop-up", "latitude": 52.3, "longitude": 4.9}, headers=key)
    changed = client.patch(f"/api/v1/staff/{anna['id']}", json={"role": "store_manager",
                                                               "store_ids": [store.get_json()["id"], 999999]},
                           headers=key)
    assert changed.status_code == 200 and changed.get_json()["store_ids"] == [store.get_json()["id"]]
    reset = client.post(f"/api/v1/staff/{anna['id']}/reset-link", headers=key)
    assert reset.status_code == 201 and "/console/reset/" in reset.get_json()["reset_url"]
    assert client.delete(f"/api/v1/staff/{anna['id']}", headers=key).status_code == 204
    assert "anna@example.com" not in _staff(client, key)
    actions = [e["action"] for e in client.get("/api/v1/audit-log?target_type=staff", headers=key).get_json()]
    assert {"staff.invited", "staff.role_changed", "staff.reset_link_issued", "staff.removed"} <= set(actions)


def test_the_last_owner_is_never_demoted_or_removed(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    owner = _staff(client, key)[seeded["owner_email"]]
    demoted = client.patch(f"/api/v1/staff/{owner['id']}", json={"role": "analyst"}, headers=key)
    assert demoted.status_code == 409 and demoted.get_json()["type"].endswith("/last-owner")
    assert client.delete(f"/api/v1/staff/{owner['id']}", headers=key).status_code == 409
    assert _staff(client, key)[seeded["owner_email"]]["role"] == "owner"


def test_an_owner_cannot_demote_themselves_but_another_owner_can(app: Flask, seeded: dict[str, Any]) -> None:
    add_staff(app, "second@demo.example", "owner")
    me = app.test_client()
    assert sign_in(me, seeded["owner_email"], seeded["owner_password"]).status_code == 302
    people = _staff(me, {})
    mine = me.patch(f"/api/v1/staff/{people[seeded['owner_email']]['id']}", json={"role": "analyst"},
                    headers=api_headers(me))
    assert mine.status_code == 409 and mine.get_json()["type"].endswith("/not-yourself")
    theirs = me.patch(f"/api/v1/staff/{people['second@demo.example']['id']}", json={"role": "analyst"},
                      headers=api_headers(me))
    assert theirs.status_code == 200 and theirs.get_json()["role"] == "analyst"
    page = me.post(f"/console/team/{people[seeded['owner_email']]['id']}/remove",
                   data={"csrf_token": api_headers(me)["X-CSRF-Token"]})
    assert page.status_code in (404, 409)  # the page never offers it; a crafted post is refused


def test_only_the_accounts_permission_sees_the_team(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    assert marketer.get("/api/v1/staff").status_code == 403
    assert marketer.post("/api/v1/staff/invites", json={"email": "x@example.com", "role": "owner"},
                         headers=api_headers(marketer)).status_code == 403
    other = as_role(app, "owner", brand_name="Other Brand")
    emails = set(_staff(other, {}))
    assert emails == {"owner@other-brand.example"}
    demo_owner = _staff(client, bearer(seeded["api_key"]))[seeded["owner_email"]]
    assert other.delete(f"/api/v1/staff/{demo_owner['id']}", headers=api_headers(other)).status_code == 404
