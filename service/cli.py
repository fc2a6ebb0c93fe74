"""`flask --app wsgi <command>`: migrate, certificate, analytics-rollup, demo."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from sqlalchemy import select

from passes.certificates import load_directory
from passes.errors import CertificateError
from service import demo
from service.apple import signing
from service.models import Card, Program
from service.platform import db, migrate
from service.push.fanout import bump_cards


def register(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Bring the database schema up to date (Alembic upgrade head)."""
        migrate.upgrade(current_app.config["PASSCAST"].database_url)
        click.echo("database is up to date")

    @app.cli.command("certificate")
    @click.argument("directory", type=click.Path(exists=True, file_okay=False))
    @click.option("--program", "program_id", type=int, required=True, help="The program that signs with it.")
    def certificate_command(directory: str, program_id: int) -> None:
        """Install a real Pass Type ID certificate from DIRECTORY for a program.

        DIRECTORY holds wwdr.cer (or wwdr.pem) and pass.p12 (+ a `password` file) or
        pass.pem (+ pass.key). Refused with the reason when it does not fit the program.
        """
        session = db.session()
        program = session.get(Program, program_id)
        if program is None:
            raise click.ClickException(f"no program {program_id}")
        try:
            certificate = load_directory(directory)
            certificate.check(program.pass_type_identifier, program.team_identifier)
        except CertificateError as error:
            raise click.ClickException(str(error)) from None
        program.certificate = signing.store_certificate(session, certificate, brand_id=program.brand_id)
        bump_cards(session, list(session.scalars(select(Card.id).where(Card.program_id == program.id))))
        session.commit()
        warning = certificate.expiry_warning()
        click.echo(f"program {program_id} now signs with {certificate.pass_type_identifier} "
                   f"(team {certificate.team_identifier}), valid until {certificate.not_after:%Y-%m-%d}")
        if warning:
            click.echo(f"warning: {warning}", err=True)

    @app.cli.command("encrypt-signing-keys")
    def encrypt_signing_keys_command() -> None:
        """Encrypt the stored private keys that predate SIGNING_KEY_PASSPHRASE under it."""
        session = db.session()
        try:
            done = signing.encrypt_stored_keys(session)
        except CertificateError as error:
            raise click.ClickException(str(error)) from None
        session.commit()
        click.echo(f"{done} signing key(s) encrypted; the others already were")

    @app.cli.command("analytics-rollup")
    @click.option("--rebuild", is_flag=True, help="Drop the roll-ups and backfill them from the whole ledger.")
    def analytics_rollup_command(rebuild: bool) -> None:
        """Bring the analytics roll-ups up to date (backfills them the first time); the worker
        does the same every minute."""
        from service.analytics import rollups as analytics_rollups

        session = db.session()
        if rebuild:
            analytics_rollups.rebuild(session)
        done = analytics_rollups.run(session)
        click.echo(f"analytics roll-ups are up to date ({done} entries or cards rolled up)")

    @app.cli.command("demo")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
    def demo_command(as_json: bool) -> None:
        """Create what is missing of the demo: schema, dev certificates, Demo Coffee."""
        settings = current_app.config["PASSCAST"]
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(settings.database_url)
        result = demo.seed(db.session(), settings)
        if as_json:
            click.echo(json.dumps(result))
        else:
            for key, value in result.items():
                click.echo(f"{key}: {value}")
