"""The single audit chain's ceiling: N writer processes appending to one chain on PostgreSQL at once.

    .venv/bin/python bench/writers.py [--processes 1 2 4 8] [--batches 1 64 500] [--seconds 8]

Every process runs the workers' write path in a loop, with batches of the given size: the records encoded before
the lock (infra.audit.prepare), then infra.audit.write_batch (lock the head row, link, COPY, move the head,
commit). All processes share one chain, so every commit holds the one head lock in turn. Prints commits/s and
records/s for each (processes, batch) and checks the chain is intact afterwards. docs/scaling.md quotes it. The
server: BONEMETS_BENCH_POSTGRES_URL (default 127.0.0.1:5432), a database of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

PG_ADMIN = os.environ.get("BONEMETS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
OUTPUT = ('{"score":"sins","total":8,"band":"potentially_unstable","items":[{"item":"location","value":"junctional",'
          '"points":3}],"recommendations":[{"rule_id":"SP-3","text":"Surgical opinion within the week",'
          '"urgency":"routine"}],"guideline_version":"2024","engine_version":"1.0.0","rules_version":"1"}')
INPUT = ('{"location":"junctional","pain":"mechanical","lesion":"lytic","alignment":"normal","collapse":"none",'
         '"posterolateral":"none","patient_ref":null}')


def writer(url: str, batch: int, seconds: float, start_at: float, out: multiprocessing.Queue) -> None:
    import msgspec

    from infra.audit import entry, new_id, prepare, write_batch
    from infra.db import make_engine

    engine = make_engine(url, pooled=False)
    raw = engine.raw_connection()
    made = [entry(client="bench", roles="scoring", endpoint="POST /v1/scores/sins", action="score.computed",
                  request_id="r", inputs=INPUT, output=OUTPUT, patient_hash="a" * 64, rule_ids=("SP-3",))
            for _ in range(batch)]
    time.sleep(max(0.0, start_at - time.time()))
    commits = records = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        batch_entries = prepare([msgspec.structs.replace(e, id=new_id()) for e in made])  # before the lock, as
        write_batch(raw, "postgresql", batch_entries)  # the workers' chunks are
        commits += 1
        records += batch
    raw.close()
    out.put((commits, records))


def run(url: str, processes: int, batch: int, seconds: float) -> tuple[float, float]:
    out: multiprocessing.Queue = multiprocessing.Queue()
    start_at = time.time() + 1.5  # every process connected and ready before the clock starts
    procs = [multiprocessing.Process(target=writer, args=(url, batch, seconds, start_at, out))
             for _ in range(processes)]
    for p in procs:
        p.start()
    totals = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(c for c, _ in totals) / seconds, sum(r for _, r in totals) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 500])
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    dbname = f"bonemets_writers_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    try:
        import subprocess

        subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, capture_output=True, cwd=ROOT,
                       env={**os.environ, "BONEMETS_DATABASE_URL": url, "BONEMETS_VAR_DIR": "/tmp",
                            "BONEMETS_PSEUDONYM_KEY": "k" * 40, "BONEMETS_AUDIT_SIGNING_KEY": "7a" * 32})
        print(f"one chain on PostgreSQL, {args.seconds:g} s per cell; every commit holds the head lock")
        print(f"{'processes':>9} {'batch':>6} {'commits/s':>10} {'records/s':>10}")
        for batch in args.batches:
            for processes in args.processes:
                commits, records = run(url, processes, batch, args.seconds)
                print(f"{processes:9d} {batch:6d} {commits:10.0f} {records:10.0f}", flush=True)
        from infra.audit import verify
        from infra.db import make_engine

        engine = make_engine(url, pooled=False)
        result = verify(engine)
        engine.dispose()
        print(f"chain afterwards: {'intact' if result.intact else 'BROKEN'}, {result.records} records")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
