"""cards fillfactor 50 (PostgreSQL): a card's new version fits on its own page, so bumping it
updates no index

Revision ID: 0021
Revises: 0020

`cards` has fifteen indexes, and a campaign or a design change (`bump_cards`) changes columns
that none of them holds (version, updated_at, news). PostgreSQL then writes the new row version
without touching any index (a HOT update), but only if it fits on the page of the old one. (A
purchase also sets last_visit_at, which ix_cards_program_last_visit holds, so it rewrites the
indexes whatever the fillfactor.) Pages filled to 100 % leave no room: every bump wrote sixteen WAL records per card (heap +
fifteen index entries). EXPLAIN ANALYZE of `bump_cards`' UPDATE of 1 000 cards on the push
bench's table: 250-320 ms (16 200 WAL records) at fillfactor 100, 34-52 ms (1 000 records) at
50, the same machine and load. 50 because a campaign changes every card of a page in one
transaction, so a page needs room for all of its rows' new versions at once.

Instant (only the table's storage parameter changes): rows already stored stay where they are,
and each row moves to a page filled to at most 50 % the next time it is updated without HOT,
so after one change to every card (a campaign) the whole table has the room. The table's heap
grows to about twice its rows' size; its fifteen indexes, which are most of its size, do not.
SQLite has no fillfactor: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cards SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cards RESET (fillfactor)")
