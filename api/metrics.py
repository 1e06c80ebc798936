"""Operator metrics (issue 15): GET /metrics in Prometheus' text format.

What is measured, and where:
- every HTTP exchange, by method, route *template* and status (api.observability calls RequestMetrics once per
  request, with the status and duration it logs): a path a client sends never becomes a label, only the templates
  of our own routes do ("unmatched" for a path no route has); /metrics and the health probes are left out;
- every audit batch the API's writer commits: its size and the time its write took (infra.audit_loop);
- at scrape time, from the database and the broker (infra.probes), each read in a thread with a deadline: the bulk
  jobs by status, the broker's queue depth, the audit chain's length, and the bulk lines done and failed, counted
  from the jobs' own counters (LineTally). A source that does not answer in time is reported down
  (bonemets_database_up / bonemets_broker_up 0) and its values left out; the scrape itself still answers 200.

Several API processes (`bonemets serve --workers N`): a scrape reaches one of them, chosen by the kernel, so each
must answer for all: prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, which `bonemets serve` sets
up for N > 1), every process writing its counters to files that the answering one sums. The scrape-time values are
global already (read from the database), and the lines tally keeps its state in that directory, under a lock.

Access: with BONEMETS_METRICS_TOKEN set, a bearer token; without it, only a scraper on this host (a loopback
address, no proxy's forwarding header).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hmac
import ipaddress
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import structlog
from litestar import Request, get
from litestar.response import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from api.errors import problem
from domain import version
from infra import probes
from infra.db import engine_for
from infra.settings import Settings

log = structlog.get_logger("bonemets.metrics")
# no *_created series beside each counter and histogram: they double the series and no panel reads them
disable_created_metrics()
TEXT_FORMAT = "text/plain; version=0.0.4"  # the text format every Prometheus (and Grafana Agent, Alloy...) reads

PROBE_TIMEOUT_S = 2.0  # a source slower than this is reported down: well within Prometheus' 10 s scrape timeout
UNMATCHED = "unmatched"  # the route label of a request no route matched (404, 405): never the path it sent
NOT_MEASURED = frozenset({"/metrics", "/health/live", "/health/ready"})
METHODS = {m: m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}  # any other: "OTHER"
# seconds: from a cached score (~1 ms) to an upload of hundreds of megabytes
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TALLY_FILE = "bonemets_bulk_lines.json"  # in PROMETHEUS_MULTIPROC_DIR: not a *.db file, which the collector sums
FINISHED_MARGIN = timedelta(minutes=10)  # clocks of worker hosts may differ from ours by less than this


def multiprocess_dir() -> Path | None:
    """PROMETHEUS_MULTIPROC_DIR when prometheus_client runs in multiprocess mode (which it chose from that variable
    when it was first imported: a variable set later changes nothing)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(path) if path and getattr(values.ValueClass, "_multiprocess", False) else None


class RequestMetrics:
    """bonemets_http_requests_total and bonemets_http_request_duration_seconds. Called on every request: the
    label children are bound once per (method, route, status) and kept, so a request costs a dict lookup, a
    counter increment and a histogram observation."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self._requests = Counter("bonemets_http_requests", "HTTP requests answered, by method, route template and "
                                 "status (499: the client went away first)", ("method", "route", "status"),
                                 registry=registry)
        self._duration = Histogram("bonemets_http_request_duration_seconds", "Time from a request's arrival to its "
                                   "answer's last byte, by method and route template", ("method", "route"),
                                   buckets=LATENCY_BUCKETS, registry=registry)
        self._bound: dict[tuple[str, str, int], tuple[Callable[[], None], Callable[[float], None]]] = {}

    def __call__(self, scope: Any, status: int, seconds: float) -> None:
        route = scope.get("path_template", UNMATCHED)
        if route in NOT_MEASURED:
            return
        key = (scope["method"], route, status)
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = self._bind(*key)
        bound[0]()
        bound[1](seconds)

    def _bind(self, method: str, route: str, status: int) -> tuple[Callable[[], None], Callable[[float], None]]:
        method = METHODS.get(method, "OTHER")  # a method is what a client sends: only the known ones become labels
        return (self._requests.labels(method, route, str(status)).inc,
                self._duration.labels(method, route).observe)


class AuditMetrics:
    """The API's audit writer (infra.audit_loop.LoopWriter) reports each batch once: its size and how long its
    write took, from the first statement to the commit, a retry on a fresh connection included."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self._size = Histogram("bonemets_audit_batch_records", "Audit records per batch committed by the API's "
                               "writer", buckets=BATCH_BUCKETS, registry=registry)
        self._commit = Histogram("bonemets_audit_commit_duration_seconds", "Time to write and commit one audit "
                                 "batch (the API's writer)", buckets=COMMIT_BUCKETS, registry=registry)
        self._failed = Counter("bonemets_audit_batches_failed", "Audit batches the API's writer could not commit "
                               "(their callers were answered 503)", registry=registry)

    def __call__(self, records: int, seconds: float, committed: bool) -> None:
        if committed:
            self._size.observe(records)
            self._commit.observe(seconds)
        else:
            self._failed.inc()


