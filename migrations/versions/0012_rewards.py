"""rewards and coupons: a program's reward catalogue, the rewards a card holds, campaign and birthday coupons

Revision ID: 0012
Revises: 0011

`held_rewards` replaces `stamp_rewards` (one concept, one table): every stamp reward earned so far
is copied in with its id (source `ladder`, or `full_card` for a full card), no expiry and already
redeemed at the moment it was earned: before this revision the till announced a stamp reward and
the cashier handed it over on the spot, so none is owed (copying them as held would let a
customer collect every past reward again). `stamp_rewards` is dropped. Campaigns get `coupon` and
programs `birthday_reward_id` (NULL: none, as for every existing one). The downgrade copies the stamp rewards back (rewards
bought with points and coupons have no place there and are lost on a downgrade).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _reset_sequence(table: str) -> None:
    """PostgreSQL: rows copied in with their ids leave the id sequence behind; move it past them."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)")


def upgrade() -> None:
    op.create_table(
        'catalogue_rewards',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=True),
        sa.Column('cost_points', sa.BigInteger(), nullable=True),
        sa.Column('costs_full_card', sa.Boolean(), nullable=False),
        sa.Column('valid_days', sa.Integer(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_catalogue_rewards_program_id', 'catalogue_rewards', ['program_id', 'id'], unique=False)
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coupon', sa.JSON(), nullable=True))
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birthday_reward_id', sa.Integer(), nullable=True))
    op.create_table(
        'held_rewards',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('catalogue_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=12), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=True),
        sa.Column('origin', sa.String(length=20), nullable=True),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('card_cycle', sa.Integer(), nullable=True),
        sa.Column('at_stamp', sa.Integer(), nullable=True),
        sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('redeemed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('redeemed_entry_id', sa.Integer(), nullable=True),
        sa.Column('redeemed_store_id', sa.Integer(), nullable=True),
        sa.Column('redeemed_cashier_id', sa.Integer(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_entry_id', sa.Integer(), nullable=True),
        sa.Column('expiry_noted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
        sa.ForeignKeyConstraint(['catalogue_id'], ['catalogue_rewards.id'], ),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
        sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], ),
        sa.ForeignKeyConstraint(['redeemed_entry_id'], ['ledger_entries.id'], ),
        sa.ForeignKeyConstraint(['redeemed_store_id'], ['stores.id'], ),
        sa.ForeignKeyConstraint(['redeemed_cashier_id'], ['cashiers.id'], ),
        sa.ForeignKeyConstraint(['cancelled_entry_id'], ['ledger_entries.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_held_rewards_card_id', 'held_rewards', ['card_id', 'id'], unique=False)
    op.create_index('ix_held_rewards_expires_at', 'held_rewards', ['expires_at'], unique=False)
    op.create_index('ix_held_rewards_ledger_entry_id', 'held_rewards', ['ledger_entry_id'], unique=False)
    op.create_index('ix_held_rewards_redeemed_entry_id', 'held_rewards', ['redeemed_entry_id'], unique=False)
    op.execute(
        "INSERT INTO held_rewards (id, brand_id, card_id, source, name, card_cycle, at_stamp, ledger_entry_id, "
        "created_at, redeemed_at) SELECT id, brand_id, card_id, CASE WHEN full_card THEN 'full_card' ELSE 'ladder' END, "
        "name, card_cycle, at_stamp, ledger_entry_id, created_at, created_at FROM stamp_rewards")
    _reset_sequence('held_rewards')
    op.drop_index('ix_stamp_rewards_card_id', table_name='stamp_rewards')
    op.drop_table('stamp_rewards')


def downgrade() -> None:
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
    op.execute(
        "INSERT INTO stamp_rewards (id, brand_id, card_id, ledger_entry_id, name, card_cycle, at_stamp, full_card, "
        "created_at) SELECT id, brand_id, card_id, ledger_entry_id, name, card_cycle, at_stamp, "
        "source = 'full_card', created_at FROM held_rewards "
        "WHERE source IN ('ladder', 'full_card') AND card_cycle IS NOT NULL AND at_stamp IS NOT NULL")
    _reset_sequence('stamp_rewards')
    op.drop_index('ix_held_rewards_redeemed_entry_id', table_name='held_rewards')
    op.drop_index('ix_held_rewards_ledger_entry_id', table_name='held_rewards')
    op.drop_index('ix_held_rewards_expires_at', table_name='held_rewards')
    op.drop_index('ix_held_rewards_card_id', table_name='held_rewards')
    op.drop_table('held_rewards')
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('birthday_reward_id')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('coupon')
    op.drop_index('ix_catalogue_rewards_program_id', table_name='catalogue_rewards')
    op.drop_table('catalogue_rewards')
