"""Row locks that hold on every database we run on, SQLite included.

FOR UPDATE is silently dropped on SQLite, so an invariant that relies on it ("a brand keeps
one active API key", "an import batch matches before another writes") would only hold on
PostgreSQL. service/platform/db.py leaves pysqlite's default transaction handling alone: a transaction
opens at the first INSERT/UPDATE/DELETE, which takes the database's write lock (waiting up to the
connection's 30 s timeout for the writer before). Reads before that are not in a transaction,
so they never hold a stale snapshot; reads after it see the latest commit and nobody else
writes until we commit. So a no-op UPDATE is SQLite's row lock (a database lock, in fact).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import DeclarativeBase, Session


def lock_row(session: Session, model: type[DeclarativeBase], row_id: int) -> None:
    """Hold one row for the rest of the transaction; re-read what the invariant needs afterwards.

    PostgreSQL: SELECT ... FOR NO KEY UPDATE (it does not block inserts of rows referencing it).
    SQLite: a no-op UPDATE of the row (a plain column set to itself, so no foreign key is
    checked), which takes the write lock even when no row matches.
    """
    table = model.__table__  # type: ignore[attr-defined]
    (key,) = table.primary_key.columns
    if session.get_bind().dialect.name == "sqlite":
        plain = next(c for c in table.columns if not (c.primary_key or c.foreign_keys or c.unique))
        session.execute(update(table).where(key == row_id).values({plain.name: plain}))
    else:
        session.execute(select(key).where(key == row_id).with_for_update(key_share=True))
