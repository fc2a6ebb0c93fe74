"""Stored passes keep only the card's own members and their resource set's key (issue 18,
migration 0022): what a phone is served is byte for byte the pass `render` makes, also from a
process that has not built the set yet, and never a pass with images other than those signed."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import update

from passes import package
from passes.package import build_pkpass, check_manifest, read_pkpass
from service.apple import lean_paths, pass_files, signing
from service.design import card_design
from service.design.card_design import build_pass, card_files
from service.models import Card, PassFile, Program
from service.platform import db
from tests.service.apple.test_issuing import issue

PASS_TYPE = "pass.dev.passcast.loyalty"


class Signer:
    """Deterministic (so that two builds of one pass are the same bytes), and counting."""

    def __init__(self) -> None:
        self.count = 0

    def sign(self, data: bytes) -> bytes:
        self.count += 1
        return b"SIGNED:" + hashlib.sha256(data).digest()


@pytest.fixture
def signer(monkeypatch: pytest.MonkeyPatch) -> Signer:
    fake = Signer()
    monkeypatch.setattr(signing, "signer_for", lambda _program: fake)
    return fake


def signed_ahead(app: Flask, card_id: int) -> tuple[str, str, bytes]:
    """(serial, token, the .pkpass `render` makes) once the worker's `store_many` stored the card."""
    with app.app_context():
        session = db.session()
        url = app.config["PASSCAST"].web_service_url
        card = session.get_one(Card, card_id)
        card.version += 1  # a new version, as a campaign's bump makes it
        session.commit()
        assert pass_files.store_many(session, [card_id], url) == 1
        session.commit()
        stored = session.get_one(PassFile, card_id)
        assert stored.resources is not None and len(stored.data) < 8000  # ~5 kB, not the ~80 kB archive
        return card.serial_number, card.authentication_token, pass_files.render(card, url)


def fetch(client: FlaskClient, serial: str, token: str) -> Any:
    return client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}", headers={"Authorization": f"ApplePass {token}"})


def forget_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as a web process that has built nothing yet: no resource set, no program files."""
    monkeypatch.setattr(package, "_known_resources", {})
    monkeypatch.setattr(package, "_digest_of", {})
    package._cached_resources.cache_clear()
    monkeypatch.setattr(card_design, "_program_files_cache", {})


def test_a_stored_parts_pass_is_served_byte_for_byte_as_render_makes_it(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, signer: Signer) -> None:
    card = issue(client, seeded).get_json()
    serial, token, expected = signed_ahead(app, card["id"])
    signer.count = 0
    first, again = fetch(client, serial, token), fetch(client, serial, token)
    assert first.status_code == again.status_code == 200
    assert first.data == again.data == expected and signer.count == 0  # served, not signed
    check_manifest(read_pkpass(first.data))
    download = client.get(card["apple_pass_url"].removeprefix("http://127.0.0.1:8000"))
    assert download.status_code == 200 and download.data == expected


def test_a_process_that_has_not_built_the_resource_set_builds_it_and_serves_the_same_bytes(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, signer: Signer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    card = issue(client, seeded).get_json()
    serial, token, expected = signed_ahead(app, card["id"])
    forget_resources(monkeypatch)
    signer.count = 0
    fetched = fetch(client, serial, token)
    assert fetched.status_code == 200 and fetched.data == expected and signer.count == 0
    # built now: the next fetch of this set takes the lean path
    with app.app_context():
        row = lean_paths.pass_row(PASS_TYPE, serial)
        assert row is not None and row.data is not None
        assert pass_files.stored_archive(row.resources, row.data) == expected


def test_a_resource_set_the_program_no_longer_makes_is_never_served_the_pass_is_signed_again(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, signer: Signer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    card = issue(client, seeded).get_json()
    serial, token, old = signed_ahead(app, card["id"])
    icon = io.BytesIO()
    Image.new("RGB", (87, 87), (200, 30, 30)).save(icon, format="PNG")
    with app.app_context():  # a new icon, the cards not bumped: the stored parts name the old set
        db.session().execute(update(Program).where(Program.id == seeded["program_id"]).values(icon_png=icon.getvalue()))
        db.session().commit()
    forget_resources(monkeypatch)  # a process that never built the old set
    signer.count = 0
    fetched = fetch(client, serial, token)
    assert fetched.status_code == 200 and signer.count == 1  # signed again, with the program's files now
    files = read_pkpass(fetched.data)
    check_manifest(files)
    assert files["icon.png"] != read_pkpass(old)["icon.png"]
    with app.app_context():
        session = db.session()
        holder = session.get_one(Card, card["id"])
        assert files["icon.png"] == card_files(holder)["icon.png"]
        stored = session.get_one(PassFile, card["id"])
        assert stored.resources == package.resources_key(card_files(holder))
        url = app.config["PASSCAST"].web_service_url
        assert fetched.data == build_pkpass(build_pass(holder, url), card_files(holder), signer)


def test_a_whole_archive_stored_before_0022_is_served_as_it_is(
        client: FlaskClient, seeded: dict[str, Any], app: Flask, signer: Signer) -> None:
    card = issue(client, seeded).get_json()
    serial, token, expected = signed_ahead(app, card["id"])
    whole = expected  # the archive as the older code stored it
    with app.app_context():
        session = db.session()
        stored = session.get_one(PassFile, card["id"])
        stored.data, stored.resources = whole, None
        session.commit()
    signer.count = 0
    fetched = fetch(client, serial, token)
    assert fetched.status_code == 200 and fetched.data == whole and signer.count == 0
