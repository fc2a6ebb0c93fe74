"""Ready-made journeys (service/journeys/playbooks.py): listed with their state, switched on in one
call (idempotent), built for the program's kind, Russian beside English, and the placeholders
`render` fills."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from service.journeys import playbooks
from service.models import Card
from service.platform import db
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue


def _switch_on(client: FlaskClient, seeded: dict[str, Any], name: str, program_id: int | None = None,
               **body: Any) -> Any:
    return client.post(f"/api/v1/programs/{program_id or seeded['program_id']}/playbooks/{name}", json=body,
                       headers=bearer(seeded["api_key"]))


def test_win_back_makes_three_escalating_journeys_once(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    listed = client.get(f"/api/v1/programs/{seeded['program_id']}/playbooks", headers=key).get_json()
    assert [one["name"] for one in listed] == ["welcome", "points_reminder", "expiry_reminder", "win_back",
                                               "reward_within_reach", "detractor_follow_up"]
    assert all(one["state"] == "off" for one in listed)

    first = _switch_on(client, seeded, "win_back")
    assert first.status_code == 201, first.get_json()
    journeys = first.get_json()["journeys"]
    assert first.get_json()["created"] == 3
    assert [(j["trigger"], j["trigger_value"], j["enabled"], j["playbook"]) for j in journeys] == [
        ("lapsed", 30, True, "win_back"), ("lapsed", 60, True, "win_back"), ("lapsed", 90, True, "win_back")]
    assert [[a["type"] for a in j["actions"]] for j in journeys] == [["message"], ["message", "points"],
                                                                    ["message", "coupon"]]
    assert all(j["holdout_percent"] == 10 for j in journeys)
    assert all(j["actions"][0]["variants"]["ru"] and "{name}" in j["actions"][0]["text"] for j in journeys)

    again = _switch_on(client, seeded, "win_back")
    assert again.status_code == 200 and again.get_json()["created"] == 0
    assert [j["id"] for j in again.get_json()["journeys"]] == [j["id"] for j in journeys]
    every = client.get(f"/api/v1/programs/{seeded['program_id']}/journeys", headers=key).get_json()
    assert len(every) == 3

    # one step switched off: the playbook is "partly" on; switching it on again turns it back on
    client.post(f"/api/v1/journeys/{journeys[1]['id']}/disable", headers=key)
    states = {one["name"]: one["state"] for one in
              client.get(f"/api/v1/programs/{seeded['program_id']}/playbooks", headers=key).get_json()}
    assert states["win_back"] == "partly"
    assert _switch_on(client, seeded, "win_back").get_json()["created"] == 0
    assert client.get(f"/api/v1/journeys/{journeys[1]['id']}", headers=key).get_json()["enabled"] is True

    off = client.post(f"/api/v1/programs/{seeded['program_id']}/playbooks/win_back/off", headers=key)
    assert off.status_code == 200 and not any(j["enabled"] for j in off.get_json()["journeys"])


def test_the_expiry_reminder_makes_two_and_needs_points_that_expire(client: FlaskClient,
                                                                   seeded: dict[str, Any]) -> None:
    made = _switch_on(client, seeded, "expiry_reminder")  # the demo's points expire after 12 months
    assert made.status_code == 201, made.get_json()
    assert [(j["trigger"], j["trigger_value"]) for j in made.get_json()["journeys"]] == [
        ("points_expiring", 30), ("points_expiring", 3)]
    key = bearer(seeded["api_key"])
    stamps = client.post("/api/v1/programs", headers=key,
                         json={"name": "Stamps", "kind": "stamps", "stamps_required": 8}).get_json()
    refused = _switch_on(client, seeded, "expiry_reminder", program_id=stamps["id"])
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "playbook"
    listed = {one["name"]: one for one in
              client.get(f"/api/v1/programs/{stamps['id']}/playbooks", headers=key).get_json()}
    assert listed["expiry_reminder"]["available"] is False and listed["win_back"]["available"] is True
    # a stamp card's win-back gives a stamp, never points
    win_back = _switch_on(client, seeded, "win_back", program_id=stamps["id"]).get_json()["journeys"]
    assert win_back[1]["actions"][1] == {"type": "stamps", "stamps": 1}


def test_every_playbook_switches_on_and_takes_a_catalogue_coupon(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    reward = client.post(f"/api/v1/programs/{seeded['program_id']}/rewards", headers=key,
                         json={"name": "Free coffee", "valid_days": 14}).get_json()
    win_back = _switch_on(client, seeded, "win_back", reward_id=reward["id"], holdout_percent=20).get_json()
    assert win_back["journeys"][2]["actions"][1] == {"type": "coupon", "reward_id": reward["id"]}
    assert {j["holdout_percent"] for j in win_back["journeys"]} == {20}
    for name in ("welcome", "points_reminder", "reward_within_reach", "detractor_follow_up"):
        answer = _switch_on(client, seeded, name)
        assert answer.status_code == 201, (name, answer.get_json())
    detractor = _switch_on(client, seeded, "detractor_follow_up").get_json()["journeys"][0]
    assert detractor["trigger"] == "nps_at_or_below" and detractor["trigger_value"] == 6
    assert detractor["holdout_percent"] == 0 and [a["type"] for a in detractor["actions"]] == ["task", "message"]
    states = {one["name"]: one["state"] for one in
              client.get(f"/api/v1/programs/{seeded['program_id']}/playbooks", headers=key).get_json()}
    assert states == {"welcome": "on", "points_reminder": "on", "expiry_reminder": "off", "win_back": "on",
                      "reward_within_reach": "on", "detractor_follow_up": "on"}
    assert client.post(f"/api/v1/programs/{seeded['program_id']}/playbooks/nope",
                       headers=key).status_code == 404


def test_render_fills_the_placeholders_for_the_card(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    client.post(f"/api/v1/programs/{seeded['program_id']}/rewards", headers=key,
                json={"name": "Croissant", "cost_points": 400})
    card = issue(client, seeded, "Anna Smith", email="anna@example.com")
    client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**key, "Idempotency-Key": "k1"},
                json={"type": "earn", "points": 340})
    with app.app_context():
        row = db.session().get(Card, card["id"])
        assert row is not None
        assert playbooks.render("{name}, you have {balance} points: spend them.", row) == \
            "Anna, you have 340 points: spend them."
        assert playbooks.render("{points_needed} more to {reward}", row) == "60 more to Croissant"
        expires = row.points_expire_at
        assert expires is not None
        assert playbooks.render("{expiring_points} expire on {expiry_date}", row) == \
            f"340 expire on {expires.date().isoformat()}"
        # the caller's values win; an unknown placeholder stays as written
        assert playbooks.render("{reward} {unknown}", row, {"reward": "a muffin"}) == "a muffin {unknown}"


def test_two_calls_at_once_make_the_journeys_once(live: dict[str, Any]) -> None:
    """Both answers name the same three journeys; the program's row lock makes the second wait."""
    import threading

    import httpx

    url = f"{live['base']}/api/v1/programs/{live['program_id']}/playbooks/win_back"
    answers: list[Any] = []

    def call() -> None:
        with httpx.Client(timeout=30) as http:
            answers.append(http.post(url, headers=bearer(live["api_key"]), json={}))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [200, 200, 200, 201]
    assert len({tuple(j["id"] for j in answer.json()["journeys"]) for answer in answers}) == 1
    with live["app"].app_context():
        from sqlalchemy import func, select

        from service.models import Journey

        assert db.session().scalar(select(func.count()).select_from(Journey)) == 3
