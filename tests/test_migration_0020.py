"""Migration 0020: on PostgreSQL the stored passes' bytes are kept without compression
(STORAGE EXTERNAL), the way `migrate.upgrade` leaves every database the service runs on."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def test_pass_bytes_are_stored_uncompressed_on_postgresql(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name != "postgresql":
                # SQLite has no storage setting: the table is there and holds bytes as given
                assert connection.execute(text("SELECT count(*) FROM pass_files")).scalar() is not None
                return
            storage = connection.execute(text(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = 'pass_files'::regclass AND attname = 'data'"
            )).scalar()
    finally:
        engine.dispose()
    assert storage == "e"  # EXTERNAL: out of line, not compressed
