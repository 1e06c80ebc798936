"""Every answer that carries text says its language (issue 12): Content-Language with Vary: Accept-Language, and
problem details in French or English like the recommendations."""

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
