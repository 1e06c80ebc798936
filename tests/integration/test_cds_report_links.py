"""A CDS card's link to the PDF report of its evaluation (issue 13), opened as a clinician's browser opens it: no
key, no token — the signed link is the permission, for that one report, until it expires. Rendered by a real
worker (PostgreSQL, Redis)."""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import replace

import msgspec
import pytest
from sqlalchemy import create_engine, text

from infra import report_links
from infra.cds_auth import Issuer
from infra.settings import load_settings
from tests import fhir_fixtures as f
from tests.cds_fixtures import BASE, EHR
from tests.integration.test_cds_hooks import BORN, RENAL, call, cards_of, hook_request
from tests.integration.workers import wait_for
from tests.pdftools import text_of

pytestmark = pytest.mark.postgres


@pytest.fixture
def cds_bulk_client(bulk_env, ehr):
    from litestar.testing import TestClient

    from api.app import create_app

    settings = replace(load_settings(bulk_env), cds_issuers={EHR: Issuer(jwks_file=str(ehr.jwks))}, public_url=BASE)
    with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
        yield client


def path_of(url: str) -> str:
    assert url.startswith(f"{BASE}/v1/report-links/")
    return urllib.parse.urlsplit(url).path


def test_every_card_links_to_the_pdf_of_its_evaluation_which_opens_without_a_key(cds_bulk_client, ehr, worker,
                                                                                  tmp_path):
    body = hook_request("patient-view", f.prefetch(patient_resource=f.patient(BORN), **RENAL))
    cards = cards_of(call(cds_bulk_client, ehr, "bonemets-patient-view", body, headers={"Accept-Language": "fr"}))
    links = [link for card in cards for link in card["links"] if "/v1/report-links/" in link["url"]]
    assert len(links) == len(cards) == 2 and len({link["url"] for link in links}) == 1  # one report per call
    assert links[0]["type"] == "absolute" and links[0]["label"] == "Rapport PDF de cette évaluation"
    assert f.PATIENT_ID not in links[0]["url"]
    path = path_of(links[0]["url"])

    first = cds_bulk_client.get(path)  # the browser: no Authorization header at all
    assert first.status_code in (200, 202)
    if first.status_code == 202:  # a page that reloads itself while the worker renders
        assert first.headers["content-type"].startswith("text/html") and 'http-equiv="refresh"' in first.text
        assert "Rapport en préparation" in first.text and first.headers["retry-after"] == "1"

    def ready():
        answer = cds_bulk_client.get(path)
        return answer if answer.status_code == 200 else None

    pdf = wait_for(ready, 60, interval=0.2, what="the card's report")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.headers["content-language"] == "fr"
    assert "no-store" in pdf.headers["cache-control"]
    content = " ".join(text_of(pdf.content, tmp_path).split())
    assert "AR-2" in content and "POST /cds-services/bonemets-patient-view" in content
    assert f.PATIENT_ID not in content
    # opened again: the same report, not another one
    assert cds_bulk_client.get(path).content == pdf.content
    engine = create_engine(cds_bulk_client.app.state.settings.database_url)
    with engine.connect() as conn:
        reports = conn.execute(text("SELECT client, source_audit_id FROM report")).all()
        answered = conn.execute(text("SELECT id FROM audit_record WHERE action = 'cds.answered'")).scalar_one()
    engine.dispose()
    assert reports == [(f"cds:{EHR}#chu-besancon", answered)]  # the report of the call's own audit record


def test_a_forged_an_altered_or_an_expired_link_opens_nothing(cds_bulk_client, ehr):
    body = hook_request("patient-view", f.prefetch(patient_resource=f.patient(BORN), **RENAL))
    (card, *_) = cards_of(call(cds_bulk_client, ehr, "bonemets-patient-view", body))
    path = path_of(card["links"][-1]["url"])
    grant_text, mac = path.rsplit("/", 1)[1].split(".")
    settings = cds_bulk_client.app.state.settings
    grant = report_links.verify(settings.pseudonym_key, f"{grant_text}.{mac}")
    # another answer's id under the same signature; a link signed with another key; garbage
    other = report_links.sign(settings.pseudonym_key, msgspec.structs.replace(grant, audit_id="0" * 36)).split(".")[0]
    forged = report_links.grant_for(b"k" * 40, audit_id=grant.audit_id, client=grant.client, language="en",
                                    ttl_s=60)
    for token in (f"{other}.{mac}", forged, "not-a-link", f"{grant_text}.{mac[:-2]}AA"):
        refused = cds_bulk_client.get(f"/v1/report-links/{token}")
        assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json"
    expired = report_links.grant_for(settings.pseudonym_key, audit_id=grant.audit_id, client=grant.client,
                                     language="en", ttl_s=60, now=time.time() - 3600)
    gone = cds_bulk_client.get(f"/v1/report-links/{expired}")
    assert gone.status_code == 410 and "expired" in gone.json()["detail"]
    # a true link for an answer that is not in the trail (signed by this service, say, before a purge)
    lost = report_links.grant_for(settings.pseudonym_key, audit_id="0" * 36, client=grant.client, language="en",
                                  ttl_s=60)
    assert cds_bulk_client.get(f"/v1/report-links/{lost}").status_code == 404

