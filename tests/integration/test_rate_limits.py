"""Per-client rate limits (issue 15): a client past its budget gets 429 with Retry-After, the RateLimit-Policy and
RateLimit fields (draft-ietf-httpapi-ratelimit-headers) and a problem document in its language; another client is
unaffected; the budget comes back with time; a refused request computes, audits and logs nothing of the patient.
Probes, the schema and unauthenticated routes are never limited; BONEMETS_RATE_LIMIT=off limits nothing."""

from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from dataclasses import replace

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from api.app import create_app
from infra import audit
from infra.cds_auth import Issuer
from infra.keys import create_key
from infra.log import configure_logging
from infra.settings import load_settings
from infra.tables import AuditRecord
from tests.cases import VALID
from tests.cds_fixtures import BASE, EHR
from tests.conftest import Keys

SECRET_REF = "IPP-7731-SECRET"  # a patient reference that must appear in no log line
FIELD = re.compile(r'^"(\w+)";r=(\d+);t=(\d+)$')


@contextmanager
def app_with(settings, log_stream=None, **limits):
    """The API with these budgets (name=(requests, seconds)) and no other."""
    if log_stream is not None:
        configure_logging("json", stream=log_stream)
    with TestClient(create_app(replace(settings, rate_limits=limits), configure_logs=False),
                    raise_server_exceptions=False) as client:
        yield client


def sins(client, key, language="en", patient_ref=None):
    body = {**VALID["sins"], **({"patient_ref": patient_ref} if patient_ref else {})}
    return client.post("/v1/scores/sins", json=body, headers={**Keys.header(key), "Accept-Language": language})


def remaining(response) -> tuple[str, int, int]:
    name, left, window = FIELD.match(response.headers["ratelimit"]).groups()
    return name, int(left), int(window)


def records(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(AuditRecord)).scalar_one()


def test_a_burst_past_the_budget_is_429_with_retry_after_the_ratelimit_fields_and_a_problem(settings, keys, engine,
                                                                                            log_stream):
    with app_with(settings, log_stream, api=(5, 5)) as client:
        served = [sins(client, keys.scoring, patient_ref="P-1") for _ in range(5)]
        refused = sins(client, keys.scoring, patient_ref=SECRET_REF)
        refused_fr = sins(client, keys.scoring, language="fr", patient_ref=SECRET_REF)
        other = sins(client, keys.everything)  # another client: a budget of its own
        wait = int(refused.headers["retry-after"])
        time.sleep(wait)
        again = sins(client, keys.scoring)
    assert [r.status_code for r in served] == [200] * 5
    assert [remaining(r)[1] for r in served] == [4, 3, 2, 1, 0]
    assert all(r.headers["ratelimit-policy"] == '"api";q=5;w=5' for r in served)
    assert refused.status_code == 429 and wait == 1  # one token a second: the next one within a second
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["ratelimit-policy"] == '"api";q=5;w=5'
    assert remaining(refused) == ("api", 0, wait)  # the effective window ends no later than Retry-After
    body = refused.json()
    assert body == {"type": "/problems/quota-exceeded", "title": "Too many requests", "status": 429,
                    "detail": "This client has used its 5 requests per 5 s for api calls; retry in 1 s.",
                    "instance": "/v1/scores/sins", "violated-policies": ["api"]}
    assert refused_fr.status_code == 429 and refused_fr.headers["content-language"] == "fr"
    assert refused_fr.json()["title"] == "Trop de requêtes"
    assert refused_fr.json()["detail"] == "Ce client a utilisé ses 5 requêtes par 5 s pour les appels api ; " \
                                          "réessayez dans 1 s."
    assert other.status_code == 200 and remaining(other)[1] == 4
    assert again.status_code == 200, again.text
    # a 429 gives no recommendation: five answers and the other client's and the last one audited, nothing else
    assert records(engine) == 7 and audit.verify(engine).intact
    logs = log_stream.getvalue()
    assert SECRET_REF not in logs
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    refusals = [line for line in lines if line.get("event") == "http.request" and line["status"] == 429]
    assert [(r["client"], r["rate_limited"]) for r in refusals] == [("hospital-a", "api")] * 2


def test_refusals_spend_nothing_and_the_budget_refills_at_its_rate(settings, keys):
    with app_with(settings, api=(2, 4)) as client:  # one request every 2 s
        first = [sins(client, keys.scoring) for _ in range(2)]
        hammering = [sins(client, keys.scoring) for _ in range(8)]  # refused: knocking does not delay the next one
        time.sleep(int(hammering[-1].headers["retry-after"]))
        back = sins(client, keys.scoring)
        unknown = client.get("/v1/catalogue", headers=Keys.header("not-a-key"))
    assert [r.status_code for r in first] == [200, 200]
    assert {r.status_code for r in hammering} == {429}
    retries = [int(r.headers["retry-after"]) for r in hammering]
    assert retries == sorted(retries, reverse=True) and retries[0] == 2
    assert back.status_code == 200 and remaining(back)[1] == 0
    assert unknown.status_code == 401 and "ratelimit" not in unknown.headers  # not authenticated: not counted


