"""The phones' list and fetch answered below Flask (service/apple/lean_wsgi.py): the same
status line, headers and body as the Flask views give, and every request it does not
understand, or fails on, left to Flask (issue 18)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError
from werkzeug.http import http_date
from werkzeug.test import Client

from service.apple import lean_paths
from service.apple.lean_wsgi import LeanPassKit
from service.models import Card, Program, Registration, utcnow
from service.platform import db
from tests.helpers import bearer

DEVICE = "0f" * 16


class Counted:
    """The Flask app behind the lean layer, counting the requests that reach it."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app, self.calls = wsgi_app, 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]


@pytest.fixture
def phone(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> dict[str, Any]:
    """A card whose pass was downloaded (so its signed bytes are stored) and is registered on DEVICE."""
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", json={"customer": {"name": "Ada Lee"}},
                       headers=bearer(seeded["api_key"])).get_json()
    assert client.get(card["apple_pass_url"].removeprefix("http://127.0.0.1:8000")).status_code == 200
    with app.app_context():
        session = db.session()
        row = session.execute(select(Card.id, Card.authentication_token, Program.pass_type_identifier)
                              .join(Program, Program.id == Card.program_id).where(Card.id == card["id"])).one()
        session.execute(insert(Registration).values(
            device_library_identifier=DEVICE, card_id=row.id, pass_type_identifier=row.pass_type_identifier,
            push_token="ab" * 32, client_kind="apple", active=True, created_at=utcnow(), updated_at=utcnow()))
        session.commit()
    return {"serial": card["serial_number"], "type": row.pass_type_identifier, "token": row.authentication_token}


def _layers(app: Flask) -> tuple[LeanPassKit, Counted]:
    lean = app.wsgi_app
    assert isinstance(lean, LeanPassKit)
    counted = Counted(lean.flask_app)
    lean.flask_app = counted
    return lean, counted


def _answer(wsgi_app: Any, path: str, **options: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    response = Client(wsgi_app).open(path, **options)
    return response.status, response.headers.to_wsgi_list(), response.get_data()


def _requests(phone: dict[str, Any], last_modified: str) -> dict[str, tuple[str, dict[str, Any]]]:
    fetch = f"/passkit/v1/passes/{phone['type']}/{phone['serial']}"
    listing = f"/passkit/v1/devices/{DEVICE}/registrations/{phone['type']}"
    auth = {"Authorization": f"ApplePass {phone['token']}"}
    return {
        "stored 200": (fetch, {"headers": auth}),
        "304": (fetch, {"headers": {**auth, "If-Modified-Since": last_modified}}),
        "older If-Modified-Since: 200": (fetch, {"headers": {**auth, "If-Modified-Since": http_date(0)}}),
        "scheme in lower case": (fetch, {"headers": {"Authorization": f"applepass {phone['token']}"}}),
        "wrong token": (fetch, {"headers": {"Authorization": "ApplePass " + "z" * 32}}),
        "no Authorization": (fetch, {}),
        "unknown serial": (f"/passkit/v1/passes/{phone['type']}/no-such-serial", {"headers": auth}),
        "other pass type": (f"/passkit/v1/passes/pass.other.type/{phone['serial']}", {"headers": auth}),
        "list without tag": (listing, {}),
        "list with an old tag": (listing, {"query_string": "passesUpdatedSince=2.1000"}),
        "list with garbage tag": (listing, {"query_string": "passesUpdatedSince=garbage"}),
        "list with empty tag": (listing, {"query_string": "passesUpdatedSince="}),
        "list of an unknown device": (f"/passkit/v1/devices/{'1e' * 16}/registrations/{phone['type']}", {}),
    }


def test_the_lean_answers_are_flasks_byte_for_byte(app: Flask, phone: dict[str, Any]) -> None:
    lean, flask_app = _layers(app)
    fetch = f"/passkit/v1/passes/{phone['type']}/{phone['serial']}"
    _, headers, _ = _answer(lean, fetch, headers={"Authorization": f"ApplePass {phone['token']}"})
    last_modified = dict(headers)["Last-Modified"]
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False):  # the list's tag reads the clock
        for name, (path, options) in _requests(phone, last_modified).items():
            before = flask_app.calls
            lean_answer = _answer(lean, path, **options)
            assert flask_app.calls == before, f"{name}: answered by Flask, not the lean layer"
            assert lean_answer == _answer(flask_app.wsgi_app, path, **options), name
    statuses = {name: _answer(lean, path, **options)[0]
                for name, (path, options) in _requests(phone, last_modified).items()}
    assert statuses["304"] == "304 NOT MODIFIED" and statuses["stored 200"] == "200 OK"
    assert statuses["wrong token"] == statuses["unknown serial"] == "401 UNAUTHORIZED"
    assert statuses["list with an old tag"] == "200 OK" and statuses["list of an unknown device"] == "204 NO CONTENT"
    # the tag the list gave, sent back: nothing changed since, so 204 from both
    tag = Client(lean).get(_requests(phone, last_modified)["list without tag"][0]).get_json()["lastUpdated"]
    listing = f"/passkit/v1/devices/{DEVICE}/registrations/{phone['type']}"
    assert _answer(lean, listing, query_string=f"passesUpdatedSince={tag}") \
        == _answer(flask_app.wsgi_app, listing, query_string=f"passesUpdatedSince={tag}")
    assert _answer(lean, listing, query_string=f"passesUpdatedSince={tag}")[0] == "204 NO CONTENT"


