"""The web console in a real browser, against a real server on SQLite: sign-in for each role, role gates, CSRF,
session expiry and sign-out, the clinician's forms (SINS with a field error, a whole case with two lesions), the
auditor's trail (filters, pages, a record, verify, exports, checkpoints); every page checked with axe-core and
screenshotted; nothing asked of any other host; no patient reference in any page, URL or log line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from infra.db import make_engine
from infra.keys import create_key, revoke_key
from infra.migrate import migrate
from tests.browser.conftest import Console, Server
from tests.conftest import PSEUDONYM_KEY, SIGNING_KEY, Keys
from tests.integration.test_audit_chain import DROP_TRIGGERS

PATIENT = "PAT-SECRET-4242"  # must never appear in clear anywhere
SINS = {"pain": "mechanical", "lesion": "lytic", "alignment": "normal", "posterolateral": "none", "level": "T12",
        "collapse_percent": 30}


class Setup:
    def __init__(self, server: Server, url: str, keys: dict[str, str]) -> None:
        self.server, self.url, self.keys = server, url, keys
        self.consoles: list[Console] = []

    def console(self, browser: Any, role: str, **kwargs: Any) -> Console:
        console = Console(browser, self.server.base, **kwargs)
        self.consoles.append(console)
        console.sign_in(self.keys[role])
        return console


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """One server for the module, on SQLite, with a key per role; checkpoints every 5 records."""
    where = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{where / 'bonemets.db'}"
    engine = make_engine(url)
    migrate(engine)
    keys = {role: create_key(engine, f"client-{role}", (role,)) for role in ("scoring", "auditor", "registry")}
    engine.dispose()
    env = {"BONEMETS_DATABASE_URL": url, "BONEMETS_VAR_DIR": str(where / "var"),
           "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY, "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY,
           "BONEMETS_LOG_FORMAT": "json", "BONEMETS_CHECKPOINT_EVERY": "5"}
    server = Server(env, where / "server.log")
    built = Setup(server, url, keys)
    yield built
    for console in built.consoles:
        console.close()
    server.stop()


def test_each_role_signs_in_and_sees_only_its_own_sections(setup: Setup, browser: Any) -> None:
    anonymous = Console(browser, setup.server.base)
    setup.consoles.append(anonymous)
    anonymous.page.goto("/console/audit")  # no session: to the sign-in page, coming back after it
    assert "/console/sign-in?next=/console/audit" in anonymous.page.url
    anonymous.accessible("sign-in")
    anonymous.page.fill("#api_key", "bm_000000000000_" + "x" * 43)
    anonymous.page.click("button[type=submit]")
    assert anonymous.page.locator("#sign-in-error").is_visible()
    sections = (("scoring", "Scores and pathways"), ("auditor", "Audit trail"), ("registry", "Registry jobs"))
    for role, section in sections:
        console = setup.console(browser, role)
        nav = console.page.locator("header nav").inner_text()
        assert section in nav
        assert [s for s in ("Scores and pathways", "Audit trail", "Registry jobs") if s in nav] == [section]
        assert f"client-{role}" in console.page.locator(".who").inner_text()
        console.accessible(f"home-{role}")
    cookie = next(c for c in setup.consoles[1].context.cookies() if c["name"] == "bonemets_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert setup.keys["scoring"] not in cookie["value"]


def test_a_scoring_key_cannot_open_the_auditor_or_registry_pages(setup: Setup, browser: Any) -> None:
    clinician = setup.console(browser, "scoring")
    for path in ("/console/audit", "/console/audit/checkpoints", "/console/jobs"):
        response = clinician.page.goto(path)
        assert response.status == 403, path
        assert "needs the auditor" in clinician.page.content() or "needs the registry" in clinician.page.content()
    clinician.accessible("forbidden")
    token = clinician.page.locator("input[name=csrf]").first.get_attribute("value")
    assert clinician.page.request.post("/console/audit/verify", form={"csrf": token}).status == 403


def test_a_form_without_its_csrf_token_is_refused(setup: Setup, browser: Any) -> None:
    auditor = setup.console(browser, "auditor")
    forged = auditor.page.request.post("/console/audit/verify", form={})
    assert forged.status == 403 and "security token" in forged.text()
    wrong = auditor.page.request.post("/console/audit/verify", form={"csrf": "x" * 43})
    assert wrong.status == 403
    clinician = setup.console(browser, "scoring")
    assert clinician.page.request.post("/console/compute/sins", form=SINS).status == 403
    # the sign-in form has its own token: a sign-in posted from elsewhere is refused too
    stranger = Console(browser, setup.server.base)
    setup.consoles.append(stranger)
    assert stranger.page.request.post("/console/sign-in", form={"api_key": setup.keys["auditor"]}).status == 403


def test_a_clinician_fixes_a_field_error_and_gets_the_audited_sins_result(setup: Setup, browser: Any) -> None:
    clinician = setup.console(browser, "scoring")
    page = clinician.page
    page.click("text=Scores and pathways")
    clinician.accessible("compute-index")
    page.click("a[href='/console/compute/sins']")
    for name in ("pain", "lesion", "alignment", "posterolateral", "level"):
        page.select_option(f"#f-{name}", SINS[name])
    page.fill("#f-collapse_percent", "130")
    page.fill("#patient_ref", PATIENT)
    page.click("#compute")
    error = page.locator("#f-collapse_percent-error")
    assert "<= 100" in error.inner_text()  # the API's own message, beside its field
    assert page.locator("#f-collapse_percent").get_attribute("aria-invalid") == "true"
    assert page.locator("#f-pain").input_value() == "mechanical"  # what was given is kept...
    assert page.locator("#patient_ref").input_value() == ""  # ...but never the patient reference
    clinician.accessible("sins-field-error")
    page.fill("#f-collapse_percent", "30")
    page.fill("#patient_ref", PATIENT)
    page.click("#compute")
    result = page.locator("main").inner_text()
    assert "SINS — Total 10" in result and "Potentially unstable" in result and "SP-3" in result
    assert "Discuss at the MDT meeting" in result
    clinician.accessible("sins-result")
    audit_id = page.locator("#audit-id").inner_text()
    # the same audit trail as the REST API's, found by the patient reference's keyed hash
    found = httpx.get(f"{setup.server.base}/v1/audit", params={"patient_ref": PATIENT},
                      headers=Keys.header(setup.keys["auditor"])).json()["records"]
    assert [r["id"] for r in found] == [audit_id]
    assert found[0]["action"] == "score.computed" and found[0]["rule_ids"] == "SP-3"
    assert json.loads(found[0]["output_json"])["total"] == 10


def test_a_whole_case_with_two_lesions_in_french(setup: Setup, browser: Any) -> None:
    clinician = setup.console(browser, "scoring", locale="fr-FR")
    page = clinician.page
    page.goto("/console/compute/evaluation")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.select_option("#lesions", "2")
    page.click("button[name=resize]")
    page.fill("#f-evaluation_date", "2025-06-01")
    # the optional blocks are folded: opened as a clinician would, by their summary
    for block in ("patient", "lesions-0-long_bone", "lesions-0-long_bone-mirels", "lesions-1-spine",
                  "lesions-1-spine-sins"):
        page.click(f"#f-{block} > summary")
    page.fill("#f-patient-age", "58")
    page.fill("#f-patient-life_expectancy_weeks", "4")  # under 6 weeks: surgery is withheld (SURG-1)
    page.fill("#f-lesions-0-id", "femur-R")
    page.select_option("#f-lesions-0-kind", "long_bone")
    page.select_option("#f-lesions-0-long_bone-pathological_fracture", "false")
    page.select_option("#f-lesions-0-long_bone-location", "trochanteric")
    for name, value in (("site", "peritrochanteric"), ("pain", "functional"), ("lesion", "lytic")):
        page.select_option(f"#f-lesions-0-long_bone-mirels-{name}", value)
    page.fill("#f-lesions-0-long_bone-mirels-cortical_destruction_fraction", "0,5")
    page.fill("#f-lesions-1-id", "T12")
    page.select_option("#f-lesions-1-kind", "spine")
    page.select_option("#f-lesions-1-spine-vertebral_involvement", "true")
    for name in ("pain", "lesion", "alignment", "posterolateral", "level"):
        page.select_option(f"#f-lesions-1-spine-sins-{name}", SINS[name])
    page.fill("#f-lesions-1-spine-sins-collapse_percent", "30")
    clinician.accessible("evaluation-form")
    page.click("#compute")
    result = page.locator("main").inner_text()
    assert "Recommandations" in result
    withheld = page.locator("table", has_text="Retenue par").inner_text()
    assert "LB-4" in withheld and "SURG-1" in withheld  # withheld, with the rule and its reason
    assert "Lésion femur-R" in result and "Lésion T12" in result
    assert re.search(r"MIRELS — Total \d+", result) and "SINS — Total 10" in result
    clinician.accessible("evaluation-result")


def _make_records(setup: Setup, count: int) -> None:
    with httpx.Client(base_url=setup.server.base, headers=Keys.header(setup.keys["scoring"])) as client:
        for _ in range(count):
            assert client.post("/v1/scores/sins", json=SINS).status_code == 200


def test_an_auditor_filters_pages_opens_verifies_and_exports(setup: Setup, browser: Any, tmp_path: Path) -> None:
    _make_records(setup, 30)
    auditor = setup.console(browser, "auditor")
    page = auditor.page
    page.goto("/console/audit")
    auditor.accessible("audit-trail")
    page.fill("#flt-action", "score.computed")
    page.fill("#flt-endpoint", "POST /v1/scores")
    page.click("#search")
    assert page.locator("#records tbody tr").count() == 25
    first_page = [int(s) for s in page.locator("#records tbody td:first-child").all_inner_texts()]
    page.click("#next-page")
    second_page = [int(s) for s in page.locator("#records tbody td:first-child").all_inner_texts()]
    assert len(second_page) == 5 and min(second_page) > max(first_page)  # keyset paging, in chain order
    assert page.locator("#next-page").count() == 0
    page.locator("#records tbody a").first.click()
    auditor.accessible("audit-record")
    details = page.locator("main").inner_text()
    assert "POST /v1/scores/sins" in details and "score.computed" in details and "prev_hash" in details
    page.click("#previous")
    assert re.search(r"Record \d+", page.locator("h1").inner_text())
    # the patient filter: hashed server-side, the reference in no URL
    page.goto("/console/audit")
    page.fill("#flt-patient_ref", PATIENT)
    page.fill("#flt-action", "score.computed")
    page.click("#search")
    assert page.locator("#records tbody tr").count() == 1  # the console's SINS (the REST query of it has the hash too)
    assert "keyed hash" in page.locator("main").inner_text()
    assert PATIENT not in page.url and PATIENT not in page.content()
    page.goto("/console/audit")
    page.click("#verify")
    assert "Chain intact" in page.locator("#verdict").inner_text()
    auditor.accessible("audit-verify")
    page.goto("/console/audit/checkpoints")
    assert page.locator("#checkpoints tbody td:last-child").first.inner_text() == "valid"
    auditor.accessible("audit-checkpoints")
    page.goto("/console/audit")
    page.fill("#flt-action", "score.computed")
    page.click("#search")
    exported = {}
    for fmt in ("ndjson", "csv", "fhir"):
        with page.expect_download() as download:
            page.click(f"#export-{fmt}")
        exported[fmt] = Path(download.value.path()).read_text()
    lines = [json.loads(line) for line in exported["ndjson"].splitlines()]
    assert len(lines) == 32 and "manifest" in json.dumps(lines[-1])  # 31 records and the signed manifest
    assert exported["csv"].splitlines()[0].startswith("seq,id,created_at") and len(exported["csv"].splitlines()) == 32
    assert json.loads(exported["fhir"])["resourceType"] == "Bundle"
    page.click("#manifest")
    assert page.locator("#manifest-count").inner_text() == "31"
    auditor.accessible("audit-manifest")
    # the console's own queries are in the trail
    queried = httpx.get(f"{setup.server.base}/v1/audit", headers=Keys.header(setup.keys["auditor"]),
                        params={"action": "audit.queried", "endpoint": "POST /console"}).json()["records"]
    assert any(r["endpoint"] == "POST /console/audit/verify" for r in queried)


def test_the_pages_fit_a_tablet_and_the_keyboard_reaches_the_content_first(setup: Setup, browser: Any) -> None:
    """At 768 px nothing scrolls sideways but the wide tables' own boxes; the first Tab is the skip link, and it
    moves the focus to the page's content."""
    tablet = setup.console(browser, "auditor", width=768)
    for path in ("/console/", "/console/audit", "/console/audit/checkpoints"):
        tablet.page.goto(path)
        assert tablet.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    tablet.accessible("audit-trail-tablet")
    tablet.page.keyboard.press("Tab")
    assert tablet.page.evaluate("document.activeElement.className") == "skip"
    tablet.page.keyboard.press("Enter")
    assert tablet.page.evaluate("document.activeElement.id") == "main"
    clinician = setup.console(browser, "scoring", width=768)
    clinician.page.goto("/console/compute/evaluation")
    assert clinician.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    clinician.accessible("evaluation-form-tablet")


