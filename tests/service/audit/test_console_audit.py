"""The audit log in the console: the brand's entries newest first, readable, filtered and paged like
GET /api/v1/audit-log; the owner's alone (a marketer or an analyst is refused and has no menu entry),
never another brand's, in English and Russian."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from console_helpers import api_headers, as_role
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service import audit
from service.models import StaffAccount
from service.platform import db

STORE = {"name": "Pop-up", "latitude": 52.37, "longitude": 4.89}


@pytest.fixture
def owner(app: Flask, seeded: dict[str, Any]) -> FlaskClient:
    return as_role(app, "owner")


def _rows(page: str) -> list[tuple[str, str]]:
    """(entry id, action) of each row, top to bottom."""
    return re.findall(r'<tr data-id="(\d+)" data-action="([a-z_.]+)">', page)


def _staff_id(app: Flask, email: str) -> int:
    with app.app_context():
        found = db.session().scalar(select(StaffAccount.id).where(StaffAccount.email == email))
        assert found is not None
        return found


def _entries(app: Flask, brand_id: int, count: int, action: str = "card.points_adjusted") -> None:
    with app.app_context():
        session = db.session()
        for number in range(count):
            audit.record(session, brand_id, action, "card", number + 1,
                         {"points": {"before": number, "after": number + 5}})
        session.commit()


def test_the_owner_sees_who_changed_what_newest_first(app: Flask, owner: FlaskClient) -> None:
    made = owner.post("/api/v1/stores", json=STORE, headers=api_headers(owner))
    assert made.status_code == 201
    store_id = made.get_json()["id"]
    assert owner.patch(f"/api/v1/stores/{store_id}", json={"name": "Harbour kiosk"},
                       headers=api_headers(owner)).status_code == 200
    answer = owner.get("/console/audit")
    assert answer.status_code == 200
    page = html.unescape(answer.get_data(as_text=True))
    rows = _rows(page)
    assert [action for _, action in rows[:2]] == ["store.updated", "store.created"]
    assert int(rows[0][0]) > int(rows[1][0])
    assert "Store changed" in page and "Store created" in page
    assert "staff owner@demo.example" in page  # who
    assert f"Store #{store_id}" in page  # what
    assert re.search(r"<strong>name</strong>: <del>Pop-up</del> → <ins>Harbour kiosk</ins>", page)  # the diff
    assert dt.datetime.now(dt.UTC).strftime("%Y-%m-%d") in page  # when
    # the API says the same, in the same order
    api = owner.get("/api/v1/audit-log").get_json()
    assert [str(entry["id"]) for entry in api] == [entry_id for entry_id, _ in rows]
    assert 'href="/console/audit"' in page and 'aria-current="page"' in page  # in the menu, current


def test_image_bytes_appear_as_their_size(app: Flask, owner: FlaskClient, seeded: dict[str, Any]) -> None:
    with app.app_context():
        audit.record(db.session(), seeded["brand_id"], "program.image_set", "program", seeded["program_id"],
                     {"logo": {"before": None, "after": b"\x89PNG" + b"\0" * 96}})
        db.session().commit()
    page = html.unescape(owner.get("/console/audit").get_data(as_text=True))
    assert "<strong>logo</strong>: <del>nothing</del> → <ins><100 bytes></ins>" in page
    assert "Program image set" in page


def test_the_filters_match_the_apis(app: Flask, owner: FlaskClient, seeded: dict[str, Any]) -> None:
    assert owner.post("/api/v1/stores", json=STORE, headers=api_headers(owner)).status_code == 201
    _entries(app, seeded["brand_id"], 3)
    me = _staff_id(app, "owner@demo.example")

    def actions(**args: str) -> list[str]:
        answer = owner.get("/console/audit", query_string=args)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        api = owner.get("/api/v1/audit-log", query_string={k: v for k, v in args.items()
                                                           if k in ("action", "actor", "target")}).get_json()
        shown = [action for _, action in _rows(answer.get_data(as_text=True))]
        if not {"since", "until"} & args.keys():
            assert shown == [entry["action"] for entry in api]
        return shown

    assert actions(action="store.created") == ["store.created"]
    assert actions(action="card.") == ["card.points_adjusted"] * 3
    assert set(actions(actor=f"staff:{me}")) == {"store.created"}
    assert set(actions(actor="system")) == {"card.points_adjusted"}
    assert actions(target="store") == ["store.created"]
    today = dt.datetime.now(dt.UTC).date()
    assert len(actions(since=today.isoformat(), until=today.isoformat())) == 4  # "until" includes its day
    assert actions(until=(today - dt.timedelta(days=1)).isoformat()) == []
    assert actions(since=(today + dt.timedelta(days=1)).isoformat()) == []
    # the form keeps what was asked, and lists what there is to ask for
    page = owner.get("/console/audit?action=store.created").get_data(as_text=True)
    assert '<option value="store.created" selected>' in page and f'<option value="staff:{me}">' in page
    assert '<option value="card.">' in page


def test_a_bad_filter_is_said_not_crashed_on(owner: FlaskClient) -> None:
    for args in ({"since": "2026-13-45"}, {"since": "2026-02-02", "until": "2026-01-01"},
                 {"action": "DROP TABLE"}, {"actor": "staff:99999999999"}, {"cursor": "not-ours"}):
        answer = owner.get("/console/audit", query_string=args)
        assert answer.status_code == 422, args
        assert "Check the filters" in answer.get_data(as_text=True)


def test_pages_of_fifty_follow_the_apis_cursor(app: Flask, owner: FlaskClient, seeded: dict[str, Any]) -> None:
    _entries(app, seeded["brand_id"], 60)
    first = owner.get("/console/audit?action=card.points_adjusted").get_data(as_text=True)
    ids = [int(entry_id) for entry_id, _ in _rows(first)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    following = html.unescape(re.search(r'<a class="button" href="([^"]+)" id="audit-next"', first)[1])  # type: ignore[index]
    assert "action=card.points_adjusted" in following  # the filter is kept
    second = owner.get(following).get_data(as_text=True)
    more = [int(entry_id) for entry_id, _ in _rows(second)]
    assert len(more) == 10 and max(more) < min(ids) and 'id="audit-next"' not in second
    assert 'id="audit-first"' in second
    api = owner.get("/api/v1/audit-log?action=card.points_adjusted&limit=50")
    cursor = re.search(r"cursor=([^&>]+)", api.headers["Link"])[1]  # type: ignore[index]
    assert f"cursor={cursor}" in following  # the API's own cursor


@pytest.mark.parametrize("role", ["marketer", "analyst", "store_manager"])
def test_other_roles_are_refused_and_have_no_menu_entry(app: Flask, seeded: dict[str, Any], role: str) -> None:
    client = as_role(app, role)
    assert client.get("/console/audit").status_code == 403
    assert "/console/audit" not in client.get("/console/security").get_data(as_text=True)


def test_another_brand_sees_none_of_ours(app: Flask, owner: FlaskClient, seeded: dict[str, Any]) -> None:
    assert owner.post("/api/v1/stores", json=STORE, headers=api_headers(owner)).status_code == 201
    other = as_role(app, "owner", brand_name="Other Tea")
    page = other.get("/console/audit").get_data(as_text=True)
    assert _rows(page) == [] and "No entries match." in page
    assert "owner@demo.example" not in page and "store.created" not in page


def test_the_page_speaks_russian(owner: FlaskClient) -> None:
    assert owner.post("/api/v1/stores", json=STORE, headers=api_headers(owner)).status_code == 201
    page = owner.get("/console/audit?lang=ru").get_data(as_text=True)
    for text in ("Журнал действий", "Добавлен магазин", "Кто", "Действие", "Когда", "Показать"):
        assert text in page, text
