"""Every page of a filtered audit query stays inside its filters (issue 11, item 4): the cursor carries the
query (signed, with the patient's keyed hash, never the reference), a FHIR `next` link is that cursor alone, and
a cursor sent beside other filters or another limit is refused; other clients write between the pages."""

from litestar.testing import TestClient

from api.app import create_app
from infra.keys import create_key
from tests.conftest import Keys

TOMITA = {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}


def test_filtered_pages_never_leave_their_filters_and_a_foreign_cursor_is_refused(settings, engine, keys):
    other = create_key(engine, "hospital-b", ("scoring",))
    with TestClient(create_app(settings, configure_logs=False)) as client:
        for _ in range(7):  # two clients write, interleaved
            client.post("/v1/scores/tomita", json={**TOMITA, "patient_ref": "P-42"}, headers=Keys.header(keys.scoring))
            client.post("/v1/scores/tomita", json=TOMITA, headers=Keys.header(other))
        auditor = Keys.header(keys.auditor)
        for fmt in ("json", "fhir"):
            seen, url, params = [], "/v1/audit", {"client": "hospital-a", "limit": 3, "format": fmt}
            while url:
                body = client.get(url, params=params, headers=auditor).json()
                # other clients write while the reviewer pages
                client.post("/v1/scores/tomita", json=TOMITA, headers=Keys.header(other))
                if fmt == "json":
                    seen += [r["client"] for r in body["records"]]
                    url = "/v1/audit" if body["next_cursor"] else None
                    params = {"cursor": body["next_cursor"]}
                else:
                    seen += [e["resource"]["agent"][0]["who"]["display"] for e in body.get("entry", [])]
                    nxt = [link["url"] for link in body.get("link", []) if link["relation"] == "next"]
                    assert all("P-42" not in link and "client" not in link for link in nxt)
                    url, params = (nxt[0], None) if nxt else (None, None)
            assert seen == ["hospital-a"] * 7, (fmt, seen)
        first = client.get("/v1/audit", params={"client": "hospital-a", "limit": 3}, headers=auditor).json()
        foreign = client.get("/v1/audit", params={"client": "hospital-b", "cursor": first["next_cursor"]},
                             headers=auditor)
        assert foreign.status_code == 400 and "another query" in foreign.json()["detail"]
        forged = client.get("/v1/audit", params={"cursor": first["next_cursor"][:-2] + "00"}, headers=auditor)
        assert forged.status_code == 400
