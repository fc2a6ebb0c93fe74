"""Errors a newcomer meets in the first minutes, in plain words: which field, what is wrong,
what to send instead; never a Python repr or marshmallow's internals, always problem+json."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from service.models import Program
from service.platform import db
from tests.helpers import bearer


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert "object at 0x" not in response.get_data(as_text=True)
    return dict(response.get_json())


def test_an_analytics_period_that_ends_before_it_starts_says_which_and_why(
        client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    backwards = problem(client.get("/api/v1/analytics/summary?from=2026-05-01&to=2026-04-01", headers=key), 422)
    assert backwards["errors"] == [{"field": "to", "message": "must not be before `from` (2026-05-01)"}]
    future = problem(client.get("/api/v1/analytics/summary?from=2999-01-01", headers=key), 422)
    [error] = future["errors"]
    assert error["field"] == "from" and error["message"].startswith("must not be after today (")
    assert error["message"].endswith("), the default `to`")


def test_a_body_that_is_not_an_object_is_named_the_body(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=key,
                       json={"customer": {"name": "Anna"}}).get_json()
    listed = problem(client.post(f"/api/v1/cards/{card['id']}/transactions", headers=key, json=[1, 2]), 422)
    assert listed["errors"] == [{"field": "body", "message": "Expected a JSON object."}]
    audience = problem(client.post("/api/v1/campaigns/preview", headers=key, json={"audience": "all"}), 422)
    assert audience["errors"] == [{"field": "audience", "message": "Expected a JSON object."}]
    nested = problem(client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=key,
                                 json={"customer": "Anna"}), 422)
    assert nested["errors"] == [{"field": "customer", "message": "Expected a JSON object."}]


@pytest.mark.parametrize("form", ["multipart", "urlencoded"])
def test_a_form_sent_to_a_json_endpoint_is_a_415_saying_to_send_json(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], form: str) -> None:
    key = bearer(seeded["api_key"])
    for method, path in (("PATCH", f"/api/v1/programs/{seeded['program_id']}"), ("POST", "/api/v1/stores"),
                         ("POST", f"/api/v1/programs/{seeded['program_id']}/cards")):
        body: dict[str, Any] = {"name": "Renamed"}
        if form == "multipart":
            body["logo"] = (io.BytesIO(b"\x89PNG"), "logo.png")
        refused = problem(client.open(path, method=method, headers=key, data=body,
                                      content_type="multipart/form-data" if form == "multipart" else None), 415)
        assert refused["type"] == "/problems/json-expected"
        assert "Content-Type: application/json" in refused["detail"], refused
    with app.app_context():  # the PATCH did not answer 200 while changing nothing
        program = db.session().get(Program, seeded["program_id"])
        assert program is not None and program.name != "Renamed"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (160, 160), "#3b2417").save(out, "PNG")
    return out.getvalue()


def test_files_go_as_the_body_and_a_multipart_form_is_told_so(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    logo = f"/api/v1/programs/{seeded['program_id']}/images/logo"
    multipart = problem(client.put(logo, headers=key, data={"file": (io.BytesIO(png()), "logo.png")},
                                   content_type="multipart/form-data"), 415)
    assert multipart["type"] == "/problems/raw-body" and "image/png" in multipart["detail"]
    # `curl --data-binary @logo.png` labels the file application/x-www-form-urlencoded: it is still the file.
    assert client.put(logo, headers=key, data=png(),
                      content_type="application/x-www-form-urlencoded").status_code == 200
    imports = f"/api/v1/programs/{seeded['program_id']}/imports"
    as_form = client.post(imports, headers=key, data=b"name,email\nAnna,anna@example.com\n",
                          content_type="application/x-www-form-urlencoded")
    assert as_form.status_code == 202, as_form.get_json()
    as_json = problem(client.post(imports, headers=key, json={"name": "Anna"}), 415)
    assert "Content-Type: text/csv" in as_json["detail"]


def test_retry_after_is_only_where_waiting_helps(client: FlaskClient, seeded: dict[str, Any]) -> None:
    """429 and 503 carry it (tests/service/api/test_brand_api_limits.py, test_rate_limits.py,
    test_health.py); an answer that will not change by waiting never does."""
    key = bearer(seeded["api_key"])
    for method, path, body in (
            ("GET", "/api/v1/analytics/summary?from=2026-05-01&to=2026-04-01", None),
            ("POST", "/api/v1/campaigns", {"name": "x", "message": "m", "audience": {"tier": ["Nope"]}}),
            ("POST", "/api/v1/stores", {"name": 5}), ("GET", "/api/v1/cards?cursor=zzz", None),
            ("GET", "/api/v1/stores/999999", None), ("GET", "/api/v1/nothing", None)):
        response = client.open(path, method=method, headers=key, json=body)
        assert 400 <= response.status_code < 500 and response.status_code != 429, path
        assert "Retry-After" not in response.headers, path
    assert "Retry-After" not in client.get("/api/v1/cards").headers  # 401


def test_a_birthday_in_the_future_or_before_1900_is_refused(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    issue = f"/api/v1/programs/{seeded['program_id']}/cards"
    future = problem(client.post(issue, headers=key, json={"customer": {"name": "Y", "birthday": "2999-01-01"}}), 422)
    assert future["errors"] == [{"field": "customer.birthday", "message": "must not be in the future"}]
    card = client.post(issue, headers=key, json={"customer": {"name": "Y", "birthday": "1990-04-01"}})
    assert card.status_code == 201
    old = problem(client.patch(f"/api/v1/cards/{card.get_json()['id']}", headers=key,
                               json={"birthday": "1890-04-01"}), 422)
    assert old["errors"] == [{"field": "birthday", "message": "must not be before 1900-01-01"}]


def test_bounds_of_a_card_log_query_are_kept(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=key,
                       json={"customer": {"name": "Anna"}}).get_json()
    for limit in (0, 1001):
        refused = problem(client.get(f"/api/v1/cards/{card['id']}/logs?limit={limit}", headers=key), 422)
        assert refused["errors"] == [{"field": "limit", "message": (
            "Must be greater than or equal to 1 and less than or equal to 1000.")}]


def test_unknown_geo_stores_are_listed_as_ids(client: FlaskClient, seeded: dict[str, Any]) -> None:
    refused = problem(client.post("/api/v1/geo-campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "g", "store_ids": [999998, 999999], "relevant_text": "t", "ends_at": "2999-01-01T00:00:00Z"}), 422)
    assert refused["errors"] == [{"field": "store_ids", "message": "no such stores in your brand: 999998, 999999"}]
