"""PDF reports rendered by a real worker (Redis broker, PostgreSQL), owned by their client, traced in the
audit trail by their SHA-256."""

import hashlib
import json

import pytest
from sqlalchemy import text

from domain.kinds import KINDS
from domain.texts import labels
from infra.db import make_engine
from tests.conftest import Keys
from tests.integration.workers import wait_for
from tests.pdftools import text_of

pytestmark = pytest.mark.postgres


def auth(client, who):
    return Keys.header(client.keys[who])


def wait_pdf(client, location, who="scoring"):
    def ready():
        r = client.get(location, headers=auth(client, who))
        return r if r.headers["content-type"].startswith("application/pdf") else None
    return wait_for(ready, 60, interval=0.2, what=f"{location} to be rendered")


def test_a_patient_report_of_an_audited_score_is_rendered_by_a_worker(bulk_client, worker, tmp_path):
    scored = bulk_client.post("/v1/scores/sins", json={**KINDS["sins"].example, "patient_ref": "IPP-9"},
                              headers={**auth(bulk_client, "scoring"), "Accept-Language": "fr"}).json()
    asked = bulk_client.post("/v1/reports", json={"audit_id": scored["audit_id"]},
                             headers={**auth(bulk_client, "scoring"), "Accept-Language": "fr"})
    assert asked.status_code == 202 and asked.headers["location"] == asked.json()["location"]
    pdf = wait_pdf(bulk_client, asked.headers["location"])
    content = " ".join(text_of(pdf.content, tmp_path).split())
    band = labels.BANDS[("sins", scored["band"])]["fr"]  # in words, from the catalogue's table
    assert f"Total {scored['total']}" in content and band in content and scored["band"] not in content
    assert scored["recommendation"]["rule_id"] in content and scored["audit_id"] in content
    assert "Rapport" in content or "rapport" in content
    digest = hashlib.sha256(pdf.content).hexdigest()
    assert pdf.headers["etag"] == f'"{digest}"'
    engine = make_engine(bulk_client.engine_url)
    with engine.connect() as conn:
        rendered = conn.execute(text("SELECT output_json, patient_hash FROM audit_record "
                                     "WHERE action = 'report.rendered'")).all()
    engine.dispose()
    assert [json.loads(r[0])["sha256"] for r in rendered] == [digest]
    assert rendered[0][1] and "IPP-9" not in rendered[0][0]


def test_the_same_answer_gives_the_same_pdf_bytes_and_another_client_gets_404(bulk_client, worker):
    scored = bulk_client.post("/v1/scores/tomita", json=KINDS["tomita"].example,
                              headers=auth(bulk_client, "scoring")).json()
    locations = [bulk_client.post("/v1/reports", json={"audit_id": scored["audit_id"]},
                                  headers=auth(bulk_client, "scoring")).headers["location"] for _ in range(2)]
    first, second = (wait_pdf(bulk_client, location).content for location in locations)
    assert first == second
    assert bulk_client.get(locations[0], headers=auth(bulk_client, "other")).status_code == 404
    stranger = bulk_client.post("/v1/reports", json={"audit_id": scored["audit_id"]},
                                headers=auth(bulk_client, "other"))
    assert stranger.status_code == 403  # a registry key cannot ask for patient reports at all


def test_a_case_is_evaluated_and_audited_first_then_reported(bulk_client, worker, tmp_path):
    asked = bulk_client.post("/v1/reports", json={"case": KINDS["evaluation"].example},
                             headers=auth(bulk_client, "scoring"))
    assert asked.status_code == 202
    content = text_of(wait_pdf(bulk_client, asked.headers["location"]).content, tmp_path)
    assert "LB-4" in content and "SP-3" in content and "TRIAL-2" in content


def test_a_case_answered_in_english_is_reported_in_french_from_its_audited_inputs(bulk_client, worker, tmp_path):
    """Issue 15: the whole report in the language asked at report time, whatever the call's; the summary and the
    values from the audited record; the pseudonym as a short code; times in the deployment's time zone."""
    evaluated = bulk_client.post("/v1/evaluations", json={**KINDS["evaluation"].example, "patient_ref": "IPP-77"},
                                 headers={**auth(bulk_client, "scoring"), "Accept-Language": "en"}).json()
    asked = bulk_client.post("/v1/reports", json={"audit_id": evaluated["audit_id"]},
                             headers={**auth(bulk_client, "scoring"), "Accept-Language": "fr"})
    pdf = wait_pdf(bulk_client, asked.headers["location"]).content
    content = " ".join(text_of(pdf, tmp_path, layout=False).split())
    assert "Données du cas ayant servi au calcul" in content and "58 ans" in content and "75,8 mL/min" in content
    assert "Acide zolédronique 4 mg IV" in content and "Zoledronic acid 4 mg" not in content
    assert "IPP-77" not in content and "seul le système appelant" in content
    assert "(Europe/Paris)" in content and "Références" in content


def test_report_requests_are_validated(bulk_client):
    both = bulk_client.post("/v1/reports", json={"audit_id": "x", "case": KINDS["evaluation"].example},
                            headers=auth(bulk_client, "scoring"))
    assert both.status_code == 400 and both.json()["errors"][0]["allowed"] == ["audit_id", "case"]
    unknown = bulk_client.post("/v1/reports", json={"audit_id": "no-such-record"}, headers=auth(bulk_client, "scoring"))
    assert unknown.status_code == 404


def test_a_registry_summary_of_a_finished_job(bulk_client, worker, tmp_path):
    lines = [{"kind": k, **KINDS[k].example} for k in ("sins", "tomita", "mirels")] * 10 + [{"kind": "sins"}]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    job = bulk_client.post("/v1/bulk-jobs", content=body, headers={**auth(bulk_client, "registry"),
                                                                   "content-type": "application/x-ndjson"})
    location = job.headers["location"]
    wait_for(lambda: bulk_client.get(location, headers=auth(bulk_client, "registry")).json()["status"] == "succeeded",
             60, what="the job")
    assert bulk_client.post(f"{location}/report", headers=auth(bulk_client, "other")).status_code == 404
    asked = bulk_client.post(f"{location}/report", headers=auth(bulk_client, "registry"))
    assert asked.status_code == 202
    content = " ".join(text_of(wait_pdf(bulk_client, asked.headers["location"], "registry").content, tmp_path).split())
    assert all(name in content for name in ("SINS", "TOMITA", "MIRELS")) and "31" in content
