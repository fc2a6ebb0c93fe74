"""partner programs: partner brands of a program, presentations at partner counters, the settlement
point value, and the partner brand that posted a ledger entry

Revision ID: 0014
Revises: 0013

Every existing program has no partners and no settlement value; every existing ledger entry was
posted by its card's own brand (partner_brand_id NULL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settlement_point_value', sa.Numeric(precision=12, scale=4), nullable=True))
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partner_brand_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_ledger_entries_partner_brand_id_brands', 'brands',
                                    ['partner_brand_id'], ['id'])
    op.create_table(
        'program_partners',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('invited_by', sa.String(length=200), nullable=False),
        sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
        sa.ForeignKeyConstraint(['program_id'], ['programs.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('program_id', 'brand_id', name='uq_program_partners_program_brand'),
    )
    op.create_index('ix_program_partners_brand_id', 'program_partners', ['brand_id'], unique=False)
    op.create_table(
        'partner_presentations',
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('presented_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
        sa.PrimaryKeyConstraint('card_id', 'brand_id'),
    )


def downgrade() -> None:
    op.drop_table('partner_presentations')
    op.drop_index('ix_program_partners_brand_id', table_name='program_partners')
    op.drop_table('program_partners')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ledger_entries_partner_brand_id_brands', type_='foreignkey')
        batch_op.drop_column('partner_brand_id')
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('settlement_point_value')
