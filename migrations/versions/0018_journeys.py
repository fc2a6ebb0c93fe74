"""journeys: automatic playbooks per program, the occurrences cards entered, managers' tasks

Revision ID: 0018
Revises: 0017

No program has a journey yet: nothing changes until a brand switches one on. The birthday
settings on programs stay as they are and keep greeting until a birthday journey replaces them.
The evaluator's watermarks start at the newest ledger entry and NPS answer, so switching on a
journey never replays the past (a welcome is not sent to last year's members).
Cards get `last_visit_at` (filled from the ledger), the date the "lapsed" trigger selects by.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the "lapsed" trigger's date: each card's last visit, kept by the loyalty engine from now on,
    # filled here from the ledger (purchases and stamps; a journey's bonus stamps are no visit)
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_visit_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE cards SET last_visit_at = (SELECT MAX(l.created_at) FROM ledger_entries l "
               "WHERE l.card_id = cards.id AND l.kind IN ('purchase', 'stamp') "
               "AND (l.idempotency_key IS NULL OR l.idempotency_key NOT LIKE 'journey:%'))")
    op.create_index('ix_cards_program_last_visit', 'cards', ['program_id', 'last_visit_at'])
    op.create_table(
        'journeys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('trigger', sa.String(length=30), nullable=False),
        sa.Column('trigger_value', sa.Integer(), nullable=True),
        sa.Column('conditions', sa.JSON(), nullable=False),
        sa.Column('actions', sa.JSON(), nullable=False),
        sa.Column('holdout_percent', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('playbook', sa.String(length=40), nullable=True),
        sa.Column('cost_per_entry', sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['brand_id'], ['brands.id']),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_journeys_brand_id', 'journeys', ['brand_id'])
    op.create_index('ix_journeys_program_trigger', 'journeys', ['program_id', 'trigger', 'enabled'])
    op.create_table(
        'journey_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('journey_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('occurrence', sa.String(length=80), nullable=False),
        sa.Column('holdout', sa.Boolean(), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('message', sa.String(length=12), nullable=True),
        sa.Column('reachable', sa.Boolean(), nullable=True),
        sa.Column('points_given', sa.BigInteger(), nullable=False),
        sa.Column('message_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['journey_id'], ['journeys.id']),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('journey_id', 'card_id', 'occurrence', name='uq_journey_entries_once'),
    )
    op.create_index('ix_journey_entries_card_id', 'journey_entries', ['card_id'])
    op.create_index('ix_journey_entries_journey_entered', 'journey_entries', ['journey_id', 'entered_at'])
    op.create_index('ix_journey_entries_message_due', 'journey_entries', ['message', 'message_due_at'])
    op.create_table(
        'journey_tasks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('journey_id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['brand_id'], ['brands.id']),
        sa.ForeignKeyConstraint(['journey_id'], ['journeys.id']),
        sa.ForeignKeyConstraint(['entry_id'], ['journey_entries.id']),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id']),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('entry_id'),
    )
    op.create_index('ix_journey_tasks_brand_state', 'journey_tasks', ['brand_id', 'state', 'created_at'])
    op.create_table(
        'journey_watermarks',
        sa.Column('stream', sa.String(length=20), nullable=False),
        sa.Column('last_id', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('stream'),
    )
    op.execute("INSERT INTO journey_watermarks (stream, last_id, updated_at) "
               "SELECT 'ledger', COALESCE(MAX(id), 0), CURRENT_TIMESTAMP FROM ledger_entries")
    op.execute("INSERT INTO journey_watermarks (stream, last_id, updated_at) "
               "SELECT 'nps', COALESCE(MAX(id), 0), CURRENT_TIMESTAMP FROM nps_answers")


def downgrade() -> None:
    op.drop_index('ix_journey_entries_message_due', table_name='journey_entries')
    op.drop_table('journey_watermarks')
    op.drop_index('ix_journey_tasks_brand_state', table_name='journey_tasks')
    op.drop_table('journey_tasks')
    op.drop_index('ix_journey_entries_journey_entered', table_name='journey_entries')
    op.drop_index('ix_journey_entries_card_id', table_name='journey_entries')
    op.drop_table('journey_entries')
    op.drop_index('ix_journeys_program_trigger', table_name='journeys')
    op.drop_index('ix_journeys_brand_id', table_name='journeys')
    op.drop_table('journeys')
    op.drop_index('ix_cards_program_last_visit', table_name='cards')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_column('last_visit_at')
