"""The console's members import (/console/imports): a dry run lists every bad row and writes
nothing; the real import follows through GET /api/v1/imports/{id} to done."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from service.models import Card, Customer, ImportJob
from service.platform import db
from tests.console_helpers import api_headers, as_role

CSV = ("name,email,phone,balance,external_id\n"
       "Olga Import,olga@example.com,,120,old-1\n"
       "Bad Email,not-an-email,,10,old-2\n"
       "Negative,neg@example.com,,-5,old-3\n"
       "Pavel Import,pavel@example.com,,0,old-4\n")


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        session = db.session()
        return session.scalar(select(func.count()).select_from(Card)), session.scalar(
            select(func.count()).select_from(Customer))


def _upload(client: Any, program_id: int, data: str, dry_run: bool) -> Any:
    return client.post(f"/api/v1/programs/{program_id}/imports?dry_run={'true' if dry_run else 'false'}",
                       data=data.encode(), headers={**api_headers(client), "Content-Type": "text/csv"})


def test_the_page_renders_with_its_form_and_script(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    page = marketer.get("/console/imports")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="import-file"' in html and 'type="file"' in html and 'id="import-dry-run"' in html
    assert "/static/enrolment-console/imports.js" in html
    assert marketer.get("/static/enrolment-console/imports.js").status_code == 200
    assert "name,email,phone,birthday,balance,tier,joined_at,external_id" in html
    assert '<label for="import-file">' in html


def test_in_russian(app: Flask, seeded: dict[str, Any]) -> None:
    html = as_role(app, "marketer").get("/console/imports?lang=ru").get_data(as_text=True)
    assert "Импорт участников" in html and "пробный прогон" in html
    script_words = json.loads(re.search(r'id="page-words">(.*?)</script>', html)[1])  # type: ignore[index]
    assert script_words["imports_status_done"] == "готово"


def test_a_dry_run_writes_nothing_and_lists_each_bad_row(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    before = _counts(app)
    answer = _upload(marketer, seeded["program_id"], CSV, dry_run=True)
    assert answer.status_code == 202, answer.get_json()
    job = marketer.get(f"/api/v1/imports/{answer.get_json()['id']}").get_json()
    assert job["dry_run"] is True and job["status"] == "done"
    assert job["created_cards"] == 2 and job["error_rows"] == 2
    assert [(error["line"], error["field"]) for error in job["errors"]] == [(3, "email"), (4, "balance")]
    assert _counts(app) == before
    html = marketer.get("/console/imports").get_data(as_text=True)
    assert 'id="recent-imports"' in html and "check" in html


def test_the_import_progresses_to_done_and_creates_the_good_rows(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    cards_before, _ = _counts(app)
    answer = _upload(marketer, seeded["program_id"], CSV, dry_run=False)
    assert answer.status_code == 202
    assert answer.headers["Location"].endswith(f"/api/v1/imports/{answer.get_json()['id']}")
    job = marketer.get(answer.headers["Location"]).get_json()
    assert job["status"] == "done" and job["progress"] == 1.0 and job["processed_rows"] == 4
    assert job["created_cards"] == 2 and job["error_rows"] == 2
    assert _counts(app)[0] == cards_before + 2
    with app.app_context():
        olga = db.session().scalars(select(Card).where(Card.external_id == "old-1")).one()
        assert olga.balance == 120
    # the same file again adds nobody
    again = marketer.get(_upload(marketer, seeded["program_id"], CSV, dry_run=False).headers["Location"]).get_json()
    assert again["created_cards"] == 0 and again["matched_cards"] == 2
    assert _counts(app)[0] == cards_before + 2


def test_multipart_is_refused_with_a_problem(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    answer = marketer.post(f"/api/v1/programs/{seeded['program_id']}/imports", headers=api_headers(marketer),
                           data={"file": (io.BytesIO(CSV.encode()), "members.csv")}, content_type="multipart/form-data")
    assert answer.status_code == 415 and answer.mimetype == "application/problem+json"


def test_a_role_without_members_gets_no_page_and_the_api_refuses(app: Flask, seeded: dict[str, Any]) -> None:
    analyst = as_role(app, "analyst")
    page = analyst.get("/console/imports")
    assert page.status_code == 403 and 'id="import-form"' not in page.get_data(as_text=True)
    assert 'href="/console/imports"' not in analyst.get("/console/enrolment").get_data(as_text=True)
    refused = _upload(analyst, seeded["program_id"], CSV, dry_run=True)
    assert refused.status_code == 403
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(ImportJob)) == 0


def test_another_brand_sees_nothing_of_ours(app: Flask, seeded: dict[str, Any]) -> None:
    ours = as_role(app, "marketer")
    job_id = _upload(ours, seeded["program_id"], CSV, dry_run=True).get_json()["id"]
    other = as_role(app, "owner", brand_name="Other Tea")
    html = other.get("/console/imports").get_data(as_text=True)
    assert 'id="recent-imports"' not in html and "Demo Coffee" not in html
    assert other.get(f"/api/v1/imports/{job_id}").status_code == 404
    assert _upload(other, seeded["program_id"], CSV, dry_run=True).status_code == 404
