"""The console's pages that need a worker, in a real browser against a real server and Celery worker on PostgreSQL
and Redis: a registry follows a bulk job to completion, downloads its results and its summary PDF; a clinician
computes a SINS and downloads its PDF report. Pages checked with axe-core and screenshotted, nothing asked
elsewhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from infra.db import make_engine
from infra.keys import create_key
from tests.browser.conftest import Console, Server
from tests.conftest import Keys
from tests.integration.workers import WorkerProcess

SINS = {"pain": "mechanical", "lesion": "lytic", "alignment": "normal", "posterolateral": "none", "level": "T12",
        "collapse_percent": 30}


def test_a_registry_follows_its_job_and_a_clinician_downloads_a_pdf(bulk_env: dict[str, str], browser: Any,
                                                                     tmp_path: Path) -> None:
    engine = make_engine(bulk_env["BONEMETS_MIGRATION_DATABASE_URL"])
    keys = {"registry": create_key(engine, "registry-b", ("registry",)),
            "scoring": create_key(engine, "hospital-a", ("scoring",))}
    engine.dispose()
    server = Server(bulk_env, tmp_path / "server.log")
    consoles: list[Console] = []
    worker = WorkerProcess(bulk_env, tmp_path / "worker.log")
    try:
        lines = [json.dumps({"kind": "sins", "line_id": f"L{i}", **SINS}) for i in range(400)]
        lines.append(json.dumps({"kind": "sins", "line_id": "bad", "pain": "sometimes"}))
        submitted = httpx.post(f"{server.base}/v1/bulk-jobs", content="\n".join(lines).encode(),
                               headers={**Keys.header(keys["registry"]), "Content-Type": "application/x-ndjson"})
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]

        registry = Console(browser, server.base)
        consoles.append(registry)
        registry.sign_in(keys["registry"])
        page = registry.page
        page.click("text=Registry jobs")
        registry.accessible("jobs")
        page.click(f"a[href='/console/jobs/{job_id}']")
        assert page.locator("#job-status").get_attribute("data-code") == "queued"  # no worker yet
        registry.accessible("job-queued")
        worker.start()  # the page, left open, follows the job from here
        # the page's script polls the job and reloads once it has finished
        page.wait_for_selector("#job-status[data-code=succeeded]", timeout=60_000)
        assert page.locator("#job-done").inner_text() == "400" and page.locator("#job-failed").inner_text() == "1"
        registry.accessible("job-finished")
        with page.expect_download() as download:
            page.click("#results")
        results = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
        assert len(results) == 401 and results[0]["ok"] and not results[-1]["ok"]
        page.click("#summary")
        page.wait_for_selector("#download-pdf", timeout=60_000)  # the report page reloads itself while queued
        registry.accessible("job-summary-ready")
        with page.expect_download() as download:
            page.click("#download-pdf")
        assert Path(download.value.path()).read_bytes().startswith(b"%PDF")

        clinician = Console(browser, server.base)
        consoles.append(clinician)
        clinician.sign_in(keys["scoring"])
        page = clinician.page
        page.goto("/console/compute/sins")
        for name in ("pain", "lesion", "alignment", "posterolateral", "level"):
            page.select_option(f"#f-{name}", SINS[name])
        page.fill("#f-collapse_percent", "30")
        page.click("#compute")
        audit_id = page.locator("#audit-id").inner_text()
        page.click("#pdf")
        page.wait_for_selector("#download-pdf", timeout=60_000)
        with page.expect_download() as download:
            page.click("#download-pdf")
        pdf = Path(download.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 5000
        # the report is of the console's own audited answer, as GET /v1/reports lists it for this client
        listed = httpx.get(f"{server.base}/v1/reports", headers=Keys.header(keys["scoring"])).json()["reports"]
        assert [r["status"] for r in listed] == ["ready"] and audit_id
        assert [url for c in consoles for url in c.outside] == []
    finally:
        for console in consoles:
            console.close()
        server.stop()
        worker.stop()
