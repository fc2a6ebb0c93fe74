"""Managers' tasks (GET /api/v1/journey-tasks, POST .../done): who, what they said, where; a store
manager sees and closes only their stores' tasks; another brand's task is a 404."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import AuditEntry, Journey, JourneyEntry, JourneyTask
from service.platform import db
from tests.console_helpers import api_headers, as_role
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue, other_brand_key


def plant_tasks(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> dict[str, int]:
    """A detractor journey with one open task at each of the first two stores and one of no store."""
    journey = client.post(f"/api/v1/programs/{seeded['program_id']}/playbooks/detractor_follow_up",
                          headers=bearer(seeded["api_key"])).get_json()["journeys"][0]
    planted = [(label, store_id, name, score, comment,
                issue(client, seeded, name, email=f"{name.split()[0].lower()}@example.com",
                      phone=f"+3161111111{index}"))
               for index, (label, store_id, name, score, comment) in enumerate((
                   ("mine", seeded["store_ids"][0], "Anna Smith", 3, "The coffee was cold"),
                   ("theirs", seeded["store_ids"][1], "Boris Petrov", 5, "Slow queue"),
                   ("nowhere", None, "Carla Diaz", 2, "")))]
    ids = {}
    with app.app_context():
        session = db.session()
        for label, store_id, name, score, comment, card in planted:
            entry = JourneyEntry(journey_id=journey["id"], card_id=card["id"], occurrence=f"nps:{card['id']}")
            session.add(entry)
            session.flush()
            task = JourneyTask(brand_id=seeded["brand_id"], journey_id=journey["id"], entry_id=entry.id,
                               card_id=card["id"], store_id=store_id, text=f"Call {name.split()[0]} back",
                               detail={"score": score, "comment": comment})
            session.add(task)
            session.flush()
            ids[label] = task.id
        session.commit()
        assert session.get(Journey, journey["id"]) is not None
    return ids


def test_an_owners_key_lists_every_open_task_and_marks_one_done(app: Flask, client: FlaskClient,
                                                                 seeded: dict[str, Any]) -> None:
    ids = plant_tasks(app, client, seeded)
    key = bearer(seeded["api_key"])
    listed = client.get("/api/v1/journey-tasks", headers=key).get_json()
    assert [task["id"] for task in listed] == [ids["nowhere"], ids["theirs"], ids["mine"]]
    anna = listed[-1]
    assert anna["customer_name"] == "Anna Smith" and anna["detail"] == {"score": 3, "comment": "The coffee was cold"}
    assert anna["customer_phone"] == "+31611111110" and anna["store_name"] and anna["journey_name"]
    assert anna["state"] == "open" and anna["text"] == "Call Anna back"

    done = client.post(f"/api/v1/journey-tasks/{ids['mine']}/done", headers=key)
    assert done.status_code == 200 and done.get_json()["state"] == "done"
    assert done.get_json()["done_by"].startswith("api key ")
    assert [t["id"] for t in client.get("/api/v1/journey-tasks", headers=key).get_json()] == [ids["nowhere"],
                                                                                             ids["theirs"]]
    assert [t["id"] for t in client.get("/api/v1/journey-tasks?state=done", headers=key).get_json()] == [ids["mine"]]
    only = client.get(f"/api/v1/journey-tasks?state=all&store_id={seeded['store_ids'][1]}", headers=key).get_json()
    assert [t["id"] for t in only] == [ids["theirs"]]
    again = client.post(f"/api/v1/journey-tasks/{ids['mine']}/done", headers=key)
    assert again.status_code == 200 and again.get_json()["done_at"] == done.get_json()["done_at"]
    with app.app_context():
        assert db.session().scalars(select(AuditEntry.action).where(
            AuditEntry.target_type == "journey_task")).all() == ["journey_task.done"]
    assert client.post(f"/api/v1/journey-tasks/{ids['mine']}/done",
                       headers=bearer(other_brand_key(app))).status_code == 404


def test_store_managers_are_limited_to_their_stores_tasks(app: Flask, client: FlaskClient,
                                                           seeded: dict[str, Any]) -> None:
    ids = plant_tasks(app, client, seeded)
    manager = as_role(app, "store_manager", store_ids=[seeded["store_ids"][0]])
    listed = manager.get("/api/v1/journey-tasks").get_json()
    assert [task["id"] for task in listed] == [ids["mine"]]
    for other in (ids["theirs"], ids["nowhere"]):
        refused = manager.post(f"/api/v1/journey-tasks/{other}/done", headers=api_headers(manager))
        assert refused.status_code == 404, refused.get_json()
    done = manager.post(f"/api/v1/journey-tasks/{ids['mine']}/done", headers=api_headers(manager))
    assert done.status_code == 200 and done.get_json()["done_by"] == "staff store_manager@demo.example"
    # an analyst reads but cannot close a task
    analyst = as_role(app, "analyst")
    assert len(analyst.get("/api/v1/journey-tasks?state=all").get_json()) == 3
    assert analyst.post(f"/api/v1/journey-tasks/{ids['theirs']}/done", headers=api_headers(analyst)).status_code == 403
