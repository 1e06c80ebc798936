"""Exports that prove their completeness (issue 11): every NDJSON or CSV export has a manifest signed by the service
(filters, first and last seq, count, digest, chain hash, covering checkpoints); offline verification streams
the file and names a deleted, inserted, reordered or cut record in a full export, and sees a record removed from
or added to a filtered one."""

import json
import subprocess
import sys
import tracemalloc

import pytest

from infra.audit import GENESIS_HASH, record_hash
from infra.audit_review import Filters, ManifestBuilder, verify_export
from infra.signing import KeyRing, Signer
from tests.conftest import Keys
from tests.integration.test_audit_review import SIGNER, populate

MEDIA = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
OTHER_KEY = Signer(b"\x07" * 32).public_key_hex


def offline(path, *extra, key=SIGNER.public_key_hex):
    command = [sys.executable, "-m", "api.cli", "audit", "verify", "--file", str(path), *extra]
    if key:
        command += ["--public-key", key]
    return subprocess.run(command, capture_output=True, text=True, env={"PATH": ""}, timeout=60)


def export(client, keys, tmp_path, fmt, filters=None):
    """The export and its manifest as a reviewer would save them: NDJSON carries its own as the last line; CSV
    links to it."""
    response = client.get("/v1/audit", params={"format": fmt, **(filters or {})}, headers=Keys.header(keys.auditor))
    assert response.status_code == 200 and response.headers["content-type"] == MEDIA[fmt]
    link = response.headers["link"].split(";")[0].strip("<>")
    assert link.startswith("/v1/audit/manifest?") and f"through_seq={response.headers['audit-through-seq']}" in link
    manifest = client.get(link, headers=Keys.header(keys.auditor)).json()
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(response.content)
    lines = response.text.splitlines(keepends=True)
    if fmt == "ndjson":  # the trailer and the manifest endpoint sign the same facts (at other instants)
        trailer = json.loads(lines[-1])["manifest"]
        assert {k: v for k, v in trailer.items() if k not in ("created_at", "signature")} == {
            k: v for k, v in manifest.items() if k not in ("created_at", "signature")}
        return path, lines[:-1], lines[-1:], trailer, ()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return path, lines[1:], lines[:1], manifest, ("--manifest", str(tmp_path / "manifest.json"))


