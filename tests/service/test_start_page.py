"""`/` says what Passcast is and links its pages, in English or Russian (issue 13)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient


def links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_the_start_page_explains_and_links_every_page_and_each_link_answers(
        client: FlaskClient, seeded: dict[str, Any]) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html  # a phone's width
    assert "Apple Wallet and Google Wallet" in html and 'lang="en"' in html
    assert response.headers["Content-Language"] == "en" and "frame-ancestors 'none'" in \
        response.headers["Content-Security-Policy"]
    hrefs = links(html)
    for page in ("/join/demo-coffee", "/cashier", "/console/sign-in", "/api/docs", "/api/v1/openapi.json",
                 "/livez", "/readyz"):
        assert page in hrefs, page
    assert "Demo Coffee Rewards" in html
    for href in hrefs:
        if href.startswith("/") and not href.startswith("/static/"):
            assert client.get(href).status_code == 200, href


@pytest.mark.parametrize("how", [{"headers": {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}},
                                 {"query_string": {"lang": "ru"}}], ids=["accept-language", "query"])
def test_the_start_page_in_russian(client: FlaskClient, seeded: dict[str, Any], how: dict[str, Any]) -> None:
    response = client.get("/", **how)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Content-Language"] == "ru"
    assert 'lang="ru"' in html and "Страница кассира" in html and "Вступить в программу лояльности" in html
    assert "/join/demo-coffee" in links(html)
    assert 'href="?lang=en"' in html  # the way back to English


def test_the_start_page_without_programs_says_so(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert 'id="no-programs"' in html and "/join/" not in html
