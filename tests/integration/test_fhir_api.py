"""FHIR R4 from the REST API (issue 13): a score or a whole case asked with Accept: application/fhir+json comes back
as FHIR resources, audited like the JSON answer; the CodeSystem its codes come from is published, without a key."""

import msgspec
import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import text

from domain.evaluation import EXAMPLE
from infra.db import make_engine
from tests.cases import VALID
from tests.conftest import Keys

FHIR = {"Accept": "application/fhir+json"}


def valid(resource):
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_a_score_asked_as_fhir_is_an_audited_bundle_of_valid_resources(client, keys):
    answer = client.post("/v1/scores/tokuhashi", json={**VALID["tokuhashi"], "patient_ref": "IPP-77"},
                         headers={**Keys.header(keys.scoring), **FHIR})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/fhir+json")
    bundle = answer.json()
    valid(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Observation", "RiskAssessment", "GuidanceResponse"]
    for entry in bundle["entry"]:
        valid(entry["resource"])
    assert "IPP-77" not in answer.text  # the patient by keyed hash only
    engine = make_engine(client.app.state.settings.database_url)
    with engine.connect() as conn:
        audited = conn.execute(text("SELECT id FROM audit_record WHERE action = 'score.computed'")).scalars().all()
    engine.dispose()
    assert bundle["identifier"]["value"] in audited


def test_a_whole_case_as_fhir_validates(client, keys):
    answer = client.post("/v1/evaluations", content=msgspec.json.encode(EXAMPLE),
                         headers={**Keys.header(keys.scoring), **FHIR, "content-type": "application/json"})
    bundle = answer.json()
    assert answer.status_code == 200
    for entry in valid(bundle).entry:
        assert entry.resource is not None
    plain = client.post("/v1/evaluations", content=msgspec.json.encode(EXAMPLE),
                        headers={**Keys.header(keys.scoring), "content-type": "application/json"}).json()
    guidance = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "GuidanceResponse"]
    assert len([g for g in guidance if g["status"] == "success"]) == len(plain["recommendations"]) + len(
        plain["withheld"])
    assert len([g for g in guidance if g["status"] == "data-requested"]) == len(plain["not_evaluable"])
    observations = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(observations) == len(plain["scores"])


def test_the_code_system_is_published_without_a_key(client):
    answer = client.get("/fhir/CodeSystem/bonemets")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/fhir+json")
    assert valid(answer.json()).url == "https://bonemets.org/fhir/CodeSystem/bonemets"
    assert valid(client.get("/fhir/ValueSet/bonemets").json()).compose.include[0].system == answer.json()["url"]



@pytest.mark.parametrize(("accept", "fhir"), [
    ("application/fhir+json", True),
    ("application/fhir+json;q=0.9, application/json;q=0.5", True),
    ("application/json, application/fhir+json", True),
    ("application/fhir+json;q=0, application/json", False),  # refused (a user trying the service got FHIR)
    ("application/json, application/fhir+json;q=0.5", False),  # plain JSON preferred
    ("application/json", False),
])
def test_fhir_is_answered_when_the_accept_header_asks_for_it_at_least_as_much_as_json(client, keys, accept, fhir):
    for _ in range(2):  # the key's first call, then cached (the direct path leaves any FHIR Accept to the app)
        r = client.post("/v1/scores/sins", json=VALID["sins"], headers={**Keys.header(keys.scoring),
                                                                      "Accept": accept})
        assert r.status_code == 200
        assert r.headers["content-type"] == ("application/fhir+json" if fhir else "application/json")
        assert ("resourceType" in r.json()) is fhir
