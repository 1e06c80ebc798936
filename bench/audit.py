"""Audit chain verification throughput over 1,000,000 records on PostgreSQL.

    .venv/bin/python bench/audit.py [--records 1000000] [--workers 1 2] [--floor]

Builds a correct chain of N records (as the writers would, with a signed checkpoint every 1,000), loads it
with COPY into a fresh database on the server at BONEMETS_BENCH_POSTGRES_URL, then times infra.audit.verify
end to end (rows streamed from the server, every hash recomputed, every link and checkpoint checked), with each
number of processes given (--workers; infra.audit._walk_ranges). The table is ANALYZEd after the load, as
autovacuum does to a production table: without statistics the planner sorts the million rows instead of reading
them in the primary key's order (4.9-5.5 s instead of 3.9-4.2 s here).

--floor also prints what bounds verification on this machine whatever the code: PostgreSQL sending the rows in
seq order to a client that only drains them, the driver receiving them as tuples, and the client's own least work a
record (the canonical encoding and SHA-256 of rows already in memory) -- and the records/s two cores could reach
if both were busy with nothing else.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scores import PG_ADMIN
from infra import audit
from infra.db import make_engine
from infra.migrate import migrate
from infra.signing import KeyRing, Signer

SIGNER = Signer(bytes.fromhex("7a" * 32))


def build(engine, count: int) -> None:
    """Chain `count` realistic small records and COPY them in, bypassing the writer (much faster)."""
    raw = engine.raw_connection()
    cursor = raw.driver_connection.cursor()
    prev, checkpoints = audit.GENESIS_HASH, []
    columns = ", ".join(audit.COLUMNS)
    with cursor.copy(f"COPY audit_record ({columns}) FROM STDIN") as copy:
        for seq in range(1, count + 1):
            row = {"seq": seq, "id": str(uuid.UUID(int=seq)), "created_at": "2025-06-01T09:00:00.000000Z",
                   "client": "hospital-a", "roles": "scoring", "endpoint": "POST /v1/scores/sins",
                   "action": "score.computed", "request_id": f"{seq:032x}", "patient_hash": f"{seq % 9973:064x}",
                   "input_json": json.dumps({"pain": "mechanical", "lesion": "lytic", "n": seq}),
                   "output_json": json.dumps({"score": "sins", "total": seq % 19, "band": "stable"}),
                   "rule_ids": "SP-4", "guideline_version": "oncobfc-neon-oncorif-2024-09-17",
                   "engine_version": "0.1.0", "rules_version": "2026.11.1", "job_id": None, "prev_hash": prev}
            row["hash"] = prev = audit.record_hash(row)
            copy.write_row([row[c] for c in audit.COLUMNS])
            if seq % 1000 == 0:
                checkpoints.append((seq, prev, "2025-06-01T09:00:00.000000Z", SIGNER.key_id,
                                    SIGNER.sign(seq, prev, "2025-06-01T09:00:00.000000Z")))
    cursor.executemany("INSERT INTO audit_checkpoint VALUES (%s, %s, %s, %s, %s)", checkpoints)
    cursor.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (count, prev))
    raw.commit()
    cursor.execute("ANALYZE audit_record")
    raw.commit()
    raw.close()


def floor(engine, count: int) -> None:
    """Per record: PostgreSQL's send, the driver's receive, the client's encoding and hashing (module doc)."""
    raw = engine.raw_connection()
    conn = raw.driver_connection
    columns = ", ".join(audit.COLUMNS)
    try:
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY (SELECT {columns} FROM audit_record ORDER BY seq) TO STDOUT") as copy:
            for _ in copy:
                pass
        send = (time.perf_counter() - started) / count
        conn.rollback()
        cursor = conn.cursor(name="floor")
        cursor.itersize = 10_000
        started = time.perf_counter()
        cursor.execute(f"SELECT {columns} FROM audit_record ORDER BY seq")
        kept = []
        while rows := cursor.fetchmany(10_000):
            if len(kept) < 200_000:
                kept.extend(rows)
        receive = (time.perf_counter() - started) / count
        cursor.close()
        conn.rollback()
    finally:
        raw.close()
    encoded = [audit._encode_struct(audit._Canonical(*audit._sorted_values(row))) for row in kept]
    timings = {}
    for name, work in (("canonical encoding", lambda: [audit._encode_struct(audit._Canonical(
            *audit._sorted_values(row))) for row in kept]),
                       ("SHA-256 and hex", lambda: [hashlib.sha256(e).hexdigest() for e in encoded])):
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            work()
            runs.append((time.perf_counter() - started) / len(kept))
        timings[name] = min(runs)
    least = sum(timings.values())
    print(f"floor: PostgreSQL sending in seq order (client only draining COPY) {send * 1e6:.2f} us a record; the "
          f"driver receiving 18 columns as tuples {receive * 1e6:.2f} us; "
          + "; ".join(f"{name} {t * 1e6:.2f} us" for name, t in timings.items()))
    print(f"floor: at least {(send + least) * 1e6:.2f} us of CPU a record (send + encoding + hashing, nothing "
          f"received): two cores reach at most {2 / (send + least):,.0f} records/s; with the driver's receive "
          f"{2 / (send + receive + least):,.0f} records/s (issue 14: >= 400,000/s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--floor", action="store_true", help="also print what bounds verification here")
    args = parser.parse_args()
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"bonemets_audit_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    try:
        migrate(engine)
        started = time.perf_counter()
        build(engine, args.records)
        built = time.perf_counter() - started
        if args.floor:
            floor(engine, args.records)
        timings = []
        for workers in args.workers:
            for run in ("first run", "second run"):  # the second reads from a warm cache, a nightly check would not
                started = time.perf_counter()
                result = audit.verify(engine, KeyRing.of([SIGNER.public_key_hex]), coverage=audit.Coverage(1000, 1e6),
                                      workers=workers)
                timings.append((f"{workers} process{'es' if workers > 1 else ''}, {run}",
                                time.perf_counter() - started))
                assert result.intact and result.records == args.records, result
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"built and loaded {args.records:,} records in {built:.1f} s; {result.checkpoints} signed checkpoints")
    for label, seconds in timings:
        print(f"verify, {label}: {seconds:6.2f} s = {args.records / seconds:,.0f} records/s (issue 14: >= 400,000/s)")


if __name__ == "__main__":
    main()
