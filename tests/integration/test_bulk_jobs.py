"""Bulk jobs on a real Celery worker, real Redis and real PostgreSQL (no eager mode)."""

import json
import time
from dataclasses import replace

import msgspec
import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import text

from domain.kinds import KINDS
from domain.texts.messages import translate
from infra import audit
from infra.db import make_engine
from tests.conftest import Keys
from tests.integration.workers import WorkerProcess, wait_for

pytestmark = pytest.mark.postgres
NDJSON = {"content-type": "application/x-ndjson"}


def auth(client, who="registry"):
    return Keys.header(client.keys[who])


def ndjson(records):
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode()


def submit(client, records, *, who="registry", headers=None):
    return client.post("/v1/bulk-jobs", content=ndjson(records), headers={**auth(client, who), **NDJSON,
                                                                          **(headers or {})})


def wait_done(client, location, timeout=120):
    def finished():
        status = client.get(location, headers=auth(client)).json()
        return status if status["status"] in ("succeeded", "failed", "cancelled") else None
    return wait_for(finished, timeout, interval=0.25, what=f"{location} to finish")


def results(client, location):
    r = client.get(f"{location}/results", headers=auth(client))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in r.text.splitlines()]


def strip(body):
    return {k: v for k, v in body.items() if k != "audit_id"}


def test_a_10000_line_job_completes_and_every_line_equals_the_synchronous_answer(bulk_client, worker):
    kinds = sorted(KINDS)
    records = [{"kind": kinds[i % len(kinds)], "line_id": f"row-{i}", "patient_ref": f"P{i % 97}",
                **KINDS[kinds[i % len(kinds)]].example} for i in range(10_000)]
    r = submit(bulk_client, records)
    assert r.status_code == 202 and r.headers["location"] == r.headers["content-location"]
    status = wait_done(bulk_client, r.headers["location"])
    assert (status["status"], status["total"], status["done"], status["failed"]) == ("succeeded", 10_000, 10_000, 0)
    synchronous = {}
    for name, kind in KINDS.items():
        answer = bulk_client.post(kind.path, json=kind.example, headers=auth(bulk_client, "scoring"))
        assert answer.status_code == 200
        synchronous[name] = strip(answer.json())
    lines = results(bulk_client, r.headers["location"])
    assert [line["line"] for line in lines] == list(range(1, 10_001))
    for line, record in zip(lines, records, strict=True):
        assert line["ok"] and line["line_id"] == record["line_id"]
        assert strip(line["result"]) == synchronous[record["kind"]]
    engine = make_engine(bulk_client.engine_url)
    with engine.connect() as conn:
        query = "SELECT count(*) FROM audit_record WHERE job_id = :j AND action <> 'job.submitted'"
        audited = conn.execute(text(query), {"j": status["id"]}).scalar_one()
    assert audited == 10_000 and audit.verify(engine).intact
    engine.dispose()


def test_a_worker_killed_mid_job_leaves_exactly_one_result_and_one_audit_record_per_line(bulk_client, bulk_env,
                                                                                         tmp_path):
    case = KINDS["evaluation"].example
    records = [{"kind": "evaluation", "line_id": i, **case} for i in range(8_000)]
    r = submit(bulk_client, records)
    location = r.headers["location"]
    first = WorkerProcess(bulk_env, tmp_path / "first.log").start()
    try:
        wait_for(lambda: bulk_client.get(location, headers=auth(bulk_client)).json()["done"] > 0, 60,
                 interval=0.02, what="the first lines")
        first.kill()
    finally:
        first.stop()
    status = bulk_client.get(location, headers=auth(bulk_client)).json()
    assert 0 < status["done"] < 8_000, "the worker must die in the middle of the job"
    second = WorkerProcess(bulk_env, tmp_path / "second.log").start()
    try:
        status = wait_done(bulk_client, location, timeout=180)
    finally:
        second.stop()
    assert (status["status"], status["done"], status["failed"]) == ("succeeded", 8_000, 0)
    lines = results(bulk_client, location)
    assert [line["line"] for line in lines] == list(range(1, 8_001))
    engine = make_engine(bulk_client.engine_url)
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text(
            "SELECT id FROM audit_record WHERE job_id = :j AND action = 'evaluation.computed'"), {"j": status["id"]})]
    assert len(ids) == len(set(ids)) == 8_000
    assert set(ids) == {line["result"]["audit_id"] for line in lines}
    assert audit.verify(engine).intact
    engine.dispose()


