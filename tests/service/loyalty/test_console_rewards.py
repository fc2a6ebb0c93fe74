"""The console's rewards page and the members page's coupons (en and ru): the catalogue is shown
and changed through the API its forms post to, a marketer gives a customer a coupon from the card's
page (the same call console.js makes), and roles without the permission see no controls."""

from __future__ import annotations

from typing import Any

from console_helpers import api_headers, as_role
from flask import Flask

from tests.helpers import bearer


def test_the_rewards_page_lists_the_catalogue_and_its_forms_post_to_the_api(
        app: Flask, seeded: dict[str, Any]) -> None:
    owner = as_role(app, "owner", email="boss@demo.example")
    program_id = seeded["program_id"]
    made = owner.post(f"/api/v1/programs/{program_id}/rewards", headers=api_headers(owner),
                      json={"name": "Free coffee", "cost_points": 150, "valid_days": 30})
    assert made.status_code == 201, made.get_json()
    page = owner.get("/console/rewards")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Free coffee" in html and "30 days" in html
    assert f'data-api="POST /api/v1/programs/{program_id}/rewards"' in html
    assert f'data-api="DELETE /api/v1/programs/{program_id}/rewards/{made.get_json()["id"]}"' in html
    assert 'href="/console/rewards"' in html  # in the menu
    russian = owner.get("/console/rewards?lang=ru").get_data(as_text=True)
    assert "Награды и купоны" in russian and "в каталоге" in russian
    analyst = as_role(app, "analyst")
    seen = analyst.get("/console/rewards").get_data(as_text=True)
    assert "Free coffee" in seen and "data-api=" not in seen and "rewards-read-only" in seen


def test_a_coupon_is_given_and_cancelled_from_the_members_page(app: Flask, client: Any, seeded: dict[str, Any]) -> None:
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                       json={"customer": {"name": "Vera"}}).get_json()
    marketer = as_role(app, "marketer")
    page = marketer.get(f"/console/members/{card['id']}").get_data(as_text=True)
    assert f'data-api="POST /api/v1/cards/{card["id"]}/coupons"' in page and "The card holds no rewards." in page
    given = marketer.post(f"/api/v1/cards/{card['id']}/coupons", json={"name": "Birthday cake", "valid_days": 7,
                                                                      "origin": "console"},
                          headers={**api_headers(marketer), "Idempotency-Key": "console-grant-1"})
    assert given.status_code == 201, given.get_json()
    coupon = given.get_json()["reward"]
    assert coupon["origin"] == "console"
    page = marketer.get(f"/console/members/{card['id']}?lang=ru").get_data(as_text=True)
    assert "Birthday cake" in page and "к выдаче" in page and f"cancel-reward-{coupon['id']}" in page
    assert "купон подарен" in page  # the ledger names the grant
    cancelled = marketer.delete(f"/api/v1/cards/{card['id']}/rewards/{coupon['id']}", headers=api_headers(marketer))
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    assert "отменена" in marketer.get(f"/console/members/{card['id']}?lang=ru").get_data(as_text=True)
    analyst = as_role(app, "analyst")
    assert "grant-form" not in analyst.get(f"/console/members/{card['id']}").get_data(as_text=True)
    refused = analyst.post(f"/api/v1/cards/{card['id']}/coupons", json={"name": "x"},
                           headers={**api_headers(analyst), "Idempotency-Key": "analyst-1"})
    assert refused.status_code == 403
