"""pass_files.data stored uncompressed (PostgreSQL STORAGE EXTERNAL)

Revision ID: 0020
Revises: 0019

A .pkpass is a zip of PNGs that opens with pass.json stored as plain text: PostgreSQL's pglz
finds that first kilobyte compressible, so it tries to compress all ~80 kB of every pass it
stores and gains next to nothing. The campaign storm bench (issue 18) measured 2.2 ms of
PostgreSQL CPU per stored pass with compression, 0.74 ms without. EXTERNAL keeps the bytes
out of line (TOAST) without compressing them; rows already stored stay as they are. SQLite
has no such setting: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE pass_files ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE pass_files ALTER COLUMN data SET STORAGE EXTENDED")