def tampered(path, fmt, head, records, tail, change):
    """The file rewritten with its records changed by `change` (a list -> list), header or manifest kept."""
    body = change(list(records))
    path.write_text("".join(head + body) if fmt == "csv" else "".join(body + tail))
    return path


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_a_full_export_names_each_kind_of_tampering(client, keys, engine, tmp_path, fmt):
    populate(engine, 2500, every=1000)
    path, records, extra_lines, manifest, extra = export(client, keys, tmp_path, fmt)
    assert (manifest["full"], manifest["count"], manifest["first_seq"], manifest["last_seq"]) == (True, 2500, 1, 2500)
    covering = [c["seq"] for c in manifest["checkpoints"]]  # every 1000th, and the head if a writer signed it
    assert {1000, 2000} <= set(covering) and all(1 <= seq <= 2500 for seq in covering)
    head = extra_lines if fmt == "csv" else []
    tail = extra_lines if fmt == "ndjson" else []
    ok = offline(path, *extra)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "export intact and complete: 2500 records of the whole trail" in ok.stdout
    assert f"{len(covering)} signed checkpoints" in ok.stdout
    cases = {
        "deleted": (lambda r: r[:1233] + r[1234:], "record 1234 is missing"),
        "inserted twice": (lambda r: [*r[:700], r[699], *r[700:]], "comes after record 700"),
        "reordered": (lambda r: [*r[:10], r[11], r[10], *r[12:]], "comes after record 12"),
        "cut from the end": (lambda r: r[:-3], "ends at record 2497"),
        "cut from the start": (lambda r: r[5:], "starts at record 6"),
        "modified": (lambda r: [*r[:40], r[40].replace("r40", "r41"), *r[41:]], "modified"),
    }
    for what, (change, named) in cases.items():
        result = offline(tampered(path, fmt, head, records, tail, change), *extra)
        assert result.returncode == 1 and named in result.stdout, (what, result.stdout, result.stderr)
    path.write_text("".join(head + records + tail))
    wrong_key = offline(path, *extra, key=OTHER_KEY)
    assert wrong_key.returncode == 1 and "signature does not verify" in wrong_key.stdout
    no_key = offline(path, *extra, key=None)
    assert no_key.returncode == 2 and "trusted key" in no_key.stderr


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_a_filtered_export_reveals_a_removed_or_added_record(client, keys, engine, tmp_path, fmt):
    populate(engine, 300, every=100)
    everything = client.get("/v1/audit", params={"format": "ndjson"}, headers=Keys.header(keys.auditor)).text
    path, records, extra_lines, manifest, extra = export(client, keys, tmp_path, fmt, {"client": "ward-b"})
    assert manifest["filters"] == {"client": "ward-b"} and manifest["count"] == 100 and not manifest["full"]
    assert manifest["checkpoints"] == []  # a filtered export holds no checkpoint's record: it claims none
    head = extra_lines if fmt == "csv" else []
    tail = extra_lines if fmt == "ndjson" else []
    ok = offline(path, *extra)
    assert ok.returncode == 0 and '100 records matching {"client": "ward-b"}' in ok.stdout and "0 signed" in ok.stdout
    removed = offline(tampered(path, fmt, head, records, tail, lambda r: r[:50] + r[51:]), *extra)
    assert removed.returncode == 1 and "holds 99 records, its signed manifest 100" in removed.stdout
    # another client's record (a true one, with a valid hash), slipped in at its place in the order
    stranger = json.loads(everything.splitlines()[0])  # seq 1: ward-a
    assert stranger["client"] == "ward-a"
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(["" if v is None else v for v in stranger.values()])
        line = buffer.getvalue()
    else:
        line = json.dumps(stranger) + "\n"
    added = offline(tampered(path, fmt, head, records, tail, lambda r: [line, *r]), *extra)
    assert added.returncode == 1 and "holds 101 records" in added.stdout
    forged_manifest = {**manifest, "count": 99}
    if fmt == "csv":
        (tmp_path / "manifest.json").write_text(json.dumps(forged_manifest))
        path.write_text("".join(head + records))
    else:
        path.write_text("".join(records) + json.dumps({"manifest": forged_manifest}) + "\n")
    assert "signature does not verify" in offline(path, *extra).stdout


def test_an_export_without_its_manifest_is_not_called_complete(client, keys, engine, tmp_path):
    """Cutting the manifest line off an NDJSON export (or a CSV without --manifest) is not a pass."""
    populate(engine, 20, every=10)
    path, records, _, _, _ = export(client, keys, tmp_path, "ndjson")
    path.write_text("".join(records))
    result = offline(path)
    assert result.returncode == 1 and "NOT proven complete" in result.stdout  # a script reads the exit code


def test_offline_verification_streams_in_constant_memory():
    """verify_export reads one record at a time: checking 20,000 records holds no more memory than 2,000."""

    def chain(count):
        prev = GENESIS_HASH
        for seq in range(1, count + 1):
            record = {"seq": seq, "id": f"id-{seq}", "created_at": "2026-11-27T00:00:00.000000Z", "client": "c",
                      "roles": "scoring", "endpoint": "POST /v1/scores/sins", "action": "score.computed",
                      "request_id": "r", "patient_hash": None, "input_json": "{}" + " " * 500,
                      "output_json": "{}", "rule_ids": "SP-3", "guideline_version": "g", "engine_version": "e",
                      "rules_version": "r", "job_id": None, "prev_hash": prev}
            record["hash"] = prev = record_hash(record)
            yield record

    def peak(count):
        builder = ManifestBuilder(Filters(), count)
        for record in chain(count):
            builder.add([record])
        manifest = Signer(b"\x05" * 32).sign_manifest(builder.manifest([]))
        tracemalloc.start()
        result = verify_export(chain(count), keyring=KeyRing.of([Signer(b"\x05" * 32).public_key_hex]),
                               manifest=manifest)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert result.intact and result.records == count
        return top

    small, large = peak(2000), peak(20000)
    assert large < small * 1.5 + 64 * 1024, (small, large)
