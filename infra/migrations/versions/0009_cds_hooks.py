"""CDS Hooks (issue 13): the JWT ids seen (replay refused), the calls answered by hookInstance (idempotency), the
cards served and the clinicians' feedback on them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OWNER, APP = "bonemets_owner", "bonemets_app"
TABLES = ("cds_token", "cds_call", "cds_card", "cds_feedback")


def upgrade() -> None:
    op.create_table(
        "cds_token",
        sa.Column("issuer", sa.String(256), primary_key=True),
        sa.Column("jti", sa.String(256), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False, index=True))
    op.create_table(
        "cds_call",
        sa.Column("client", sa.String(256), primary_key=True),
        sa.Column("hook_instance", sa.String(128), primary_key=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("audit_id", sa.String(36), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("response_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False))
    op.create_table(
        "cds_card",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("client", sa.String(256), nullable=False, index=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.String(128), nullable=False),
        sa.Column("audit_id", sa.String(36), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("rule_ids", sa.String(512), nullable=False),
        sa.Column("summary", sa.String(256), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False))
    op.create_table(
        "cds_feedback",
        sa.Column("card", sa.String(128), primary_key=True),
        sa.Column("outcome", sa.String(16), primary_key=True),
        sa.Column("outcome_timestamp", sa.String(40), primary_key=True),
        sa.Column("client", sa.String(256), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("accepted_suggestions", sa.Text, nullable=False),
        sa.Column("override_reason", sa.Text, nullable=True),
        sa.Column("audit_id", sa.String(36), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} OWNER TO {OWNER}")
        op.execute(f"GRANT SELECT, INSERT, DELETE ON cds_token TO {APP}")
        op.execute(f"GRANT SELECT, INSERT ON cds_call, cds_card, cds_feedback TO {APP}")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
