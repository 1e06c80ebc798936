"""docs/grafana-dashboard.json (issue 15) reads only what the service exports: every metric name in every panel's
expression is one a real scrape of /metrics holds, every panel queries the Prometheus chosen by the dashboard's
DS_PROMETHEUS variable, and the panels the operators asked for are there."""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Keys

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
TOKEN = "metrics-token-0123456789abcdef"
METRIC = re.compile(r"\b(bonemets_[a-z0-9_]+)\b")
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


@pytest.fixture
def settings(settings):
    settings.var_dir.mkdir(parents=True, exist_ok=True)  # an installation's, where the embedded broker's queue is
    return replace(settings, metrics_token=TOKEN)


def panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def test_every_expression_of_the_dashboard_reads_metrics_the_service_exports(client, keys):
    assert client.post("/v1/scores/tomita", json={"growth": "rapid", "visceral_metastases": "none",
                                                  "bone_metastases": "multiple"},
                       headers=Keys.header(keys.scoring)).status_code == 200
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scraped.status_code == 200
    exported = {sample.name for family in text_string_to_metric_families(scraped.text) for sample in family.samples}

    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource" and variables["DS_PROMETHEUS"]["query"] == "prometheus"
    used, titles = set(), set()
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        titles.add(panel["title"])
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            names = set(METRIC.findall(expr))
            assert names, (panel["title"], expr)
            assert names <= exported, (panel["title"], sorted(names - exported))
            assert target.get("datasource", DATASOURCE) == DATASOURCE
            for opening, closing in ("()", "{}", "[]"):
                assert expr.count(opening) == expr.count(closing), expr
            used |= names
    assert {"bonemets_http_requests_total", "bonemets_http_request_duration_seconds_bucket",
            "bonemets_audit_batch_records_bucket", "bonemets_audit_commit_duration_seconds_bucket",
            "bonemets_broker_queue_messages", "bonemets_bulk_jobs", "bonemets_bulk_lines_total",
            "bonemets_database_up", "bonemets_broker_up"} <= used
    assert {"Requests/s by route and status", "Latency p50 / p95 / p99 (all routes)", "5xx and 503 answers/s",
            "Audit batch size", "Audit commit latency", "Queue depth", "Jobs by status", "Bulk lines/s"} <= titles
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
