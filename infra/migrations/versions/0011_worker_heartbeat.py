"""Worker heartbeats (issue 15): one row per running worker, written every BONEMETS_WORKER_HEARTBEAT_S seconds by
its main process and read by readiness (infra/heartbeat.py). Times are seconds since the epoch by the database's
own clock.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OWNER, APP = "bonemets_owner", "bonemets_app"


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("id", sa.String(160), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE worker_heartbeat OWNER TO {OWNER}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON worker_heartbeat TO {APP}")


def downgrade() -> None:
    op.drop_table("worker_heartbeat")
