"""CDS Hooks calls claimed at admission (issue 13 review): on PostgreSQL a call's hookInstance is claimed by a row
whose response is empty until it is answered, so that a retry on another API process waits for that answer instead
of evaluating again; the service may fill in its own claim and give it up when the call ends unanswered. Reports
are found by the answer they render (a CDS card's report link).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

APP = "bonemets_app"


def upgrade() -> None:
    op.create_index("ix_report_source_audit_id", "report", ["source_audit_id"])
    if op.get_bind().dialect.name == "postgresql":
        # the answer into the row claimed (only these columns), and the claim given up when unanswered
        op.execute(f"GRANT UPDATE (audit_id, response_json, created_at) ON cds_call TO {APP}")
        op.execute(f"GRANT DELETE ON cds_call TO {APP}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE UPDATE (audit_id, response_json, created_at) ON cds_call FROM {APP}")
        op.execute(f"REVOKE DELETE ON cds_call FROM {APP}")
    op.drop_index("ix_report_source_audit_id", "report")
