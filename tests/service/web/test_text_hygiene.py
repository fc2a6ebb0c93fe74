"""NUL and other control characters are a 422 on both databases, never a 500 (PostgreSQL cannot
store NUL); malformed JSON is a 400 (items 9 and 12).

The API's string fields come from its own OpenAPI document, so a new field is covered the day
it is added.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from service import create_app
from service.models import Card, DeviceLog
from service.platform import db
from service.platform.config import Settings
from tests.helpers import bearer

NUL = "a\x00b"


@functools.cache
def _openapi() -> dict[str, Any]:
    """The brand API's OpenAPI document, from an app that never opens its database."""
    directory = Path(tempfile.mkdtemp(prefix="passcast-openapi-"))
    app = create_app(Settings(database_url=f"sqlite:///{directory / 'unused.db'}", instance_dir=directory / "i",
                              certs_dir=directory / "certs"))
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    app.extensions["db_engine"].dispose()
    return spec


def _string_fields() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, field, its OpenAPI schema) for every string-carrying field of a JSON body."""
    spec = _openapi()
    schemas = spec["components"]["schemas"]
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json") \
                if isinstance(operation, dict) else None
            if body is None:
                continue
            ref = body["schema"].get("$ref")
            schema = schemas[ref.rsplit("/", 1)[-1]] if ref else body["schema"]
            for name, prop in schema.get("properties", {}).items():
                if prop.get("type") in ("string", "object") or prop.get("items", {}).get("type") == "string":
                    found.append((method, re.sub(r"\{[^}]+\}", "1", path), name, prop))
    return found


def _value(prop: dict[str, Any], text: str) -> Any:
    if prop.get("type") == "array":
        return [text]
    if prop.get("type") == "object":
        return {"en": text}
    return text


STRING_FIELDS = _string_fields()


def test_the_api_has_the_string_fields_we_think() -> None:
    assert len(STRING_FIELDS) > 50  # the document was read: dozens of fields, not zero
    assert ("post", "/api/v1/stores", "name") in {(m, p, f) for m, p, f, _ in STRING_FIELDS}


@pytest.mark.parametrize(("method", "path", "field", "prop"), STRING_FIELDS,
                         ids=[f"{m} {p} {f}" for m, p, f, _ in STRING_FIELDS])
def test_nul_in_any_api_string_field_is_422(client: FlaskClient, method: str, path: str, field: str,
                                            prop: dict[str, Any]) -> None:
    """Refused before anything else, so no key is needed (and none of the database is touched)."""
    response = client.open(path, method=method.upper(), json={field: _value(prop, NUL)})
    assert response.status_code == 422, response.get_json()
    assert response.headers["Content-Type"] == "application/problem+json"
    assert any(error["field"].split(".")[0] == field for error in response.get_json()["errors"])


def _free_text(prop: dict[str, Any]) -> bool:
    return (prop.get("maxLength") or 0) >= 280


NAMING_FIELDS = [(m, p, f, prop) for m, p, f, prop in STRING_FIELDS
                 if prop.get("type") == "string" and not _free_text(prop) and "format" not in prop
                 and p not in ("/api/v1/cashier/scan", "/api/v1/till/sign-in")]  # other credentials


@pytest.mark.parametrize(("method", "path", "field", "prop"), NAMING_FIELDS,
                         ids=[f"{m} {p} {f}" for m, p, f, _ in NAMING_FIELDS])
def test_line_breaks_in_names_and_ids_are_422(client: FlaskClient, seeded: dict[str, Any], method: str, path: str,
                                              field: str, prop: dict[str, Any]) -> None:
    response = client.open(path, method=method.upper(), json={field: "Anna\nSmith"},
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 422, response.get_json()
    assert any(error["field"] == field for error in response.get_json()["errors"]), response.get_json()


def test_free_text_keeps_its_line_breaks_and_names_refuse_them(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    store = client.post("/api/v1/stores", json={"name": "Centraal", "address": "Stationsplein 1\n1012 AB Amsterdam",
                                                "latitude": 52.37, "longitude": 4.9}, headers=key)
    assert store.status_code == 201, store.get_json()
    assert store.get_json()["address"] == "Stationsplein 1\n1012 AB Amsterdam"
    refused = client.post("/api/v1/stores", json={"name": "Cent\x07raal", "latitude": 52.37, "longitude": 4.9},
                          headers=key)
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize(("path", "page"), [
    ("/join/a%00b", True), ("/join/demo-coffee?ref=a%00b", True), ("/passes/a%00b.pkpass", True),
    ("/passes/x.pkpass?key=a%00b", True), ("/nps/a%00b", True),
    ("/api/v1/cards?q=a%00b", False), ("/passkit/v1/passes/pass.dev.passcast.loyalty/a%00b", False),
    ("/passkit/v1/devices/a%00b/registrations/pass.dev.passcast.loyalty", False),
])
def test_nul_in_a_path_or_query_is_422(client: FlaskClient, seeded: dict[str, Any], path: str, page: bool) -> None:
    response = client.get(path, headers={**bearer(seeded["api_key"]), "Accept-Language": "ru"})
    assert response.status_code == 422
    if page:
        assert response.mimetype == "text/html" and "Непонятные символы" in response.get_data(as_text=True)
    else:
        assert response.headers["Content-Type"] == "application/problem+json"


def test_nul_in_the_wallet_log_is_422_and_nothing_is_stored(client: FlaskClient, seeded: dict[str, Any]) -> None:
    response = client.post("/passkit/v1/log", json={"logs": ["fine", NUL]})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "logs.1"
    with client.application.app_context():
        assert db.session().scalars(select(DeviceLog)).all() == []


def test_nul_in_the_join_form_is_a_422_page(client: FlaskClient, seeded: dict[str, Any]) -> None:
    from tests.service.enrolment.test_join import form_token

    token = form_token(client)
    response = client.post("/join/demo-coffee", data={"name": NUL, "phone": "+31612345678", "consent": "yes",
                                                      "csrf_token": token})
    assert response.status_code == 422 and response.mimetype == "text/html"
    with client.application.app_context():
        assert db.session().scalars(select(Card)).all() == []


def test_a_members_file_with_one_nul_row_imports_the_others(client: FlaskClient, seeded: dict[str, Any]) -> None:
    csv = ("name,email,external_id\n"
           "Anna,anna@example.com,old-1\n"
           "Bo\x00ris,boris@example.com,old-2\n"
           "Chen,chen@example.com,old-\x003\n"
           "Dana,dana@example.com,old-4\n")
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/imports", data=csv.encode(),
                           content_type="text/csv", headers=bearer(seeded["api_key"]))
    assert response.status_code == 202, response.get_json()
    job = client.get(response.headers["Location"], headers=bearer(seeded["api_key"])).get_json()
    assert job["status"] == "done", job
    assert (job["created_cards"], job["error_rows"]) == (2, 2)
    assert [(error["line"], error["field"]) for error in job["errors"]] == [(3, "name"), (4, "external_id")]
    assert "U+0000" in job["errors"][0]["message"]


# --- malformed JSON (item 12) -------------------------------------------------------------------

MALFORMED = {
    "deeply nested": b"[" * 30000 + b"]" * 30000,
    "huge integer": b'{"name": ' + b"9" * 5000 + b"}",
    "lone surrogate": b'{"name": "\\ud800"}',
    "surrogate as bytes": b'{"name": "\xed\xa0\x80"}',
}


@pytest.mark.parametrize("path", ["/api/v1/stores", "/passkit/v1/log", "/passkit/v1/passes/pass.x/y/personalize"])
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_json_is_400_problem(client: FlaskClient, seeded: dict[str, Any], path: str, kind: str) -> None:
    response = client.post(path, data=MALFORMED[kind], content_type="application/json",
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json()["detail"]


def test_100_000_deep_nesting_is_400_when_the_limit_lets_it_in(settings: Settings) -> None:
    """200 KB of brackets: over the default limit (a 413), so here with a 1 MB limit."""
    app = create_app(dataclasses.replace(settings, body_limit_bytes=1024 * 1024))
    body = b"[" * 100_000 + b"]" * 100_000
    try:
        for path in ("/api/v1/stores", "/passkit/v1/log"):
            response = app.test_client().post(path, data=body, content_type="application/json")
            assert response.status_code == 400, path
            assert response.get_json()["detail"] == "The JSON body is nested too deeply."
        shallow = app.test_client().post("/passkit/v1/log", data=b"[" * 500 + b"]" * 500,
                                         content_type="application/json")
        assert shallow.status_code == 200  # nesting as such is fine: the guard is no depth cap
    finally:
        app.extensions["db_engine"].dispose()
