"""`bonemets`: run, serve, worker, migrate, keys, audit (verify, purge, keys rotate), cds (trust, try-key, token),
bulk (submit, status, cancel, list: a client of a remote server)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from api import audit_cli, bulk_cli, cds_cli
from infra.settings import Settings, SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bonemets", description=__doc__)
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="the embedded default: migrate, then the API and one worker together")
    _server_options(run)
    serve = sub.add_parser("serve", help="the API server only")
    _server_options(serve)
    serve.add_argument("--workers", type=int, default=1)
    worker = sub.add_parser("worker", help="a Celery worker only")
    worker.add_argument("--concurrency", type=int, default=2)
    sub.add_parser("migrate", help="apply the database migrations")
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create an API key; prints it alone on the last line")
    create.add_argument("--client", required=True)
    create.add_argument("--roles", required=True, help="comma-separated: scoring,registry,auditor")
    create.add_argument("--expires-in-days", type=float, help="the key stops working after this many days")
    keys.add_parser("list", help="every key: id, client, roles, created, expires, revoked (never the key)")
    revoke = keys.add_parser("revoke", help="revoke a key by its id (effective within BONEMETS_AUTH_CACHE_TTL_S)")
    revoke.add_argument("key_id")
    audit_cli.add_parser(sub)
    cds_cli.add_parser(sub)
    bulk_cli.add_parser(sub)

    args = parser.parse_args(argv)
    if args.command == "bulk":  # a client of a remote server: no installation, no settings
        return bulk_cli.cmd_bulk(args)
    if audit_cli.offline(args):
        return audit_cli.cmd_audit(None, args)  # an export checked offline: no installation, no settings needed
    try:  # only an install (migrate, run) may create an embedded installation's keys
        settings = load_settings(install=args.command in ("migrate", "run"))
    except SettingsError as exc:
        print(f"bonemets: {exc}", file=sys.stderr)
        return 2
    return COMMANDS[args.command](settings, args)


def version_line() -> str:
    """What `bonemets --version` prints: the engine, and the guideline and rules it applies."""
    from domain import version

    return (f"bonemets {version.ENGINE_VERSION} (guideline {version.GUIDELINE_VERSION}, "
            f"rules {version.RULES_VERSION})")


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from infra.db import make_engine
    from infra.migrate import migrate

    # the owner role's connection when there is one (BONEMETS_MIGRATION_DATABASE_URL): the service's own role
    # may not change the schema
    engine = make_engine(settings.migration_database_url or settings.database_url)
    migrate(engine)
    engine.dispose()
    announce(settings, "migrations.applied", "migrations applied")
    return 0


def announce(settings: Settings, event: str, text: str, **fields: object) -> None:
    """A line for the operator: the text on a terminal, a JSON log line in JSON mode (issue 15: every line on
    stdout parses)."""
    if settings.log_format != "json":
        print(text, flush=True)
        return
    import json
    from datetime import UTC, datetime

    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    print(json.dumps({"event": event, "level": "info", "logger": "bonemets.cli", "timestamp": when, **fields}),
          flush=True)


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    from infra.db import make_engine
    from infra.keys import create_key, list_keys, parse_roles, revoke_key

    engine = make_engine(settings.database_url)
    if args.keys_command == "list":
        for k in list_keys(engine):
            print(f"{k.id}  {k.client}  {k.roles}  created {k.created_at}  expires {k.expires_at or 'never'}  "
                  f"{'revoked ' + k.revoked_at if k.revoked_at else 'in force'}")
        return 0
    if args.keys_command == "revoke":
        if not revoke_key(engine, args.key_id):
            print(f"bonemets: no key in force with id {args.key_id}", file=sys.stderr)
            return 2
        print(f"key {args.key_id} revoked; API processes refuse it within {settings.auth_cache_ttl_s:g} s")
        return 0
    try:
        roles = parse_roles(args.roles)
        key = create_key(engine, args.client, roles, args.expires_in_days)
    except ValueError as exc:
        print(f"bonemets: {exc}", file=sys.stderr)
        return 2
    print(f"client {args.client}, roles {','.join(roles)}; the key is shown once:")
    print(key)
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    workers = getattr(args, "workers", 1)
    if settings.embedded and workers > 1:
        print("bonemets: SQLite has one writer; serve one API process (or use PostgreSQL)", file=sys.stderr)
        return 2
    with metrics_directory(workers):
        uvicorn.run("api.main:app_from_environment", factory=True, host=args.host, port=args.port,
                    workers=workers, access_log=False, log_level="warning")
    return 0


METRICS_FILES = ("*.db", "bonemets_bulk_lines.*")  # prometheus_client's files, and api.metrics.LineTally's


@contextlib.contextmanager
def metrics_directory(workers: int) -> Iterator[None]:
    """prometheus_client's multiprocess mode for N API processes (api.metrics): each process writes its counters to
    files in PROMETHEUS_MULTIPROC_DIR, and whichever a scrape reaches sums them all. Without the variable, N > 1 gets
    a temporary directory, removed at exit, and one process keeps its counters in memory. A directory given is
    emptied of those files at start: the counters begin at 0, as a restarted process's do."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for pattern in METRICS_FILES:
            for stale in path.glob(pattern):
                stale.unlink(missing_ok=True)
        yield
    elif workers > 1:
        with tempfile.TemporaryDirectory(prefix="bonemets-metrics-") as made:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = made  # read by the processes uvicorn starts
            try:
                yield
            finally:
                os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    else:
        yield


def worker_command(concurrency: int) -> list[str]:
    """The worker is its own process (`python -m worker`): the API package never imports it."""
    return [sys.executable, "-m", "worker", f"--concurrency={concurrency}"]


def cmd_worker(_settings: Settings, args: argparse.Namespace) -> int:
    command = worker_command(args.concurrency)
    os.execv(command[0], command)  # replaces this process: signals reach the worker itself


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    cmd_migrate(settings, args)
    # uvicorn re-raises the SIGTERM it caught once it has shut down; as an exception (not the default action,
    # which kills at once) it lets the `finally` below stop the worker, so no worker is left orphaned
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    worker = subprocess.Popen(worker_command(1), env=os.environ.copy())
    stopping = threading.Event()

    def watch_worker() -> None:
        """If the worker dies, stop the API too: a half-running service is worse than a stopped one."""
        code = worker.wait()
        if not stopping.is_set():
            print(f"bonemets: the worker exited with code {code}; stopping", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_worker, daemon=True).start()
    try:
        announce(settings, "service.started",
                 f"bonemets: API on http://{args.host}:{args.port} (docs: /schema/swagger), worker pid {worker.pid}",
                 url=f"http://{args.host}:{args.port}", worker_pid=worker.pid)
        return cmd_serve(settings, args)
    finally:
        stopping.set()
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


COMMANDS = {"run": cmd_run, "serve": cmd_serve, "worker": cmd_worker, "migrate": cmd_migrate,
            "keys": cmd_keys, "audit": audit_cli.cmd_audit, "cds": cds_cli.cmd_cds}

if __name__ == "__main__":
    sys.exit(main())
