"""Every section of the console, whichever pages this version has: an analyst is offered nothing
that changes anything, and another brand's owner sees nothing of ours. The sections are read from
the menu's registry, so a new page is checked the day it is added."""

from __future__ import annotations

import re
from typing import Any

from console_helpers import as_role
from flask import Flask, url_for
from flask.testing import FlaskClient
from helpers import bearer

from service.console import sections

#: forms every page carries for the person themselves (signing out), not for the brand's data
PERSONAL = ("/console/sign-out", "/console/sign-out-everywhere")
#: the analyst's own security settings (two-factor sign-in) are theirs to change
OWN_SETTINGS = {"console.security"}
SECRET_CUSTOMER = {"name": "Zanzibar Quince", "email": "zanzibar.quince@example.com", "phone": "+31 6 5550 1234"}


def _pages(app: Flask) -> dict[str, str]:
    with app.test_request_context():
        return {section.endpoint: url_for(section.endpoint) for section in sections.SECTIONS
                if section.endpoint in app.view_functions}


def _changing_forms(html: str) -> list[str]:
    """Forms (and buttons outside forms that act through the API) that would change something."""
    found = []
    for form in re.finditer(r"<form\b[^>]*>", html):
        tag = form.group(0)
        api = re.search(r'data-api="(\w+)', tag)
        method = (api.group(1) if api else (re.search(r'method="(\w+)"', tag) or [None, "get"])[1]).upper()
        action = (re.search(r'action="([^"]*)"', tag) or [None, ""])[1]
        if method != "GET" and not action.endswith(PERSONAL):
            found.append(tag)
    found += re.findall(r"<button\b[^>]*data-api=[^>]*>", html)
    return found


def test_an_analyst_is_offered_no_change_on_any_page(app: Flask, seeded: dict[str, Any]) -> None:
    analyst = as_role(app, "analyst")
    pages = _pages(app)
    assert len(pages) >= 3
    for endpoint, path in pages.items():
        page = analyst.get(path)
        if endpoint in OWN_SETTINGS:
            continue
        if page.status_code == 403:  # a section not for the role: no menu entry either
            continue
        assert page.status_code == 200, (path, page.status_code)
        assert not _changing_forms(page.get_data(as_text=True)), (path, _changing_forms(page.get_data(as_text=True)))


def test_the_menu_links_only_pages_the_role_may_open(app: Flask, seeded: dict[str, Any]) -> None:
    for role in ("analyst", "store_manager", "marketer", "owner"):
        client = as_role(app, role, email=f"menu-{role}@demo.example")
        menu = client.get("/console/security").get_data(as_text=True)
        links = re.findall(r'<nav class="sections".*?</ul>', menu, re.S)[0]
        for path in re.findall(r'href="([^"]+)"', links):
            assert client.get(path).status_code == 200, (role, path)


def _seed_ours(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    made = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", json={"customer": SECRET_CUSTOMER},
                       headers=key)
    assert made.status_code == 201, made.get_json()


def test_another_brands_owner_sees_nothing_of_ours_on_any_page(app: Flask, client: FlaskClient,
                                                               seeded: dict[str, Any]) -> None:
    _seed_ours(client, seeded)
    theirs = as_role(app, "owner", brand_name="Rival Tea")
    ours = ["Demo Coffee", "Demo Cashier", *SECRET_CUSTOMER.values()]
    for path in _pages(app).values():
        page = theirs.get(path)
        assert page.status_code == 200, (path, page.status_code)
        html = page.get_data(as_text=True)
        assert "Rival Tea" in html
        assert not [word for word in ours if word in html], path
        searched = theirs.get(path, query_string={"q": "Zanzibar"}).get_data(as_text=True)
        assert SECRET_CUSTOMER["email"] not in searched and SECRET_CUSTOMER["phone"] not in searched, path
