"""`bonemets bulk` end to end: the CLI as a subprocess (stdout a pipe, as in CI and cron, or a pseudo-terminal),
against a real API server process and a real Celery worker on PostgreSQL and Redis. Every run has an empty working
directory and no BONEMETS_* setting but the URL and the key: a machine with `pip install bonemets` and nothing else."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from domain.kinds import KINDS
from infra.db import make_engine
from infra.keys import create_key
from infra.migrate import migrate
from tests.conftest import PSEUDONYM_KEY, REDIS_URL, SIGNING_KEY, _reset_postgres, as_app_role, unavailable
from tests.faultproxy import FaultProxy
from tests.integration.test_audit_chain import free_port, wait_ready
from tests.integration.workers import WorkerProcess
from tests.pdftools import text_of

pytestmark = pytest.mark.postgres
MIN_POLL_S = 3  # the server's minimum poll interval for a running job: two status calls in a row meet its 429
SCRIPT = Path(sys.executable).with_name("bonemets")  # the console script pip installs
BONEMETS = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "api.cli"]
CONTROL = re.compile(r"[\x1b\r]")


@dataclass
class Deployment:
    url: str
    registry: str
    scoring: str
    worker: WorkerProcess
    server_log: Path


@pytest.fixture(scope="module")
def deployment(postgres_server, tmp_path_factory):
    """One API server process and one worker for the module (each test submits jobs of its own)."""
    import redis

    tmp = tmp_path_factory.mktemp("bulk-cli-server")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).flushdb()
    except redis.RedisError as exc:
        unavailable("Redis", str(exc))
    _reset_postgres(postgres_server)
    engine = make_engine(postgres_server)
    migrate(engine)
    registry = create_key(engine, "registry-b", ("registry",))
    scoring = create_key(engine, "hospital-a", ("scoring",))
    engine.dispose()
    env = {"BONEMETS_DATABASE_URL": as_app_role(postgres_server), "BONEMETS_BROKER_URL": REDIS_URL,
           "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY, "BONEMETS_VAR_DIR": str(tmp / "var"),
           "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY, "BONEMETS_LOG_FORMAT": "json",
           "BONEMETS_BULK_CHUNK_SIZE": "200", "BONEMETS_VISIBILITY_TIMEOUT_S": "6",
           "BONEMETS_UNACKED_RESTORE_INTERVAL_S": "1", "BONEMETS_BULK_MIN_POLL_S": str(MIN_POLL_S),
           "PATH": os.environ.get("PATH", "")}
    worker = WorkerProcess(env, tmp / "worker.log").start()
    port, server_log = free_port(), tmp / "server.log"
    with server_log.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port)
        yield Deployment(f"http://127.0.0.1:{port}", registry, scoring, worker, server_log)
    finally:
        server.terminate()
        server.wait(timeout=15)
        worker.stop()


def client_env(deployment: Deployment, key: str | None = None) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "BONEMETS_URL": deployment.url,
            "BONEMETS_API_KEY": deployment.registry if key is None else key}


def bulk(deployment: Deployment, cwd: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess:
    cwd.mkdir(exist_ok=True)
    done = subprocess.run([*BONEMETS, "bulk", *args], env=client_env(deployment, key), cwd=cwd, capture_output=True,
                          text=True, timeout=60)
    assert deployment.registry not in done.stdout + done.stderr  # the key is never printed
    return done


def write_ndjson(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def cases(count: int) -> list[dict]:
    kinds = sorted(KINDS)
    return [{"kind": kinds[i % len(kinds)], "line_id": f"row-{i}", "patient_ref": f"P{i % 37}",
             **KINDS[kinds[i % len(kinds)]].example} for i in range(count)]


def job_id(stdout: str) -> str:
    """The job the run names first (`job ID submitted: …` or `job ID: this file was submitted before…`)."""
    return re.search(r"^job ([^\s:]+)", stdout, re.MULTILINE).group(1)


def test_submit_wait_streams_the_file_and_downloads_every_result_and_the_summary_with_plain_progress_lines(
        deployment, tmp_path):
    records = cases(640)
    source = write_ndjson(tmp_path / "cases.ndjson", records)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    work = tmp_path / "work"
    run = bulk(deployment, work, "submit", str(source), "--wait", "--out", "results.ndjson", "--report", "summary.pdf")
    assert run.returncode == 0, run.stdout + run.stderr
    assert not CONTROL.search(run.stdout)  # no terminal: plain lines, never a control code
    lines, job = run.stdout.splitlines(), job_id(run.stdout)
    assert re.fullmatch(r"uploaded 0\.\d MB in 0:00:0\d(, [\d.,]+ MB/s)?; the server is storing the lines", lines[0])
    assert lines[1] == f"job {job} submitted: 640 lines (Idempotency-Key sha256:{digest})"
    assert re.fullmatch(rf"job {job} (queued|running|succeeded): \d+ of 640 lines \(\d+\.\d%\).*", lines[2])
    assert re.fullmatch(rf"job {job} succeeded: 640 of 640 lines \(100\.0%\).*", lines[-4])
    assert lines[-3:] == [f"job {job} succeeded: 640 ok, 0 failed, 640 lines", "results: results.ndjson (640 lines)",
                          f"summary: summary.pdf ({(work / 'summary.pdf').stat().st_size:,} bytes)"]
    assert sorted(p.name for p in work.iterdir()) == ["results.ndjson", "summary.pdf"]  # no .part left behind

    results = [json.loads(line) for line in (work / "results.ndjson").read_text().splitlines()]
    assert [r["line"] for r in results] == list(range(1, 641))
    assert all(r["ok"] and r["line_id"] == record["line_id"] for r, record in zip(results, records, strict=True))
    headers = {"Authorization": f"Bearer {deployment.scoring}"}
    for index in range(len(KINDS)):  # each kind's answer is the synchronous endpoint's, audit id aside
        kind = KINDS[records[index]["kind"]]
        answer = httpx.post(deployment.url + kind.path, json=kind.example, headers=headers, timeout=30).json()
        assert {**results[index]["result"], "audit_id": None} == {**answer, "audit_id": None}

    pdf = (work / "summary.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    text = " ".join(text_of(pdf, tmp_path).split())
    assert f"Job {job}" in text and "Lines 640" in text and "In error 0" in text


def test_failed_lines_exit_1_with_the_counts_the_first_errors_and_every_line_in_the_results(deployment, tmp_path):
    sins = KINDS["sins"].example
    records = [{"kind": "sins", "line_id": n, **sins} for n in range(50)]
    records[3] = {**records[3], "lesion": "wobbly"}
    records[17] = {**records[17], "lesion": "wobbly"}
    records[30] = {k: v for k, v in records[30].items() if k != "pain"}
    source = tmp_path / "cases.json"  # a JSON array this time
    source.write_text(json.dumps(records, indent=1))
    run = bulk(deployment, tmp_path / "work", "submit", str(source), "--out", "results.ndjson")  # --out waits
    assert run.returncode == 1, run.stdout + run.stderr
    job = job_id(run.stdout)
    assert f"job {job} succeeded: 47 ok, 3 failed, 50 lines" in run.stdout
    assert re.search(r"^  line 4 \(line_id 3\): 400 .*\[lesion: .*wobbly", run.stdout, re.MULTILINE)
    assert re.search(r"^  line 31 \(line_id 30\): 400 .*\[pain: ", run.stdout, re.MULTILINE)
    assert '3 of 50 lines failed; their errors: the lines with "ok": false in results.ndjson' in run.stdout
    results = [json.loads(line) for line in (tmp_path / "work" / "results.ndjson").read_text().splitlines()]
    assert len(results) == 50 and [r["line"] for r in results if not r["ok"]] == [4, 18, 31]
    assert all(r["error"]["status"] == 400 for r in results if not r["ok"])


def test_the_same_file_again_is_the_same_job_new_makes_another_and_status_list_cancel_say_what_they_did(
        deployment, tmp_path):
    source = write_ndjson(tmp_path / "cases.ndjson", cases(100))
    work = tmp_path / "work"
    first = bulk(deployment, work, "submit", str(source))
    assert first.returncode == 0, first.stderr
    job = job_id(first.stdout)
    assert f"follow it: bonemets bulk status {job} --wait [--out results.ndjson]" in first.stdout
    time.sleep(1.1)  # the server's clock, which tells an earlier job from this one, is read to the second (Date)
    again = bulk(deployment, work, "submit", str(source))  # a retry after a network failure looks like this
    assert again.returncode == 0 and job_id(again.stdout) == job
    assert f"job {job}: this file was submitted before" in again.stdout and "--new" in again.stdout
    other = bulk(deployment, work, "submit", str(source), "--new", "--wait")
    other_job = job_id(other.stdout)
    assert other.returncode == 0 and other_job != job

    followed = bulk(deployment, work, "status", job, "--wait")
    assert followed.returncode == 0 and f"job {job} succeeded: 100 ok, 0 failed, 100 lines" in followed.stdout
    status = bulk(deployment, work, "status", job)
    assert status.returncode == 0 and status.stdout.startswith(f"job {job} succeeded: 100 of 100 lines (100.0%)")
    assert json.loads(bulk(deployment, work, "status", job, "--json").stdout)["done"] == 100
    listing = bulk(deployment, work, "list")
    assert listing.returncode == 0 and listing.stdout.split()[:8] == [
        "ID", "STATUS", "LINES", "OK", "FAILED", "DONE", "CREATED", "FINISHED"]
    rows = {line.split()[0]: line.split()[1:5] for line in listing.stdout.splitlines()[1:]}
    assert rows[job] == rows[other_job] == ["succeeded", "100", "100", "0"]
    assert {j["id"] for j in json.loads(bulk(deployment, work, "list", "--json").stdout)} >= {job, other_job}

    cancelled = bulk(deployment, work, "cancel", other_job)
    assert cancelled.returncode == 0 and f"job {other_job} deleted" in cancelled.stdout
    gone = bulk(deployment, work, "status", other_job)
    assert gone.returncode == 5 and f"no job {other_job} for this key's client" in gone.stderr
    twice = bulk(deployment, work, "cancel", other_job)
    assert twice.returncode == 3 and f"404 Not found: No bulk job {other_job}." in twice.stderr
    assert other_job not in bulk(deployment, work, "list").stdout
    assert list(work.iterdir()) == []  # a client leaves nothing where it runs: no installation made


def test_an_answer_lost_in_the_network_is_retried_with_the_same_key_and_makes_one_job(deployment, tmp_path):
    records = [*cases(300), {"kind": "sins", "line_id": "the-last-line", **KINDS["sins"].example}]
    source = write_ndjson(tmp_path / "cases.ndjson", records)
    port = int(deployment.url.rsplit(":", 1)[1])
    proxy = FaultProxy(("127.0.0.1", port))
    # once the last bytes are through, the network loses everything for a second, then resets the connection: the
    # server has the whole file and makes the job, and its answer never comes back
    proxy.arm("blackhole", 1.0, trigger=b"the-last-line")
    uploads_before = len(uploads(deployment))
    try:
        run = bulk(deployment, tmp_path / "work", "submit", str(source), "--wait", "--url",
                   f"http://127.0.0.1:{proxy.port}")
    finally:
        proxy.close()
    assert run.returncode == 0, run.stdout + run.stderr
    job = job_id(run.stdout)
    assert f"job {job} succeeded: 301 ok, 0 failed, 301 lines" in run.stdout
    assert "bonemets: POST /v1/bulk-jobs: " in run.stderr and "trying again in 0.5 s (2 of 4)" in run.stderr
    assert uploads(deployment)[uploads_before:] == [202, 202]  # the server answered both; the first answer was lost
    listed = json.loads(bulk(deployment, tmp_path / "work", "list", "--json").stdout)
    assert [j["id"] for j in listed if j["total"] == 301] == [job]  # sent twice, one job


def uploads(deployment: Deployment) -> list[int]:
    """The statuses the server answered POST /v1/bulk-jobs with, from its request log."""
    return [json.loads(line)["status"] for line in deployment.server_log.read_text().splitlines()
            if '"method":"POST"' in line and '"path":"/v1/bulk-jobs"' in line]


def test_ctrl_c_leaves_a_queued_job_running_and_status_waits_out_the_servers_poll_interval(deployment, tmp_path):
    source = write_ndjson(tmp_path / "cases.ndjson", cases(300))
    work = tmp_path / "work"
    work.mkdir()
    deployment.worker.pause()  # the job stays queued, whatever the machine's speed
    try:
        cli = subprocess.Popen([*BONEMETS, "bulk", "submit", str(source), "--out", "results.ndjson"],
                               env=client_env(deployment), cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        submitted = ""
        while "submitted" not in submitted:
            submitted = cli.stdout.readline()
            assert submitted or cli.poll() is None, cli.stderr.read()
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=20)
        job = job_id(submitted)
        assert cli.returncode == 130, out + err
        assert f"interrupted; job {job} keeps running on the server." in err
        assert f"follow it: bonemets bulk status {job} --wait --out results.ndjson" in err
        assert f"cancel it: bonemets bulk cancel {job}" in err and "Traceback" not in err

        assert bulk(deployment, work, "status", job).stdout.startswith(f"job {job} queued: 0 of 300 lines")
        started = time.monotonic()
        throttled = bulk(deployment, work, "status", job)  # within the server's minimum interval: 429, waited out
        assert throttled.returncode == 0 and throttled.stdout.startswith(f"job {job} queued")
        assert time.monotonic() - started >= 1.5
        polls = [json.loads(line) for line in deployment.server_log.read_text().splitlines()
                 if f'"/v1/bulk-jobs/{job}"' in line]
        assert [p["status"] for p in polls] in ([202, 429, 202], [202, 429, 429, 202])
    finally:
        deployment.worker.resume()
    resumed = bulk(deployment, work, "status", job, "--wait", "--out", "results.ndjson")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "results: results.ndjson (300 lines)" in resumed.stdout
    assert len((work / "results.ndjson").read_text().splitlines()) == 300


def test_refusals_and_unreachable_servers_have_their_own_exit_codes_and_say_why(deployment, tmp_path):
    source = write_ndjson(tmp_path / "cases.ndjson", cases(5))
    work = tmp_path / "work"
    wrong = bulk(deployment, work, "submit", str(source), key="bm_not-a-key")
    assert wrong.returncode == 3 and "401" in wrong.stderr and "bm_not-a-key" not in wrong.stdout + wrong.stderr
    role = bulk(deployment, work, "list", key=deployment.scoring)
    assert role.returncode == 3 and "403" in role.stderr
    assert deployment.scoring not in role.stdout + role.stderr
    nowhere = subprocess.run([*BONEMETS, "bulk", "list", "--url", f"http://127.0.0.1:{free_port()}"],
                             env=client_env(deployment), cwd=work, capture_output=True, text=True, timeout=30)
    assert nowhere.returncode == 4 and "cannot reach http://127.0.0.1:" in nowhere.stderr
    assert bulk(deployment, work, "submit", "missing.ndjson").returncode == 2
    (work / "empty.ndjson").write_text("")
    assert bulk(deployment, work, "submit", "empty.ndjson").returncode == 2
    keyless = bulk(deployment, work, "list", key="")
    assert keyless.returncode == 2 and "BONEMETS_API_KEY" in keyless.stderr
    assert bulk(deployment, work, "frobnicate").returncode == 2  # argparse's usage error


def test_the_client_needs_no_installation_where_the_server_commands_refuse_to_run(deployment, tmp_path):
    work = tmp_path / "empty"
    assert bulk(deployment, work, "list").returncode == 0
    installed = subprocess.run([*BONEMETS, "keys", "list"], env=client_env(deployment), cwd=work,
                               capture_output=True, text=True, timeout=30)
    assert installed.returncode == 2  # the same environment has no installation: only a client can run here
    assert list(work.iterdir()) == []


def test_on_a_terminal_the_progress_is_a_live_bar(deployment, tmp_path):
    source = write_ndjson(tmp_path / "cases.ndjson", cases(400))
    controller, terminal = pty.openpty()
    cli = subprocess.Popen([*BONEMETS, "bulk", "submit", str(source), "--wait"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                           env={**client_env(deployment), "TERM": "xterm-256color", "COLUMNS": "140"},
                           stdout=terminal, stderr=subprocess.PIPE)
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not select.select([controller], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the CLI has exited and closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    _, err = cli.communicate(timeout=10)
    assert cli.returncode == 0, err
    text = screen.decode()
    assert "\x1b[" in text and "━" in text  # drawn and redrawn in place
    assert "400/400 lines" in text and "succeeded: 400 ok, 0 failed, 400 lines" in text
