"""Rate limits per API key: a small limit from the settings, 429 problem+json with Retry-After,
one budget per key (another key of the same brand, a cashier token are not affected), none on
unauthenticated paths. The attacks on the budgets are in test_rate_limits.py."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.platform.config import Settings
from tests.helpers import bearer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, api_rate_limit="5/minute")


def test_limit_per_key_with_retry_after(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    answers = [client.get("/api/v1/programs", headers=key) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert answers[0].headers["X-RateLimit-Limit"] == "5"
    assert answers[-1].headers["X-RateLimit-Remaining"] == "0"
    refused = client.get("/api/v1/stores", headers=key)  # the budget is per key, across endpoints
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    problem = refused.get_json()
    assert problem["status"] == 429 and problem["type"] == "/problems/rate-limited"


def test_other_key_and_other_paths_unaffected(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    for _ in range(5):
        client.get("/api/v1/programs", headers=key)
    assert client.get("/api/v1/programs", headers=key).status_code == 429
    # A second key of the same brand: its own budget (5 - the creation request above was refused, so
    # create it with the cashier-free path: the demo key is exhausted, so make it in the database).
    from service import demo
    from service.models import Brand
    from service.platform import db

    with client.application.app_context():
        session = db.session()
        other = demo.create_api_key(session, session.get(Brand, seeded["brand_id"]), "second")
        session.commit()
    assert client.get("/api/v1/programs", headers=bearer(other)).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_a_cashier_token_and_a_till_key_have_their_own_budget(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    for _ in range(5):
        client.get("/api/v1/programs", headers=key)
    assert client.get("/api/v1/programs", headers=key).status_code == 429
    assert client.get("/api/v1/cashier/me", headers=bearer(seeded["cashier_token"])).status_code == 200


def test_setting_from_environment() -> None:
    assert Settings.from_env({"API_RATE_LIMIT": "10/second"}).api_rate_limit == "10/second"
    assert Settings.from_env({}).api_rate_limit == "600/minute"
