"""NPS surveys: the link on the back of the pass, the customer's page, one answer per card and
survey (changeable while it runs), the store it is attributed to, and the figures."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.design.card_design import build_pass
from service.models import Card, NpsAnswer, NpsSurvey
from service.nps import survey as nps
from service.platform import db
from tests.helpers import bearer

# Figures here depend on "now": each test runs at the awkward moments of tests/conftest.py.
pytestmark = pytest.mark.usefixtures("awkward_moment")


def issue(client: FlaskClient, seeded: dict[str, Any], name: str) -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", json={"customer": {"name": name}},
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def back_fields(app: Flask, card_id: int) -> dict[str, dict[str, Any]]:
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        built = build_pass(card, app.config["PASSCAST"].web_service_url).to_json_dict()
        return {field["key"]: field for field in built["storeCard"]["backFields"]}


def card_version(app: Flask, card_id: int) -> int:
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        return card.version


def start(client: FlaskClient, seeded: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/nps-surveys", json={"program_id": seeded["program_id"], **extra},
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def survey_path(app: Flask, card_id: int) -> str:
    url = back_fields(app, card_id)["nps"]["value"]
    match = re.search(r"https?://[^/]+(/nps/\S+)", url)
    assert match, url
    return match.group(1)


def test_a_running_survey_puts_the_link_on_every_pass_and_stopping_removes_it(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Nina Berg")
    assert "nps" not in back_fields(app, card["id"])
    before = card_version(app, card["id"])

    survey = start(client, seeded, question="Would you recommend Demo Coffee?")
    assert survey["active"] is True
    assert card_version(app, card["id"]) == before + 1, "the pass changes, so phones fetch the link"
    field = back_fields(app, card["id"])["nps"]
    assert field["label"] == "Would you recommend Demo Coffee?"
    assert "http://127.0.0.1:8000/nps/" in field["value"]
    assert 'href="http://127.0.0.1:8000/nps/' in field["attributedValue"]

    stopped = client.post(f"/api/v1/nps-surveys/{survey['id']}/stop", headers=bearer(seeded["api_key"]))
    assert stopped.status_code == 200 and stopped.get_json()["active"] is False
    assert card_version(app, card["id"]) == before + 2
    assert "nps" not in back_fields(app, card["id"])


def test_answer_once_per_card_change_it_while_the_survey_runs(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Ola Nordmann")
    with app.app_context():  # the customer's home store is where the answer counts
        row = db.session().get(Card, card["id"])
        assert row is not None
        row.customer.home_store_id = seeded["store_ids"][1]
        db.session().commit()
    survey = start(client, seeded)
    path = survey_path(app, card["id"])

    page = client.get(path)
    assert page.status_code == 200
    assert "How likely are you to recommend us to a friend?" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"

    assert client.post(path, data={"score": "11"}).status_code == 422
    assert client.post(path, data={"score": "nine"}).status_code == 422
    thanks = client.post(path, data={"score": "9", "comment": "Great coffee"})
    assert thanks.status_code == 200 and "You answered 9" in thanks.get_data(as_text=True)
    changed = client.post(path, data={"score": "4"})
    assert "Your answer is now 4" in changed.get_data(as_text=True)
    assert "Your answer so far: 4" in client.get(path).get_data(as_text=True)

    with app.app_context():
        answers = db.session().scalars(select(NpsAnswer).where(NpsAnswer.card_id == card["id"])).all()
        assert [(a.survey_id, a.score, a.comment, a.store_id) for a in answers] == [
            (survey["id"], 4, None, seeded["store_ids"][1])]

    nps_report = client.get("/api/v1/analytics/nps", headers=bearer(seeded["api_key"])).get_json()
    assert nps_report["total"] == {"answers": 1, "promoters": 0, "passives": 0, "detractors": 1, "nps": -100}
    assert [s["store_id"] for s in nps_report["by_store"]] == [seeded["store_ids"][1]]

    # A new survey: the same card answers again, separately.
    client.post(f"/api/v1/nps-surveys/{survey['id']}/stop", headers=bearer(seeded["api_key"]))
    assert client.post(path, data={"score": "10"}).status_code == 410, "the survey is over"
    start(client, seeded)
    assert client.post(path, data={"score": "10"}).status_code == 200
    with app.app_context():
        scores = db.session().scalars(select(NpsAnswer.score).where(NpsAnswer.card_id == card["id"])
                                      .order_by(NpsAnswer.id)).all()
        assert scores == [4, 10]


def test_nobody_answers_for_another_card(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    mine, theirs = issue(client, seeded, "Mine"), issue(client, seeded, "Theirs")
    start(client, seeded)
    path = survey_path(app, mine["id"])
    serial, mac = path.removeprefix("/nps/").split(".")
    forged = [f"/nps/{theirs['serial_number']}.{mac}",  # my signature on their serial
              f"/nps/{serial}.{'0' * len(mac)}", f"/nps/{serial}", "/nps/nothing"]
    for attempt in forged:
        assert client.post(attempt, data={"score": "0"}).status_code == 404, attempt
    with app.app_context():
        assert db.session().scalar(select(NpsAnswer.id)) is None


def test_answer_is_attributed_to_the_last_transaction_store_without_a_home_store(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "No Home")
    for store_id, key in ((seeded["store_ids"][0], "a"), (seeded["store_ids"][2], "b")):
        response = client.post(f"/api/v1/cards/{card['id']}/transactions",
                               json={"type": "purchase", "amount": "3.00", "store_id": store_id},
                               headers={**bearer(seeded["api_key"]), "Idempotency-Key": f"{key}-{time.time_ns()}"})
        assert response.status_code == 201, response.get_json()
    start(client, seeded)
    assert client.post(survey_path(app, card["id"]), data={"score": "8"}).status_code == 200
    with app.app_context():
        answer = db.session().scalar(select(NpsAnswer))
        assert answer is not None and answer.store_id == seeded["store_ids"][2] and answer.score == 8


def test_survey_api_is_brand_scoped_and_validated(client: FlaskClient, seeded: dict[str, Any]) -> None:
    headers = bearer(seeded["api_key"])
    bad = client.post("/api/v1/nps-surveys", json={"program_id": seeded["program_id"],
                                                   "starts_at": "2026-05-02T00:00:00Z",
                                                   "ends_at": "2026-05-01T00:00:00Z"}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "ends_at"
    assert client.post("/api/v1/nps-surveys", json={"program_id": 999999}, headers=headers).status_code == 404
    scheduled = client.post("/api/v1/nps-surveys", json={"program_id": seeded["program_id"],
                                                         "starts_at": "2099-01-01T00:00:00Z"}, headers=headers)
    assert scheduled.status_code == 201 and scheduled.get_json()["active"] is False
    listed = client.get("/api/v1/nps-surveys", headers=headers).get_json()
    assert [s["id"] for s in listed] == [scheduled.get_json()["id"]]
    assert client.get("/api/v1/nps-surveys").status_code == 401


def test_token_round_trip(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Token Holder")
    with app.app_context():
        session = db.session()
        row = session.get(Card, card["id"])
        assert row is not None
        token = nps.token_for(row, row.program.brand)
        found = nps.card_for_token(session, token)
        assert found is not None and found.id == card["id"]
        assert nps.card_for_token(session, token[:-1] + ("0" if token[-1] != "0" else "1")) is None
        assert session.scalar(select(NpsSurvey.id)) is None


def test_the_job_shows_and_removes_the_link_at_the_set_times(app: Flask, client: FlaskClient,
                                                            seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, "Scheduled")
    now = dt.datetime.now(dt.UTC)
    survey = start(client, seeded, starts_at=(now + dt.timedelta(hours=1)).isoformat(),
                   ends_at=(now + dt.timedelta(hours=2)).isoformat())
    version = card_version(app, card["id"])
    with app.app_context():
        assert nps.update_passes(db.session(), now) == 0, "not started yet"
        assert nps.update_passes(db.session(), now + dt.timedelta(minutes=61)) == 1
    assert card_version(app, card["id"]) == version + 1
    with app.app_context():
        assert nps.update_passes(db.session(), now + dt.timedelta(minutes=62)) == 0, "once per start"
        assert nps.update_passes(db.session(), now + dt.timedelta(minutes=121)) == 1
        assert nps.update_passes(db.session(), now + dt.timedelta(minutes=122)) == 0, "once per end"
        row = db.session().get(NpsSurvey, survey["id"])
        assert row is not None and row.shown_on_passes and row.removed_from_passes
    assert card_version(app, card["id"]) == version + 2


def test_comments_are_listed_per_survey_and_as_analytics_with_csv(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    headers = bearer(seeded["api_key"])
    survey = start(client, seeded)
    cards = [issue(client, seeded, f"Commenter {n}") for n in range(3)]
    paths = [survey_path(app, card["id"]) for card in cards]
    client.post(paths[0], data={"score": "9", "comment": "=HYPERLINK(\"http://x\") great"})
    client.post(paths[1], data={"score": "3"})
    client.post(paths[2], data={"score": "6", "comment": "Queue too long, <b>really</b>"})

    first = client.get(f"/api/v1/nps-surveys/{survey['id']}/responses?limit=2", headers=headers)
    assert first.status_code == 200
    assert [(r["card_id"], r["score"], r["comment"]) for r in first.get_json()] == [
        (cards[2]["id"], 6, "Queue too long, <b>really</b>"), (cards[1]["id"], 3, None)]
    assert set(first.get_json()[0]) == {"id", "survey_id", "card_id", "score", "comment", "store_id",
                                        "answered_at"}
    link = re.search(r"<http://[^/]+([^>]+)>; rel=\"next\"", first.headers["Link"])
    assert link
    rest = client.get(link.group(1), headers=headers).get_json()
    assert [r["card_id"] for r in rest] == [cards[0]["id"]] and "Link" not in client.get(
        link.group(1), headers=headers).headers
    assert client.get(f"/api/v1/nps-surveys/{survey['id']}/responses").status_code == 401
    assert client.get("/api/v1/nps-surveys/999999/responses", headers=headers).status_code == 404

    # Analytics: only answers with a comment, in the period (default: the last 12 months).
    comments = client.get("/api/v1/analytics/nps/comments", headers=headers).get_json()
    assert [(c["card_id"], c["score"]) for c in comments] == [(cards[2]["id"], 6), (cards[0]["id"], 9)]
    as_csv = client.get("/api/v1/analytics/nps/comments?format=csv", headers=headers)
    assert as_csv.mimetype == "text/csv" and "passcast-nps-comments-" in as_csv.headers["Content-Disposition"]
    lines = as_csv.get_data(as_text=True).splitlines()
    assert lines[0] == "answered_at,score,comment,card_id,survey_id,store_id,store"
    assert [line.split(",")[1:3] for line in lines[1:]] == [["6", '"Queue too long'],
                                                            ["9", "\"'=HYPERLINK(\"\"http://x\"\") great\""]]
    assert client.get("/api/v1/analytics/nps/comments?from=2000-01-01&to=2000-12-31",
                      headers=headers).get_json() == []
