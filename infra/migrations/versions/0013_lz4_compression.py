"""The large text columns compressed with lz4 instead of pglz (issue 14): a whole-case answer is ~16 kB, stored
twice per bulk line (its result and its audit record), and PostgreSQL compressed each with pglz on the one core
it shares with the workers. lz4 is several times cheaper to compress; bench/bulk.py --kind evaluation went from
1,690 to 2,020 lines/s end to end on this machine. Only new values are written with lz4; existing ones are read
as they were stored. A server built without lz4 (or older than PostgreSQL 14) keeps pglz: nothing to do there.
SQLite: nothing to do. The ALTER takes the table's lock for a catalogue change only (no rewrite), but waits behind
open transactions on it like any ALTER TABLE: run `bonemets migrate` as the deployment's first step, as for every
migration. A pg_dump of the database carries `SET COMPRESSION lz4` for these columns: restore it onto a server
built with lz4 (Debian's, RHEL's and the official images are).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from alembic import op
from sqlalchemy import text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = (("audit_record", "input_json"), ("audit_record", "output_json"), ("bulk_result", "body"),
           ("bulk_line", "payload"))


def _lz4_available() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bool(bind.execute(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar())


def upgrade() -> None:
    if _lz4_available():
        for table, column in COLUMNS:  # a catalogue change: no rewrite, the lock held for an instant
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if _lz4_available():  # only then did the upgrade change anything (and SET COMPRESSION exists from 14)
        for table, column in COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
