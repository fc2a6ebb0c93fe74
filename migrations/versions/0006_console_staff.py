"""brand staff for the console: accounts, sessions, invite and reset links

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_accounts',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('brand_id', sa.Integer(), nullable=False),
                    sa.Column('email', sa.String(length=254), nullable=False),
                    sa.Column('password_hash', sa.String(length=200), nullable=False),
                    sa.Column('role', sa.String(length=20), nullable=False),
                    sa.Column('store_ids', sa.String(length=500), server_default='', nullable=False),
                    sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False),
                    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('totp_secret', sa.String(length=64), nullable=True),
                    sa.Column('totp_enabled', sa.Boolean(), server_default=sa.false(), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
                    sa.ForeignKeyConstraint(['brand_id'], ['brands.id']),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('email'))
    op.create_index('ix_staff_accounts_brand_id', 'staff_accounts', ['brand_id'])
    op.create_table('staff_sessions',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('account_id', sa.Integer(), nullable=False),
                    sa.Column('prefix', sa.String(length=16), nullable=False),
                    sa.Column('token_hash', sa.String(length=64), nullable=False),
                    sa.Column('csrf_token', sa.String(length=64), nullable=False),
                    sa.Column('mfa_pending', sa.Boolean(), server_default=sa.false(), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
                    sa.ForeignKeyConstraint(['account_id'], ['staff_accounts.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('prefix'))
    op.create_index('ix_staff_sessions_account_id', 'staff_sessions', ['account_id'])
    op.create_table('staff_links',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('brand_id', sa.Integer(), nullable=False),
                    sa.Column('kind', sa.String(length=10), nullable=False),
                    sa.Column('email', sa.String(length=254), nullable=False),
                    sa.Column('role', sa.String(length=20), nullable=False),
                    sa.Column('store_ids', sa.String(length=500), server_default='', nullable=False),
                    sa.Column('account_id', sa.Integer(), nullable=True),
                    sa.Column('prefix', sa.String(length=16), nullable=False),
                    sa.Column('token_hash', sa.String(length=64), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
                    sa.ForeignKeyConstraint(['account_id'], ['staff_accounts.id'], ondelete='CASCADE'),
                    sa.ForeignKeyConstraint(['brand_id'], ['brands.id']),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('prefix'))
    op.create_index('ix_staff_links_brand_id', 'staff_links', ['brand_id'])


def downgrade() -> None:
    op.drop_index('ix_staff_links_brand_id', table_name='staff_links')
    op.drop_table('staff_links')
    op.drop_index('ix_staff_sessions_account_id', table_name='staff_sessions')
    op.drop_table('staff_sessions')
    op.drop_index('ix_staff_accounts_brand_id', table_name='staff_accounts')
    op.drop_table('staff_accounts')
