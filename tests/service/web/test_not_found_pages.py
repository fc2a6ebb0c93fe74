"""An unknown join page, card or pass is a short page in the site's look and the customer's
language, not Werkzeug's bare 404; the API and PassKit keep problem+json (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import bearer

PAGES = ["/join/no-such-brand", "/join/no-such-brand/poster.pdf", "/join/demo-coffee/card/no-such-serial",
         "/join/demo-coffee/check/no-such-handle", "/passes/no-such-serial.pkpass", "/no/such/page"]


@pytest.mark.parametrize("path", PAGES)
def test_unknown_customer_pages_are_our_404_page(client: FlaskClient, seeded: dict[str, Any], path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<h1 id="title">Page not found</h1>' in html and 'lang="en"' in html
    assert "/static/join.css" in html  # the join pages' look
    assert response.headers["Content-Language"] == "en"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_404_page_in_russian(client: FlaskClient, seeded: dict[str, Any]) -> None:
    response = client.get("/join/no-such-brand", headers={"Accept-Language": "ru"})
    assert response.status_code == 404 and response.headers["Content-Language"] == "ru"
    html = response.get_data(as_text=True)
    assert "Страница не найдена" in html and 'lang="ru"' in html


@pytest.mark.parametrize("path", ["/api/v1/cards/999999", "/api/v1/no-such-thing", "/passkit/v1/no-such-thing",
                                  "/google/no-such-thing"])
def test_machine_paths_keep_problem_json_404(client: FlaskClient, seeded: dict[str, Any], path: str) -> None:
    response = client.get(path, headers=bearer(seeded["api_key"]))
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404
