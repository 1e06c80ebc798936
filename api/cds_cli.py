"""`bonemets cds`: which EHRs may call the CDS Hooks services, and a key to try them with.

  bonemets cds trust ISSUER (--jwks-url URL | --jwks-file PATH) [--tenant T ...] [--fhir-server URL ...]
      allow an EHR (its JWT `iss`) and say where its JWK Set is; written to var/cds-issuers.json (read by the
      running service at once) and printed as the BONEMETS_CDS_ISSUERS value for server deployments
  bonemets cds try-key
      make a local "EHR" key pair (ES384) and trust it as issuer urn:bonemets:try-ehr — for trying the services
      with curl on this machine, never for production
  bonemets cds token --aud URL
      a 5-minute JWT signed with that key, for the URL called (CDS Hooks: aud is the exact URL)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

from infra.cds_auth import ISSUERS_FILE, parse_issuers
from infra.settings import Settings

TRY_ISSUER = "urn:bonemets:try-ehr"
TRY_KEY, TRY_JWKS = "cds-try-ehr.pem", "cds-try-ehr.jwks.json"


def add_parser(sub: argparse._SubParsersAction) -> None:
    cds = sub.add_parser("cds", help="CDS Hooks: trusted EHRs, a key to try the services with")
    commands = cds.add_subparsers(dest="cds_command", required=True)
    trust = commands.add_parser("trust", help="allow an EHR's JWT issuer, with its JWK Set")
    trust.add_argument("issuer")
    where = trust.add_mutually_exclusive_group(required=True)
    where.add_argument("--jwks-url")
    where.add_argument("--jwks-file")
    trust.add_argument("--tenant", action="append", default=[], help="allow only these tenants (repeatable)")
    trust.add_argument("--fhir-server", action="append", default=[],
                       help="a FHIR server base URL the service may read missing prefetch from (repeatable)")
    commands.add_parser("try-key", help="a local EHR key to try the services with (not for production)")
    token = commands.add_parser("token", help="a 5-minute JWT signed with the try-key, for --aud")
    token.add_argument("--aud", required=True, help="the exact URL called, e.g. http://127.0.0.1:8000/cds-services")


def _issuers_file(settings: Settings) -> Path:
    return settings.var_dir / ISSUERS_FILE


def _trust(settings: Settings, issuer: str, entry: dict) -> int:
    path = _issuers_file(settings)
    current = json.loads(path.read_text()) if path.exists() else {}
    current[issuer] = entry
    text = json.dumps(current, indent=2)
    parse_issuers(text, "the new allow-list")  # refuse to write what the service could not read
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(f"trusted {issuer}; written to {path} (the running service reads it at once)")
    print("for a server deployment, set instead:")
    print(f"BONEMETS_CDS_ISSUERS='{json.dumps(current, separators=(',', ':'))}'")
    return 0


def cmd_cds(settings: Settings, args: argparse.Namespace) -> int:
    if args.cds_command == "trust":
        entry = {"jwks_url": args.jwks_url} if args.jwks_url else {"jwks_file": str(Path(args.jwks_file).resolve())}
        if args.tenant:
            entry["tenants"] = args.tenant
        if args.fhir_server:
            entry["fhir_servers"] = args.fhir_server
        return _trust(settings, args.issuer, entry)
    if args.cds_command == "try-key":
        return _try_key(settings)
    return _token(settings, args.aud)


def _try_key(settings: Settings) -> int:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key_path, jwks_path = settings.var_dir / TRY_KEY, settings.var_dir / TRY_JWKS
    if not key_path.exists():
        key = ec.generate_private_key(ec.SECP384R1())
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))  # type: ignore[arg-type]
    jwks_path.write_text(json.dumps({"keys": [{**public, "kid": "try-ehr", "use": "sig", "alg": "ES384"}]}))
    return _trust(settings, TRY_ISSUER, {"jwks_file": str(jwks_path)})


def _token(settings: Settings, audience: str) -> int:
    import jwt
    from cryptography.hazmat.primitives import serialization

    key_path = settings.var_dir / TRY_KEY
    if not key_path.exists():
        print("bonemets: no try-key here; run `bonemets cds try-key` first", file=sys.stderr)
        return 2
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    now = int(time.time())
    print(jwt.encode({"iss": TRY_ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())},
                     key, algorithm="ES384", headers={"kid": "try-ehr", "typ": "JWT"}))  # type: ignore[arg-type]
    return 0
