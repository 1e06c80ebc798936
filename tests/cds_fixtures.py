"""The EHR side of the CDS Hooks tests: its signing key, published as a JWK Set the service trusts, and a client of
the service configured to trust it (fixtures `ehr` and `cds_client`, registered in tests/conftest.py)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from infra.cds_auth import Issuer

EHR = "https://ehr.example-hospital.fr/"
BASE = "http://testserver.local"


class Ehr:
    """The EHR side: its signing key (ES384), published as a JWK Set file the service is configured with."""

    def __init__(self, tmp_path, kid="ehr-2026"):
        self.key = ec.generate_private_key(ec.SECP384R1())
        self.kid = kid
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = tmp_path / "ehr-jwks.json"
        self.jwks.write_text(json.dumps({"keys": [{**public, "kid": kid, "use": "sig", "alg": "ES384"}]}))

    def token(self, path: str, **changes) -> str:
        claims = {"iss": EHR, "aud": f"{BASE}{path}", "exp": int(time.time()) + 300, "iat": int(time.time()),
                  "jti": str(uuid.uuid4()), "tenant": "chu-besancon", **changes}
        headers = {"kid": changes.pop("kid", self.kid), "typ": "JWT"}
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, self.key, algorithm="ES384",
                          headers=headers)

    def headers(self, path: str, **changes) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(path, **changes)}"}


@pytest.fixture
def ehr(tmp_path):
    return Ehr(tmp_path)


@pytest.fixture
def cds_client(settings, keys, ehr, log_stream):
    from litestar.testing import TestClient

    from api.app import create_app

    configured = replace(settings, cds_issuers={EHR: Issuer(jwks_file=str(ehr.jwks))}, public_url=BASE)
    with TestClient(create_app(configured, configure_logs=False), raise_server_exceptions=False) as client:
        client.keys = keys
        yield client
