"""Every answer that carries text says its language (issue 12): Content-Language with Vary: Accept-Language, and
problem details in French or English like the recommendations."""

from domain.texts.messages import translate
from tests.cases import VALID
from tests.conftest import Keys


def test_answers_and_problems_say_their_language(client, keys):
    scoring = Keys.header(keys.scoring)
    fr = client.post("/v1/scores/sins", json=VALID["sins"], headers={**scoring, "Accept-Language": "fr-FR, en;q=0.5"})
    assert fr.status_code == 200 and fr.headers["content-language"] == "fr"
    assert "Accept-Language" in fr.headers["vary"]
    en = client.post("/v1/scores/sins", json=VALID["sins"], headers=scoring)
    assert en.headers["content-language"] == "en"
    bad = client.post("/v1/scores/sins", json={**VALID["sins"], "lesion": "osteolytic"},
                      headers={**scoring, "Accept-Language": "fr"})
    body = bad.json()
    assert bad.status_code == 400 and bad.headers["content-language"] == "fr"
    assert (body["title"], body["detail"]) == ("Requête invalide", "La requête ne respecte pas le schéma d'entrée.")
    assert body["type"] == "/problems/invalid-input"  # the same in every language
    refused = client.get("/v1/catalogue", headers={"Accept-Language": "fr"})
    assert refused.status_code == 401 and refused.json()["title"] == "Authentification requise"
    # the audit trail holds each answer in its own language: no one Content-Language for it
    audit = client.get("/v1/audit", headers={**Keys.header(keys.auditor), "Accept-Language": "fr"})
    assert audit.status_code == 200 and "content-language" not in audit.headers


def _problems(response) -> list[str]:
    body = response.json()
    return [body["detail"], *(e["message"] for e in body.get("errors") or [])]


def _asked_in_both(client, method: str, url: str, **kwargs):
    headers = kwargs.pop("headers", {})
    en = getattr(client, method)(url, headers={**headers, "Accept-Language": "en"}, **kwargs)
    fr = getattr(client, method)(url, headers={**headers, "Accept-Language": "fr"}, **kwargs)
    return en, fr


def test_every_problem_the_service_sends_is_in_french_when_french_is_asked(client, keys):
    """The same request in English and in French: the French problem is the English one translated, message by
    message, and no message is left in English (domain/texts/messages.py)."""
    scoring, registry, auditor = (Keys.header(k) for k in (keys.scoring, keys.registry, keys.auditor))
    missing = "0c1d2e3f-0000-4000-8000-000000000000"
    requests = [
        ("post", "/v1/scores/sins", {"json": {**VALID["sins"], "lesion": "osteolytic", "pain": 3, "zzz": 1},
                                     "headers": scoring}),
        ("post", "/v1/scores/sins", {"json": {**VALID["sins"], "level": "T6"}, "headers": scoring}),
        ("post", "/v1/scores/tokuhashi", {"json": {**VALID["tokuhashi"], "karnofsky": 55}, "headers": scoring}),
        ("post", "/v1/pathways/spine", {"json": {"cord_compression": True, "cord_threat": False},
                                        "headers": scoring}),
        ("post", "/v1/pathways/antiresorptive", {"json": {"creatinine": {"value": 10, "unit": "umol_l"}},
                                                 "headers": scoring}),
        ("post", "/v1/evaluations", {"json": {"lesions": [{"id": "a", "kind": "spine"}] * 2}, "headers": scoring}),
        ("post", "/v1/scores/sins", {"content": b"{not json", "headers": {**scoring, "content-type":
                                                                              "application/json"}}),
        ("get", "/v1/catalogue", {}),
        ("get", "/v1/catalogue", {"headers": {"Authorization": "Bearer nope"}}),
        ("get", "/v1/audit", {"headers": scoring}),
        ("get", f"/v1/bulk-jobs/{missing}", {"headers": registry}),
        ("get", f"/v1/reports/{missing}", {"headers": scoring}),
        ("post", "/v1/bulk-jobs", {"content": b"x", "headers": {**registry, "content-type": "text/plain"}}),
        ("post", "/v1/bulk-jobs", {"content": b"[{}", "headers": {**registry, "content-type": "application/json"}}),
        ("post", "/v1/bulk-jobs", {"content": b"{}", "headers": {**registry, "content-type": "application/x-ndjson",
                                                                  "Idempotency-Key": "k" * 200}}),
        ("post", "/v1/scores/sins", {"content": b" " * 70_000 + b"{}", "headers": {
            **scoring, "content-type": "application/json"}}),
        ("get", "/v1/audit", {"params": {"cursor": "forged"}, "headers": auditor}),
        ("get", "/v1/audit", {"params": {"since": "yesterday"}, "headers": auditor}),
        ("get", "/v1/nowhere", {"headers": scoring}),
        ("get", "/v1/audit/manifest", {"headers": auditor}),  # a required query parameter missing
        ("get", "/v1/bulk-jobs", {"params": {"limit": "0"}, "headers": registry}),
    ]
    statuses = set()
    for method, url, kwargs in requests:
        en, fr = _asked_in_both(client, method, url, **kwargs)
        assert en.status_code == fr.status_code and en.status_code >= 400, (url, en.status_code, en.text)
        statuses.add(en.status_code)
        assert fr.headers["content-type"].startswith("application/problem+json")
        english, french = _problems(en), _problems(fr)
        assert len(english) == len(french)
        for text_en, text_fr in zip(english, french, strict=True):
            assert translate(text_en) == text_fr, (url, text_en, text_fr)
    assert statuses >= {400, 401, 403, 404, 413, 415, 422}
    missing = client.get("/v1/audit/manifest", headers=auditor).json()["errors"]
    assert missing == [{"field": "through_seq", "message": "required", "allowed": None}]


