"""Rate limits per API key: a small limit from the settings, 429 problem+json with Retry-After,
one budget per key (another key of the same brand is not affected), none on non-API paths."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api.ratelimit import caller_key
from service.config import Settings
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
    from service import db, demo
    from service.models import Brand

    with client.application.app_context():
        session = db.session()
        other = demo.create_api_key(session, session.get(Brand, seeded["brand_id"]), "second")
        session.commit()
    assert client.get("/api/v1/programs", headers=bearer(other)).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_caller_key_uses_the_key_id_not_the_secret(client: FlaskClient) -> None:
    with client.application.test_request_context(headers={"Authorization": "Bearer pk_abc123_secretpart"}):
        assert caller_key() == "pk:abc123"
    with client.application.test_request_context(headers={"Authorization": "Bearer ct_def456_x"}):
        assert caller_key() == "ct:def456"
    with client.application.test_request_context(headers={"Authorization": "Bearer tl_0a1b2c_x"}):
        assert caller_key() == "tl:0a1b2c"  # a paired till: its own budget, not its shop's address
    with client.application.test_request_context(environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        assert caller_key() == "ip:10.1.2.3"


def test_setting_from_environment() -> None:
    assert Settings.from_env({"API_RATE_LIMIT": "10/second"}).api_rate_limit == "10/second"
    assert Settings.from_env({}).api_rate_limit == "600/minute"
