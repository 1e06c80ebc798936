"""`bonemets audit …`: verify (the database, an export, the external checkpoints), purge, keys rotate."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import secrets
import sys
import uuid
from typing import Any

from infra.settings import RETIRED_KEYS_FILE, Settings


def add_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="verify the hash chain in one snapshot; exit 1 naming the first "
                                             "broken record")
    verify.add_argument("--against-checkpoints", metavar="SINK",
                        help="also check the checkpoints published to this file sink (BONEMETS_AUDIT_CHECKPOINT_SINK)"
                             ": a rewritten chain, a cut tail or deleted checkpoints disagree with them")
    verify.add_argument("--workers", type=int, default=1, metavar="N",
                        help="processes walking the trail in ranges, on PostgreSQL from 100,000 records: for a host "
                             "with cores to spare, e.g. verifying against a replica; the verdict is the same")
    verify.add_argument("--file", help="verify an exported NDJSON or CSV file offline instead of the database")
    verify.add_argument("--manifest", help="with --file: the export's signed manifest (GET /v1/audit/manifest); an "
                                           "NDJSON export carries its own as its last line")
    verify.add_argument("--checkpoints", help="with --file: the JSON of GET /v1/audit/checkpoints")
    verify.add_argument("--public-key", action="append", default=[], metavar="HEX",
                        help="with --file: a trusted Ed25519 public key (hex); repeat for retired keys")
    purge = audit.add_parser("purge", help="delete records older than the retention period (audited)")
    purge.add_argument("--before", help="ISO date; defaults to today minus BONEMETS_AUDIT_RETENTION_DAYS")
    keys = audit.add_parser("keys", help="the keys that sign checkpoints").add_subparsers(dest="keys_command",
                                                                                        required=True)
    keys.add_parser("rotate", help="sign the head with the current key, retire it, make a new one")
    keys.add_parser("list", help="the current and retired public keys with their key ids")


def offline(args: argparse.Namespace) -> bool:
    """An export checked offline needs no installation and no settings."""
    return args.command == "audit" and args.audit_command == "verify" and bool(args.file)


def cmd_audit(settings: Settings | None, args: argparse.Namespace) -> int:
    if args.audit_command == "verify":
        return cmd_verify_file(args) if args.file else cmd_verify(settings, args)
    if args.audit_command == "purge":
        return cmd_purge(settings, args)
    return cmd_keys_rotate(settings) if args.keys_command == "rotate" else cmd_keys_list(settings)


def _report(result: Any, what: str, subject: str = "audit trail") -> int:
    if result.intact:
        print(what)
        return 0
    broken = result.first_broken
    where = "" if broken.seq is None else f" at record {broken.seq}" + (f" (id {broken.id})" if broken.id else "")
    print(f"{subject} BROKEN{where}: {broken.reason}")
    return 1


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from infra.audit import verify
    from infra.db import make_engine
    from infra.signing import Published, read_sink

    published, sink_missing = None, False
    if args.against_checkpoints:  # judged with the keys this installation trusts, and those they handed over to
        try:
            published = read_sink(args.against_checkpoints, settings.keyring)
        except FileNotFoundError:  # a file sink is created by its first checkpoint: judged below, by the chain's
            published, sink_missing = Published(checkpoints=[], purges={}, keyring=settings.keyring), True
        except (OSError, ValueError) as exc:
            print(f"bonemets: {exc}", file=sys.stderr)
            return 2
    engine = make_engine(settings.database_url)
    try:
        result = verify(engine, settings.keyring, coverage=settings.coverage, published=published,
                        workers=max(1, args.workers))
    finally:
        engine.dispose()
    if published is not None and not published.checkpoints and result.intact and result.checkpoints:
        what = "does not exist" if sink_missing else "holds no checkpoint"
        print(f"bonemets: {args.against_checkpoints} {what}, yet the trail holds {result.checkpoints} signed "
              "checkpoints that were to be published there: check the path (BONEMETS_AUDIT_CHECKPOINT_SINK), whether "
              "the file was moved, emptied or deleted, and the sink's state in readiness; the trail was not checked "
              "against it", file=sys.stderr)
        return 2
    against = (f", {result.external_checkpoints} of them also published outside the database" if not sink_missing
               else f"; none signed yet, so {args.against_checkpoints} was not created yet" if published else "")
    return _report(result, f"audit trail intact: {result.records} records through the head at {result.head}, "
                           f"{result.checkpoints} signed checkpoints{against}")


def cmd_verify_file(args: argparse.Namespace) -> int:
    from infra.audit import Checkpoint
    from infra.audit_review import ExportFile, ExportUnreadable, verify_export
    from infra.signing import KeyRing, is_public_key, read_sink

    bad = [k for k in args.public_key if not is_public_key(k)]
    if bad:
        print(f"bonemets: --public-key {bad[0][:16]}... is not an Ed25519 public key (64 hex characters)",
              file=sys.stderr)
        return 2
    keyring = KeyRing.of(args.public_key) if args.public_key else None
    try:
        checkpoints: list[Checkpoint] = []
        if args.checkpoints:
            with open(args.checkpoints, encoding="utf-8") as f:
                checkpoints = [Checkpoint(**c) for c in json.load(f)["checkpoints"]]
        if args.against_checkpoints:  # only the keys you pinned, and those they handed over to, are trusted
            published = read_sink(args.against_checkpoints, keyring or KeyRing({}))
            if published.problem is not None:
                print(f"export NOT verified: {published.problem[1]}")
                return 1
            checkpoints += published.checkpoints
            keyring = published.keyring
        manifest = None
        if args.manifest:
            with open(args.manifest, encoding="utf-8") as f:
                manifest = json.load(f)
        export = ExportFile(args.file)
        result = verify_export(export, checkpoints, keyring, manifest or (lambda: export.manifest))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # ExportUnreadable and json errors are ValueErrors
        why = exc if isinstance(exc, (ExportUnreadable, OSError)) else f"unreadable input ({exc})"
        print(f"bonemets: {why}", file=sys.stderr)
        return 2
    signed = manifest or export.manifest
    if signed is not None and keyring is None:
        print("bonemets: the manifest's signature needs a trusted key: --public-key HEX (from your organisation's "
              "records; repeat it for retired keys)", file=sys.stderr)
        return 2
    if not result.intact:
        return _report(result, "", subject="export")
    if signed is None:  # a script reading the exit code must not take a cut file for a whole one
        print(f"export NOT proven complete: its {result.records} records are intact one by one, but it has no "
              "manifest (pass --manifest, or export as NDJSON, which carries its own)")
        return 1
    first, last = signed.get("first_seq"), signed.get("last_seq")
    if signed.get("full"):
        scope = "of the whole trail" if first in (None, 1) else (
            f"of the whole trail as it stands (records before {first} were purged: see the audit.purged record)")
    else:
        scope = f"matching {json.dumps(signed.get('filters'), ensure_ascii=False)}"
    span = f", records {first} to {last}" if first is not None else ""
    print(f"export intact and complete: {result.records} records {scope}{span}, up to the head at "
          f"{signed.get('through_seq')} when it was exported, as its signed manifest says; "
          f"{result.checkpoints} signed checkpoints")
    return 0


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
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
    # the owner's connection: on PostgreSQL only the owner may run the purge function
    outcome = purge(make_engine(settings.migration_database_url or settings.database_url),
                    f"{before.isoformat()}T00:00:00.000000Z",
                    settings.checkpointer(), who=f"operator:{getpass.getuser()}", request_id=uuid.uuid4().hex,
                    versions=(version.GUIDELINE_VERSION, version.ENGINE_VERSION, version.RULES_VERSION))
    print(f"purged {outcome['purged']} audit records before {before}; the first kept record is anchored by "
          f"the signed checkpoint {outcome['anchor_checkpoint']}")
    return 0


def cmd_keys_list(settings: Settings) -> int:
    from infra.signing import key_id_of

    print(f"{key_id_of(settings.public_key)}  {settings.public_key}  current")
    for key in settings.audit_retired_public_keys:
        print(f"{key_id_of(key)}  {key}  retired")
    return 0


def cmd_keys_rotate(settings: Settings) -> int:
    """Close the old key's part of the trail with a checkpoint of the head signed by it, keep its public key in
    the ring, and make a new signing key. On the embedded default the key files in var/ are updated; with keys in
    the environment, the new values are printed for the operator's secret store."""
    from infra.audit import checkpoint_head, utc_now
    from infra.db import make_engine
    from infra.signing import Signer

    engine = make_engine(settings.database_url)
    raw = engine.raw_connection()
    checkpoints = settings.checkpointer()
    try:
        closed = checkpoint_head(raw, engine.dialect.name, checkpoints)
    finally:
        raw.close()
        engine.dispose()
    old, new_seed = settings.public_key, secrets.token_hex(32)
    new = Signer(bytes.fromhex(new_seed))
    # the retiring key vouches for its successor in the sink: a verifier who pinned the first key follows it
    checkpoints.publish_lines([Signer(settings.audit_signing_key).handover(new.public_key_hex, utc_now())])
    if checkpoints.sink is not None and checkpoints.sink_failed:
        print("bonemets: the checkpoint sink cannot be written; nothing was rotated", file=sys.stderr)
        return 1
    retired = list(dict.fromkeys([*settings.audit_retired_public_keys, old]))
    where = f" (record {closed[0]})" if closed else ""
    print(f"the head{where} is signed by the retiring key {Signer(settings.audit_signing_key).key_id}")
    key_file = settings.var_dir / "audit-signing.key"
    if "BONEMETS_AUDIT_SIGNING_KEY" not in os.environ and key_file.exists():
        with open(settings.var_dir / RETIRED_KEYS_FILE, "a", encoding="utf-8") as f:
            f.write(old + "\n")
        fresh = key_file.with_suffix(".key.new")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_seed)
        os.replace(fresh, key_file)
        print(f"key {new.key_id} signs from now on ({key_file}); the retired key stays in "
              f"{settings.var_dir / RETIRED_KEYS_FILE}. Restart the service (bonemets run) to sign with the new key.")
        return 0
    print(f"new signing key {new.key_id}: set these in the service's secret store, then restart every process:")
    print(f"BONEMETS_AUDIT_SIGNING_KEY={new_seed}")
    print(f"BONEMETS_AUDIT_RETIRED_PUBLIC_KEYS={','.join(retired)}")
    return 0
