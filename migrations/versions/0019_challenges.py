"""challenges: N qualifying visits or purchases within a period earn a bonus; each card's progress

Revision ID: 0019
Revises: 0018

No program has a challenge yet: programs.challenges_version starts at 0, which tells the loyalty
engine to do nothing more per transaction until a brand makes one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('programs') as batch:
        batch.add_column(sa.Column('challenges_version', sa.Integer(), nullable=False, server_default='0'))
    op.create_table(
        'challenges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('counts', sa.String(length=12), nullable=False),
        sa.Column('min_amount', sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column('target', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rolling_days', sa.Integer(), nullable=True),
        sa.Column('bonus', sa.String(length=8), nullable=False),
        sa.Column('bonus_amount', sa.Integer(), nullable=True),
        sa.Column('coupon_reward_id', sa.Integer(), nullable=True),
        sa.Column('coupon_name', sa.String(length=100), nullable=True),
        sa.Column('coupon_valid_days', sa.Integer(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['brand_id'], ['brands.id']),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_challenges_brand_id', 'challenges', ['brand_id'])
    op.create_index('ix_challenges_program_enabled', 'challenges', ['program_id', 'enabled'])
    op.create_table(
        'challenge_progress',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('challenge_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('window_starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('window_ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('entry_ids', sa.JSON(), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completions', sa.Integer(), nullable=False),
        sa.Column('bonus_entry_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('challenge_id', 'card_id', 'window_starts_at', name='uq_challenge_progress_window'),
    )
    op.create_index('ix_challenge_progress_card_window', 'challenge_progress', ['card_id', 'window_ends_at'])
    op.create_index('ix_challenge_progress_window_end', 'challenge_progress', ['window_ends_at'])


def downgrade() -> None:
    op.drop_index('ix_challenge_progress_window_end', table_name='challenge_progress')
    op.drop_index('ix_challenge_progress_card_window', table_name='challenge_progress')
    op.drop_table('challenge_progress')
    op.drop_index('ix_challenges_program_enabled', table_name='challenges')
    op.drop_index('ix_challenges_brand_id', table_name='challenges')
    op.drop_table('challenges')
    with op.batch_alter_table('programs') as batch:
        batch.drop_column('challenges_version')
