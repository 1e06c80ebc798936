"""Uploads are bounded per line and never stall clinical answers (issue 10): a line over the per-line limit is
that line's 413 (nothing of it kept), and on the embedded default (SQLite, one writer) a large upload goes in
short transactions, so a clinical answer never waits more than a second behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace

import httpx
import pytest
from litestar.testing import TestClient

from api.app import create_app
from infra.keys import create_key
from tests.conftest import PSEUDONYM_KEY, SIGNING_KEY, Keys
from tests.integration.test_audit_chain import free_port, wait_ready

SINS = {"location": "junctional", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
        "collapse": "none", "posterolateral": "none"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("media", ["application/x-ndjson", "application/json"])
def test_a_line_over_the_per_line_limit_is_that_lines_413(settings, keys, media):
    long_line = json.dumps({"kind": "sins", **SINS, "pad": "x" * 5000})
    records = [long_line, "not json"]
    body = "\n".join(records) if media == "application/x-ndjson" else "[" + ", ".join([long_line, '"x"']) + "]"
    with TestClient(create_app(replace(settings, bulk_max_line_bytes=4096), configure_logs=False)) as client:
        r = client.post("/v1/bulk-jobs", content=body.encode(), headers={**Keys.header(keys.registry),
                                                                       "Content-Type": media})
        assert r.status_code == 202 and r.json()["status"] == "succeeded"  # nothing left to evaluate
        lines = [json.loads(x) for x in client.get(r.headers["location"] + "/results",
                                                   headers=Keys.header(keys.registry)).text.splitlines()]
    assert lines[0]["error"]["status"] == 413 and lines[0]["error"]["detail"].startswith("This line is 5")
    assert "over the per-line limit of 4096 bytes (BONEMETS_BULK_MAX_LINE_BYTES)" in lines[0]["error"]["detail"]
    assert lines[1]["error"]["status"] == 400


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_line_with_a_number_no_float_holds_is_refused_at_upload_naming_its_field(settings, keys):
    """Such a line is refused when it is stored (nothing of it kept), with its field, its range and its line id, in
    the job's language; a truncated line is still malformed JSON."""
    body = b"\n".join([
        b'{"kind": "sins", "line_id": "B1", "pain": "mechanical", "collapse_percent": 1e400}',
        b'{"kind": "evaluation", "line_id": "B2", "patient": {"age": -1e999}}',
        b'{"kind": "sins", "line_id": "B3", "collapse_percent": 1e400',
    ])
    with TestClient(create_app(settings, configure_logs=False)) as client:
        r = client.post("/v1/bulk-jobs", content=body, headers={**Keys.header(keys.registry), "Accept-Language": "fr",
                                                                "Content-Type": "application/x-ndjson"})
        assert r.status_code == 202 and r.json()["status"] == "succeeded", r.text  # nothing left to evaluate
        lines = [json.loads(x) for x in client.get(r.headers["location"] + "/results",
                                                   headers=Keys.header(keys.registry)).text.splitlines()]
    assert [(x["line_id"], [(e["field"], e["message"]) for e in x["error"]["errors"]]) for x in lines] == [
        ("B1", [("collapse_percent", "nombre hors limites (valeurs permises : un nombre >= 0 et <= 100)")]),
        ("B2", [("patient.age", "nombre hors limites (valeurs permises : un entier >= 18 et <= 120)")]),
        (None, [("$", "JSON mal formé : données tronquées")]),
    ]


def test_an_embedded_upload_never_stalls_a_clinical_answer_over_a_second(tmp_path):
    env = {"BONEMETS_VAR_DIR": str(tmp_path / "var"), "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY,
           "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY, "BONEMETS_LOG_FORMAT": "json",
           "PATH": os.environ.get("PATH", "")}
    assert subprocess.run([sys.executable, "-m", "api.cli", "migrate"], env=env, capture_output=True).returncode == 0
    from infra.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'bonemets.db'}")
    key = create_key(engine, "ops", ("scoring", "registry"))
    engine.dispose()
    port = free_port()
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(port)
            body = ("\n".join(json.dumps({"kind": "sins", **SINS}) for _ in range(150_000))).encode()
            uploaded = {}

            def upload() -> None:
                r = httpx.post(f"http://127.0.0.1:{port}/v1/bulk-jobs", content=body, timeout=120,
                               headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"})
                uploaded["status"] = r.status_code

            thread = threading.Thread(target=upload)
            latencies = []
            with httpx.Client(timeout=30) as client:
                thread.start()
                while thread.is_alive():
                    started = time.monotonic()
                    r = client.post(f"http://127.0.0.1:{port}/v1/scores/sins", json=SINS,
                                    headers={"Authorization": f"Bearer {key}"})
                    latencies.append(time.monotonic() - started)
                    assert r.status_code == 200, r.text
                    time.sleep(0.05)
            thread.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert uploaded["status"] == 202 and len(latencies) > 5
    assert max(latencies) < 1.0, f"a clinical answer waited {max(latencies):.2f} s behind the upload"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bulk_line_nested_too_deeply_is_that_lines_400(settings, keys):
    deep = b'{"kind":"sins","a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with TestClient(create_app(settings, configure_logs=False)) as client:
        r = client.post("/v1/bulk-jobs", content=deep + b"\n", headers={**Keys.header(keys.registry),
                                                                      "Content-Type": "application/x-ndjson"})
        assert r.status_code == 202 and r.json()["failed"] == 1
        (line,) = [json.loads(x) for x in client.get(r.headers["location"] + "/results",
                                                     headers=Keys.header(keys.registry)).text.splitlines()]
    assert line["error"]["status"] == 400 and line["error"]["errors"][0]["field"] == "$"
