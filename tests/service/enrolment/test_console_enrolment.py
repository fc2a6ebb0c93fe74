"""The console's enrolment page (/console/enrolment) and what it saves through
PATCH /api/v1/programs/{id}/enrolment: the fields the join page asks, its consent sentence per
language, the welcome bonus; and that the join page then follows them."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import AuditEntry, Card, LedgerEntry, Program
from service.platform import db
from tests.console_helpers import api_headers, as_role


def _join(client: FlaskClient, slug_or_id: str, **values: str) -> Any:
    page = client.get(f"/join/{slug_or_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]  # type: ignore[index]
    return client.post(f"/join/{slug_or_id}", data={"csrf_token": token, "lang": "en", "consent": "yes", **values})


def test_the_page_shows_the_link_the_settings_and_the_poster(app: Flask, seeded: dict[str, Any]) -> None:
    owner = as_role(app, "owner")
    page = owner.get("/console/enrolment")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert seeded["join_url"] in html
    assert f'data-api="PATCH /api/v1/programs/{seeded["program_id"]}/enrolment"' in html
    assert 'name="fields.phone"' in html and 'name="consent_text.ru"' in html and 'name="welcome_points"' in html
    poster = re.search(r'id="poster-preview"[^>]*src="([^"]+)"', html)[1]  # type: ignore[index]
    image = owner.get(poster.replace("&amp;", "&"))
    assert image.status_code == 200 and image.mimetype == "image/png"
    pdf = re.search(r'id="poster-pdf" href="([^"]+)"', html)[1]  # type: ignore[index]
    assert owner.get(pdf.replace("&amp;", "&")).mimetype == "application/pdf"
    assert '<a href="/console/enrolment" aria-current="page">Enrolment</a>' in html


def test_in_russian(app: Flask, seeded: dict[str, Any]) -> None:
    html = as_role(app, "owner").get("/console/enrolment?lang=ru").get_data(as_text=True)
    assert "Приветственный бонус (баллы)" in html and "Плакат для кассы" in html and "Вступление" in html


def test_saving_changes_the_join_page_and_gives_the_welcome_bonus(app: Flask, seeded: dict[str, Any]) -> None:
    owner = as_role(app, "owner")
    program_id = seeded["program_id"]
    answer = owner.patch(f"/api/v1/programs/{program_id}/enrolment", headers=api_headers(owner), json={
        "welcome_points": 30, "fields": {"phone": "required", "birthday": "off"},
        "consent_text": {"en": "I accept the Demo Club rules", "ru": "Я принимаю правила клуба"}})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["welcome_points"] == 30
    assert body["fields"] == {"phone": "required", "email": "optional", "birthday": "off"}
    assert body["consent_text"] == {"en": "I accept the Demo Club rules", "ru": "Я принимаю правила клуба"}
    with app.app_context():
        entry = db.session().scalars(select(AuditEntry).where(AuditEntry.action == "program.enrolment_updated")).one()
        assert set(entry.changes) == {"welcome_points", "join_fields", "consent_text"}

    html = owner.get("/console/enrolment").get_data(as_text=True)
    assert 'value="30"' in html and "I accept the Demo Club rules" in html

    visitor = app.test_client()
    slug = seeded["join_url"].rsplit("/", 1)[1]
    form = visitor.get(f"/join/{slug}").get_data(as_text=True)
    assert 'id="birthday"' not in form and "I accept the Demo Club rules" in form
    assert "Я принимаю правила клуба" in visitor.get(f"/join/{slug}?lang=ru").get_data(as_text=True)
    refused = _join(visitor, slug, name="No Phone", email="nophone@example.com")
    assert refused.status_code == 422  # the phone is required now
    joined = _join(visitor, slug, name="Wendy Welcome", phone="+31 6 5555 0101", birthday="1990-01-01")
    assert joined.status_code == 303, joined.get_data(as_text=True)[:500]
    with app.app_context():
        session = db.session()
        card = session.scalars(select(Card).order_by(Card.id.desc())).first()
        assert card.customer.name == "Wendy Welcome" and card.customer.birthday is None  # birthday is off
        assert card.balance == 30
        keys = session.scalars(select(LedgerEntry.idempotency_key).where(LedgerEntry.card_id == card.id)).all()
        assert f"welcome:{card.id}" in keys

    # an empty sentence puts back the built-in one; phone and email cannot both be off
    kept = owner.patch(f"/api/v1/programs/{program_id}/enrolment", headers=api_headers(owner),
                       json={"consent_text": {"en": ""}}).get_json()["consent_text"]
    assert kept == {"ru": "Я принимаю правила клуба"}
    refused = owner.patch(f"/api/v1/programs/{program_id}/enrolment", headers=api_headers(owner),
                          json={"fields": {"phone": "off", "email": "off"}})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "fields"
    bad = owner.patch(f"/api/v1/programs/{program_id}/enrolment", headers=api_headers(owner),
                      json={"fields": {"shoe_size": "required"}, "welcome_points": -1})
    assert bad.status_code == 422


def test_a_role_without_design_sees_no_form_and_the_api_refuses(app: Flask, seeded: dict[str, Any]) -> None:
    analyst = as_role(app, "analyst")
    html = analyst.get("/console/enrolment").get_data(as_text=True)
    assert 'id="read-only"' in html and "data-api=" not in html and 'id="enrolment-save"' not in html
    assert seeded["join_url"] in html  # the link and poster are for everyone
    refused = analyst.patch(f"/api/v1/programs/{seeded['program_id']}/enrolment", headers=api_headers(analyst),
                            json={"welcome_points": 5})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session().get(Program, seeded["program_id"]).welcome_points == 0


def test_another_brand_sees_nothing_of_ours(app: Flask, seeded: dict[str, Any]) -> None:
    other = as_role(app, "owner", brand_name="Other Tea")
    html = other.get("/console/enrolment").get_data(as_text=True)
    assert seeded["join_url"] not in html and "Demo Coffee" not in html
    assert other.get(f"/console/enrolment?program={seeded['program_id']}").status_code == 404
    answer = other.patch(f"/api/v1/programs/{seeded['program_id']}/enrolment", headers=api_headers(other),
                         json={"welcome_points": 5})
    assert answer.status_code == 404
