"""Least privilege for the audit trail (issue 11).

PostgreSQL: an owner role (bonemets_owner, no login) owns every table; the service connects as the application
role (bonemets_app), which may only:
- insert and read audit records and checkpoints (never update, delete or truncate them);
- move the chain head forward, to a record that exists with that hash (a trigger checks every move);
- run the retention purge through bonemets_audit_purge(), a SECURITY DEFINER function of the owner that itself
  writes the anchor checkpoint and the audit.purged record; the purge permit table is the owner's alone;
- read and write its operational tables (API keys, bulk jobs, reports).
Triggers also protect the checkpoint and head tables against their owner's mistakes. Set
BONEMETS_DB_APP_PASSWORD when migrating to give the application role its password.

SQLite (the embedded default) has no roles: the same triggers refuse UPDATE/DELETE of checkpoints and a head
that moves backwards, but anyone who can write the file can drop them. There, the external checkpoint sink is
the protection against an insider.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import os

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OWNER, APP = "bonemets_owner", "bonemets_app"
TABLES = ("api_key", "audit_record", "audit_head", "audit_checkpoint", "audit_purge_permit", "bulk_job",
          "bulk_line", "bulk_result", "report", "alembic_version")
OPERATIONAL = ("api_key", "bulk_job", "bulk_line", "bulk_result", "report")

ROLES = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER}') THEN
        BEGIN
            CREATE ROLE {OWNER} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- another database's migration, at once
        END;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP}') THEN
        BEGIN
            CREATE ROLE {APP} LOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT {OWNER} TO %I', current_user);
    END IF;
    IF current_setting('bonemets.app_password', true) <> '' THEN
        EXECUTE format('ALTER ROLE {APP} PASSWORD %L', current_setting('bonemets.app_password'));
    END IF;
END
$$
"""

GUARDS = """
CREATE OR REPLACE FUNCTION audit_head_forward() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'audit_head holds one row: % refused', TG_OP;
    END IF;
    IF (NEW.seq, NEW.hash) IS NOT DISTINCT FROM (OLD.seq, OLD.hash) THEN
        RETURN NEW;
    END IF;
    IF NEW.seq <= OLD.seq OR NEW.id <> OLD.id
       OR NOT EXISTS (SELECT 1 FROM audit_record WHERE seq = NEW.seq AND hash = NEW.hash) THEN
        RAISE EXCEPTION 'audit_head moves only forward, to a record of the chain (% -> %) refused', OLD.seq, NEW.seq;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_head_forward BEFORE INSERT OR UPDATE OR DELETE ON audit_head
FOR EACH ROW EXECUTE FUNCTION audit_head_forward();

CREATE OR REPLACE FUNCTION audit_checkpoint_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM audit_record WHERE seq = NEW.seq AND hash = NEW.hash) THEN
            RAISE EXCEPTION 'a checkpoint signs a record of the chain: none at %, INSERT refused', NEW.seq;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_checkpoint is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_checkpoint_append_only BEFORE INSERT OR UPDATE OR DELETE ON audit_checkpoint
FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_append_only();

CREATE OR REPLACE FUNCTION audit_no_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record
FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate();
"""

# The audit.purged record is built and hashed here, in SQL, exactly as infra.audit.record_hash does in Python: the
# canonical encoding is a JSON object of the hashed fields with sorted keys and no spaces (to_json escapes text as
# msgspec does; control characters in the operator's name or request id are refused).
PURGE = """
CREATE OR REPLACE FUNCTION bonemets_audit_purge(
    p_before text, p_through_seq bigint, p_anchor_created_at text, p_key_id text, p_signature text,
    p_who text, p_request_id text, p_guideline_version text, p_engine_version text, p_rules_version text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    anchor_hash text;
    newest text;
    purged bigint;
    outcome text;
    input text;
    rec_id text := gen_random_uuid()::text;
    created text := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    canonical text;
    new_hash text;
BEGIN
    IF concat(p_who, p_request_id, p_guideline_version, p_engine_version, p_rules_version) ~ '[\\x01-\\x1f]' THEN
        RAISE EXCEPTION 'control characters are refused in a purge''s identity and versions';
    END IF;
    SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;
    SELECT hash INTO anchor_hash FROM audit_record WHERE seq = p_through_seq;
    IF anchor_hash IS NULL THEN
        RAISE EXCEPTION 'no audit record % to anchor the purge on', p_through_seq;
    END IF;
    SELECT max(created_at) INTO newest FROM audit_record WHERE seq <= p_through_seq;
    IF newest >= p_before THEN
        RAISE EXCEPTION 'records up to % are not all older than %', p_through_seq, p_before;
    END IF;
    INSERT INTO audit_checkpoint (seq, hash, created_at, key_id, signature)
    VALUES (p_through_seq, anchor_hash, p_anchor_created_at, p_key_id, p_signature) ON CONFLICT (seq) DO NOTHING;
    INSERT INTO audit_purge_permit (id) VALUES (1);
    DELETE FROM audit_record WHERE seq <= p_through_seq;
    GET DIAGNOSTICS purged = ROW_COUNT;
    DELETE FROM audit_purge_permit;
    outcome := json_build_object('anchor_checkpoint', json_build_object('hash', anchor_hash, 'seq', p_through_seq),
                                 'purged', purged, 'through_seq', p_through_seq)::text;
    input := json_build_object('before', p_before)::text;
    canonical := '{{"action":"audit.purged","client":' || to_json(p_who)::text
        || ',"created_at":' || to_json(created)::text
        || ',"endpoint":"bonemets audit purge","engine_version":' || to_json(p_engine_version)::text
        || ',"guideline_version":' || to_json(p_guideline_version)::text
        || ',"id":' || to_json(rec_id)::text
        || ',"input_json":' || to_json(input)::text
        || ',"job_id":null,"output_json":' || to_json(outcome)::text
        || ',"patient_hash":null,"prev_hash":' || to_json(head_hash)::text
        || ',"request_id":' || to_json(p_request_id)::text
        || ',"roles":"operator","rule_ids":"","rules_version":' || to_json(p_rules_version)::text
        || ',"seq":' || (head_seq + 1)::text || '}}';
    new_hash := encode(sha256(convert_to(canonical, 'UTF8')), 'hex');
    INSERT INTO audit_record (seq, id, created_at, client, roles, endpoint, action, request_id, patient_hash,
                              input_json, output_json, rule_ids, guideline_version, engine_version, rules_version,
                              job_id, prev_hash, hash)
    VALUES (head_seq + 1, rec_id, created, p_who, 'operator', 'bonemets audit purge', 'audit.purged', p_request_id,
            NULL, input, outcome, '', p_guideline_version, p_engine_version, p_rules_version, NULL, head_hash,
            new_hash);
    UPDATE audit_head SET seq = head_seq + 1, hash = new_hash WHERE id = 1;
    RETURN outcome;
END;
$$
"""
PURGE_SIGNATURE = "bonemets_audit_purge(text, bigint, text, text, text, text, text, text, text, text)"