def test_malformed_lines_are_per_line_errors_at_their_line_numbers(bulk_client, worker):
    good = {"kind": "tomita", **KINDS["tomita"].example}
    records = [good, "{not json", good, {"kind": "frankel"}, {"kind": "sins", "pain": "x"}, "[1, 2]", good,
               {"kind": "evaluation", "evaluation_date": "2025-01-01", "frankel": "E", "cord_compression": {
                   "rades": {**KINDS["rades"].example, "motor_function": "paraplegic"}}}]
    r = submit(bulk_client, records)
    status = wait_done(bulk_client, r.headers["location"])
    assert (status["done"], status["failed"]) == (3, 5)
    lines = results(bulk_client, r.headers["location"])
    assert [(line["line"], line["ok"]) for line in lines] == [
        (1, True), (2, False), (3, True), (4, False), (5, False), (6, False), (7, True), (8, False)]
    assert lines[3]["error"]["errors"][0]["field"] == "kind" and "tomita" in lines[3]["error"]["errors"][0]["allowed"]
    assert {e["field"] for e in lines[4]["error"]["errors"]} >= {"pain", "lesion"}
    assert lines[7]["error"]["status"] == 422
    # the results as FHIR NDJSON (Bulk Data's format): a Bundle per line, an OperationOutcome per line in error
    fhir = bulk_client.get(f"{r.headers['location']}/results", params={"format": "fhir"}, headers=auth(bulk_client))
    assert fhir.headers["content-type"].startswith("application/fhir+ndjson")
    resources = [json.loads(line) for line in fhir.text.splitlines()]
    assert [x["resourceType"] for x in resources] == ["Bundle" if line["ok"] else "OperationOutcome"
                                                      for line in lines]
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert resources[0]["identifier"]["value"] == lines[0]["result"]["audit_id"]
    # the same job asked in French: each line's problem in French, field by field (what the API would say)
    french = submit(bulk_client, records, headers={"Accept-Language": "fr"})
    assert wait_done(bulk_client, french.headers["location"])["failed"] == 5
    for line, line_fr in zip(lines, results(bulk_client, french.headers["location"]), strict=True):
        if not line["ok"]:
            english = [line["error"]["detail"], *(e["message"] for e in line["error"]["errors"])]
            assert [line_fr["error"]["detail"], *(e["message"] for e in line_fr["error"]["errors"])] == [
                translate(m) for m in english]


def test_a_json_array_body_is_accepted_like_ndjson_and_each_task_logs_one_line_with_context(bulk_client, worker):
    body = msgspec.json.encode([{"kind": "mirels", **KINDS["mirels"].example}] * 3)
    r = bulk_client.post("/v1/bulk-jobs", content=body, headers={**auth(bulk_client), "X-Request-ID": "reg-77",
                                                                 "content-type": "application/json"})
    assert r.status_code == 202 and wait_done(bulk_client, r.headers["location"])["done"] == 3
    events = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    (task,) = [e for e in events if e.get("event") == "task.evaluated"]
    assert (task["job_id"], task["request_id"], task["lines"]) == (r.json()["id"], "reg-77", 3)
    assert task["task_id"] and task["duration_ms"] >= 0


