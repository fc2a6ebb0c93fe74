"""which Android wallet app a registration (and each of its pushes) belongs to

Revision ID: 0005
Revises: 0004

WalletUnion, Pass2U and Passworks each push through their own relay: the registration keeps
the app that registered it so its pushes go to that app's relay, never through our FCM
project (their tokens belong to their own Firebase projects: SENDER_ID_MISMATCH).
NULL = the rows written before: relay registrations were all WalletPasses.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_app', sa.String(length=20), nullable=True))
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_app', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.drop_column('client_app')
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_column('client_app')
