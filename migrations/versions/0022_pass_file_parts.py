"""pass_files.resources: a stored pass keeps only its own members, its resource set by key

Revision ID: 0022
Revises: 0021

Every card of a program (and tier) carries the same ~80 kB of images and pass.strings; only
pass.json, manifest.json and signature (~5 kB) are its own. Rows stored from now on hold those
three in `data` and the key of their resource set in `resources`; the archive is put together
when it is served, byte for byte the one that was signed. Rows already stored (`resources` NULL)
hold whole archives and are served as they are until their card's next version.

On PostgreSQL the rows now stay in the table's own pages (toast_tuple_target 8160): a ~5 kB
row fits in a page, and moving it to TOAST would cost three chunks and an index lookup on every
fetch. Whole archives (over 8 kB) still go out of line, uncompressed (0020).

Downgrade: the new rows are deleted (the older code reads `data` as a whole archive); every
card whose row is gone is signed again on its next fetch.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pass_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE pass_files SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    op.execute("DELETE FROM pass_files WHERE resources IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE pass_files RESET (toast_tuple_target)")
    with op.batch_alter_table('pass_files', schema=None) as batch_op:
        batch_op.drop_column('resources')
