"""The compute endpoints' direct path (api.direct) answers exactly as the full application does — the same status,
header fields, body, audit record, log line and rate-limit token — for every kind, and leaves every request that
is not the plain case to the full application, which answers it as it always has.

Each test sends the same request twice to one application: once with the direct path on, once with it off
(`app.direct = None`, the application as it was before the direct path existed), and compares the two.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace

import msgspec
import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from api.app import create_app
from domain.kinds import KINDS
from infra.audit import AuditUnavailable
from infra.log import configure_logging
from infra.tables import AuditRecord
from tests.cases import VALID
from tests.conftest import Keys

# what differs between any two answers, whoever gives them
PER_REQUEST_HEADERS = {"x-request-id", "ratelimit", "content-length", "date"}
PER_REQUEST_LOG = {"request_id", "duration_ms", "audit_id", "timestamp"}
PER_RECORD = {"seq", "id", "created_at", "request_id", "prev_hash", "hash"}
RATE = re.compile(r'^"api";r=(\d+);t=\d+$')


class Spied:
    """The application under test, recording what its direct path did with each request."""

    def __init__(self, client: TestClient, log_stream) -> None:
        self.client, self.log_stream = client, log_stream
        self.app = client.app
        self.direct = self.app.direct
        self.outcomes: list[str] = []
        serve = self.direct.serve

        async def recording(route, scope, receive, send):
            read = await serve(route, scope, receive, send)
            self.outcomes.append("served" if read is None else "declined")
            return read

        self.direct.serve = recording
        self.measured: list[tuple[str, str, int]] = []  # what the operator's metrics were given: route, status
        metrics = self.app.request_metrics

        def measuring(scope, status, seconds):
            self.measured.append((scope["method"], scope.get("path_template", "unmatched"), status))
            metrics(scope, status, seconds)

        self.app.request_metrics = measuring

    def post(self, path: str, *, direct: bool, **kwargs):
        self.app.direct = self.direct if direct else None
        try:
            return self.client.post(path, **kwargs)
        finally:
            self.app.direct = self.direct

    def last_log(self) -> dict:
        lines = [json.loads(line) for line in self.log_stream.getvalue().splitlines() if line.strip()]
        return [line for line in lines if line.get("event") == "http.request"][-1]


@pytest.fixture
def spied(settings, keys, log_stream) -> Iterator[Spied]:
    configure_logging("json", stream=log_stream)
    # a budget that does not refill during a test (a token a century): the tokens each request spends are counted
    # by the difference of RateLimit's whole tokens, which a refill between two requests on a slow machine upset
    app = create_app(replace(settings, rate_limits={"api": (1000, 3_153_600_000)}), configure_logs=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Spied(client, log_stream)


def record(engine, audit_id: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(select(AuditRecord).where(AuditRecord.id == audit_id)).one()
    return {name: value for name, value in row._mapping.items() if name not in PER_RECORD}


def headers_of(response) -> list[tuple[str, str]]:
    """The header fields in the order sent, but those that differ between any two answers."""
    return [(name, value) for name, value in response.headers.multi_items() if name not in PER_REQUEST_HEADERS]


def tokens_left(response) -> int:
    return int(RATE.match(response.headers["ratelimit"]).group(1))


def both(spied: Spied, path: str, **kwargs):
    """The request answered with the direct path on, then off: (direct answer, its log line, full answer, its log
    line)."""
    direct = spied.post(path, direct=True, **kwargs)
    direct_log = spied.last_log()
    full = spied.post(path, direct=False, **kwargs)
    return direct, direct_log, full, spied.last_log()


def assert_same(direct, direct_log: dict, full, full_log: dict) -> None:
    assert direct.status_code == full.status_code
    assert headers_of(direct) == headers_of(full)
    assert ("ratelimit" in direct.headers) == ("ratelimit" in full.headers)
    assert {k: v for k, v in direct_log.items() if k not in PER_REQUEST_LOG} == \
        {k: v for k, v in full_log.items() if k not in PER_REQUEST_LOG}
    assert direct_log.keys() == full_log.keys()
    assert direct_log["request_id"] == direct.headers["x-request-id"]


@pytest.mark.parametrize("name", list(KINDS))
@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_kind_is_answered_audited_and_logged_as_the_full_application_does(spied, keys, engine, name,
                                                                               language):
    kind = KINDS[name]
    body = {**kind.example, "patient_ref": "IPP-DIRECT-1"}
    headers = {**Keys.header(keys.scoring), "Accept-Language": language}
    spied.post(kind.path, direct=True, json=body, headers=headers)  # the key's first call: loaded, then cached
    assert spied.outcomes == ["declined"]

    direct, direct_log, full, full_log = both(spied, kind.path, json=body, headers=headers)

    assert spied.outcomes == ["declined", "served"]
    assert direct.status_code == 200
    assert_same(direct, direct_log, full, full_log)
    assert direct.headers["content-type"] == "application/json"
    answer, full_answer = direct.json(), full.json()
    assert answer.pop("audit_id") == direct_log["audit_id"]
    full_answer.pop("audit_id")
    assert answer == full_answer
    assert record(engine, direct_log["audit_id"]) == record(engine, full_log["audit_id"])
    assert tokens_left(direct) - tokens_left(full) == 1  # one token each
    assert spied.measured[-2:] == [("POST", kind.path, 200)] * 2


SINS = "/v1/scores/sins"
# (path, request, what the direct path does with it)
NOT_PLAIN = {
    "a field out of its values (400)": (SINS, dict(json={**VALID["sins"], "pain": "sharp"}), "declined"),
    "an unknown field (400)": (SINS, dict(json={**VALID["sins"], "colour": "red"}), "declined"),
    "not JSON (400)": (SINS, dict(content=b"{not json", headers={"content-type": "application/json"}), "declined"),
    "an empty body (400)": (SINS, dict(content=b"", headers={"content-type": "application/json"}), "declined"),
    "values that contradict each other (422)": (SINS, dict(json={**VALID["sins"], "level": "L3"}), "declined"),
    "a patient reference inside a block (400)": ("/v1/pathways/spine", dict(json={
        "sins": {**VALID["sins"], "patient_ref": "IPP-NESTED"}}), "declined"),
    "a body over the limit (413)": (SINS, dict(content=b" " * (65 * 1024) + msgspec.json.encode(VALID["sins"]),
                                               headers={"content-type": "application/json"}), "declined"),
    "a FHIR answer asked for": (SINS, dict(json=VALID["sins"], headers={"accept": "application/fhir+json"}),
                                "declined"),
    # media types are case-insensitive (RFC 9110, 8.3.1): the full application reads this as FHIR too
    "a FHIR answer asked for in capitals": (SINS, dict(json=VALID["sins"], headers={
        "accept": "Application/FHIR+JSON"}), "declined"),
    "a number no float holds (400)": (SINS, dict(content=b'{"pain": 1e400}', headers={
        "content-type": "application/json"}), "declined"),
    # Litestar's own decoding converts it (strict=False); the full application then reads the body strictly
    # (api.routes.compute.strictly): a 400 naming the field, whichever path is offered it first
    "a number sent as a string (400)": ("/v1/scores/rades", dict(json={**VALID["rades"], "interval_months": "8"}),
                                        "declined"),
}


@pytest.mark.parametrize("case", list(NOT_PLAIN))
def test_what_is_not_the_plain_case_is_the_full_applications_answer_and_spends_one_token(spied, keys, case):
    path, extra, outcome = NOT_PLAIN[case]
    headers = {**Keys.header(keys.scoring), **extra.get("headers", {})}
    kwargs = {k: v for k, v in extra.items() if k != "headers"}
    spied.post(SINS, direct=True, json=VALID["sins"], headers=Keys.header(keys.scoring))  # the key cached
    before = spied.post(SINS, direct=False, json=VALID["sins"], headers=Keys.header(keys.scoring))
    spied.outcomes.clear()

    direct, direct_log, full, full_log = both(spied, path, headers=headers, **kwargs)

    assert spied.outcomes == [outcome]
    assert_same(direct, direct_log, full, full_log)
    if direct.status_code == 200:
        assert direct.json().keys() == full.json().keys()
    else:
        assert direct.status_code >= 400
        assert direct.json() == full.json()
    assert tokens_left(before) - tokens_left(direct) == 1  # declined after its token: never a second one
    assert tokens_left(direct) - tokens_left(full) == 1


@pytest.mark.parametrize("who", ["no key", "an unknown key", "a key without the scoring role"])
def test_callers_the_key_cache_does_not_vouch_for_are_left_to_authentication(spied, keys, who):
    headers = {"no key": {}, "an unknown key": Keys.header("bm_000000000000_" + "x" * 43),
               "a key without the scoring role": Keys.header(keys.registry)}[who]
    if who == "a key without the scoring role":
        spied.post("/v1/scores/sins", direct=True, json=VALID["sins"], headers=headers)  # now in the cache
    spied.outcomes.clear()

    direct, direct_log, full, full_log = both(spied, "/v1/scores/sins", json=VALID["sins"], headers=headers)

    assert direct.status_code in (401, 403)
    assert_same(direct, direct_log, full, full_log)
    assert direct.json() == full.json()
    assert spied.outcomes == ["declined"]


def test_a_client_past_its_budget_gets_the_same_429_and_nothing_is_computed_or_kept(settings, keys, engine,
                                                                                    log_stream):
    configure_logging("json", stream=log_stream)
    with TestClient(create_app(replace(settings, rate_limits={"api": (3, 3600)}), configure_logs=False),
                    raise_server_exceptions=False) as client:
        spied = Spied(client, log_stream)
        for _ in range(3):
            assert spied.post("/v1/scores/sins", direct=True, json=VALID["sins"],
                              headers=Keys.header(keys.scoring)).status_code == 200
        kept = record_count(engine)
        spied.outcomes.clear()

        direct, direct_log, full, full_log = both(spied, "/v1/scores/sins", json=VALID["sins"],
                                                  headers=Keys.header(keys.scoring))

    assert direct.status_code == 429
    assert_same(direct, direct_log, full, full_log)
    assert direct.json() == full.json()
    assert direct_log["rate_limited"] == "api"
    assert spied.outcomes == ["served"]
    assert spied.measured[-2:] == [("POST", SINS, 429)] * 2
    assert record_count(engine) == kept


FAILURES = {  # what the audit step may raise -> the answer's status
    "the audit trail unavailable": (AuditUnavailable("audit commit timed out"), 503),
    "the database unreachable": (OperationalError("INSERT", None, Exception("server closed the connection")), 503),
    "a defect of ours": (RuntimeError("unexpected"), 500),
}


@pytest.mark.parametrize("what", list(FAILURES))
def test_a_failure_once_the_audit_is_asked_for_is_the_full_applications_answer_and_no_recommendation(
        spied, keys, monkeypatch, what):
    error, status = FAILURES[what]
    spied.post("/v1/scores/sins", direct=True, json=VALID["sins"], headers=Keys.header(keys.scoring))
    spied.outcomes.clear()

    async def failing(entry):
        raise error

    monkeypatch.setattr(spied.app.state.audit_writer, "append", failing)
    direct, direct_log, full, full_log = both(spied, "/v1/scores/sins", json=VALID["sins"],
                                              headers={**Keys.header(keys.scoring), "Accept-Language": "fr"})

    assert direct.status_code == status
    assert_same(direct, direct_log, full, full_log)
    assert direct.json() == full.json()
    assert direct.headers["content-type"] == "application/problem+json"
    assert "total" not in direct.text
    assert spied.outcomes == ["served"]
    assert spied.measured[-2:] == [("POST", SINS, status)] * 2


def test_a_host_header_the_router_refuses_never_reaches_the_direct_path(spied, keys):
    spied.post(SINS, direct=True, json=VALID["sins"], headers=Keys.header(keys.scoring))
    spied.outcomes.clear()

    direct, direct_log, full, full_log = both(spied, SINS, json=VALID["sins"],
                                              headers={**Keys.header(keys.scoring), "host": "exa mple"})

    assert direct.status_code == 400
    assert_same(direct, direct_log, full, full_log)
    assert direct.json() == full.json()
    assert spied.outcomes == []


def test_behind_a_root_path_the_full_application_routes(spied):
    scope = {"type": "http", "method": "POST", "path": "/v1/scores/sins", "headers": [(b"host", b"bonemets")]}
    assert spied.direct.route(scope) is not None
    assert spied.direct.route({**scope, "root_path": "/v1"}) is None  # Litestar strips it first: a 404 there
    assert spied.direct.route({**scope, "method": "GET"}) is None


def test_a_request_is_authenticated_once_before_its_body_whichever_path_answers(spied, keys, monkeypatch):
    """A key revoked (or its cache entry lapsing) while a body the direct path declines is uploading: the full
    application answers with the authentication made before the body, as it does alone — not a second look that
    turns a charged request into a 401."""
    spied.post(SINS, direct=True, json=VALID["sins"], headers=Keys.header(keys.scoring))
    cached = spied.app.state.key_store.cached
    looks: list[int] = []

    def revoked_after_the_first_look(key):
        looks.append(1)
        return cached(key) if len(looks) == 1 else (True, None)

    monkeypatch.setattr(spied.app.state.key_store, "cached", revoked_after_the_first_look)
    lax = {**VALID["rades"], "interval_months": "8"}  # declined by the direct path, after its token
    answer = spied.post("/v1/scores/rades", direct=True, json=lax, headers=Keys.header(keys.scoring))
    assert answer.status_code == 400, answer.text  # about its body, as alone: not a 401 for a charged request
    assert answer.json()["errors"][0]["field"] == "interval_months"
    assert looks == [1]


def record_count(engine) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
