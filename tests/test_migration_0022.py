"""Migration 0022: pass_files.resources. Rows stored before it keep their whole archives (served
as they are); the downgrade removes the rows stored as parts (the older code reads `data` as a
whole archive), so those cards are signed again on their next fetch."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import create_engine, inspect, text

from service.platform import migrate
from tests.test_migrations import FIRST_RELEASE_REVISION, _load_release_data, empty_database  # noqa: F401

NOW = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


def _rows(engine, columns: str = "card_id, data") -> dict[int, tuple]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in connection.execute(text(f"SELECT {columns} FROM pass_files"))}


def test_0022_keeps_whole_archives_and_its_downgrade_drops_only_parts(empty_database: str) -> None:  # noqa: F811
    config = migrate.alembic_config(empty_database)
    command.upgrade(config, FIRST_RELEASE_REVISION)
    fixture = _load_release_data(empty_database)
    first, second, third = (row["id"] for row in fixture["tables"]["cards"])
    command.upgrade(config, "0021")
    engine = create_engine(empty_database)
    try:
        insert = text("INSERT INTO pass_files (card_id, version, last_modified, data) VALUES (:card, 1, :now, :data)")
        with engine.begin() as connection:
            for card_id in (first, second):
                connection.execute(insert, {"card": card_id, "now": NOW, "data": b"PK\x03\x04 whole %d" % card_id})
        command.upgrade(config, "0022")
        assert "resources" in {column["name"] for column in inspect(engine).get_columns("pass_files")}
        assert _rows(engine, "card_id, data, resources") == {
            first: (b"PK\x03\x04 whole %d" % first, None), second: (b"PK\x03\x04 whole %d" % second, None)}
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO pass_files (card_id, version, last_modified, data, resources) "
                                    "VALUES (:card, 2, :now, :data, :key)"),
                               {"card": third, "now": NOW, "data": b"PKp1 parts", "key": "a" * 64})
            if engine.dialect.name == "postgresql":
                options = connection.execute(
                    text("SELECT reloptions FROM pg_class WHERE relname = 'pass_files'")).scalar()
                assert "toast_tuple_target=8160" in options
        command.downgrade(config, "0021")
        assert "resources" not in {column["name"] for column in inspect(engine).get_columns("pass_files")}
        assert set(_rows(engine)) == {first, second}  # the parts row is gone, the whole archives stay
        command.upgrade(config, "head")
    finally:
        engine.dispose()
