"""The console's messaging rules page (service/campaigns/rules_page.py): in English and Russian,
the form posts to the API a marketer may call, an analyst sees the rules without a form (and the
API refuses them), another brand's program is a 404; the report's paced figures on the campaign page."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.console_helpers import api_headers, as_role
from tests.service.campaigns.campaign_helpers import issue


def test_a_marketer_sets_caps_and_quiet_hours_in_english_and_russian(app: Flask, seeded: dict[str, Any]) -> None:
    marketer = as_role(app, "marketer")
    listing = marketer.get("/console/campaigns").get_data(as_text=True)
    assert 'id="campaigns-rules"' in listing
    page = marketer.get("/console/campaigns/rules")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    program = seeded["program_id"]
    assert f'data-api="PUT /api/v1/programs/{program}/messaging-rules"' in html
    for name in ("cap_count", "cap_days", "over_cap", "quiet_start", "quiet_end"):
        assert f'name="{name}"' in html
    assert "Quiet hours" in html and 'id="opted-out">0<' in html
    russian = marketer.get("/console/campaigns/rules?lang=ru").get_data(as_text=True)
    assert "Тихие часы" in russian and "Лимит частоты" in russian

    # what the form sends (console.js: numbers as numbers, blank times as null)
    saved = marketer.put(f"/api/v1/programs/{program}/messaging-rules", headers=api_headers(marketer),
                         json={"cap_count": 2, "cap_days": 7, "over_cap": "drop", "quiet_start": "21:00",
                               "quiet_end": "08:00"})
    assert saved.status_code == 200, saved.get_json()
    html = marketer.get("/console/campaigns/rules").get_data(as_text=True)
    assert 'value="2"' in html and 'value="21:00"' in html and '<option value="drop" selected>' in html


def test_an_analyst_sees_the_rules_but_cannot_change_them(app: Flask, seeded: dict[str, Any]) -> None:
    analyst = as_role(app, "analyst")
    html = analyst.get("/console/campaigns/rules").get_data(as_text=True)
    assert 'id="read-only"' in html and "data-api=" not in html
    refused = analyst.put(f"/api/v1/programs/{seeded['program_id']}/messaging-rules",
                          headers=api_headers(analyst), json={"cap_count": 1})
    assert refused.status_code == 403


def test_another_brands_program_is_not_found(app: Flask, seeded: dict[str, Any], client: Any) -> None:
    issue(client, seeded, "Anna", email="anna@example.com")
    other = as_role(app, "owner", brand_name="Other Tea")
    assert other.get(f"/console/campaigns/rules?program={seeded['program_id']}").status_code == 404


def test_the_campaign_page_says_who_the_rules_held_back_and_why(app: Flask, seeded: dict[str, Any],
                                                                 client: Any) -> None:
    from service.campaigns import optout
    from service.models import Card
    from service.platform import db

    held = issue(client, seeded, "No Offers", email="no@example.com")["id"]
    issue(client, seeded, "All Offers", email="yes@example.com")
    with app.app_context():
        card = db.session().get(Card, held)
        assert card is not None
        optout.set_opt_out(db.session(), card, True)
        db.session().commit()
    marketer = as_role(app, "marketer")
    sent = marketer.post("/api/v1/campaigns", headers=api_headers(marketer), json={
        "name": "Weekend", "message": "Double points", "send_now": True, "audience": {"all_cards": True},
        "holdout_percent": 0})
    assert sent.status_code == 201, sent.get_json()
    page = marketer.get(f"/console/campaigns/{sent.get_json()['id']}").get_data(as_text=True)
    assert 'data-paced="dropped-opted_out">Not sent (turned messages off): <strong>1</strong>' in page
    assert f'<tr data-card-id="{held}" data-state="dropped">' in page
    russian = marketer.get(f"/console/campaigns/{sent.get_json()['id']}?lang=ru").get_data(as_text=True)
    assert "Задержано правилами рассылок" in russian and "отключил сообщения" in russian


def test_a_stores_time_zone_is_set_on_its_console_page(app: Flask, seeded: dict[str, Any]) -> None:
    owner = as_role(app, "owner")
    store_id = seeded["store_ids"][0]
    page = owner.get(f"/console/stores/{store_id}").get_data(as_text=True)
    assert 'name="time_zone"' in page and "Time zone (optional)" in page
    changed = owner.patch(f"/api/v1/stores/{store_id}", headers=api_headers(owner), json={"time_zone": "Europe/Berlin"})
    assert changed.status_code == 200
    assert 'value="Europe/Berlin"' in owner.get(f"/console/stores/{store_id}").get_data(as_text=True)
    rules = owner.get("/console/campaigns/rules?lang=ru").get_data(as_text=True)
    assert "Часовой пояс магазина задаётся на его странице" in rules and "Europe/Berlin" in rules
