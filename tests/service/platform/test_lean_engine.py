"""The autocommit engine of the hot read paths (service/platform/db.py `lean_rows`,
`lean_write`): each statement commits on its own, and with no liveness ping a pooled
connection the database dropped is replaced on the spot rather than failing a request."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import insert, select, text, update

from service.models import Brand
from service.platform import db
from tests.helpers import terminate_backend


def test_a_lean_write_is_committed_when_it_returns(app: Flask) -> None:
    brands = Brand.__table__
    with app.app_context():
        session = db.session()
        session.execute(insert(brands).values(name="Lean Bakery", slug="lean-bakery", code_ref="lean0001",
                                              code_secret=b"s" * 32))
        session.commit()
        renamed = update(brands).where(brands.c.slug == "lean-bakery").values(name="Leaner Bakery")
        assert db.lean_write(renamed) == 1
        with app.extensions["db_engine"].connect() as other:  # another connection sees it at once
            assert other.execute(select(brands.c.name).where(brands.c.slug == "lean-bakery")).scalar_one() == \
                "Leaner Bakery"
        assert [tuple(row) for row in db.lean_rows(select(brands.c.slug).where(brands.c.name == "Leaner Bakery"))] \
            == [("lean-bakery",)]


def test_a_connection_the_database_dropped_is_replaced(app: Flask) -> None:
    if app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("a backend to terminate is PostgreSQL's")
    with app.app_context():
        [(first,)] = db.lean_rows(text("SELECT pg_backend_pid()"))
        with app.extensions["db_engine"].connect() as admin:
            terminate_backend(admin, first)
        [(second,)] = db.lean_rows(text("SELECT pg_backend_pid()"))  # the pooled one was dead: no error
        assert second != first


def test_driver_rows_replace_a_dropped_connection_too(app: Flask) -> None:
    with app.app_context():
        if app.extensions["db_engine"].dialect.name != "postgresql":
            assert db.driver_rows(text("SELECT 1"), {}) is None  # SQLite: the caller takes the Core path
            return
        [(first,)] = db.driver_rows(text("SELECT pg_backend_pid()"), {}) or [(None,)]
        with app.extensions["db_engine"].connect() as admin:
            terminate_backend(admin, first)
        [(second,)] = db.driver_rows(text("SELECT pg_backend_pid()"), {}) or [(None,)]
        assert second is not None and second != first
