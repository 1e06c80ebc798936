"""No patient reference in clear anywhere (issue 10): one distinctive reference sent through every entry point
(scores, pathways, evaluations, reports, bulk NDJSON and JSON arrays, nested where it is refused, inside a line
that is not even JSON, the auditors' search) is then looked for in every table, the API's and the worker's logs,
every PDF and every export format. Only its keyed hash may be found."""

from __future__ import annotations

import io
import json
import time

import pytest
from litestar.testing import TestClient
from sqlalchemy import MetaData, text

from api.app import create_app
from infra.audit import pseudonymise
from infra.db import make_engine
from infra.keys import create_key
from infra.log import configure_logging
from infra.settings import load_settings
from tests.conftest import Keys
from tests.integration.workers import WorkerProcess, wait_for
from tests.pdftools import text_of

REF = "IPP-7f3a9c-DUPONT"
SINS = {"location": "junctional", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
        "collapse": "none", "posterolateral": "none"}
MIRELS = {"site": "lower_limb", "pain": "moderate", "lesion": "mixed", "size": "one_to_two_thirds"}
CASE = {"evaluation_date": "2025-06-01", "patient": {"age": 70, "life_expectancy_months": 8},
        "lesions": [{"id": "T4", "kind": "spine", "spine": {"sins": SINS, "cord_threat": False}}]}


def finished(client, location, headers):
    return client.get(location, headers=headers).json()["status"] in ("succeeded", "failed")


@pytest.mark.postgres
@pytest.mark.redis
def test_a_patient_reference_is_found_nowhere_but_as_its_keyed_hash(bulk_env, tmp_path):
    settings = load_settings(bulk_env)
    engine = make_engine(settings.migration_database_url)  # the owner: every table is read below
    key = create_key(engine, "hospital-a", ("scoring", "registry", "auditor"))
    h = Keys.header(key)
    api_log = io.StringIO()
    configure_logging("json", stream=api_log)
    worker = WorkerProcess(bulk_env, tmp_path / "worker.log").start()
    pdfs, bodies = [], []
    try:
        with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
            def post(path, body, status):
                r = client.post(path, json=body, headers=h)
                assert r.status_code == status, r.text
                bodies.append(r.text)
                return r

            post("/v1/scores/sins", {**SINS, "patient_ref": REF}, 200)
            post("/v1/pathways/spine", {"sins": SINS, "patient_ref": REF}, 200)
            post("/v1/evaluations", {**CASE, "patient_ref": REF}, 200)
            # nested, where it would reach the audit trail in clear: refused, and not echoed
            nested = post("/v1/pathways/long-bone", {"pathological_fracture": False,
                                                     "mirels": {**MIRELS, "patient_ref": REF}}, 400)
            assert nested.json()["errors"][0]["field"] == "mirels.patient_ref"
            post("/v1/evaluations", {**CASE, "surgery": {"tomita": {"growth": "rapid", "visceral_metastases": "none",
                                                                    "bone_metastases": "multiple",
                                                                    "patient_ref": REF}}}, 400)
            report = post("/v1/reports", {"case": {**CASE, "patient_ref": REF}}, 202).headers["location"]
            ndjson = "\n".join([json.dumps({"kind": "sins", "patient_ref": REF, **SINS}),
                                json.dumps({"kind": "long-bone", "pathological_fracture": False,
                                            "mirels": {**MIRELS, "patient_ref": REF}}),
                                '{"kind": "sins", "patient_ref": "' + REF + '", ',  # not even JSON
                                json.dumps({"kind": "evaluation", "patient_ref": REF, **CASE})]).encode()
            jobs = [client.post("/v1/bulk-jobs", content=ndjson, headers={**h, "Content-Type": "application/x-ndjson"}),
                    client.post("/v1/bulk-jobs", content=json.dumps([{"kind": "sins", "patient_ref": REF, **SINS}]),
                                headers={**h, "Content-Type": "application/json"})]
            assert [j.status_code for j in jobs] == [202, 202]
            for job in jobs:
                wait_for(lambda job=job: finished(client, job.headers["location"], h), 60, what="the job")
                results = client.get(job.headers["location"] + "/results", headers=h)
                bodies.append(results.text)
            lines = [json.loads(line) for line in bodies[-2].splitlines()]
            assert [line["ok"] for line in lines] == [True, False, False, True]
            summary = client.post(jobs[0].headers["location"] + "/report", headers=h).headers["location"]
            for location in (report, summary):
                wait_for(lambda location=location: client.get(location, headers=h).status_code == 200
                         and client.get(location, headers=h).headers["content-type"] == "application/pdf", 60,
                         what="a PDF")
                pdfs.append(client.get(location, headers=h).content)
            found = client.get("/v1/audit", params={"patient_ref": REF}, headers=h).json()["records"]
            assert len(found) == 8  # the auditors' search by reference finds every record of it (below)
            for fmt in ("json", "ndjson", "csv", "fhir"):
                bodies.append(client.get("/v1/audit", params={"format": fmt, "limit": 1000}, headers=h).text)
    finally:
        worker.stop()
    time.sleep(0.2)
    hashed = pseudonymise(settings.pseudonym_key, REF)
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        stored = "\n".join(str(row[0]) for name in tables.tables
                           for row in conn.execute(text(f'SELECT CAST(t AS text) FROM "{name}" t')))
        records = conn.execute(text("SELECT count(*) FROM audit_record WHERE patient_hash = :h"), {"h": hashed})
        # 3 answers, the reported case and its rendered PDF, 3 bulk lines (2 NDJSON, 1 JSON array), and the
        # auditor's search itself (audit.queried): 9 records
        assert records.scalar_one() == 9
    engine.dispose()
    places = {"tables": stored, "API log": api_log.getvalue(), "worker log": (tmp_path / "worker.log").read_text(),
              "responses and exports": "\n".join(bodies),
              **{f"PDF {i}": text_of(pdf, tmp_path) for i, pdf in enumerate(pdfs)}}
    assert all(len(text_) > 100 for text_ in places.values())
    assert {place for place, text_ in places.items() if REF in text_} == set()
    assert {place for place, text_ in places.items() if REF.encode().hex() in text_} == set()
