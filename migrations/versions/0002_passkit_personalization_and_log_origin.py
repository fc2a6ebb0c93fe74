"""passkit: one personalization per card; where an unauthenticated Wallet log came from

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pass_personalizations',
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('client_address', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.PrimaryKeyConstraint('card_id')
    )
    with op.batch_alter_table('device_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mentioned_card_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('client_address', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('user_agent', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_device_logs_mentioned_card_id'), ['mentioned_card_id'], unique=False)
        batch_op.create_foreign_key('fk_device_logs_mentioned_card_id_cards', 'cards', ['mentioned_card_id'], ['id'])
    # Until now a log naming a serial was filed as that card's own: it never was authenticated.
    op.execute("UPDATE device_logs SET mentioned_card_id = card_id, card_id = NULL WHERE card_id IS NOT NULL")


def downgrade() -> None:
    op.execute("UPDATE device_logs SET card_id = mentioned_card_id WHERE mentioned_card_id IS NOT NULL")
    with op.batch_alter_table('device_logs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_device_logs_mentioned_card_id_cards', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_device_logs_mentioned_card_id'))
        batch_op.drop_column('user_agent')
        batch_op.drop_column('client_address')
        batch_op.drop_column('mentioned_card_id')
    op.drop_table('pass_personalizations')
