"""Join page settings: the fields it asks, its consent text per language, a welcome bonus

Revision ID: 0010
Revises: 0009

Existing programs keep the join page they had: no stored fields = name, phone, email and
birthday asked as before (phone or email required), the built-in consent sentence, no bonus.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('join_fields', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('consent_text', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('welcome_points', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('welcome_points')
        batch_op.drop_column('consent_text')
        batch_op.drop_column('join_fields')