def test_probes_the_schema_and_unauthenticated_routes_are_never_limited(settings, engine):
    scoring, auditor = (create_key(engine, "hospital-z", (role,)) for role in ("scoring", "auditor"))  # one client
    with app_with(settings, api=(1, 60), audit=(1, 60), bulk=(1, 60), cds=(1, 60)) as client:
        answers = [client.get(path) for path in ("/health/live", "/health/ready", "/schema/openapi.json",
                                                  "/fhir/CodeSystem/bonemets", "/schema/swagger") for _ in range(5)]
        forbidden = [client.get("/v1/audit", headers=Keys.header(scoring)) for _ in range(3)]  # the wrong role
        audit_call = client.get("/v1/audit/verify", headers=Keys.header(auditor))
    assert {r.status_code for r in answers} == {200}
    assert not any("ratelimit" in r.headers for r in answers)
    assert {r.status_code for r in forbidden} == {403}  # refused before its budget: nothing spent
    assert audit_call.status_code == 200 and remaining(audit_call) == ("audit", 0, 60)


def test_each_policy_is_a_budget_of_its_own(settings, keys):
    ndjson = {**Keys.header(keys.everything), "Content-Type": "application/x-ndjson"}
    line = b'{"kind":"tomita","growth":"rapid","visceral_metastases":"none","bone_metastases":"multiple"}\n'
    settings.var_dir.mkdir(parents=True, exist_ok=True)  # the embedded broker's file
    with app_with(settings, api=(1, 60), bulk=(1, 3600), audit=(1, 60)) as client:
        scored = sins(client, keys.everything)
        submitted = client.post("/v1/bulk-jobs", content=line, headers=ndjson)
        status = client.get(submitted.headers["location"], headers=Keys.header(keys.everything))  # api: spent
        second = client.post("/v1/bulk-jobs", content=line, headers=ndjson)
        audited = client.get("/v1/audit", headers=Keys.header(keys.everything))
    assert scored.status_code == 200 and submitted.status_code == 202
    assert submitted.headers["ratelimit-policy"] == '"bulk";q=1;w=3600'
    assert status.status_code == 429 and status.json()["violated-policies"] == ["api"]
    assert second.status_code == 429 and second.json()["violated-policies"] == ["bulk"]
    assert 3500 <= int(second.headers["retry-after"]) <= 3600  # one submission an hour
    assert audited.status_code == 200


def test_cds_hooks_calls_are_limited_per_ehr(settings, keys, ehr):
    configured = replace(settings, cds_issuers={EHR: Issuer(jwks_file=str(ehr.jwks))}, public_url=BASE)
    with app_with(configured, cds=(2, 60)) as client:
        answers = [client.get("/cds-services", headers=ehr.headers("/cds-services")) for _ in range(3)]
        rest = sins(client, keys.scoring)
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[2].json()["violated-policies"] == ["cds"] and 28 <= int(answers[2].headers["retry-after"]) <= 30
    assert rest.status_code == 200  # an API key's client is another budget


def test_off_limits_nothing(settings, keys, tmp_path):
    env = {"BONEMETS_DATABASE_URL": settings.database_url, "BONEMETS_VAR_DIR": str(settings.var_dir),
           "BONEMETS_PSEUDONYM_KEY": settings.pseudonym_key.decode(), "BONEMETS_AUDIT_SIGNING_KEY": "5e" * 32,
           "BONEMETS_LOG_FORMAT": "json"}
    off = load_settings({**env, "BONEMETS_RATE_LIMIT": "off", "BONEMETS_RATE_LIMIT_API": "1/60"})
    api_off = load_settings({**env, "BONEMETS_RATE_LIMIT_API": "0", "BONEMETS_RATE_LIMIT_AUDIT": "1/60"})
    assert off.rate_limits == {} and "api" not in api_off.rate_limits
    with TestClient(create_app(off, configure_logs=False)) as client:
        answers = [sins(client, keys.scoring) for _ in range(30)]
        document = client.get("/schema/openapi.json").json()
    assert {r.status_code for r in answers} == {200} and not any("ratelimit" in r.headers for r in answers)
    assert "429" not in document["paths"]["/v1/scores/sins"]["post"]["responses"]
    with TestClient(create_app(api_off, configure_logs=False)) as client:
        answers = [sins(client, keys.scoring) for _ in range(30)]
        audits = [client.get("/v1/audit/verify", headers=Keys.header(keys.auditor)) for _ in range(2)]
    assert {r.status_code for r in answers} == {200}
    assert [r.status_code for r in audits] == [200, 429]


def test_the_document_declares_the_429_and_the_fields_of_every_limited_operation(client):
    document = client.get("/schema/openapi.json").json()
    limited = 0
    for path, item in document["paths"].items():
        for operation in item.values():
            responses = operation["responses"]
            if operation.get("security") == []:  # probes, schema, terminology, signed links: never limited
                assert "429" not in responses, path
                continue
            limited += 1
            assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= set(responses["429"]["headers"]), path
            assert "quota-exceeded" in responses["429"]["content"]["application/problem+json"]["examples"]
            for status, response in responses.items():
                if status.startswith("2"):
                    assert {"RateLimit", "RateLimit-Policy"} <= set(response.get("headers", {})), (path, status)
    assert limited >= 30


@pytest.mark.parametrize("value", ["600", "0/60", "600/0", "ten/60", "600/1.5", "-1/60"])
def test_a_malformed_budget_is_refused_at_start_naming_the_variable(value, tmp_path):
    from infra.settings import SettingsError

    with pytest.raises(SettingsError, match="BONEMETS_RATE_LIMIT_BULK"):
        load_settings({"BONEMETS_VAR_DIR": str(tmp_path), "BONEMETS_RATE_LIMIT_BULK": value}, install=True)
