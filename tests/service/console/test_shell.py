"""The console's frame: the menu shows what the role may open, the live parts are our own files
(htmx vendored, no CDN), and no page or script of the console asks another origin for anything."""

from __future__ import annotations

import re
from pathlib import Path

from console_helpers import as_role
from flask import Flask

from service.console import sections

ROOT = Path(__file__).resolve().parents[3]
#: an address another origin serves, in a src/href/url()/fetch of a template, script or style sheet
OUTSIDE = re.compile(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//"""
                     r"""|url\(\s*["']?(?:https?:)?//|fetch\(\s*["'`](?:https?:)?//""")


def test_no_console_page_or_script_loads_anything_from_another_origin() -> None:
    checked = 0
    for path in [*ROOT.glob("service/**/templates/**/*.html"), *ROOT.glob("service/**/static/*.js"),
                 *ROOT.glob("service/**/static/*.css")]:
        text = path.read_text(encoding="utf-8")
        assert not OUTSIDE.search(text), f"{path.relative_to(ROOT)} reaches another origin"
        checked += 1
    assert checked > 10


def test_htmx_is_vendored_with_its_licence_and_every_page_loads_it_from_us(app: Flask, seeded: dict) -> None:
    client_of_owner = as_role(app, "analyst")
    vendor = ROOT / "service/console/static/vendor"
    assert (vendor / "htmx-2.0.11.min.js").stat().st_size > 40_000
    assert "Zero-Clause BSD" in (vendor / "htmx-LICENSE.txt").read_text()
    html = client_of_owner.get("/console/dashboard").get_data(as_text=True)
    assert '/console/static/vendor/htmx-2.0.11.min.js' in html and '/console/static/console.js' in html
    assert client_of_owner.get("/console/static/vendor/htmx-2.0.11.min.js").status_code == 200


def test_the_menu_shows_only_the_sections_the_role_may_open(app: Flask) -> None:
    with app.test_request_context():
        everyone = {section.endpoint for section in sections.visible(frozenset({"read"}))}
        owner = {section.endpoint for section in sections.visible(frozenset({"read", "accounts"}))}
    assert "dashboard_page.page" in everyone and "console.team" not in everyone
    assert "console.team" in owner


def test_a_section_cannot_be_added_twice() -> None:
    known = sections.SECTIONS[0]
    try:
        sections.add(known)
    except ValueError as error:
        assert known.endpoint in str(error)
    else:
        raise AssertionError("a second section with the same endpoint was accepted")
