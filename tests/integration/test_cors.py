"""CORS: off by default (a browser page elsewhere cannot read the API's answers), an explicit allow-list when
configured (BONEMETS_CORS_ORIGINS), never a wildcard (issue 15)."""

import asyncio
from dataclasses import replace

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from infra.settings import SettingsError, load_settings
from tests.cases import VALID
from tests.conftest import Keys

ALLOWED = "https://ehr.example.org"


def exchange(settings, keys, origin):
    async def run():
        async with AsyncTestClient(create_app(settings, configure_logs=False)) as client:
            preflight = await client.options("/v1/scores/sins", headers={
                "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type"})
            answer = await client.post("/v1/scores/sins", json=VALID["sins"],
                                       headers={**Keys.header(keys.scoring), "Origin": origin})
            return preflight, answer

    return asyncio.run(run())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cors_is_off_by_default(settings, keys):
    preflight, answer = exchange(settings, keys, ALLOWED)
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_only_listed_origins_may_read_answers(settings, keys):
    configured = replace(settings, cors_origins=(ALLOWED,))
    preflight, answer = exchange(configured, keys, ALLOWED)
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    _, elsewhere = exchange(configured, keys, "https://elsewhere.example.net")
    assert "access-control-allow-origin" not in elsewhere.headers


@pytest.mark.parametrize("value", ["*", "ehr.example.org", "https://ehr.example.org/path", "ftp://x"])
def test_a_wildcard_or_malformed_origin_is_refused_at_start(value, tmp_path):
    with pytest.raises(SettingsError, match="BONEMETS_CORS_ORIGINS"):
        load_settings({"BONEMETS_VAR_DIR": str(tmp_path), "BONEMETS_CORS_ORIGINS": value}, install=True)
