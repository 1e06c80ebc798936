"""Migration 0013 (issue 14): the large text columns are compressed with lz4 on a PostgreSQL built with it, and a
downgrade puts them back on the server's default."""

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from infra.db import make_engine
from infra.migrate import MIGRATIONS, migrate
from tests.conftest import _reset_postgres

pytestmark = pytest.mark.postgres

COMPRESSED = ("SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute WHERE "
              "(attrelid::regclass::text, attname) IN (('audit_record', 'input_json'), "
              "('audit_record', 'output_json'), ('bulk_result', 'body'), ('bulk_line', 'payload')) ORDER BY 1, 2")


def test_large_text_columns_are_lz4_compressed(postgres_server):
    _reset_postgres(postgres_server)
    engine = make_engine(postgres_server)
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                     "WHERE name = 'default_toast_compression'")).scalar(), "this server lacks lz4"
            assert [row[2] for row in conn.execute(text(COMPRESSED))] == ["l"] * 4
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0012")
        with engine.connect() as conn:
            assert [row[2] for row in conn.execute(text(COMPRESSED))] == [""] * 4
    finally:
        engine.dispose()
