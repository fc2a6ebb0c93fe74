"""The console's NPS page (/console/nps): the surveys with their scores, starting and stopping one
through the API, and a survey's answers with comments a page at a time."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import select

from service.loyalty.cards import CustomerDetails, issue_card
from service.models import NpsSurvey, Program
from service.nps import survey as nps
from service.platform import db
from tests.console_helpers import api_headers, as_role


def _start(client: Any, program_id: int, question: str = "Would you recommend Demo Coffee?") -> dict[str, Any]:
    answer = client.post("/api/v1/nps-surveys", headers=api_headers(client),
                         json={"program_id": program_id, "question": question})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _answers(app: Flask, survey_id: int, scores: list[int]) -> None:
    """One card per score; every third answer has a comment."""
    with app.app_context():
        session = db.session()
        survey = session.get(NpsSurvey, survey_id)
        program = session.get(Program, survey.program_id)
        for index, score in enumerate(scores):
            details = CustomerDetails(name=f"Rater {index}", email=f"r{index}@example.com")
            card, _ = issue_card(session, program, details)
            nps.record_answer(session, survey, card, score, f"comment number {index}" if index % 3 == 0 else None)
        session.commit()


def test_surveys_their_score_and_the_answers_paginated(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    survey = _start(marketer, seeded["program_id"])
    # 20 promoters, 5 passives, 5 detractors: (20 - 5) / 30 = 50
    _answers(app, survey["id"], [10] * 20 + [7] * 5 + [3] * 5)
    listing = marketer.get("/console/nps").get_data(as_text=True)
    row = re.search(rf'<tr data-survey="{survey["id"]}">(.*?)</tr>', listing, re.S)[1]  # type: ignore[index]
    assert "Would you recommend Demo Coffee?" in row and '<td class="number">50</td>' in row
    assert '<td class="number">30</td>' in row and "running" in row
    assert f'data-api="POST /api/v1/nps-surveys/{survey["id"]}/stop"' in row
    assert 'id="survey-form" data-api="POST /api/v1/nps-surveys"' in listing

    first = marketer.get(f"/console/nps/{survey['id']}").get_data(as_text=True)
    assert '<span id="score-value">50</span>' in first and '<span id="score-answers">30</span>' in first
    assert first.count("<tr><td>") == 25
    assert "comment number 27" in first  # newest first
    after = re.search(r'id="next-page" href="\?before=(\d+)"', first)[1]  # type: ignore[index]
    second = marketer.get(f"/console/nps/{survey['id']}?before={after}").get_data(as_text=True)
    assert second.count("<tr><td>") == 5 and "comment number 0" in second and 'id="next-page"' not in second
    comments = marketer.get(f"/console/nps/{survey['id']}?comments=1").get_data(as_text=True)
    assert comments.count("<tr><td>") == 10

    # the API the page's numbers agree with
    responses = marketer.get(f"/api/v1/nps-surveys/{survey['id']}/responses?limit=100").get_json()
    assert len(responses) == 30


def test_starting_and_stopping_through_the_api(app: Flask, seeded: dict[str, Any]) -> None:
    owner = as_role(app, "owner")
    survey = _start(owner, seeded["program_id"], "Started from the console?")
    stopped = owner.post(f"/api/v1/nps-surveys/{survey['id']}/stop", headers=api_headers(owner))
    assert stopped.status_code == 200 and stopped.get_json()["active"] is False
    page = owner.get(f"/console/nps/{survey['id']}").get_data(as_text=True)
    assert 'id="survey-state">ended' in page and "/stop" not in page


def test_in_russian(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    survey = _start(marketer, seeded["program_id"])
    assert "Опросы NPS" in marketer.get("/console/nps?lang=ru").get_data(as_text=True)
    page = marketer.get(f"/console/nps/{survey['id']}?lang=ru").get_data(as_text=True)
    assert "Промоутеры (9–10)" in page and "Остановить" in page


def test_a_role_without_campaigns_sees_results_but_no_controls(app: Flask, seeded: dict[str, Any]) -> None:
    survey = _start(as_role(app, "marketer"), seeded["program_id"])
    analyst = as_role(app, "analyst")
    listing = analyst.get("/console/nps").get_data(as_text=True)
    assert "Would you recommend Demo Coffee?" in listing and 'id="read-only"' in listing
    assert "data-api=" not in listing
    assert "data-api=" not in analyst.get(f"/console/nps/{survey['id']}").get_data(as_text=True)
    assert analyst.post(f"/api/v1/nps-surveys/{survey['id']}/stop", headers=api_headers(analyst)).status_code == 403
    assert analyst.post("/api/v1/nps-surveys", headers=api_headers(analyst),
                        json={"program_id": seeded["program_id"]}).status_code == 403
    with app.app_context():
        assert db.session().scalars(select(NpsSurvey)).one().ends_at is None


def test_a_store_manager_sees_only_answers_at_their_stores(app: Flask, seeded: dict[str, Any]) -> None:
    survey = _start(as_role(app, "marketer"), seeded["program_id"])
    _answers(app, survey["id"], [10, 2])  # no store attributed: not one of the manager's
    manager = as_role(app, "store_manager", store_ids=[seeded["store_ids"][0]])
    page = manager.get(f"/console/nps/{survey['id']}").get_data(as_text=True)
    assert '<span id="score-answers">0</span>' in page and "Answers at your stores only." in page


def test_another_brand_sees_nothing_of_ours(app: Flask, seeded: dict[str, Any]) -> None:
    survey = _start(as_role(app, "marketer"), seeded["program_id"])
    _answers(app, survey["id"], [9])
    other = as_role(app, "owner", brand_name="Other Tea")
    assert "Would you recommend Demo Coffee?" not in other.get("/console/nps").get_data(as_text=True)
    assert other.get(f"/console/nps/{survey['id']}").status_code == 404
    assert other.get(f"/api/v1/nps-surveys/{survey['id']}/responses").status_code == 404
    assert other.post(f"/api/v1/nps-surveys/{survey['id']}/stop", headers=api_headers(other)).status_code == 404