@pytest.mark.parametrize(("how", "path_tail", "options", "status"), [
    ("HEAD", "", {"method": "HEAD"}, 200),
    ("a query on the fetch", "?x=1", {}, 200),
    ("a control character in the path", "%01", {}, 422),
    ("a body", "", {"data": b"x", "content_type": "text/plain"}, 200),
    ("a chunked body", "", {"data": b"", "headers": {"Transfer-Encoding": "chunked"}}, 200),
    ("a trailing slash", "/", {}, 404),
    ("a percent-escaped serial", "", {"escape_serial": True}, 200),
])
def test_what_the_lean_layer_does_not_take_goes_to_flask(app: Flask, phone: dict[str, Any], how: str,
                                                         path_tail: str, options: dict[str, Any], status: int) -> None:
    lean, flask_app = _layers(app)
    serial = phone["serial"]
    if options.pop("escape_serial", False):
        serial = serial.replace("-", "%2D")
    headers = {"Authorization": f"ApplePass {phone['token']}", **options.pop("headers", {})}
    response = Client(lean).open(f"/passkit/v1/passes/{phone['type']}/{serial}{path_tail}", headers=headers,
                                 **options)
    assert flask_app.calls == (1 if how != "a percent-escaped serial" else 0), how
    assert response.status_code == status, how


def test_a_list_with_other_query_parameters_goes_to_flask(app: Flask, phone: dict[str, Any]) -> None:
    lean, flask_app = _layers(app)
    listing = f"/passkit/v1/devices/{DEVICE}/registrations/{phone['type']}"
    for query in ("passesUpdatedSince=2.1000&x=1", "passesUpdatedSince=%32.1000", "passesUpdatedSince=2+1"):
        assert Client(lean).get(listing, query_string=query).status_code == 200
    assert flask_app.calls == 3
    assert Client(lean).get(listing, query_string="passesUpdatedSince=%01").status_code == 422  # the guard's answer


def test_a_database_error_is_answered_by_flask_as_503(app: Flask, phone: dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    lean, flask_app = _layers(app)

    def unreachable(*_: Any, **__: Any) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(lean_paths, "pass_row", unreachable)
    response = Client(lean).get(f"/passkit/v1/passes/{phone['type']}/{phone['serial']}",
                                headers={"Authorization": f"ApplePass {phone['token']}"})
    assert flask_app.calls == 1
    assert response.status_code == 503 and response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "30"


def test_every_app_wide_hook_is_known_to_do_nothing_for_these_requests(app: Flask) -> None:
    """The lean layer skips Flask's hooks; each one here was checked to be a no-op for a bodiless
    GET of the two PassKit paths. A new app-wide hook must be checked too (see lean_wsgi.py)."""
    def names(functions: dict[Any, list[Any]]) -> dict[Any, list[str]]:
        return {scope: [f"{function.__module__}.{function.__qualname__}" for function in found]
                for scope, found in functions.items() if found}

    assert names(app.before_request_funcs) == {None: ["service.web.request_guard.register.<locals>._guard"]}
    assert names(app.after_request_funcs) == {None: ["service.web.rate_limits._headers",
                                                     "service.api.docs.init_app.<locals>._docs_policy"]}
    assert names(app.teardown_request_funcs) == {}
    assert [f"{function.__module__}.{function.__qualname__}" for function in app.teardown_appcontext_funcs] \
        == ["service.platform.db._close_session"]
    assert names(app.url_value_preprocessors) == {} and names(app.url_default_functions) == {}
    passkit = app.blueprints["passkit"]
    assert not any((passkit.before_request_funcs, passkit.after_request_funcs, passkit.teardown_request_funcs))
