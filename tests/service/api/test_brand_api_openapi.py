"""The brand API against its own OpenAPI description: the description is complete and readable
(/api/docs, served without a CDN), and no generated input, valid or not, makes the API answer 500."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from service.platform.config import Settings
from tests.helpers import bearer

EXAMPLES = 10
BRAND_PATHS = re.compile(r"^/api/v1/(programs|cards|stores|api-keys|webhooks|webhook-deliveries)\b")
# The blueprints of the brand-resources area (campaigns and the like are described by their own tests).
BRAND_TAGS = {"programs", "cards", "card-management", "stores", "api-keys", "webhooks", "deliveries", "transactions"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, api_rate_limit="100000/minute")


def test_docs_page_is_local(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'spec-url="/api/v1/openapi.json"' in html
    scripts = re.findall(r'src="([^"]+)"', html)
    assert scripts == ["/static/vendor/redoc.standalone.js"]
    assert "//" not in "".join(scripts)  # nothing from a CDN
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]  # not even ReDoc's logo
    script = client.get(scripts[0])
    assert script.status_code == 200 and b"Redoc" in script.data[:2000]
    script.close()


def test_every_brand_operation_is_described(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "Rate limits" in spec["info"]["description"]
    problem = spec["components"]["schemas"]["ProblemOut"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])
    count = 0
    for path, item in spec["paths"].items():
        if not BRAND_PATHS.match(path):
            continue
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete") or not BRAND_TAGS & set(operation["tags"]):
                continue
            count += 1
            where = f"{method.upper()} {path}"
            assert operation.get("summary") or operation.get("description"), where
            success = [code for code in operation["responses"] if code.startswith("2")]
            assert success, where
            for code in success:
                if code != "204" and "images" not in path and "certificate" not in path:
                    assert "schema" in operation["responses"][code]["content"]["application/json"], where
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and method in ("post", "patch", "put") and (
                    "/transactions" not in path and not path.endswith("/cards")):
                assert "example" in body, f"{where} has no request example"
            if method == "get" and path in ("/api/v1/cards", "/api/v1/stores", "/api/v1/api-keys",
                                            "/api/v1/webhooks", "/api/v1/webhook-deliveries"):
                assert "Link" in operation["responses"]["200"]["headers"], where
                assert {"limit", "cursor"} <= {p["name"] for p in operation.get("parameters", [])}, where
    assert count >= 35


def test_no_input_makes_a_server_error(app: Flask, seeded: dict[str, Any]) -> None:
    """Every operation, with generated valid and invalid input, authenticated as a brand (the
    cashier's endpoints as its cashier): never a 500.

    A few examples per operation keep this under a minute; the database fills up as it goes, so
    later operations also meet real ids (1, 2, ...) and not only 404s.
    """
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    brand, cashier = bearer(seeded["api_key"]), bearer(seeded["cashier_token"])
    failures: list[str] = []
    operations = 0
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        def check(case: Any) -> None:
            extra = {"Idempotency-Key": "fuzz-1"} if case.path.endswith("/transactions") else {}
            headers = cashier if case.path.startswith("/api/v1/cashier/") else brand
            response = case.call_and_validate(headers={**(case.headers or {}), **headers, **extra},
                                              checks=[not_a_server_error])
            statuses[response.status_code] += 1

        try:
            check()
        except Exception as error:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:1500]}")
    assert operations >= 40
    print(sorted(statuses.items()))
    # Both valid input that succeeds and invalid input that is refused were generated.
    assert sum(statuses.values()) >= operations * 3
    assert statuses[200] + statuses[201] > 0 and statuses[422] > 0
    assert not failures, "\n\n".join(failures)