class LineTally:
    """Bulk lines done (a result) and failed (a per-line error) since the tally began, for rate() to give lines/s.

    The workers count each job's lines in its row (bulk_job.done, failed). At each scrape the tally reads every job
    not finished, or finished since its previous reading (less a margin for clocks), and adds what each moved since:
    a new job counts from 0. A sum of the rows themselves would not do: it falls when a job is deleted or expires,
    which Prometheus would take for a reset (a spike of every line ever). Lines a job did between a scrape and its
    deletion are not counted. With `path` (multiprocess mode) the state is a file shared by the API's processes,
    changed under a lock: whichever process answers, the totals are the same. A reading taken before the last one
    recorded (an abandoned read that ended late, another process's slower one) is dropped: the later one covers it.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._state: dict[str, Any] = _fresh_tally()

    def totals(self) -> tuple[int, int]:
        state = self._load()
        return state["ok"], state["failed"]

    def window(self) -> tuple[str, datetime]:
        """(the finished_at from which jobs are read, this reading's time)."""
        started = datetime.now(UTC)
        with self._locked():
            read_at = self._load()["read_at"]
        since = datetime.fromisoformat(read_at) if read_at else started
        return (since - FINISHED_MARGIN).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), started

    def record(self, progress: dict[str, tuple[int, int]], read_at: datetime) -> None:
        """Add what each job of `progress` (id -> (done, failed), read at `read_at`) moved since the last reading."""
        with self._locked():
            state = self._load()
            if state["read_at"] is not None and read_at <= datetime.fromisoformat(state["read_at"]):
                return
            seen = state["seen"]
            if seen is not None:  # the first reading is the baseline: the tally counts from there
                for job_id, (done, failed) in progress.items():
                    done_before, failed_before = seen.get(job_id, (0, 0))
                    state["ok"] += max(0, done - done_before)
                    state["failed"] += max(0, failed - failed_before)
            state["seen"], state["read_at"] = progress, read_at.isoformat()
            self._save(state)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._path is None:
                yield
                return
            with open(self._path.with_suffix(".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> dict[str, Any]:
        if self._path is None:
            return self._state
        try:
            state = json.loads(self._path.read_text())
        except (FileNotFoundError, ValueError):
            return _fresh_tally()
        if state["seen"] is not None:
            state["seen"] = {job: tuple(counts) for job, counts in state["seen"].items()}
        return state

    def _save(self, state: dict[str, Any]) -> None:
        if self._path is None:
            self._state = state
            return
        temporary = self._path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(state))
        temporary.replace(self._path)  # atomic: totals() reads without the lock, the old state or the new one


def _fresh_tally() -> dict[str, Any]:
    return {"ok": 0, "failed": 0, "seen": None, "read_at": None}


class Probe:
    """One source read in a thread, within a deadline. Scrapes arriving while a read runs wait on that same read;
    a read past the deadline is abandoned to its thread (it ends with its connection's own timeouts) and the source
    reported down, and the next scrape reads afresh."""

    def __init__(self, name: str, read: Callable[[], Any], timeout_s: float) -> None:
        self._name, self._read, self._timeout_s = name, read, timeout_s
        self._task: asyncio.Future[Any] | None = None

    async def __call__(self) -> Any | None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(anyio.to_thread.run_sync(self._read, abandon_on_cancel=True))
            self._task.add_done_callback(_consume)
        task = self._task
        try:
            return await asyncio.wait_for(asyncio.shield(task), self._timeout_s)
        except TimeoutError:
            task.cancel()
            reason = "timeout"
        except asyncio.CancelledError:
            if not task.cancelled():  # this scrape itself was cancelled (its client left): not the read
                raise
            reason = "timeout"  # another scrape waiting on the same read gave up on it
        except Exception as exc:  # its type only: a driver's text may carry a connection string
            reason = type(exc).__name__
        log.warning("metrics.source_down", source=self._name, reason=reason)
        return None

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()


def _consume(task: asyncio.Future[Any]) -> None:
    """A read no scrape waited for to its end: its outcome is retrieved here, never reported as lost."""
    if not task.cancelled():
        task.exception()


class ScrapeCollector:
    """The values read at scrape time, as metric families (a prometheus_client custom collector)."""

    def __init__(self, tally: LineTally) -> None:
        self.tally = tally
        self.database: probes.DatabaseReading | None = None
        self.queues: dict[str, int] | None = None

    def collect(self) -> Iterator[Any]:
        info = GaugeMetricFamily("bonemets_build_info", "The engine, guideline and rules versions served",
                                 labels=("engine", "guideline", "rules"))
        info.add_metric((version.ENGINE_VERSION, version.GUIDELINE_VERSION, version.RULES_VERSION), 1)
        yield info
        yield GaugeMetricFamily("bonemets_database_up", "1 if the database answered this scrape's read in time",
                                value=int(self.database is not None))
        yield GaugeMetricFamily("bonemets_broker_up", "1 if the broker answered this scrape's read in time",
                                value=int(self.queues is not None))
        ok, failed = self.tally.totals()
        lines = CounterMetricFamily("bonemets_bulk_lines", "Bulk lines finished by the workers since these "
                                    "metrics began, by outcome (ok: a result; failed: a per-line error); read from "
                                    "the jobs at each scrape: rate() gives lines/s", labels=("outcome",))
        lines.add_metric(("ok",), ok)
        lines.add_metric(("failed",), failed)
        yield lines
        if self.database is not None:
            jobs = GaugeMetricFamily("bonemets_bulk_jobs", "Bulk jobs kept in the database, by status",
                                     labels=("status",))
            for status, count in sorted(self.database.jobs_by_status.items()):
                jobs.add_metric((status,), count)
            yield jobs
            yield CounterMetricFamily("bonemets_audit_records", "Audit records appended to the chain, by every "
                                      "process (the head's sequence number)", value=self.database.audit_seq)
        if self.queues is not None:
            depth = GaugeMetricFamily("bonemets_broker_queue_messages", "Tasks waiting in the broker's queue for a "
                                      "worker (not those a worker has taken)", labels=("queue",))
            for queue, count in self.queues.items():
                depth.add_metric((queue,), count)
            yield depth


class Metrics:
    """Everything /metrics serves, made by create_app. The scrape-time reads use an engine of their own without a
    pool (one connection per scrape, PostgreSQL), so that a read stalled on a broken network never holds one of the
    connections the requests need."""

    def __init__(self, settings: Settings, celery: Any) -> None:
        self.token = settings.metrics_token
        self.multiprocess = multiprocess_dir()
        # in multiprocess mode the values live in the directory's files; the registry would only hold the objects
        self._registry = None if self.multiprocess else CollectorRegistry()
        self.requests = RequestMetrics(self._registry)
        self.audit = AuditMetrics(self._registry)
        tally = LineTally(self.multiprocess / TALLY_FILE if self.multiprocess else None)
        self._scraped = ScrapeCollector(tally)
        if self._registry is not None:
            self._registry.register(self._scraped)
        self._engine = engine_for(settings, pooled=False)

        def read_database() -> probes.DatabaseReading:
            since, started = tally.window()
            reading = probes.read_database(self._engine, finished_since=since, timeout_s=PROBE_TIMEOUT_S)
            tally.record(reading.progress, started)
            return reading

        self._database = Probe("database", read_database, PROBE_TIMEOUT_S)
        self._broker = Probe("broker", lambda: probes.queue_depth(celery, PROBE_TIMEOUT_S), PROBE_TIMEOUT_S)

    async def render(self) -> bytes:
        """The exposition, after reading the database and the broker side by side (at most PROBE_TIMEOUT_S)."""
        self._scraped.database, self._scraped.queues = await asyncio.gather(self._database(), self._broker())
        registry = self._registry
        if registry is None:  # every process's files, summed; then what was read at this scrape
            registry = CollectorRegistry()
            MultiProcessCollector(registry, str(self.multiprocess))
            registry.register(self._scraped)
        return generate_latest(registry)

    def close(self) -> None:
        self._database.cancel()
        self._broker.cancel()
        self._engine.dispose()


LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
FORWARDING = (b"forwarded", b"x-forwarded-for", b"x-real-ip")
METRICS_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bonemets-metrics"'}


def refusal(scope: Any, token: str | None) -> Response[Any] | None:
    """None when the scraper may read the metrics: it holds the token, or, with none configured, it is on this host
    (a loopback address, and no proxy's header saying the request came from elsewhere)."""
    headers = scope["headers"]
    if token is not None:
        given = next((value for name, value in headers if name == b"authorization"), b"")
        scheme, _, value = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), token.encode()):
            return None
        return problem(401, "The metrics need the token of BONEMETS_METRICS_TOKEN: Authorization: Bearer <token>.",
                       headers=METRICS_CHALLENGE)
    client = scope.get("client")
    try:
        local = client is not None and any(ipaddress.ip_address(client[0]) in net for net in LOOPBACK)
    except ValueError:
        local = False
    if local and not any(name in FORWARDING for name, _ in headers):
        return None
    return problem(403, "The metrics are served to a scraper on this host only; set BONEMETS_METRICS_TOKEN to "
                   "let one elsewhere read them with that token.")


@get("/metrics", include_in_schema=False, exclude_from_auth=True)
async def metrics_endpoint(request: Request) -> Response[Any]:
    """Prometheus' text format. Not part of the integrators' contract: absent from the OpenAPI document."""
    metrics: Metrics = request.app.state.metrics
    refused = refusal(request.scope, metrics.token)
    if refused is not None:
        return refused
    started = time.perf_counter()
    body = await metrics.render()
    request.scope["bonemets"]["log"]["scrape_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return Response(body, media_type=TEXT_FORMAT)  # Litestar adds the charset (utf-8)


ROUTES = [metrics_endpoint]

__all__ = ["ROUTES", "AuditMetrics", "LineTally", "Metrics", "RequestMetrics", "multiprocess_dir"]
