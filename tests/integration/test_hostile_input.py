"""Never a 500 for what a client sends (issue 10), with the inputs a schema-driven fuzzer does not make: NUL
characters, invalid UTF-8, deep nesting, dates at the calendar's ends, cursors past 64 bits, identifiers that are
not ours. Each is a 4xx problem document, on SQLite and on PostgreSQL (where a NUL is a database error)."""

import base64

import pytest

from tests.conftest import Keys

DEEP_ARRAY = b"[" * 20_000 + b"]" * 20_000  # under the body limit, past any recursion limit
DEEP_OBJECT = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
BIG_CURSOR = base64.urlsafe_b64encode(str(2**70).encode()).decode()
CASES = [
    ("POST", "/v1/scores/sins", {"content": DEEP_ARRAY}, 400),
    ("POST", "/v1/evaluations", {"content": DEEP_OBJECT}, 400),
    ("POST", "/v1/scores/sins", {"content": b'{"location":"\xff\xfe"}'}, 400),
    ("POST", "/v1/scores/sins", {"content": b'{"location":"junctional\x00"}'}, 400),
    ("POST", "/v1/reports", {"json": {"audit_id": "a\u0000b"}}, 404),
    ("GET", "/v1/reports/a%00b", {}, 404),
    ("GET", "/v1/bulk-jobs/a%00b", {}, 404),
    ("GET", "/v1/bulk-jobs/" + "9" * 40, {}, 404),
    ("GET", "/v1/audit", {"params": {"client": "a\u0000b"}}, 400),
    ("GET", "/v1/audit", {"params": {"client": "a\u0000b", "format": "csv"}}, 400),
    ("GET", "/v1/audit", {"params": {"since": "0001-01-01T00:00:00+05:00"}}, 400),
    ("GET", "/v1/audit", {"params": {"until": "9999-12-31T23:59:59-05:00"}}, 400),
    ("GET", "/v1/audit", {"params": {"cursor": BIG_CURSOR}}, 400),
    ("POST", "/v1/pathways/imaging", {"json": {"last_gcsf_date": "9999-12-25", "planned_pet_date": "9999-12-31"}},
     400),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), CASES,
                         ids=[f"{m} {p} {i}" for i, (m, p, _, _) in enumerate(CASES)])
def test_hostile_input_is_a_client_error(client, keys, method, path, kwargs, status):
    headers = {**Keys.header(keys.everything), "Content-Type": "application/json"}
    r = client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_client_that_goes_away_mid_body_is_logged_499_not_500(settings, keys, log_stream):
    """No answer could be sent because the client left: the log says 499, so alerts on 5xx stay about us."""
    import asyncio
    import contextlib
    import json

    from api.app import create_app
    from infra.log import configure_logging

    configure_logging("json", stream=log_stream)
    app = create_app(settings, configure_logs=False)
    scope = {"type": "http", "method": "POST", "path": "/v1/scores/tomita", "raw_path": b"/v1/scores/tomita",
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000"),
                         (b"authorization", f"Bearer {keys.scoring}".encode())]}
    messages = iter([{"type": "http.request", "body": b'{"a":1', "more_body": True}, {"type": "http.disconnect"}])

    async def receive():
        return next(messages, {"type": "http.disconnect"})

    async def send(_message):
        raise OSError("the client is gone")

    async def run():
        with contextlib.suppress(Exception):  # what uvicorn does with an app error once the client is gone
            await app(scope, receive, send)

    asyncio.run(run())
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if '"http.request"' in line]
    assert lines and lines[-1]["status"] == 499
