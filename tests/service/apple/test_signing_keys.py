"""Signing keys at rest: encrypted under SIGNING_KEY_PASSPHRASE, in the database and in the APNs file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import select, update

from passes.errors import CertificateError
from service import create_app
from service.apple import signing
from service.models import SigningCertificate
from service.platform import db
from service.platform.config import Settings
from tests.doubles.apns import ApnsDouble
from tests.service.apple.test_passkit import TOKEN_A, change_card, issue_and_install, wait_for

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, signing_key_passphrase=PASSPHRASE)


def stored_keys(app: Flask) -> list[bytes]:
    with app.app_context():
        return list(db.session().scalars(select(SigningCertificate.private_key_pem)))


def test_keys_are_stored_encrypted_and_passes_and_pushes_still_work(
        live: dict[str, Any], apns: ApnsDouble, tmp_path: Path) -> None:
    app = live["app"]
    keys = stored_keys(app)
    assert keys and all(signing.ENCRYPTED_MARK in key and b"BEGIN PRIVATE KEY" not in key for key in keys)
    with app.app_context():  # a fresh load, not a cached signer: the row's key opens with the passphrase
        row = db.session().scalars(select(SigningCertificate)).first()
        assert row is not None and signing.load(row).private_key.key_size >= 2048
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)  # a signed pass that verifies
        assert phone.register(TOKEN_A).status_code == 201
        change_card(http, live, card, 5)
        # The APNs client file written from the row keeps the key encrypted, and TLS still opens it.
        assert wait_for(lambda: [r for r in apns.requests if r.token == TOKEN_A and r.status == 200])
    files = list((app.config["PASSCAST"].instance_dir / "apns").glob("*.pem"))
    assert files and all(signing.ENCRYPTED_MARK in path.read_bytes() for path in files)


def test_without_the_passphrase_an_encrypted_key_is_a_clear_error(app: Flask, settings: Settings,
                                                                  seeded: dict[str, Any]) -> None:
    other = create_app(dataclasses.replace(settings, signing_key_passphrase=""))
    try:
        with other.app_context():
            row = db.session().scalars(select(SigningCertificate)).first()
            assert row is not None
            with pytest.raises(CertificateError, match="SIGNING_KEY_PASSPHRASE"):
                signing.load(row)
    finally:
        other.extensions["db_engine"].dispose()
        signing.configure(PASSPHRASE)


def test_keys_stored_before_the_passphrase_are_encrypted_by_the_command(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        row = session.scalars(select(SigningCertificate)).first()
        assert row is not None
        plain = signing.load(row).private_key.private_bytes(
            signing.serialization.Encoding.PEM, signing.serialization.PrivateFormat.PKCS8,
            signing.serialization.NoEncryption())
        session.execute(update(SigningCertificate).values(private_key_pem=plain))
        session.commit()
        session.expire_all()
        assert signing.load(session.get(SigningCertificate, row.id)).private_key is not None  # old rows still load
    result = app.test_cli_runner().invoke(args=["encrypt-signing-keys"])
    assert result.exit_code == 0 and "1 signing key(s) encrypted" in result.output, result.output
    assert all(signing.ENCRYPTED_MARK in key for key in stored_keys(app))
    again = app.test_cli_runner().invoke(args=["encrypt-signing-keys"])
    assert "0 signing key(s) encrypted" in again.output
