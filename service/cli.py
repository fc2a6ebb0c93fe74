"""`flask --app wsgi <command>`: migrate, demo."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app

from service import db, demo, migrate


def register(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Bring the database schema up to date (Alembic upgrade head)."""
        migrate.upgrade(current_app.config["PASSCAST"].database_url)
        click.echo("database is up to date")

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
