"""The web console's sessions (issue 16, infra/console_sessions.py): one row per signed-in browser, keyed by the
SHA-256 of the cookie's random id, holding the key's id, client and roles (never the key) and the CSRF token.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OWNER, APP = "bonemets_owner", "bonemets_app"


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("client", sa.String(128), nullable=False),
        sa.Column("roles", sa.String(128), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False))
    op.create_index("ix_console_session_key_id", "console_session", ["key_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE console_session OWNER TO {OWNER}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON console_session TO {APP}")


def downgrade() -> None:
    op.drop_index("ix_console_session_key_id", "console_session")
    op.drop_table("console_session")
