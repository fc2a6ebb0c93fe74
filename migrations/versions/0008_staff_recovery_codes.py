"""single-use recovery codes for the console's TOTP step

Revision ID: 0008
Revises: 0007

A new table only: nobody has codes until they turn two-factor sign-in on (or regenerate them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_recovery_codes',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('account_id', sa.Integer(), nullable=False),
                    sa.Column('code_hash', sa.String(length=64), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
                    sa.ForeignKeyConstraint(['account_id'], ['staff_accounts.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_staff_recovery_codes_account_id', 'staff_recovery_codes', ['account_id'])


def downgrade() -> None:
    op.drop_index('ix_staff_recovery_codes_account_id', table_name='staff_recovery_codes')
    op.drop_table('staff_recovery_codes')
