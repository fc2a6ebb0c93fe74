"""initial schema

Revision ID: 0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analytics_activity',
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('prev_day', sa.Integer(), nullable=False),
    sa.Column('since_day', sa.Integer(), nullable=False),
    sa.Column('cards', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('brand_id', 'day', 'prev_day', 'since_day')
    )
    op.create_table('analytics_cohort_activity',
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('created_day', sa.Integer(), nullable=False),
    sa.Column('first_day', sa.Integer(), nullable=False),
    sa.Column('cohort_month', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('cards', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('brand_id', 'created_day', 'first_day')
    )
    op.create_table('analytics_daily',
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('points_issued', sa.BigInteger(), nullable=False),
    sa.Column('points_redeemed', sa.BigInteger(), nullable=False),
    sa.Column('purchases', sa.BigInteger(), nullable=False),
    sa.Column('revenue', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('brand_id', 'day')
    )
    op.create_table('analytics_purchase_links',
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('shape', sa.String(length=2), nullable=False),
    sa.Column('a', sa.Integer(), nullable=False),
    sa.Column('b', sa.Integer(), nullable=False),
    sa.Column('multi', sa.Boolean(), nullable=False),
    sa.Column('cards', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('brand_id', 'shape', 'a', 'b', 'multi')
    )
    op.create_table('analytics_rollup_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ledger_id', sa.BigInteger(), nullable=False),
    sa.Column('backfill_to', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('brands',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('code_ref', sa.String(length=16), nullable=False),
    sa.Column('code_secret', sa.LargeBinary(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_ref'),
    sa.UniqueConstraint('slug')
    )
    op.create_table('analytics_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('seconds', sa.Double(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('brand_id', 'key')
    )
    with op.batch_alter_table('analytics_cache', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_cache_computed_at'), ['computed_at'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prefix')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_brand_id'), ['brand_id'], unique=False)

    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('send_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('store_ids', sa.JSON(), nullable=False),
    sa.Column('relevant_text', sa.String(length=200), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('audience_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cursor', sa.BigInteger(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('buyers_7d', sa.BigInteger(), nullable=True),
    sa.Column('purchases_7d', sa.BigInteger(), nullable=True),
    sa.Column('revenue_7d', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index('ix_campaigns_due', ['status', 'send_at'], unique=False)

    op.create_table('signing_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=True),
    sa.Column('pass_type_identifier', sa.String(length=200), nullable=False),
    sa.Column('team_identifier', sa.String(length=20), nullable=False),
    sa.Column('certificate_pem', sa.LargeBinary(), nullable=False),
    sa.Column('private_key_pem', sa.LargeBinary(), nullable=False),
    sa.Column('wwdr_pem', sa.LargeBinary(), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_dev', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signing_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_certificates_brand_id'), ['brand_id'], unique=False)

    op.create_table('stores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('latitude', sa.Double(), nullable=False),
    sa.Column('longitude', sa.Double(), nullable=False),
    sa.Column('relevant_text', sa.String(length=200), nullable=True),
    sa.Column('beacon_uuid', sa.String(length=36), nullable=True),
    sa.Column('beacon_major', sa.Integer(), nullable=True),
    sa.Column('beacon_minor', sa.Integer(), nullable=True),
    sa.Column('geo_relevant_text', sa.String(length=200), nullable=True),
    sa.Column('geo_campaign_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stores_brand_id'), ['brand_id'], unique=False)

    op.create_table('webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_brand_id'), ['brand_id'], unique=False)

    op.create_table('webhook_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('dispatched', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uid')
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_events_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index('ix_webhook_events_brand_type_created', ['brand_id', 'type', 'created_at'], unique=False)
        batch_op.create_index('ix_webhook_events_pending', ['dispatched', 'created_at'], unique=False)

    op.create_table('cashiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('token_prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pin_hash', sa.String(length=200), nullable=True),
    sa.Column('pin_failed_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('pin_locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_prefix')
    )
    with op.batch_alter_table('cashiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cashiers_brand_id'), ['brand_id'], unique=False)

    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('birthday', sa.Date(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('home_store_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['home_store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index('ix_customers_email', ['email'], unique=False)
        batch_op.create_index('ix_customers_phone', ['phone'], unique=False)

    op.create_table('programs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('points_per_unit', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('rounding', sa.String(length=10), nullable=False),
    sa.Column('cashback_percent', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('discount_percent', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('background_color', sa.String(length=7), nullable=False),
    sa.Column('foreground_color', sa.String(length=7), nullable=False),
    sa.Column('label_color', sa.String(length=7), nullable=False),
    sa.Column('logo_png', sa.LargeBinary(), nullable=True),
    sa.Column('icon_png', sa.LargeBinary(), nullable=True),
    sa.Column('strip_png', sa.LargeBinary(), nullable=True),
    sa.Column('pass_type_identifier', sa.String(length=200), nullable=False),
    sa.Column('team_identifier', sa.String(length=20), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tier_basis', sa.String(length=20), nullable=False),
    sa.Column('points_expire_days', sa.Integer(), nullable=True),
    sa.Column('google_class_digest', sa.String(length=64), nullable=True),
    sa.Column('birthday_points', sa.Integer(), nullable=True),
    sa.Column('birthday_message', sa.Text(), nullable=True),
    sa.Column('slug', sa.String(length=80), nullable=True),
    sa.Column('referral_points', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['certificate_id'], ['signing_certificates.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programs_brand_id'), ['brand_id'], unique=False)

    op.create_table('restock_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('size', sa.String(length=50), nullable=True),
    sa.Column('colour', sa.String(length=50), nullable=True),
    sa.Column('product_name', sa.String(length=200), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('restock_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_restock_events_brand_id'), ['brand_id'], unique=False)

    op.create_table('tills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('idle_seconds', sa.Integer(), server_default='600', nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_prefix')
    )
    with op.batch_alter_table('tills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tills_brand_id'), ['brand_id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claim', sa.String(length=36), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'endpoint_id')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_event_id'), ['event_id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_status', ['status', 'next_attempt_at'], unique=False)

    op.create_table('import_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('csv_data', sa.LargeBinary(), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('processed_rows', sa.Integer(), nullable=False),
    sa.Column('created_cards', sa.Integer(), nullable=False),
    sa.Column('matched_cards', sa.Integer(), nullable=False),
    sa.Column('error_rows', sa.Integer(), nullable=False),
    sa.Column('starts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_brand_id'), ['brand_id'], unique=False)

    op.create_table('nps_surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=300), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shown_on_passes', sa.Boolean(), nullable=False),
    sa.Column('removed_from_passes', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('nps_surveys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nps_surveys_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index('ix_nps_surveys_program_period', ['program_id', 'starts_at'], unique=False)

    op.create_table('tiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('threshold', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('earn_multiplier', sa.Numeric(precision=6, scale=3), nullable=False),
    sa.Column('discount_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('background_color', sa.String(length=7), nullable=True),
    sa.Column('foreground_color', sa.String(length=7), nullable=True),
    sa.Column('label_color', sa.String(length=7), nullable=True),
    sa.Column('strip_png', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program_id', 'name'),
    sa.UniqueConstraint('program_id', 'threshold')
    )
    with op.batch_alter_table('tiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tiers_program_id'), ['program_id'], unique=False)

    op.create_table('cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.BigInteger(), nullable=False),
    sa.Column('serial_number', sa.String(length=64), nullable=False),
    sa.Column('authentication_token', sa.String(length=64), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('lifetime_points', sa.BigInteger(), nullable=False),
    sa.Column('tier', sa.String(length=50), nullable=True),
    sa.Column('news', sa.Text(), nullable=True),
    sa.Column('voided', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=True),
    sa.Column('lifetime_spend', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('points_expire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('google_synced_version', sa.Integer(), nullable=True),
    sa.Column('google_synced_balance', sa.BigInteger(), nullable=True),
    sa.Column('google_sync_lease', sa.DateTime(timezone=True), nullable=True),
    sa.Column('referral_code', sa.String(length=16), nullable=True),
    sa.Column('referred_by_id', sa.Integer(), nullable=True),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.CheckConstraint('balance >= 0', name='ck_cards_balance_not_negative'),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], ),
    sa.ForeignKeyConstraint(['referred_by_id'], ['cards.id'], ),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('program_id', 'customer_id'),
    sa.UniqueConstraint('referral_code'),
    sa.UniqueConstraint('serial_number')
    )
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.create_index('ix_cards_brand_created', ['brand_id', 'created_at'], unique=False)
        batch_op.create_index('ix_cards_brand_id_voided', ['brand_id', 'id', 'voided'], unique=False)
        batch_op.create_index('ix_cards_brand_number', ['brand_id', 'number'], unique=True)
        batch_op.create_index('ix_cards_brand_voided', ['brand_id', 'created_at'], unique=False, postgresql_where=sa.text('voided'), sqlite_where=sa.text('voided'))
        batch_op.create_index(batch_op.f('ix_cards_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cards_points_expire_at'), ['points_expire_at'], unique=False)
        batch_op.create_index('ix_cards_program_external_id', ['program_id', 'external_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_cards_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cards_referred_by_id'), ['referred_by_id'], unique=False)

    op.create_table('campaign_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'card_id')
    )
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_recipients_card_id'), ['card_id'], unique=False)

    op.create_table('device_logs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_logs_card_id'), ['card_id'], unique=False)

    op.create_table('google_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('header', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('message_type', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('google_messages', schema=None) as batch_op:
        batch_op.create_index('ix_google_messages_card_created', ['card_id', 'created_at'], unique=False)
        batch_op.create_index('ix_google_messages_status', ['status'], unique=False)

    op.create_table('google_wallet_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=200), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=True),
    sa.Column('object_id', sa.String(length=300), nullable=False),
    sa.Column('class_id', sa.String(length=300), nullable=True),
    sa.Column('event_type', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('nonce')
    )
    with op.batch_alter_table('google_wallet_events', schema=None) as batch_op:
        batch_op.create_index('ix_google_wallet_events_card_last', ['card_id', 'id'], unique=False, postgresql_include=['event_type'])

    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('cashier_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.ForeignKeyConstraint(['cashier_id'], ['cashiers.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('card_id', 'idempotency_key')
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_card_created', ['card_id', 'created_at'], unique=False)
        batch_op.create_index('ix_ledger_entries_created_kind', ['created_at', 'kind', 'card_id'], unique=False)

    op.create_table('nps_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.String(length=1000), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score >= 0 AND score <= 10', name='ck_nps_answers_score'),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.ForeignKeyConstraint(['survey_id'], ['nps_surveys.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('survey_id', 'card_id')
    )
    with op.batch_alter_table('nps_answers', schema=None) as batch_op:
        batch_op.create_index('ix_nps_answers_brand_answered', ['brand_id', 'answered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_nps_answers_card_id'), ['card_id'], unique=False)

    op.create_table('pass_files',
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('last_modified', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.PrimaryKeyConstraint('card_id')
    )
    op.create_table('product_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('size', sa.String(length=50), nullable=True),
    sa.Column('colour', sa.String(length=50), nullable=True),
    sa.Column('product_name', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.Column('restock_event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.ForeignKeyConstraint(['restock_event_id'], ['restock_events.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('product_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_subscriptions_card_id'), ['card_id'], unique=False)
        batch_op.create_index('ix_product_subscriptions_open', ['brand_id', 'sku', 'ended_at'], unique=False)

    op.create_table('registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_library_identifier', sa.String(length=255), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('pass_type_identifier', sa.String(length=200), nullable=False),
    sa.Column('push_token', sa.String(length=512), nullable=False),
    sa.Column('client_kind', sa.String(length=10), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('dead_reason', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_library_identifier', 'card_id')
    )
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registrations_card_id'), ['card_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_registrations_device_library_identifier'), ['device_library_identifier'], unique=False)
        batch_op.create_index('ix_registrations_installed', ['card_id'], unique=False, postgresql_where=sa.text("active IS TRUE AND client_kind IN ('apple', 'relay', 'fcm')"), sqlite_where=sa.text("active IS TRUE AND client_kind IN ('apple', 'relay', 'fcm')"))

    op.create_table('push_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('card_version', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('push_token', sa.String(length=512), nullable=False),
    sa.Column('client_kind', sa.String(length=10), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claim', sa.String(length=36), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('card_id', 'card_version', 'push_token')
    )
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_push_deliveries_campaign_card_status', ['campaign_id', 'card_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_deliveries_card_id'), ['card_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_deliveries_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index('ix_push_deliveries_status', ['status', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_push_deliveries_status')
        batch_op.drop_index(batch_op.f('ix_push_deliveries_registration_id'))
        batch_op.drop_index(batch_op.f('ix_push_deliveries_card_id'))
        batch_op.drop_index('ix_push_deliveries_campaign_card_status')

    op.drop_table('push_deliveries')
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_index('ix_registrations_installed', postgresql_where=sa.text("active IS TRUE AND client_kind IN ('apple', 'relay', 'fcm')"), sqlite_where=sa.text("active IS TRUE AND client_kind IN ('apple', 'relay', 'fcm')"))
        batch_op.drop_index(batch_op.f('ix_registrations_device_library_identifier'))
        batch_op.drop_index(batch_op.f('ix_registrations_card_id'))

    op.drop_table('registrations')
    with op.batch_alter_table('product_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_product_subscriptions_open')
        batch_op.drop_index(batch_op.f('ix_product_subscriptions_card_id'))

    op.drop_table('product_subscriptions')
    op.drop_table('pass_files')
    with op.batch_alter_table('nps_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nps_answers_card_id'))
        batch_op.drop_index('ix_nps_answers_brand_answered')

    op.drop_table('nps_answers')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_created_kind')
        batch_op.drop_index('ix_ledger_entries_card_created')

    op.drop_table('ledger_entries')
    with op.batch_alter_table('google_wallet_events', schema=None) as batch_op:
        batch_op.drop_index('ix_google_wallet_events_card_last', postgresql_include=['event_type'])

    op.drop_table('google_wallet_events')
    with op.batch_alter_table('google_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_google_messages_status')
        batch_op.drop_index('ix_google_messages_card_created')

    op.drop_table('google_messages')
    with op.batch_alter_table('device_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_logs_card_id'))

    op.drop_table('device_logs')
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_recipients_card_id'))

    op.drop_table('campaign_recipients')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cards_referred_by_id'))
        batch_op.drop_index(batch_op.f('ix_cards_program_id'))
        batch_op.drop_index('ix_cards_program_external_id')
        batch_op.drop_index(batch_op.f('ix_cards_points_expire_at'))
        batch_op.drop_index(batch_op.f('ix_cards_customer_id'))
        batch_op.drop_index('ix_cards_brand_voided', postgresql_where=sa.text('voided'), sqlite_where=sa.text('voided'))
        batch_op.drop_index('ix_cards_brand_number')
        batch_op.drop_index('ix_cards_brand_id_voided')
        batch_op.drop_index('ix_cards_brand_created')

    op.drop_table('cards')
    with op.batch_alter_table('tiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tiers_program_id'))

    op.drop_table('tiers')
    with op.batch_alter_table('nps_surveys', schema=None) as batch_op:
        batch_op.drop_index('ix_nps_surveys_program_period')
        batch_op.drop_index(batch_op.f('ix_nps_surveys_brand_id'))

    op.drop_table('nps_surveys')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_jobs_brand_id'))

    op.drop_table('import_jobs')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_status')
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_event_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_endpoint_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_brand_id'))

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('tills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tills_brand_id'))

    op.drop_table('tills')
    with op.batch_alter_table('restock_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_restock_events_brand_id'))

    op.drop_table('restock_events')
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programs_brand_id'))

    op.drop_table('programs')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_phone')
        batch_op.drop_index('ix_customers_email')
        batch_op.drop_index(batch_op.f('ix_customers_brand_id'))

    op.drop_table('customers')
    with op.batch_alter_table('cashiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cashiers_brand_id'))

    op.drop_table('cashiers')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_pending')
        batch_op.drop_index('ix_webhook_events_brand_type_created')
        batch_op.drop_index(batch_op.f('ix_webhook_events_brand_id'))

    op.drop_table('webhook_events')
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoints_brand_id'))

    op.drop_table('webhook_endpoints')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stores_brand_id'))

    op.drop_table('stores')
    with op.batch_alter_table('signing_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_certificates_brand_id'))

    op.drop_table('signing_certificates')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index('ix_campaigns_due')
        batch_op.drop_index(batch_op.f('ix_campaigns_brand_id'))

    op.drop_table('campaigns')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_brand_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('analytics_cache', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_cache_computed_at'))

    op.drop_table('analytics_cache')
    op.drop_table('brands')
    op.drop_table('analytics_rollup_state')
    op.drop_table('analytics_purchase_links')
    op.drop_table('analytics_daily')
    op.drop_table('analytics_cohort_activity')
    op.drop_table('analytics_activity')
