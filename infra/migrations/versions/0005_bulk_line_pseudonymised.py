"""Bulk lines keep the keyed hash of their patient reference, never the reference; jobs record when they last
moved, how often their lost chunks were re-enqueued and why one failed (issue 10).

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
    op.add_column("bulk_job", sa.Column("progress_at", sa.String(32), nullable=True))
    op.add_column("bulk_job", sa.Column("requeued", sa.Integer, nullable=False, server_default="0"))
    op.add_column("bulk_job", sa.Column("error", sa.Text, nullable=True))
    op.add_column("api_key", sa.Column("expires_at", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("bulk_line", "patient_hash")
    for column in ("progress_at", "requeued", "error"):
        op.drop_column("bulk_job", column)
    op.drop_column("api_key", "expires_at")