def test_a_session_ends_when_idle_on_sign_out_and_when_its_key_is_revoked(setup: Setup, browser: Any) -> None:
    engine = make_engine(setup.url)
    try:
        idle = setup.console(browser, "auditor")
        with engine.begin() as conn:  # as if the last request were 20 minutes ago (idle limit: 15)
            conn.execute(text("UPDATE console_session SET seen_at = seen_at - 1200"))
        idle.page.goto("/console/audit")
        assert "/console/sign-in" in idle.page.url
        leaving = setup.console(browser, "auditor")
        leaving.page.click("text=Sign out")
        assert "/console/sign-in" in leaving.page.url
        leaving.page.goto("/console/audit")
        assert "/console/sign-in" in leaving.page.url
        key = create_key(engine, "client-revoked", ("auditor",))
        revoked = Console(browser, setup.server.base)
        setup.consoles.append(revoked)
        revoked.sign_in(key)
        revoke_key(engine, key.split("_")[1])
        revoked.page.goto("/console/audit")
        assert "/console/sign-in" in revoked.page.url
    finally:
        engine.dispose()


def test_verify_now_names_and_links_the_first_broken_record(setup: Setup, browser: Any) -> None:
    """Someone with direct database access rewrites a record (last of the module: the chain stays broken)."""
    engine = make_engine(setup.url)
    try:
        with engine.begin() as conn:
            for statement in DROP_TRIGGERS["sqlite"]:
                conn.execute(text(statement))
            conn.execute(text("UPDATE audit_record SET output_json = '{\"total\": 99}' WHERE seq = 4"))
            tampered = conn.execute(text("SELECT id FROM audit_record WHERE seq = 4")).scalar()
    finally:
        engine.dispose()
    auditor = setup.console(browser, "auditor")
    auditor.page.goto("/console/audit")
    auditor.page.click("#verify")
    assert "Chain broken" in auditor.page.locator("#verdict").inner_text()
    auditor.accessible("audit-verify-broken")
    auditor.page.click("#first-broken")
    assert tampered in auditor.page.locator("main").inner_text()


def test_nothing_was_asked_of_another_host_and_no_patient_reference_leaked(setup: Setup) -> None:
    assert len(setup.consoles) >= 8
    assert [url for c in setup.consoles for url in c.outside] == []
    assert not [url for c in setup.consoles for url in c.urls if PATIENT in url]
    log = setup.server.log.read_text()
    assert "/console/compute/sins" in log and PATIENT not in log