def test_a_running_job_answers_as_fhir_bulk_data_does_and_another_client_sees_nothing(bulk_client):
    state = bulk_client.app.state
    state.settings = replace(state.settings, bulk_min_poll_s=1.0)  # the production default
    r = submit(bulk_client, [{"kind": "tomita", **KINDS["tomita"].example}] * 1000)  # no worker: stays queued
    location = r.headers["location"]
    status = bulk_client.get(location, headers=auth(bulk_client))
    # Bulk Data: 202 while in progress, X-Progress and Retry-After; a poll faster than that is 429
    assert status.status_code == 202 and status.headers["retry-after"] == "2"
    assert status.headers["x-progress"] == "0.0% (0 of 1000 lines)" and status.json()["output"] == []
    too_soon = bulk_client.get(location, headers=auth(bulk_client))
    assert too_soon.status_code == 429 and too_soon.headers["retry-after"] == "2"
    early = bulk_client.get(f"{location}/results", headers=auth(bulk_client))
    assert early.status_code == 409 and "partial=true" in early.json()["detail"]
    # the same refusals, in French when French is asked
    too_soon_fr = bulk_client.get(location, headers={**auth(bulk_client), "Accept-Language": "fr"})
    assert too_soon_fr.status_code == 429 and too_soon_fr.json()["detail"] == translate(too_soon.json()["detail"])
    early_fr = bulk_client.get(f"{location}/results", headers={**auth(bulk_client), "Accept-Language": "fr"})
    assert early_fr.json()["detail"] == translate(early.json()["detail"]) and "partial=true" in early_fr.text
    partial = bulk_client.get(f"{location}/results", params={"partial": "true"}, headers=auth(bulk_client))
    assert partial.status_code == 200 and partial.text == ""
    # a server that enforces a longer minimum says so in Retry-After: a client that obeys it is never refused
    state.settings = replace(state.settings, bulk_min_poll_s=4.5)
    slow = bulk_client.get(location, headers=auth(bulk_client))
    assert slow.status_code == 429 and slow.headers["retry-after"] == "5"
    for method in ("get", "delete"):
        assert getattr(bulk_client, method)(location, headers=auth(bulk_client, "other")).status_code == 404
    assert bulk_client.get(f"{location}/results", headers=auth(bulk_client, "other")).status_code == 404
    assert bulk_client.post("/v1/bulk-jobs", content=b"{}", headers={**auth(bulk_client, "scoring"),
                                                                     **NDJSON}).status_code == 403


def test_a_deleted_job_is_gone_and_not_evaluated_by_a_worker(bulk_client, bulk_env, tmp_path):
    r = submit(bulk_client, [{"kind": "tomita", **KINDS["tomita"].example}] * 500)
    deleted = bulk_client.delete(r.headers["location"], headers=auth(bulk_client))
    assert deleted.status_code == 202
    late = WorkerProcess(bulk_env, tmp_path / "late.log").start()
    try:
        time.sleep(3)
    finally:
        late.stop()
    assert bulk_client.get(r.headers["location"], headers=auth(bulk_client)).status_code == 404
    assert bulk_client.get(f"{r.headers['location']}/results", headers=auth(bulk_client)).status_code == 404
    engine = make_engine(bulk_client.engine_url)
    with engine.connect() as conn:  # nothing stored for it, by the late worker or anyone
        assert conn.execute(text("SELECT count(*) FROM bulk_result WHERE job_id = :j"),
                            {"j": r.json()["id"]}).scalar_one() == 0
    engine.dispose()


def test_a_finished_job_has_a_completion_manifest_and_delete_removes_its_outputs(bulk_client, worker):
    records = [{"kind": "tomita", **KINDS["tomita"].example}] * 4 + [{"kind": "tomita", "growth": "x"}]
    r = submit(bulk_client, records)
    location = r.headers["location"]
    wait_done(bulk_client, location)
    done = bulk_client.get(location, headers=auth(bulk_client))
    manifest = done.json()
    assert done.status_code == 200 and "expires" in done.headers and manifest["requiresAccessToken"] is True
    assert manifest["transactionTime"] == manifest["created_at"] and manifest["request"] == "/v1/bulk-jobs"
    assert manifest["output"] == [{"type": "BulkResult", "url": f"{location}/results?ok=true", "count": 4}]
    assert manifest["error"] == [{"type": "OperationOutcome", "url": f"{location}/results?ok=false", "count": 1}]
    ok_lines = bulk_client.get(manifest["output"][0]["url"], headers=auth(bulk_client)).text.splitlines()
    error_lines = bulk_client.get(manifest["error"][0]["url"], headers=auth(bulk_client)).text.splitlines()
    assert (len(ok_lines), len(error_lines)) == (4, 1) and not json.loads(error_lines[0])["ok"]
    listed = bulk_client.get("/v1/bulk-jobs", headers=auth(bulk_client)).json()
    assert [j["id"] for j in listed["jobs"]] == [manifest["id"]] and listed["next_cursor"] is None
    assert bulk_client.get("/v1/bulk-jobs", headers=auth(bulk_client, "other")).json()["jobs"] == []
    assert bulk_client.delete(location, headers=auth(bulk_client)).status_code == 202
    assert bulk_client.get(f"{location}/results", headers=auth(bulk_client)).status_code == 404
    assert bulk_client.get("/v1/bulk-jobs", headers=auth(bulk_client)).json()["jobs"] == []


