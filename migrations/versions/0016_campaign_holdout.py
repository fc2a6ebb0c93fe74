"""campaign holdout: the share kept back, recipients marked held back and reachable, costs

Revision ID: 0016
Revises: 0015

Every existing campaign kept no holdout (holdout_percent 0) and has no cost; every existing
recipient was sent the campaign (holdout false) and its reachability was not recorded (NULL:
the reports fall back to whether a push or Google message reached it). Programs get no point
value (NULL: points given are not counted as a cost until the brand says what a point is worth).

The stored 7-day purchases of finished campaigns are cleared: they credited every recipient,
reached or not, and the next analytics report counts them again among the reached recipients
only (from the ledger and the pushes, both kept) and stores them anew.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holdout_percent', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('cost', sa.Numeric(precision=14, scale=2), nullable=True))
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holdout', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('reachable', sa.Boolean(), nullable=True))
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('point_value', sa.Numeric(precision=12, scale=4), nullable=True))
    op.execute("UPDATE campaigns SET buyers_7d = NULL, purchases_7d = NULL, revenue_7d = NULL")


def downgrade() -> None:
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('point_value')
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.drop_column('reachable')
        batch_op.drop_column('holdout')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('cost')
        batch_op.drop_column('holdout_percent')
