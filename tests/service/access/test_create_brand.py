"""Onboarding a brand from the command line: a brand of one's own, not only the demo, can reach the
API and the console (an owner invite link, a key shown once), and bad input is refused in words."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from sqlalchemy import select

from service.models import Brand
from service.platform import db
from tests.helpers import bearer


def create(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["create-brand", *args])


def test_a_new_brand_gets_a_key_and_an_owner_invite_that_lead_into_the_console(app: Flask,
                                                                               seeded: dict[str, Any]) -> None:
    result = create(app, "--name", "Corner Bakery", "--slug", "corner-bakery", "--owner-email", "Ola@Example.com",
                    "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    client = app.test_client()
    stores = client.get("/api/v1/stores", headers=bearer(made["api_key"]))
    assert stores.status_code == 200 and stores.get_json() == []  # its own, empty brand (not the demo's)
    invite = re.sub(r"^https?://[^/]+", "", made["owner_invite_url"])
    assert "ola@example.com" in client.get(invite).get_data(as_text=True)
    assert client.post(invite, data={"password": "a long good password"}).status_code == 200
    signed_in = client.post("/console/sign-in", data={"email": "ola@example.com", "password": "a long good password"})
    assert signed_in.status_code == 302
    assert client.get("/console/team").status_code == 200  # the owner manages the team
    with app.app_context():
        assert db.session().scalar(select(Brand.name).where(Brand.id == made["brand_id"])) == "Corner Bakery"


def test_bad_input_is_refused_in_words_and_nothing_is_made(app: Flask, seeded: dict[str, Any]) -> None:
    for args, words in ((["--slug", "Corner Bakery"], "lowercase letters"),
                        (["--slug", "demo-coffee"], "exists already"),
                        (["--owner-email", "not-an-address"], "not an e-mail address")):
        options = {"--name": "Corner Bakery", "--slug": "corner-bakery", "--owner-email": "ola@example.com"}
        options.update(dict(zip(args[::2], args[1::2], strict=True)))
        result = create(app, *[part for pair in options.items() for part in pair])
        assert result.exit_code != 0 and words in result.output, result.output
    with app.app_context():
        assert db.session().scalar(select(Brand.id).where(Brand.slug == "corner-bakery")) is None