def test_accept_language_and_accept_are_weighed_by_one_reading_of_q():
    """api.audited.ranked reads both headers (RFC 9110, 12.4.2): `q=0` refuses, a weight out of 0..1 or not a
    number counts as 0, other parameters before `q` do not hide it; a primary tag stands for its regions."""
    from api.audited import negotiate, ranked

    assert ranked("application/fhir+json;q=0, application/json") == {"application/fhir+json": 0.0,
                                                                     "application/json": 1.0}
    assert ranked("Text/HTML;level=1;q=0.4, text/html;q=0.7, ,") == {"text/html": 0.7}
    assert ranked("fr;q=2, en;q=nan, de;q=x") == {"fr": 0.0, "en": 0.0, "de": 0.0}
    for header, lang in [("fr-CA, en;q=0.8", "fr"), ("en;q=0.3, fr;q=0.9", "fr"), ("fr;q=0", "en"),
                         ("fr;level=1;q=0.2, en;q=0.5", "en"), ("fr;q=abc, en;q=0.1", "en"), ("de, *", "en"),
                         ("fr;q=0.5, en;q=0.5", "fr"), ("", "en"), ("FR", "fr")]:
        assert negotiate(header) == lang, header


def test_a_language_refused_with_q_0_is_not_answered_in(client, keys):
    r = client.post("/v1/scores/sins", json=VALID["sins"], headers={**Keys.header(keys.scoring),
                                                                     "Accept-Language": "fr;q=0, de"})
    assert r.status_code == 200 and r.headers["content-language"] == "en"
    assert r.json()["recommendation"]["text"] == client.post(
        "/v1/scores/sins", json=VALID["sins"], headers=Keys.header(keys.scoring)).json()["recommendation"]["text"]


def test_the_audit_trails_problems_say_their_language_and_name_the_parameter(client, keys):
    """The trail's records hold no one language, but a problem about a query is worded in the caller's."""
    r = client.get("/v1/audit", params={"since": "garbage"}, headers={**Keys.header(keys.auditor),
                                                                     "Accept-Language": "fr"})
    assert r.status_code == 400 and r.headers["content-language"] == "fr"
    assert "Accept-Language" in r.headers["vary"]
    assert [e["field"] for e in r.json()["errors"]] == ["since"]
    assert r.json()["errors"][0]["message"].startswith("since doit être une date")
    refused = client.get("/v1/audit", headers={"Accept-Language": "fr"})
    assert refused.status_code == 401 and refused.headers["content-language"] == "fr"


def test_a_body_malformed_after_a_number_no_float_holds_is_called_malformed_in_its_language(client, keys):
    r = client.post("/v1/scores/sins", content=b'{"collapse_percent": 1e400, "level": "T12"',
                    headers={**Keys.header(keys.scoring), "content-type": "application/json", "Accept-Language": "fr"})
    assert r.status_code == 400 and r.headers["content-language"] == "fr"
    assert r.json()["errors"] == [{"field": "$", "message": "JSON mal formé : données tronquées", "allowed": None}]
