"""GET /metrics (issue 15) on the real application: requests counted under their route template and status, audit
batches measured, bulk jobs, queue depth and lines read from the database and the broker at scrape time, and a
scrape that answers in time, with the source reported down, when the database or the broker does not."""

import json
import time
from dataclasses import replace

import anyio
import httpx
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.metrics import PROBE_TIMEOUT_S
from tests.conftest import Keys
from tests.integration.workers import wait_for

TOKEN = "metrics-token-0123456789abcdef"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}
NDJSON = {"Content-Type": "application/x-ndjson"}
TOMITA = {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}
PATIENT = "IPP-4242-DUPONT"
JOB_IDS = ("0b6a4f0e-5d0c-4c4e-9d47-6f7c2d8a1b11", "9f1c2e3d-0000-4000-8000-123456789abc")
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def settings(settings):
    """The suite's settings, with a scrape token (the test client's address is not this host's), and the var/
    directory an installation has (`bonemets migrate` makes it), where the embedded broker keeps its queue."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return replace(settings, metrics_token=TOKEN)


@pytest.fixture
def bulk_env(bulk_env):
    return {**bulk_env, "BONEMETS_METRICS_TOKEN": TOKEN}


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics", headers=SCRAPER)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(r.text) for sample in family.samples}


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before, after, name) -> dict[tuple, float]:
    """What each series of `name` moved by between two scrapes (the series that did not move left out)."""
    return {labels: after[(n, labels)] - before.get((n, labels), 0.0) for n, labels in after
            if n == name and after[(n, labels)] != before.get((n, labels), 0.0)}


def labels(method, route, status=None):
    found = {"method": method, "route": route, **({"status": str(status)} if status is not None else {})}
    return tuple(sorted(found.items()))


def ndjson(records) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode() + b"\n"


def test_each_request_is_counted_once_under_its_route_template_never_its_path(client, keys):
    before = scrape(client)
    scoring, registry = Keys.header(keys.scoring), Keys.header(keys.registry)
    for _ in range(3):
        assert client.post("/v1/scores/tomita", json={**TOMITA, "patient_ref": PATIENT},
                           headers=scoring).status_code == 200
    assert client.post("/v1/scores/tomita", json={"growth": "rapid"}, headers=scoring).status_code == 400
    for job_id in JOB_IDS:
        assert client.get(f"/v1/bulk-jobs/{job_id}", headers=registry).status_code == 404
    assert client.get(f"/v1/patients/{PATIENT}", headers=scoring).status_code == 404
    assert client.request("BREW", "/v1/catalogue", headers=scoring).status_code == 405
    assert client.get("/v1/catalogue").status_code == 401
    assert client.get("/health/live").status_code == 200 and client.get("/health/ready").status_code == 200
    after = scrape(client)

    assert moved(before, after, "bonemets_http_requests_total") == {
        labels("POST", "/v1/scores/tomita", 200): 3, labels("POST", "/v1/scores/tomita", 400): 1,
        labels("GET", "/v1/bulk-jobs/{job_id}", 404): 2, labels("GET", "unmatched", 404): 1,
        labels("OTHER", "unmatched", 405): 1, labels("GET", "/v1/catalogue", 401): 1}  # no probe, no scrape
    durations = moved(before, after, "bonemets_http_request_duration_seconds_count")
    assert durations[labels("POST", "/v1/scores/tomita")] == 4
    buckets = sorted((float(dict(key)["le"]), after[("bonemets_http_request_duration_seconds_bucket", key)])
                     for name, key in after if name == "bonemets_http_request_duration_seconds_bucket"
                     and ("route", "/v1/scores/tomita") in key and ("method", "POST") in key)
    assert buckets[-1] == (float("inf"), 4) and [n for _, n in buckets] == sorted(n for _, n in buckets)
    every_label = {v for _, key in after for _, v in key}
    assert not any(secret in text for text in every_label for secret in (PATIENT, *JOB_IDS, "patients", "BREW"))


def test_the_audit_writer_reports_each_batch_with_its_size_and_commit_time(client, keys):
    before = scrape(client)
    for _ in range(5):
        assert client.post("/v1/scores/tomita", json=TOMITA, headers=Keys.header(keys.scoring)).status_code == 200
    after = scrape(client)
    delta = {name: value(after, name) - value(before, name) for name in (
        "bonemets_audit_batch_records_sum", "bonemets_audit_batch_records_count",
        "bonemets_audit_commit_duration_seconds_count", "bonemets_audit_commit_duration_seconds_sum",
        "bonemets_audit_records_total")}
    assert delta["bonemets_audit_batch_records_sum"] == 5  # each answer's record, in 1 to 5 batches
    assert 1 <= delta["bonemets_audit_batch_records_count"] <= 5
    assert delta["bonemets_audit_commit_duration_seconds_count"] == delta["bonemets_audit_batch_records_count"]
    assert 0 < delta["bonemets_audit_commit_duration_seconds_sum"] < 5
    assert delta["bonemets_audit_records_total"] == 5  # the chain's own length, read from its head
    assert value(after, "bonemets_audit_batches_failed_total") == 0


def test_a_submitted_job_is_counted_by_status_and_its_chunk_waits_in_the_embedded_queue(client, keys):
    before = scrape(client)
    assert value(before, "bonemets_database_up") == 1 and value(before, "bonemets_broker_up") == 1
    assert value(before, "bonemets_broker_queue_messages", queue="celery") == 0
    lines = [{"kind": "tomita", "patient_ref": PATIENT, **TOMITA}] * 3
    r = client.post("/v1/bulk-jobs", content=ndjson(lines), headers={**Keys.header(keys.registry), **NDJSON})
    assert r.status_code == 202
    after = scrape(client)
    assert value(after, "bonemets_bulk_jobs", status="queued") == 1  # no worker runs: it waits
    assert value(after, "bonemets_bulk_jobs", status="succeeded") == 0  # every status is there, 0 included
    assert value(after, "bonemets_broker_queue_messages", queue="celery") == 1  # one chunk of 500 lines
    assert not any(r.json()["id"] in v for _, key in after for _, v in key)


def test_a_broker_that_cannot_be_reached_is_reported_down_and_the_scrape_still_answers(settings, keys):
    with TestClient(create_app(replace(settings, broker_url=DEAD_BROKER), configure_logs=False)) as client:
        started = time.monotonic()
        samples = scrape(client)
    assert time.monotonic() - started < PROBE_TIMEOUT_S + 1.5
    assert value(samples, "bonemets_broker_up") == 0 and value(samples, "bonemets_database_up") == 1
    assert not any(name == "bonemets_broker_queue_messages" for name, _ in samples)


def test_the_metrics_need_the_token_when_one_is_set_and_stay_out_of_the_openapi_document(client):
    for headers in ({}, {"Authorization": "Bearer not-the-token-0123456789"}, {"Authorization": TOKEN}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["www-authenticate"] == 'Bearer realm="bonemets-metrics"'
        assert "bonemets_" not in r.text
    assert "/metrics" not in client.get("/schema/openapi.json").json()["paths"]


def test_without_a_token_only_a_scraper_on_this_host_reads_them(settings):
    app = create_app(replace(settings, metrics_token=None), configure_logs=False)

    async def get(address, headers=None):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bonemets.local") as http:
            return await http.get("/metrics", headers=headers)

    try:
        assert anyio.run(get, "127.0.0.1").status_code == 200
        assert anyio.run(get, "::1").status_code == 200
        forwarded = anyio.run(get, "127.0.0.1", {"X-Forwarded-For": "203.0.113.7"})  # a local proxy's client
        assert forwarded.status_code == 403 and "BONEMETS_METRICS_TOKEN" in forwarded.json()["detail"]
        assert anyio.run(get, "203.0.113.7").status_code == 403
        assert anyio.run(get, "192.168.1.20").status_code == 403
    finally:
        app.state.metrics.close()


@pytest.mark.postgres
def test_jobs_and_the_redis_queue_depth_after_a_submission(bulk_client):
    before = scrape(bulk_client)
    assert value(before, "bonemets_broker_queue_messages", queue="celery") == 0
    lines = [{"kind": "tomita", "line_id": f"row-{i}", **TOMITA} for i in range(450)]  # 3 chunks of 200
    r = bulk_client.post("/v1/bulk-jobs", content=ndjson(lines),
                         headers={**Keys.header(bulk_client.keys["registry"]), **NDJSON})
    assert r.status_code == 202
    after = scrape(bulk_client)
    assert value(after, "bonemets_bulk_jobs", status="queued") == 1
    assert value(after, "bonemets_broker_queue_messages", queue="celery") == 3  # no worker: every chunk waits
    assert moved(before, after, "bonemets_http_requests_total") == {labels("POST", "/v1/bulk-jobs", 202): 1}


@pytest.mark.postgres
def test_lines_the_workers_finish_are_counted_once_and_stay_counted_when_the_job_goes(bulk_client, worker):
    registry = Keys.header(bulk_client.keys["registry"])
    before = scrape(bulk_client)  # the tally's baseline
    lines = [{"kind": "tomita", "line_id": f"row-{i}", **TOMITA} for i in range(240)]
    lines += ["{not json", {"kind": "tomita", **TOMITA, "growth": "sideways"}]  # failed at upload, by the worker
    location = bulk_client.post("/v1/bulk-jobs", content=ndjson(lines), headers={**registry, **NDJSON}).headers[
        "location"]
    wait_for(lambda: bulk_client.get(location, headers=registry).json()["status"] == "succeeded", 120,
             interval=0.25, what="the job to finish")
    after = scrape(bulk_client)
    assert value(after, "bonemets_bulk_lines_total", outcome="ok") - value(
        before, "bonemets_bulk_lines_total", outcome="ok") == 240
    assert value(after, "bonemets_bulk_lines_total", outcome="failed") - value(
        before, "bonemets_bulk_lines_total", outcome="failed") == 2
    assert value(after, "bonemets_bulk_jobs", status="succeeded") == 1
    assert value(after, "bonemets_broker_queue_messages", queue="celery") == 0
    assert bulk_client.delete(location, headers=registry).status_code == 202
    gone = scrape(bulk_client)
    assert value(gone, "bonemets_bulk_jobs", status="succeeded") == 0
    assert value(gone, "bonemets_bulk_lines_total", outcome="ok") == value(after, "bonemets_bulk_lines_total",
                                                                           outcome="ok")


@pytest.mark.postgres
def test_a_scrape_answers_in_time_with_the_database_down_while_it_stalls_and_after(proxied_postgres, tmp_path):
    proxy = proxied_postgres.proxy
    (tmp_path / "var").mkdir()  # the embedded broker's, which stays up
    settings = proxied_postgres.settings(tmp_path / "var", BONEMETS_METRICS_TOKEN=TOKEN)
    with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
        assert value(scrape(client), "bonemets_database_up") == 1
        proxy.fault("blackhole", 6)  # every byte lost, new connections left waiting: a stalled network
        for _ in range(2):  # the second scrape too: the first one's read, abandoned, holds nothing up
            started = time.monotonic()
            samples = scrape(client)
            assert time.monotonic() - started < PROBE_TIMEOUT_S + 1.5
            assert value(samples, "bonemets_database_up") == 0 and value(samples, "bonemets_broker_up") == 1
            assert not any(name == "bonemets_bulk_jobs" for name, _ in samples)
            assert ("bonemets_bulk_lines_total", (("outcome", "ok"),)) in samples  # counters stay served
        proxy.wait_healed()
        wait_for(lambda: value(scrape(client), "bonemets_database_up") == 1, 20, interval=0.5,
                 what="the database to be reported up again")
