"""Readiness tells the truth, and a request that cannot be queued is a 503 of its own that leaves nothing behind
(issue 10): the database, the audit writer and the broker are each checked and named when they fail."""

from dataclasses import replace

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from api.app import create_app
from infra.db import make_engine
from infra.tables import BulkJob, BulkLine, Report
from tests.conftest import Keys
from tests.proxy import CuttableProxy

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def count(url, table):
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return n


def test_ready_names_every_part_when_all_serve(client):
    r = client.get("/health/ready")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "broker": "ok", "audit_writer": "ok"}


def test_ready_is_503_naming_the_broker_when_it_cannot_be_reached(settings, keys):
    with TestClient(create_app(replace(settings, broker_url=DEAD_BROKER), configure_logs=False)) as client:
        r = client.get("/health/ready")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == "/problems/not-ready" and "broker" in body["detail"]
    assert body["checks"]["broker"].startswith("unavailable") and body["checks"]["database"] == "ok"


@pytest.mark.postgres
def test_ready_is_503_naming_the_database_and_the_writer_when_postgres_is_cut(postgres_server, tmp_path):
    from infra.keys import create_key
    from infra.migrate import migrate
    from infra.settings import load_settings
    from tests.conftest import PSEUDONYM_KEY, SIGNING_KEY, _reset_postgres

    _reset_postgres(postgres_server)
    engine = make_engine(postgres_server)
    migrate(engine)
    key = create_key(engine, "hospital-a", ("scoring",))
    engine.dispose()
    proxy = CuttableProxy("127.0.0.1", 5432)
    url = postgres_server.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    settings = load_settings({"BONEMETS_DATABASE_URL": url, "BONEMETS_VAR_DIR": str(tmp_path / "var"),
                              "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY, "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY,
                              "BONEMETS_LOG_FORMAT": "json"})
    tomita = {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}
    with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
        assert client.post("/v1/scores/tomita", json=tomita, headers=Keys.header(key)).status_code == 200
        assert client.get("/health/ready").status_code == 200
        proxy.cut()
        assert client.post("/v1/scores/tomita", json=tomita, headers=Keys.header(key)).status_code == 503
        r = client.get("/health/ready")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"].startswith("unavailable") and checks["audit_writer"].startswith("unavailable")
    assert "database" in r.json()["detail"] and "audit_writer" in r.json()["detail"]


def test_a_bulk_job_that_cannot_be_queued_is_503_and_leaves_no_job(settings, keys):
    with TestClient(create_app(replace(settings, broker_url=DEAD_BROKER), configure_logs=False),
                    raise_server_exceptions=False) as client:
        r = client.post("/v1/bulk-jobs", content=b'{"kind":"tomita","growth":"rapid","visceral_metastases":"none",'
                        b'"bone_metastases":"multiple"}\n', headers={**Keys.header(keys.registry),
                                                                     "Content-Type": "application/x-ndjson"})
    assert r.status_code == 503 and r.json()["type"] == "/problems/broker-unavailable"
    assert r.headers["retry-after"] == "5"
    assert count(settings.database_url, BulkJob) == 0 and count(settings.database_url, BulkLine) == 0


def test_a_report_that_cannot_be_queued_is_503_and_leaves_no_report(settings, keys):
    with TestClient(create_app(replace(settings, broker_url=DEAD_BROKER), configure_logs=False),
                    raise_server_exceptions=False) as client:
        scored = client.post("/v1/scores/tomita", json={"growth": "rapid", "visceral_metastases": "none",
                                                        "bone_metastases": "multiple"},
                             headers=Keys.header(keys.scoring))
        r = client.post("/v1/reports", json={"audit_id": scored.json()["audit_id"]},
                        headers=Keys.header(keys.scoring))
    assert scored.status_code == 200
    assert r.status_code == 503 and r.json()["type"] == "/problems/broker-unavailable"
    assert count(settings.database_url, Report) == 0
