"""card barcodes: the program's barcode symbology, the card's number from its plastic card

Revision ID: 0015
Revises: 0014

Every existing program keeps the signed QR code (barcode_format 'qr'); no existing card has a
legacy number (NULL), so no pass changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('barcode_format', sa.String(length=10), server_default='qr', nullable=False))
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_number', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_cards_brand_legacy_number', ['brand_id', 'legacy_number'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index('ix_cards_brand_legacy_number')
        batch_op.drop_column('legacy_number')
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('barcode_format')
