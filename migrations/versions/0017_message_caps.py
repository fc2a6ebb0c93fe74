"""messaging rules: frequency caps and quiet hours per program, opt-outs, messages per card

Revision ID: 0017
Revises: 0016

Existing programs have no rules (no cap, no quiet hours), no card has opted out, and no
message counts against a cap: every campaign sends as before until a brand sets rules.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    op.create_table(
        'messaging_rules',
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('cap_count', sa.Integer(), nullable=True),
        sa.Column('cap_days', sa.Integer(), nullable=False),
        sa.Column('quiet_start', sa.String(length=5), nullable=True),
        sa.Column('quiet_end', sa.String(length=5), nullable=True),
        sa.Column('over_cap', sa.String(length=8), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'], ),
        sa.PrimaryKeyConstraint('program_id'),
    )
    op.create_table(
        'message_opt_outs',
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
        sa.PrimaryKeyConstraint('card_id'),
    )
    op.create_table(
        'card_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=60), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_card_messages_card_sent', 'card_messages', ['card_id', 'sent_at'], unique=False)
    op.create_table(
        'paced_recipients',
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('defer_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
        sa.ForeignKeyConstraint(['recipient_id'], ['campaign_recipients.id'], ),
        sa.PrimaryKeyConstraint('recipient_id'),
    )
    op.create_index('ix_paced_recipients_due', 'paced_recipients', ['state', 'defer_until'], unique=False)
    op.create_index('ix_paced_recipients_campaign', 'paced_recipients', ['campaign_id', 'state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_paced_recipients_campaign', table_name='paced_recipients')
    op.drop_index('ix_paced_recipients_due', table_name='paced_recipients')
    op.drop_table('paced_recipients')
    op.drop_index('ix_card_messages_card_sent', table_name='card_messages')
    op.drop_table('card_messages')
    op.drop_table('message_opt_outs')
    op.drop_table('messaging_rules')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
