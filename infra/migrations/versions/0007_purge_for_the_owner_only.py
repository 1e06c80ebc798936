"""The retention purge belongs to the owner, and the database itself keeps the retention floor (issue 11, found by
an independent review: with EXECUTE on bonemets_audit_purge(), the application role could erase the trail up to
any checkpoint, whatever the retention period, under any operator's name).

PostgreSQL: bonemets_audit_purge() is executable by bonemets_owner (and its members: whoever runs migrations)
only; it refuses a cut-off later than now() minus audit_policy.retention_days, a table only the owner can change
(set from BONEMETS_AUDIT_RETENTION_DAYS when migrating); its audit.purged record names the database role that ran
it (session_user) beside the operator the caller names.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import os

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SIGNATURE = "bonemets_audit_purge(text, bigint, text, text, text, text, text, text, text, text)"

FLOOR = """
CREATE OR REPLACE FUNCTION bonemets_audit_purge_floor(p_before text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    days integer := (SELECT retention_days FROM audit_policy WHERE id = 1);
BEGIN
    IF p_before::timestamptz > now() - make_interval(days => days) THEN
        RAISE EXCEPTION 'records after % are within the %-day retention period (audit_policy): purge refused',
            (now() - make_interval(days => days))::date, days;
    END IF;
END;
$$
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite: the CLI's retention check is the only one (the file's owner can do anything anyway)
    schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    op.create_table("audit_policy", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("retention_days", sa.Integer, nullable=False),
                    sa.CheckConstraint("retention_days >= 0", name="retention_not_negative"))
    days = int(os.environ.get("BONEMETS_AUDIT_RETENTION_DAYS", "3650"))
    bind.execute(sa.text("INSERT INTO audit_policy (id, retention_days) VALUES (1, :d)"), {"d": days})
    op.execute("ALTER TABLE audit_policy OWNER TO bonemets_owner")
    op.execute("GRANT SELECT ON audit_policy TO bonemets_app")
    cursor = bind.connection.dbapi_connection.cursor()
    cursor.execute(FLOOR.format(schema=f'"{schema}"'))
    # the purge itself: the floor first, and the calling role in the record's input
    source = bind.execute(sa.text(
        "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.proname = 'bonemets_audit_purge'")).scalar_one()
    source = source.replace(
        "    SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;",
        "    PERFORM bonemets_audit_purge_floor(p_before);\n"
        "    SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;", 1)
    source = source.replace(
        "input := json_build_object('before', p_before)::text;",
        "input := json_build_object('before', p_before, 'database_role', session_user)::text;", 1)
    assert "bonemets_audit_purge_floor" in source and "database_role" in source
    cursor.execute(source)
    op.execute("ALTER FUNCTION bonemets_audit_purge_floor(text) OWNER TO bonemets_owner")
    op.execute("REVOKE ALL ON FUNCTION bonemets_audit_purge_floor(text) FROM PUBLIC")
    op.execute(f"REVOKE EXECUTE ON FUNCTION {SIGNATURE} FROM bonemets_app")
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO bonemets_app")
    op.execute("DROP FUNCTION IF EXISTS bonemets_audit_purge_floor(text) CASCADE")
    op.drop_table("audit_policy")
