"""`flask --app wsgi <command>`: migrate, create-brand, certificate, analytics-rollup, demo."""

from __future__ import annotations

import json
import re

import click
from flask import Flask, current_app
from sqlalchemy import select

from passes.certificates import load_directory
from passes.errors import CertificateError
from service import demo
from service.access import accounts
from service.apple import signing
from service.models import Brand, Card, Program
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

    @app.cli.command("create-brand")
    @click.option("--name", required=True, help="The brand's name, as customers see it.")
    @click.option("--slug", required=True, help="Short lowercase name: letters, digits and dashes.")
    @click.option("--owner-email", required=True, help="Who gets the owner's invitation to the console.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
    def create_brand_command(name: str, slug: str, owner_email: str, as_json: bool) -> None:
        """Onboard a brand: the brand, a full API key (shown once) and the owner's console invite link.

        The console and the API both need someone to start from; the invite lets the owner set
        their own password, so no password ever passes through the operator's terminal."""
        session = db.session()
        if not name.strip() or len(name) > 200:
            raise click.BadParameter("give a name of 1 to 200 characters", param_hint="--name")
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?", slug):
            raise click.BadParameter("use lowercase letters, digits and dashes (e.g. corner-bakery)",
                                     param_hint="--slug")
        if session.scalar(select(Brand.id).where(Brand.slug == slug)) is not None:
            raise click.BadParameter(f"a brand with the slug {slug!r} exists already", param_hint="--slug")
        brand = demo.create_brand(session, name.strip(), slug)
        key = demo.create_api_key(session, brand, "created with the brand")
        try:
            token = accounts.create_invite(session, brand, owner_email, "owner")  # commits the brand too
        except accounts.AccessRefused as refused:
            session.rollback()
            why = {"bad_email": "it is not an e-mail address",
                   "email_taken": "it has a console account already"}.get(refused.reason, refused.reason)
            raise click.BadParameter(f"cannot invite {owner_email}: {why}", param_hint="--owner-email") from None
        base = current_app.config["PASSCAST"].public_base_url.rstrip("/")
        result = {"brand_id": brand.id, "slug": slug, "api_key": key,
                  "owner_invite_url": f"{base}/console/invite/{token}", "console_url": f"{base}/console"}
        if as_json:
            click.echo(json.dumps(result))
        else:
            for field, value in result.items():
                click.echo(f"{field}: {value}")
            click.echo("The API key and the invite link are shown only now; the link works once, for 7 days.")

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
