"""A CDS Hooks `patient-view` call with prefetch vs the equivalent REST evaluation, same server, one run: prints
the median and p99 latency of each and the difference (issue 13: the card response may add at most 2 ms median).

    .venv/bin/python bench/cds_hooks.py [--database sqlite|postgres] [--calls 400]

One uvicorn process (`bonemets serve`), one client connection kept alive, calls one after the other (latency, not
throughput). The EHR's tokens are signed before the clock starts: their signing is the EHR's cost, their checking
(ES384 signature, the jti written) the service's. The REST evaluation gets the very case the service builds from
the prefetch, so the difference is the CDS edge: token, replay check, FHIR mapping, cards (the call and its cards
are stored after the answer: 10 ms are left between calls, untimed, so that this never lands on the next one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.scores import PG_ADMIN, free_port, wait_ready
from infra import fhir_case
from tests import fhir_fixtures as f

ISSUER = "urn:bench:ehr"


def prefetch() -> dict:
    born = f"{time.gmtime().tm_year - 71}-01-15"
    return f.prefetch(patient_resource=f.patient(born), observations=(f.creatinine(2.5), f.weight(60), f.karnofsky(70)),
                      conditions=(f.condition(*f.BONE_METASTASIS), f.condition(*f.LUNG_CANCER)))


def timed(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
    answer = conn.getresponse()
    answer.read()
    if answer.status != 200:
        raise SystemExit(f"{path}: {answer.status}")
    return (time.perf_counter() - started) * 1000


def summary(name: str, samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    figures = {"median_ms": statistics.median(ordered), "p99_ms": ordered[int(len(ordered) * 0.99) - 1]}
    print(f"{name:<28} median {figures['median_ms']:6.2f} ms   p99 {figures['p99_ms']:6.2f} ms   "
          f"({len(samples)} calls)")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cds-"))
    key = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    (work / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "k1", "alg": "ES384"}]}))
    port = free_port()
    env = {**os.environ, "BONEMETS_VAR_DIR": str(work / "var"), "BONEMETS_LOG_FORMAT": "json",
           "BONEMETS_CDS_ISSUERS": json.dumps({ISSUER: {"jwks_file": str(work / "jwks.json")}}),
           "BONEMETS_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "BONEMETS_RATE_LIMIT_CDS": "1000000000/1"}  # one EHR floods: its budget out of reach, the limiter on
    database = None
    if args.database == "postgres":
        database = f"bench_cds_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {database}"))
        env.update(BONEMETS_DATABASE_URL=PG_ADMIN.rsplit("/", 1)[0] + f"/{database}",
                   BONEMETS_PSEUDONYM_KEY="b" * 40, BONEMETS_AUDIT_SIGNING_KEY="11" * 32)
    bonemets = [sys.executable, "-m", "api.cli"]
    subprocess.run([*bonemets, "migrate"], env=env, check=True, capture_output=True)
    key_line = subprocess.run([*bonemets, "keys", "create", "--client", "bench", "--roles", "scoring"], env=env,
                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    server = subprocess.Popen([*bonemets, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_ready(port)
        data = prefetch()
        today = dt.date.today()
        case = fhir_case.case_of(fhir_case.read(data, today), today)
        rest_body = msgspec.json.encode(case)
        path = "/cds-services/bonemets-patient-view"
        now = int(time.time())
        tokens = [jwt.encode({"iss": ISSUER, "aud": f"http://127.0.0.1:{port}{path}", "iat": now, "exp": now + 600,
                              "jti": str(uuid.uuid4())}, key, algorithm="ES384", headers={"kid": "k1", "typ": "JWT"})
                  for _ in range(args.calls + 20)]
        bodies = [msgspec.json.encode({"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": {
            "userId": "Practitioner/1", "patientId": f.PATIENT_ID}, "prefetch": data}) for _ in tokens]
        conn = http.client.HTTPConnection("127.0.0.1", port)
        rest, cds = [], []
        for i in range(args.calls + 20):  # interleaved, so that both meet the same machine; 20 to warm up
            r = timed(conn, "/v1/evaluations", rest_body, {"Authorization": f"Bearer {key_line}"})
            c = timed(conn, path, bodies[i], {"Authorization": f"Bearer {tokens[i]}"})
            time.sleep(0.01)  # the call's storage, after its answer, ends before the next REST call is timed
            if i >= 20:
                rest.append(r)
                cds.append(c)
        print(f"database {args.database}; one API process; {args.calls} calls each, interleaved")
        a = summary("POST /v1/evaluations", rest)
        b = summary("CDS Hooks patient-view", cds)
        print(f"{'added by the CDS edge':<28} median {b['median_ms'] - a['median_ms']:+6.2f} ms   "
              f"p99 {b['p99_ms'] - a['p99_ms']:+6.2f} ms")
    finally:
        server.terminate()
        server.wait(10)
        if database:
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn2:
                conn2.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
