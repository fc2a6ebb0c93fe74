"""rate-limit counters shared by every web process (when there is no Redis)

Revision ID: 0004
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_limit_counters',
                    sa.Column('key', sa.String(length=255), nullable=False),
                    sa.Column('hits', sa.Integer(), nullable=False),
                    sa.Column('expires_at', sa.Double(), nullable=False),
                    sa.PrimaryKeyConstraint('key'))
    op.create_index('ix_rate_limit_counters_expires_at', 'rate_limit_counters', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_rate_limit_counters_expires_at', table_name='rate_limit_counters')
    op.drop_table('rate_limit_counters')
