"""Bulk jobs after FHIR Bulk Data (issue 12): a digest of each job's body, so that an Idempotency-Key reused with
another body is refused instead of silently answered with the old job.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bulk_job", sa.Column("body_sha256", sa.String(64), nullable=True))
    op.create_index("ix_bulk_job_client_created", "bulk_job", ["client", "created_at", "id"])
    op.create_index("ix_report_client_created", "report", ["client", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_report_client_created", "report")
    op.drop_index("ix_bulk_job_client_created", "bulk_job")
    op.drop_column("bulk_job", "body_sha256")
