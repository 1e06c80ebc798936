"""Bulk lines keep the keyed hash of their patient reference, never the reference (issue 10).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bulk_line", sa.Column("patient_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("bulk_line", "patient_hash")
