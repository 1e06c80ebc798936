"""`bonemets`: run, serve, worker, migrate, keys create, audit verify."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading

from infra.settings import Settings, SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bonemets", description=__doc__)
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
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="verify the hash chain; exit 1 naming the first broken record")
    verify.add_argument("--file", help="verify an exported NDJSON or CSV file offline instead of the database")
    verify.add_argument("--checkpoints", help="with --file: the JSON of GET /v1/audit/checkpoints")
    verify.add_argument("--public-key", help="with --file: the Ed25519 public key (hex) that signs checkpoints")
    purge = audit.add_parser("purge", help="delete records older than the retention period (audited)")
    purge.add_argument("--before", help="ISO date; defaults to today minus BONEMETS_AUDIT_RETENTION_DAYS")

    args = parser.parse_args(argv)
    if args.command == "audit" and args.audit_command == "verify" and args.file:
        return cmd_audit_verify(None, args)  # an export checked offline: no installation, no settings needed
    try:  # only an install (migrate, run) may create an embedded installation's keys
        settings = load_settings(install=args.command in ("migrate", "run"))
    except SettingsError as exc:
        print(f"bonemets: {exc}", file=sys.stderr)
        return 2
    return COMMANDS[args.command](settings, args)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from infra.db import make_engine
    from infra.migrate import migrate

    engine = make_engine(settings.database_url)
    migrate(engine)
    engine.dispose()
    print("migrations applied")
    return 0


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


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    return cmd_audit_purge(settings, args) if args.audit_command == "purge" else cmd_audit_verify(settings, args)


def cmd_audit_verify(settings: Settings | None, args: argparse.Namespace) -> int:
    import json

    from infra.audit import Checkpoint, verify
    from infra.audit_review import read_export, verify_export
    from infra.db import make_engine

    if args.file:
        checkpoints = []
        if args.checkpoints:
            with open(args.checkpoints, encoding="utf-8") as f:
                checkpoints = [Checkpoint(**c) for c in json.load(f)["checkpoints"]]
        result = verify_export(read_export(args.file), checkpoints, args.public_key)
    else:
        result = verify(make_engine(settings.database_url), settings.public_key)
    if result.intact:
        print(f"audit trail intact: {result.records} records, {result.checkpoints} signed checkpoints")
        return 0
    broken = result.first_broken
    print(f"audit trail BROKEN after {result.records} good records: record {broken.id} (seq {broken.seq}): "
          f"{broken.reason}")
    return 1


def cmd_audit_purge(settings: Settings, args: argparse.Namespace) -> int:
    import datetime as dt
    import getpass
    import uuid

    from domain import version
    from infra.audit_review import purge
    from infra.db import make_engine

    cutoff = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=settings.audit_retention_days)
    try:
        before = dt.date.fromisoformat(args.before) if args.before else cutoff
    except ValueError:
        print(f"bonemets: --before must be an ISO date, not {args.before!r}", file=sys.stderr)
        return 2
    if before > cutoff:
        print(f"bonemets: records after {cutoff} are within the {settings.audit_retention_days}-day retention "
              "period (BONEMETS_AUDIT_RETENTION_DAYS) and cannot be purged", file=sys.stderr)
        return 2
    outcome = purge(make_engine(settings.database_url), f"{before.isoformat()}T00:00:00.000000Z",
                    settings.checkpointer(), who=f"operator:{getpass.getuser()}", request_id=uuid.uuid4().hex,
                    versions=(version.GUIDELINE_VERSION, version.ENGINE_VERSION, version.RULES_VERSION))
    print(f"purged {outcome['purged']} audit records before {before}; the first kept record is anchored by "
          f"the signed checkpoint {outcome['anchor_checkpoint']}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    workers = getattr(args, "workers", 1)
    if settings.embedded and workers > 1:
        print("bonemets: SQLite has one writer; serve one API process (or use PostgreSQL)", file=sys.stderr)
        return 2
    uvicorn.run("api.main:app_from_environment", factory=True, host=args.host, port=args.port,
                workers=workers, access_log=False, log_level="warning")
    return 0


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
        print(f"bonemets: API on http://{args.host}:{args.port} (docs: /schema/swagger), worker pid {worker.pid}",
              flush=True)
        return cmd_serve(settings, args)
    finally:
        stopping.set()
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


COMMANDS = {"run": cmd_run, "serve": cmd_serve, "worker": cmd_worker, "migrate": cmd_migrate,
            "keys": cmd_keys, "audit": cmd_audit}

if __name__ == "__main__":
    sys.exit(main())
