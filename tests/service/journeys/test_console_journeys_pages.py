"""The console's journeys section (service/journeys/console_page.py) and tasks page
(tasks_page.py): English and Russian, playbooks switched on from the page's API forms, the plain
edit form with every problem beside its field (CSRF checked), the report, read-only roles,
another brand's journey a 404, and a store manager's tasks."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import AuditEntry, Journey
from service.platform import db
from tests.console_helpers import api_headers, as_role, csrf
from tests.helpers import bearer
from tests.service.journeys.test_api_tasks import plant_tasks


def _form(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    base = {"csrf_token": csrf(client), "name": "Come back", "trigger": "lapsed", "trigger_value": "45",
            "holdout_percent": "10", "message_on": "on", "message_text": "We miss you, {name}!",
            "message_ru": "Мы скучаем, {name}!", "enabled": "on"}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def test_a_marketer_switches_a_playbook_on_and_sees_it_listed_in_both_languages(
        app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    page = marketer.get("/console/journeys")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    program = seeded["program_id"]
    assert f'data-api="POST /api/v1/programs/{program}/playbooks/win_back"' in html
    assert 'id="journeys-none"' in html and 'href="/console/journeys"' in html and "Ready-made journeys" in html
    russian = marketer.get("/console/journeys?lang=ru").get_data(as_text=True)
    assert "Готовые сценарии" in russian and "Возвращение" in russian and "Сценарии" in russian

    switched = marketer.post(f"/api/v1/programs/{program}/playbooks/win_back", headers=api_headers(marketer), json={})
    assert switched.status_code == 201
    html = marketer.get("/console/journeys?lang=en").get_data(as_text=True)
    ids = [j["id"] for j in switched.get_json()["journeys"]]
    for journey_id in ids:
        assert f'data-journey-id="{journey_id}" data-enabled="true"' in html
        assert f'data-api="POST /api/v1/journeys/{journey_id}/disable"' in html
    assert '<li data-playbook="win_back" data-state="on">' in html
    assert "No visit for N days: 30" in html
    assert "Нет визитов N дней: 60" in marketer.get("/console/journeys?lang=ru").get_data(as_text=True)
    off = marketer.post(f"/api/v1/journeys/{ids[0]}/disable", headers=api_headers(marketer))
    assert off.status_code == 200
    html = marketer.get("/console/journeys").get_data(as_text=True)
    assert f'data-api="POST /api/v1/journeys/{ids[0]}/enable"' in html
    assert '<li data-playbook="win_back" data-state="partly">' in html


def test_the_edit_form_shows_every_problem_beside_its_field_then_saves(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    program = seeded["program_id"]
    blank = marketer.get(f"/console/journeys/new?program={program}").get_data(as_text=True)
    assert 'name="csrf_token"' in blank and 'name="message_ru"' in blank and 'name="points"' in blank
    assert 'name="stamps"' not in blank  # a points program
    assert 'value="Gold"' in blank  # the program's tiers as conditions

    refused = marketer.post(f"/console/journeys/new?program={program}", data=_form(
        marketer, name="", trigger_value="", points="0", task_on="on", task_text="", holdout_percent="70"))
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="journey-errors"' in html
    for field in ("name", "trigger_value", "holdout_percent"):
        assert f'id="{field}" name="{field}"' in html
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', html), field
    assert 'value="We miss you, {name}!"' not in html and "We miss you, {name}!</textarea>" in html  # kept
    # the shape is fine now; what is left is the program's own say (and the action's numbers)
    refused = marketer.post(f"/console/journeys/new?program={program}", data=_form(
        marketer, points="0", tiers="Wood"))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="error-points"' in html
    refused = marketer.post(f"/console/journeys/new?program={program}", data=_form(marketer, tiers="Wood"))
    assert refused.status_code == 422 and 'id="error-tiers"' in refused.get_data(as_text=True)
    assert "unknown tier" in refused.get_data(as_text=True)

    saved = marketer.post(f"/console/journeys/new?program={program}", data=_form(
        marketer, points="25", tiers="Gold", task_on="on", task_text="Say hello"))
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    with app.app_context():
        journey = db.session().scalar(select(Journey))
        assert journey is not None
        assert (journey.trigger, journey.trigger_value, journey.enabled) == ("lapsed", 45, True)
        assert journey.conditions == {"tiers": ["Gold"]}
        assert journey.actions == [{"type": "message", "text": "We miss you, {name}!",
                                    "variants": {"ru": "Мы скучаем, {name}!"}},
                                   {"type": "points", "points": 25}, {"type": "task", "text": "Say hello"}]
        journey_id = journey.id
        actor = db.session().scalar(select(AuditEntry.actor_label).where(AuditEntry.action == "journey.created"))
    assert actor == "staff marketer@demo.example"

    edit = marketer.get(f"/console/journeys/{journey_id}/edit").get_data(as_text=True)
    assert 'value="Come back"' in edit and 'value="25"' in edit and "Мы скучаем, {name}!</textarea>" in edit
    changed = marketer.post(f"/console/journeys/{journey_id}/edit", data=_form(
        marketer, name="Come back soon", trigger_value="60", enabled=None, message_ru=""))
    assert changed.status_code == 303
    with app.app_context():
        journey = db.session().get(Journey, journey_id)
        assert journey is not None and journey.name == "Come back soon" and journey.enabled is False
        assert journey.actions == [{"type": "message", "text": "We miss you, {name}!"}]

    # a form without the session's CSRF token changes nothing
    forged = marketer.post(f"/console/journeys/{journey_id}/edit", data=_form(marketer, csrf_token="nope"))
    assert forged.status_code == 403


def test_an_analyst_reads_and_another_brand_gets_404(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    made = client.post(f"/api/v1/programs/{seeded['program_id']}/playbooks/welcome",
                       headers=bearer(seeded["api_key"])).get_json()["journeys"][0]
    analyst = as_role(app, "analyst")
    html = analyst.get("/console/journeys").get_data(as_text=True)
    assert 'id="read-only"' in html and "data-api=" not in html and 'id="journeys-new"' not in html
    assert analyst.get(f"/console/journeys/{made['id']}").status_code == 200
    assert analyst.get(f"/console/journeys/{made['id']}/edit").status_code == 403
    assert analyst.get(f"/console/journeys/new?program={seeded['program_id']}").status_code == 403
    other = as_role(app, "owner", brand_name="Other Tea")
    assert other.get(f"/console/journeys/{made['id']}").status_code == 404
    assert other.get(f"/console/journeys/{made['id']}/edit").status_code == 404
    assert other.get(f"/console/journeys?program={seeded['program_id']}").status_code == 404


def test_the_report_page_says_not_causal_without_a_holdout(app: Flask, client: FlaskClient,
                                                           seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    made = client.post(f"/api/v1/programs/{seeded['program_id']}/journeys", headers=key, json={
        "name": "Hello", "trigger": "joined", "holdout_percent": 0,
        "actions": [{"type": "message", "text": "Hello {name}"}]}).get_json()
    owner = as_role(app, "owner")
    html = owner.get(f"/console/journeys/{made['id']}").get_data(as_text=True)
    assert 'id="lift-not-causal"' in html and "not causal" in html
    assert f'href="/api/v1/journeys/{made["id"]}/report?format=csv"' in html
    assert 'data-row="entered"' in html and 'id="journey-cost"' in html
    russian = owner.get(f"/console/journeys/{made['id']}?lang=ru").get_data(as_text=True)
    assert "не причинные" in russian
    csv_answer = owner.get(f"/api/v1/journeys/{made['id']}/report?format=csv")
    assert csv_answer.status_code == 200 and csv_answer.mimetype == "text/csv"


def test_a_store_manager_sees_their_stores_tasks_with_what_was_said(app: Flask, client: FlaskClient,
                                                                    seeded: dict[str, Any]) -> None:
    ids = plant_tasks(app, client, seeded)
    manager = as_role(app, "store_manager", store_ids=[seeded["store_ids"][0]])
    page = manager.get("/console/tasks")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-task-id="{ids["mine"]}"' in html and f'data-task-id="{ids["theirs"]}"' not in html
    assert "Anna Smith" in html and "«The coffee was cold»" in html and "Score 3" in html
    assert f'data-api="POST /api/v1/journey-tasks/{ids["mine"]}/done"' in html
    assert 'href="/console/tasks"' in html  # in the menu
    assert "Оценка 3" in manager.get("/console/tasks?lang=ru").get_data(as_text=True)
    manager.get("/console/tasks?lang=en")
    done = manager.post(f"/api/v1/journey-tasks/{ids['mine']}/done", headers=api_headers(manager))
    assert done.status_code == 200
    assert 'id="tasks-none"' in manager.get("/console/tasks").get_data(as_text=True)
    assert f'data-task-id="{ids["mine"]}" data-state="done"' in manager.get("/console/tasks?state=done").get_data(
        as_text=True)
    owner = as_role(app, "owner")
    html = owner.get("/console/tasks").get_data(as_text=True)
    assert f'data-task-id="{ids["theirs"]}"' in html and f'data-task-id="{ids["nowhere"]}"' in html