def test_the_same_idempotency_key_returns_the_same_job(bulk_client):
    records = [{"kind": "tomita", **KINDS["tomita"].example}] * 10
    first = submit(bulk_client, records, headers={"Idempotency-Key": "registry-export-2025-06"})
    again = submit(bulk_client, records, headers={"Idempotency-Key": "registry-export-2025-06"})
    other = submit(bulk_client, records, headers={"Idempotency-Key": "registry-export-2025-07"})
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    changed = submit(bulk_client, records[:9], headers={"Idempotency-Key": "registry-export-2025-06"})
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "Idempotency-Key"
    engine = make_engine(bulk_client.engine_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bulk_line WHERE job_id = :j"),
                            {"j": first.json()["id"]}).scalar_one() == 10
    engine.dispose()


def test_an_oversized_body_gets_413_and_stores_nothing(bulk_env):
    from litestar.testing import TestClient

    from api.app import create_app
    from infra.keys import create_key
    from infra.settings import load_settings

    settings = load_settings({**bulk_env, "BONEMETS_BULK_MAX_BYTES": "100000"})
    engine = make_engine(settings.database_url)
    key = create_key(engine, "registry-b", ("registry",))
    body = ndjson([{"kind": "tomita", **KINDS["tomita"].example}] * 2000)  # ~180 kB
    with TestClient(create_app(settings, configure_logs=False)) as client:
        r = client.post("/v1/bulk-jobs", content=body, headers={**Keys.header(key), **NDJSON})
        assert r.status_code == 413 and r.json()["status"] == 413
        r = client.post("/v1/bulk-jobs", content=b"[{}, ", headers={**Keys.header(key),
                                                                     "content-type": "application/json"})
        assert r.status_code == 400
        r = client.post("/v1/bulk-jobs", content=b"x", headers={**Keys.header(key), "content-type": "text/csv"})
        assert r.status_code == 415
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bulk_job")).scalar_one() == 0
    engine.dispose()


def test_the_consoles_pdf_download_carries_the_consoles_security_headers(bulk_client, worker):
    """A registry's PDF summary downloaded from the console, like its pages: no copy in a shared browser's cache."""
    from api.console.web import SECURITY_HEADERS
    from tests.integration.test_console_sessions import token_of

    location = submit(bulk_client, [{"kind": "sins", "line_id": i, **KINDS["sins"].example} for i in range(5)]
                      ).headers["location"]
    wait_done(bulk_client, location)
    job_page = f"/console/jobs/{location.rsplit('/', 1)[-1]}"
    form = bulk_client.get("/console/sign-in")
    assert bulk_client.post("/console/sign-in", data={"csrf": token_of(form.text), "api_key": bulk_client.keys[
        "registry"], "next": job_page}, follow_redirects=False).status_code == 303
    asked = bulk_client.post(f"{job_page}/report", data={"csrf": token_of(bulk_client.get(job_page).text)},
                             follow_redirects=False)
    assert asked.status_code == 303, asked.text
    report = asked.headers["location"]
    wait_for(lambda: 'id="download-pdf"' in bulk_client.get(report).text, 60, interval=0.25, what="the PDF")
    pdf = bulk_client.get(f"{report}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert {k: pdf.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS


def test_the_consoles_results_download_is_the_apis_streamed_not_built_in_memory(bulk_client, worker):
    """The console's download of a job's results is GET /v1/bulk-jobs/{id}/results's body, streamed in batches off
    the event loop (no Content-Length: never the whole job in the API's memory, never the loop blocked reading
    it)."""
    from tests.integration.test_console_sessions import token_of

    r = submit(bulk_client, [{"kind": "sins", "line_id": i, **KINDS["sins"].example} for i in range(2_500)],
               headers={"Accept-Language": "fr"})
    location = r.headers["location"]
    wait_done(bulk_client, location)
    form = bulk_client.get("/console/sign-in")
    assert bulk_client.post("/console/sign-in", data={"csrf": token_of(form.text), "api_key": bulk_client.keys[
        "registry"], "next": "/console/jobs"}, follow_redirects=False).status_code == 303
    download = bulk_client.get(f"/console/jobs/{location.rsplit('/', 1)[-1]}/results")
    assert download.status_code == 200
    assert "content-length" not in download.headers
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store"  # results of patients: no copy in a shared browser
    assert download.headers["x-content-type-options"] == "nosniff"
    api = bulk_client.get(f"{location}/results", headers=auth(bulk_client))
    assert download.headers["content-language"] == api.headers["content-language"] == "fr"  # the job's language
    assert download.content == api.content
    assert len(download.text.splitlines()) == 2_500
