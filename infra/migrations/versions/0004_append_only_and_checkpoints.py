"""Append-only audit trail enforced by the database, and signed checkpoints of the chain head.

UPDATE on audit_record is always refused; DELETE only inside a retention purge, which first writes a
row to audit_purge_permit in its own transaction (and removes it before committing).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_purge_permit) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_record is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record
FOR EACH ROW EXECUTE FUNCTION audit_record_append_only()
"""
SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record
       BEGIN SELECT RAISE(ABORT, 'audit_record is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record
       WHEN NOT EXISTS (SELECT 1 FROM audit_purge_permit)
       BEGIN SELECT RAISE(ABORT, 'audit_record is append-only: DELETE refused'); END""",
)


def upgrade() -> None:
    op.create_table("audit_purge_permit", sa.Column("id", sa.Integer, primary_key=True))
    op.create_table(
        "audit_checkpoint",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_record_append_only ON audit_record")
        op.execute("DROP FUNCTION IF EXISTS audit_record_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_record_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_record_no_delete")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_purge_permit")
