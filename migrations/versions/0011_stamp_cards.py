"""stamp cards: the program's stamp rules, the card's cycle count, earned stamp rewards

Revision ID: 0011
Revises: 0010

Every existing program keeps its kind (stamp columns stay NULL / 0); every existing card has
filled no stamp card (stamp_cards_completed 0).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stamps_required', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('starter_stamps', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('stamp_rule', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('stamp_rule_amount', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column('stamp_ladder', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('happy_hours', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('stamp_png', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stamp_cards_completed', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'stamp_rewards',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('card_cycle', sa.Integer(), nullable=False),
        sa.Column('at_stamp', sa.Integer(), nullable=False),
        sa.Column('full_card', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
        sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_stamp_rewards_card_id', 'stamp_rewards', ['card_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_stamp_rewards_card_id', table_name='stamp_rewards')
    op.drop_table('stamp_rewards')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_column('stamp_cards_completed')
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('stamp_png')
        batch_op.drop_column('time_zone')
        batch_op.drop_column('happy_hours')
        batch_op.drop_column('stamp_ladder')
        batch_op.drop_column('stamp_rule_amount')
        batch_op.drop_column('stamp_rule')
        batch_op.drop_column('starter_stamps')
        batch_op.drop_column('stamps_required')
