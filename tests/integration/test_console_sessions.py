"""The console's sessions, CSRF and limits through the app in-process, on SQLite and PostgreSQL (the application
role's rights are enough): what the browser tests rely on, at the edges a browser cannot easily reach."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from litestar.testing import TestClient

from api.app import create_app
from infra.settings import Settings
from tests.conftest import Keys

SINS = {"pain": "mechanical", "lesion": "lytic", "alignment": "normal", "posterolateral": "none", "level": "T12",
        "collapse_percent": "30"}


def token_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in(client: TestClient, key: str) -> str:
    """Signs in; the CSRF token of the session's forms."""
    form = client.get("/console/sign-in")
    answer = client.post("/console/sign-in", data={"csrf": token_of(form.text), "api_key": key,
                                                   "next": "/console/compute/sins"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/compute/sins"
    return token_of(client.get("/console/compute/sins").text)


def test_a_console_answer_is_audited_with_the_key_s_client_and_never_keeps_the_key(client: TestClient,
                                                                                    keys: Keys) -> None:
    token = signed_in(client, keys.everything)
    page = client.post("/console/compute/sins", data={**SINS, "csrf": token})
    assert page.status_code == 200 and "SP-3" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    audit_id = re.search(r'id="audit-id">([^<]+)<', page.text).group(1)
    found = client.get("/v1/audit", params={"action": "score.computed"}, headers=Keys.header(keys.auditor)).json()
    record = next(r for r in found["records"] if r["id"] == audit_id)
    assert record["client"] == "ops" and record["endpoint"] == "POST /console/compute/sins"
    cookie = client.cookies.get("bonemets_console")
    assert cookie and keys.everything not in cookie


def test_every_console_download_carries_the_consoles_security_headers(client: TestClient, keys: Keys) -> None:
    """An audit export holds patients' keyed hashes and answers: like every console page, no copy kept by a shared
    workstation's cache, no sniffing, no framing (the static files keep their own caching)."""
    from api.console.web import SECURITY_HEADERS

    token = signed_in(client, keys.everything)
    assert client.post("/console/compute/sins", data={**SINS, "csrf": token}).status_code == 200
    for fmt in ("ndjson", "csv", "fhir"):
        download = client.get("/console/audit/export", params={"format": fmt})
        assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment;")
        assert {k: download.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS, fmt
    assert "cache-control" not in client.get("/console/static/console.css").headers


def test_sign_in_its_refusals_and_sign_out_are_logged_as_security_events_never_with_the_key(
        client: TestClient, keys: Keys, log_stream) -> None:
    import json

    def events() -> list[dict]:
        lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.strip()]
        return [line for line in lines if line["event"].startswith("console.")]

    form = client.get("/console/sign-in")
    wrong = keys.everything[:-4] + "XXXX"
    assert client.post("/console/sign-in", data={"csrf": token_of(form.text), "api_key": wrong}).status_code == 401
    assert client.post("/console/sign-in", data={"csrf": "forged", "api_key": wrong}).status_code == 403
    token = signed_in(client, keys.everything)
    assert client.post("/console/sign-out", data={"csrf": "forged"}).status_code == 403
    assert client.post("/console/sign-out", data={"csrf": token}, follow_redirects=False).status_code == 303
    key_id = keys.everything.split("_")[1]
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.strip()]
    for event in events():  # each with its access line's request id, for a SIEM to join them
        assert [x["status"] for x in lines if x["event"] == "http.request" and x["request_id"] == event[
            "request_id"]] == [{"console.signed_in": 303, "console.signed_out": 303}.get(event["event"], 403 if (
                "csrf" in event["event"] or "CSRF" in event.get("reason", "")) else 401)], event
    found = [{k: v for k, v in e.items() if k not in ("timestamp", "logger", "request_id")} for e in events()]
    assert found == [
        {"event": "console.sign_in_refused", "level": "warning", "reason": "unknown, revoked or expired key"},
        {"event": "console.sign_in_refused", "level": "warning",
         "reason": "the sign-in form's CSRF token is missing or wrong"},
        {"event": "console.signed_in", "level": "info", "client": "ops", "key_id": found[2]["key_id"],
         "roles": ["auditor", "registry", "scoring"]},
        {"event": "console.csrf_refused", "level": "warning", "client": "ops", "key_id": found[2]["key_id"],
         "path": "/console/sign-out"},
        {"event": "console.signed_out", "level": "info", "client": "ops", "key_id": found[2]["key_id"]},
    ], found
    assert key_id in found[2]["key_id"]
    assert keys.everything not in log_stream.getvalue() and wrong not in log_stream.getvalue()


def test_a_form_over_the_body_limit_is_a_page_saying_the_limit_in_the_consoles_language(client: TestClient) -> None:
    big = client.post("/console/sign-in", content=b"api_key=" + b"x" * (65 * 1024), headers={
        "content-type": "application/x-www-form-urlencoded", "accept-language": "fr"})
    assert big.status_code == 413 and '<html lang="fr"' in big.text
    assert "le corps dépasse 65536 octets" in big.text and "Request Entity Too Large" not in big.text


def test_sign_in_never_sends_the_browser_to_another_site(client: TestClient, keys: Keys) -> None:
    form = client.get("/console/sign-in")
    for target in ("https://evil.example/", "//evil.example/console", "/v1/audit"):
        answer = client.post("/console/sign-in", data={"csrf": token_of(form.text), "api_key": keys.scoring,
                                                       "next": target}, follow_redirects=False)
        assert answer.headers["location"] == "/console/", target
        form = client.get("/console/sign-in")


def test_an_unknown_key_is_a_401_page_and_opens_no_session(client: TestClient) -> None:
    form = client.get("/console/sign-in")
    answer = client.post("/console/sign-in", data={"csrf": token_of(form.text), "api_key": "not-a-key"})
    assert answer.status_code == 401 and "unknown, revoked or expired" in answer.text
    assert client.get("/console/", follow_redirects=False).status_code == 303


@pytest.fixture
def short(settings: Settings) -> Settings:
    """Sessions of 1 s absolute life, a console behind an HTTPS proxy, 3 API requests a minute per client."""
    return replace(settings, console_session_max_s=1.0, public_url="https://bonemets.example",
                   rate_limits={"api": (3, 60)})


def test_settings_end_sessions_mark_cookies_secure_and_limit_the_console(short: Settings, keys: Keys) -> None:
    import time

    # the browser speaks HTTPS to the proxy: Secure cookies come back over it
    with TestClient(create_app(short, configure_logs=False), raise_server_exceptions=False,
                    base_url="https://testserver.local") as client:
        form = client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"csrf": token_of(form.text), "api_key": keys.scoring},
                             follow_redirects=False)
        set_cookie = answer.headers.get_list("set-cookie")
        session = next(c for c in set_cookie if c.startswith("bonemets_console="))
        assert "Secure" in session and "HttpOnly" in session and "SameSite=strict" in session
        statuses = [client.get("/console/compute").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]  # the REST API's budget, per client
        time.sleep(1.2)
        assert client.get("/console/compute", follow_redirects=False).status_code == 303  # ended: sign in again