SQLITE_GUARDS = (
    """CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
       BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
       BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only: DELETE refused'); END""",
    """CREATE TRIGGER audit_checkpoint_signs_a_record BEFORE INSERT ON audit_checkpoint
       WHEN NOT EXISTS (SELECT 1 FROM audit_record WHERE seq = NEW.seq AND hash = NEW.hash)
       BEGIN SELECT RAISE(ABORT, 'a checkpoint signs a record of the chain: INSERT refused'); END""",
    """CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
       WHEN (NEW.seq IS NOT OLD.seq OR NEW.hash IS NOT OLD.hash)
        AND (NEW.seq <= OLD.seq OR NEW.id IS NOT OLD.id
             OR NOT EXISTS (SELECT 1 FROM audit_record WHERE seq = NEW.seq AND hash = NEW.hash))
       BEGIN SELECT RAISE(ABORT, 'audit_head moves only forward, to a record of the chain: UPDATE refused'); END""",
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
       BEGIN SELECT RAISE(ABORT, 'audit_head holds one row: DELETE refused'); END""",
    """CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head
       BEGIN SELECT RAISE(ABORT, 'audit_head holds one row: INSERT refused'); END""",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for statement in SQLITE_GUARDS:
            op.execute(statement)
        return
    schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    bind.execute(sa.text("SELECT set_config('bonemets.app_password', :pw, true)"),
                 {"pw": os.environ.get("BONEMETS_DB_APP_PASSWORD", "")})
    cursor = bind.connection.dbapi_connection.cursor()  # the migration's own transaction
    for statement in (ROLES, GUARDS, PURGE.format(schema=f'"{schema}"')):
        cursor.execute(statement)  # as written: no parameters, so nothing reads `:null` or `%I` as one
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} OWNER TO {OWNER}")
    for function in ("audit_record_append_only()", "audit_head_forward()", "audit_checkpoint_append_only()",
                     "audit_no_truncate()", PURGE_SIGNATURE):
        op.execute(f"ALTER FUNCTION {function} OWNER TO {OWNER}")
    op.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {OWNER}, {APP}')
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(OPERATIONAL)} TO {APP}")
    op.execute(f"GRANT SELECT, INSERT ON audit_record, audit_checkpoint TO {APP}")
    op.execute(f"GRANT SELECT, UPDATE (seq, hash) ON audit_head TO {APP}")
    op.execute(f"GRANT SELECT ON alembic_version TO {APP}")
    op.execute(f"REVOKE ALL ON FUNCTION {PURGE_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {PURGE_SIGNATURE} TO {APP}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for name in ("audit_checkpoint_no_update", "audit_checkpoint_no_delete", "audit_checkpoint_signs_a_record",
                     "audit_head_forward", "audit_head_no_delete", "audit_head_no_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    op.execute(f"DROP FUNCTION IF EXISTS {PURGE_SIGNATURE}")
    for trigger, table in (("audit_head_forward", "audit_head"), ("audit_checkpoint_append_only", "audit_checkpoint"),
                           ("audit_record_no_truncate", "audit_record"),
                           ("audit_checkpoint_no_truncate", "audit_checkpoint"),
                           ("audit_head_no_truncate", "audit_head")):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    for function in ("audit_head_forward()", "audit_checkpoint_append_only()", "audit_no_truncate()"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute(f"REVOKE ALL ON {', '.join(TABLES)} FROM {APP}")
