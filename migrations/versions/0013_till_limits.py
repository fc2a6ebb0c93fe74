"""the till's safeguards: program earning limits and undo window, reversal entries, refusals

Revision ID: 0013
Revises: 0012

Every existing program keeps no limits (the three limit columns NULL) and a 10-minute undo window;
every existing ledger entry reverses nothing (reversed_entry_id NULL). limit_refusals starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('earn_once_per_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('daily_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('per_transaction_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('undo_window_minutes', sa.Integer(), server_default='10', nullable=False))
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reversed_entry_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_ledger_entries_reversed_entry_id', 'ledger_entries',
                                    ['reversed_entry_id'], ['id'])
        batch_op.create_index('ix_ledger_entries_reversed_entry_id', ['reversed_entry_id'], unique=True)
    op.create_table(
        'limit_refusals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('cashier_id', sa.Integer(), nullable=True),
        sa.Column('rule', sa.String(length=30), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'], ),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
        sa.ForeignKeyConstraint(['cashier_id'], ['cashiers.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_limit_refusals_program_created', 'limit_refusals', ['program_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_limit_refusals_program_created', table_name='limit_refusals')
    op.drop_table('limit_refusals')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_reversed_entry_id')
        batch_op.drop_constraint('fk_ledger_entries_reversed_entry_id', type_='foreignkey')
        batch_op.drop_column('reversed_entry_id')
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('undo_window_minutes')
        batch_op.drop_column('per_transaction_cap')
        batch_op.drop_column('daily_cap')
        batch_op.drop_column('earn_once_per_hours')
