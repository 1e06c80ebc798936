"""`bonemets bulk`: a registry's client of a remote bonemets server.

  bonemets bulk submit FILE [--wait] [--out results.ndjson] [--report summary.pdf]
      stream a file of cases (NDJSON, or one JSON array) to POST /v1/bulk-jobs; with --wait follow the job with a
      progress bar, then download its results and its registry summary PDF (--out and --report imply --wait)
  bonemets bulk status ID [--wait] [--out FILE] [--report FILE] [--json]
  bonemets bulk cancel ID        cancel a job and delete its results (its audit records stay)
  bonemets bulk list [--json]    the key's jobs, oldest first

It needs no local installation and reads no settings: only the server's URL and a key with the registry role,
from --url/--key or BONEMETS_URL (default http://127.0.0.1:8000) and BONEMETS_API_KEY. The key is sent in the
Authorization header only and never printed.

The upload carries an Idempotency-Key: by default `sha256:` and the file's digest, so running the same command again
after a broken connection (the CLI itself retries) gives back the job the first run made instead of a second one;
--new asks for a new job with the same file, --idempotency-key names your own key.

Exit codes: 0 every line ok; 1 the job finished with failed lines (the counts are printed); 2 usage (a bad flag,
a missing file or key); 3 the server answered with an error (its problem detail is printed); 4 the server could not
be reached; 5 the job itself failed, was cancelled or is gone; 130 interrupted (the job keeps running server-side).
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import hashlib
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from domain import version

if TYPE_CHECKING:
    from api.bulk_progress import Progress

OK, LINES_FAILED, USAGE, SERVER_ERROR, UNREACHABLE, JOB_FAILED, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
DEFAULT_URL = "http://127.0.0.1:8000"
FINISHED = ("succeeded", "failed", "cancelled")
BLOCK = 1 << 20  # the file is read and sent 1 MiB at a time: never held whole
TRIES = 4  # a request is tried this often over a broken connection or a 502/503/504 (each is idempotent)
THROTTLED_TRIES = 30  # 429s waited out, as Retry-After says, before giving up
POLL_S = 2.0  # until the server's Retry-After says otherwise
SHOWN_FAILURES = 3  # failed lines whose errors are printed at the end


class Stop(Exception):
    """Ends the command: the message goes to stderr and the code is the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_parser(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"the server (default: $BONEMETS_URL, else {DEFAULT_URL})")
    common.add_argument("--key", help="an API key with the registry role (default: $BONEMETS_API_KEY, which keeps "
                                      "it out of the shell history and the process list)")
    follow = argparse.ArgumentParser(add_help=False)
    follow.add_argument("--wait", action="store_true", help="follow the job until it finishes (progress bar)")
    follow.add_argument("--out", type=Path, help="write the results here, one NDJSON line per input line (implies "
                                                 "--wait)")
    follow.add_argument("--report", type=Path, help="write the registry summary PDF here (implies --wait)")
    bulk = sub.add_parser("bulk", help="a registry's client of a bonemets server: submit, status, cancel, list",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = bulk.add_subparsers(dest="bulk_command", required=True)
    submit = commands.add_parser("submit", parents=[common, follow], help="submit a file of cases")
    submit.add_argument("file", type=Path, help="NDJSON (one case per line) or a JSON array of cases")
    keys = submit.add_mutually_exclusive_group()
    keys.add_argument("--new", action="store_true", help="a new job even if this file was submitted before")
    keys.add_argument("--idempotency-key", help="your own key instead of the file's digest (1 to 128 characters)")
    status = commands.add_parser("status", parents=[common, follow], help="a job's status (--wait: follow it)")
    status.add_argument("job_id")
    status.add_argument("--json", action="store_true", help="the server's JSON status, for machines")
    cancel = commands.add_parser("cancel", parents=[common], help="cancel a job and delete its results")
    cancel.add_argument("job_id")
    listing = commands.add_parser("list", parents=[common], help="this key's jobs, oldest first")
    listing.add_argument("--json", action="store_true", help="a JSON array of the jobs, for machines")


def cmd_bulk(args: argparse.Namespace) -> int:
    """Runs without settings or an installation: a client of the server at --url."""
    try:
        server = Server(*endpoint(args))
    except Stop as stop:
        print(f"bonemets: {stop}", file=sys.stderr)
        return stop.code
    try:
        return COMMANDS[args.bulk_command](server, args)
    except Stop as stop:
        print(f"bonemets: {stop}", file=sys.stderr)
        return stop.code
    except KeyboardInterrupt:  # before the server had a job (after, each command says what to do next)
        print("\nbonemets: interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        server.close()


def endpoint(args: argparse.Namespace) -> tuple[str, str]:
    url = (args.url or os.environ.get("BONEMETS_URL") or DEFAULT_URL).rstrip("/")
    key = args.key or os.environ.get("BONEMETS_API_KEY", "")
    if not url.startswith(("http://", "https://")):
        raise Stop(f"--url must be an http:// or https:// URL, not {url!r}", USAGE)
    if not key:
        raise Stop("no API key: set BONEMETS_API_KEY (or pass --key) to a key with the registry role", USAGE)
    return url, key


class Server:
    """The server's REST API, each request tried again where that is safe, every refusal told as its problem."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.throttled = 0  # 429s met so far: the poller slows down when it sees them
        self._http = httpx.Client(base_url=url, timeout=httpx.Timeout(30.0, connect=10.0),
                                  headers={"Authorization": f"Bearer {key}",
                                           "User-Agent": f"bonemets-cli/{version.ENGINE_VERSION}"})

    def close(self) -> None:
        self._http.close()

    def send(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), stream: bool = False,
             body: Callable[[], Iterator[bytes]] | None = None, **kwargs: Any) -> httpx.Response:
        """The response once its status is one of `expect`; `body` makes a fresh upload body for each try."""
        tries = throttled = 0
        while True:
            tries += 1
            request = self._http.build_request(method, path, content=body() if body else None, **kwargs)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                why = str(exc) or type(exc).__name__
                if tries >= TRIES:
                    raise Stop(f"cannot reach {self.url}: {why} (tried {tries} times)", UNREACHABLE) from None
                print(f"bonemets: {method} {path}: {why}; trying again in {backoff(tries):g} s ({tries + 1} of "
                      f"{TRIES})", file=sys.stderr, flush=True)
                time.sleep(backoff(tries))
                continue
            if response.status_code in expect:
                return response
            response.read()
            response.close()
            if response.status_code == 429 and throttled < THROTTLED_TRIES:
                throttled += 1
                self.throttled += 1
                time.sleep(retry_after(response, POLL_S))
            elif response.status_code in (502, 503, 504) and tries < TRIES:
                wait = retry_after(response, backoff(tries))
                print(f"bonemets: {method} {path}: {describe(response).splitlines()[0]}; trying again in {wait:g} s "
                      f"({tries + 1} of {TRIES})", file=sys.stderr, flush=True)
                time.sleep(wait)
            else:
                raise Stop(f"{method} {path}: {describe(response)}", SERVER_ERROR)

    def job(self, job_id: str) -> tuple[dict[str, Any], float]:
        """A job's status and how long to wait before asking again; a job that is gone ends the command (5)."""
        response = self.send("GET", f"/v1/bulk-jobs/{job_id}", expect=(200, 202, 404))
        if response.status_code == 404:
            raise Stop(f"no job {job_id} for this key's client: cancelled, expired, or never submitted", JOB_FAILED)
        return response.json(), retry_after(response, POLL_S)


def backoff(tries: int) -> float:
    """0.5, 1, 2 s: a server restarting behind its load balancer is back within a few seconds, or is down."""
    return 0.5 * 2 ** (tries - 1)


def retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.1, min(float(value), 300.0))
    except ValueError:
        return default


def describe(response: httpx.Response) -> str:
    """The server's answer as a person reads it: an RFC 9457 problem's title and detail, and each field's error."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = " ".join(response.text.split())[:300]
        return f"{response.status_code} {response.reason_phrase}" + (f": {text}" if text else "")
    text = f"{response.status_code} {body.get('title') or response.reason_phrase}"
    if body.get("detail"):
        text += f": {body['detail']}"
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            allowed = f" (allowed: {', '.join(map(str, error['allowed']))})" if error.get("allowed") else ""
            text += f"\n  {error.get('field', '?')}: {error.get('message', '')}{allowed}"
    return text


def file_body(path: Path, sent: Callable[[int], None]) -> Callable[[], Iterator[bytes]]:
    """A maker of the upload body: the file read a block at a time, each block counted once it has been sent."""

    def blocks() -> Iterator[bytes]:
        done = 0
        sent(done)
        with path.open("rb") as file:
            while block := file.read(BLOCK):
                yield block
                done += len(block)
                sent(done)

    return blocks


def media_type(path: Path) -> str:
    """A JSON array starts with `[`; anything else is sent as NDJSON (whose lines the server checks one by one)."""
    with path.open("rb") as file:
        start = file.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "application/json" if start.startswith(b"[") else "application/x-ndjson"


def idempotency_key(args: argparse.Namespace) -> str:
    if args.idempotency_key is not None:
        if not 1 <= len(args.idempotency_key) <= 128:
            raise Stop("--idempotency-key must be 1 to 128 characters", USAGE)
        return args.idempotency_key
    if args.new:
        return f"cli-{secrets.token_hex(16)}"
    with args.file.open("rb") as file:
        return "sha256:" + hashlib.file_digest(file, "sha256").hexdigest()


def cmd_submit(server: Server, args: argparse.Namespace) -> int:
    from api.bulk_progress import for_stream

    path: Path = args.file
    if not path.is_file():
        raise Stop(f"{path}: no such file", USAGE)
    size = path.stat().st_size
    if size == 0:
        raise Stop(f"{path} is empty: nothing to submit", USAGE)
    key = idempotency_key(args)
    # a cheap authorised call first: a wrong key or role is said before gigabytes are sent, and the server's clock
    # then tells a job this upload made from one an earlier run with the same key had made
    before = server_time(server.send("GET", "/v1/bulk-jobs", params={"limit": 1}))
    progress = for_stream(sys.stdout)
    try:
        response = server.send(
            "POST", "/v1/bulk-jobs", expect=(202,), body=file_body(path, lambda sent: progress.upload(sent, size)),
            headers={"Content-Type": media_type(path), "Content-Length": str(size), "Idempotency-Key": key},
            timeout=httpx.Timeout(30.0, connect=10.0, read=300.0 + size / 1e6))  # the server stores, then answers
    except KeyboardInterrupt:
        progress.close()
        print(f"\nbonemets: upload interrupted. {retry_hint(args, key)}", file=sys.stderr)
        return INTERRUPTED
    except Stop as stop:
        progress.close()
        if stop.code == UNREACHABLE:
            raise Stop(f"{stop}\n{retry_hint(args, key)}", stop.code) from None
        raise
    except BaseException:
        progress.close()
        raise
    job = response.json()
    try:
        created = created_at(job)
        if before is not None and created is not None and created < before:
            progress.note(f"job {job['id']}: this file was submitted before (Idempotency-Key {key}); that job is the "
                          "one shown. To run it again as a new job: --new")
        else:
            progress.note(f"job {job['id']} submitted: {int(job['total']):,} lines (Idempotency-Key {key})")
    except KeyboardInterrupt:
        progress.close()
        return interrupted(job, args)
    if not (args.wait or args.out or args.report):
        progress.close()
        print(f"follow it: bonemets bulk status {job['id']} --wait [--out results.ndjson]")
        return OK
    return follow(server, job, args, progress)


def retry_hint(args: argparse.Namespace, key: str) -> str:
    again = "the same command" if args.idempotency_key is None and not args.new else \
        f"the same command with --idempotency-key {key}" + (" instead of --new" if args.new else "")
    return (f"Run {again}: that Idempotency-Key gives back the job if the server had the whole file, or makes it "
            "once.")


def server_time(response: httpx.Response) -> dt.datetime | None:
    try:
        return email.utils.parsedate_to_datetime(response.headers["date"])
    except (KeyError, TypeError, ValueError):
        return None


def created_at(job: dict[str, Any]) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(job["created_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


def follow(server: Server, job: dict[str, Any], args: argparse.Namespace, progress: Progress) -> int:
    """Poll as the server's Retry-After says (slower when it answers 429) until the job finishes, then fetch its
    results and summary. Ctrl-C leaves the job on the server and says how to follow or cancel it."""
    delay = POLL_S
    try:
        try:
            while True:
                progress.job(job)
                if job["status"] in FINISHED:
                    break
                throttled = server.throttled
                time.sleep(delay)
                job, delay = server.job(job["id"])
                if server.throttled > throttled:
                    delay = max(delay, POLL_S) * 1.5
        finally:
            progress.close()
        return finish(server, job, args)
    except KeyboardInterrupt:
        return interrupted(job, args)


def interrupted(job: dict[str, Any], args: argparse.Namespace) -> int:
    """Ctrl-C once the server has the job: it goes on there; say how to follow it or cancel it."""
    job_id, again = job["id"], " ".join(f"--{flag} {value}" for flag in ("out", "report")
                                         if (value := getattr(args, flag)))
    state = "keeps running" if job["status"] not in FINISHED else "has finished and stays"
    print(f"\nbonemets: interrupted; job {job_id} {state} on the server.\n"
          f"  follow it: bonemets bulk status {job_id} --wait {again}".rstrip() + "\n"
          f"  cancel it: bonemets bulk cancel {job_id}", file=sys.stderr)
    return INTERRUPTED


def finish(server: Server, job: dict[str, Any], args: argparse.Namespace) -> int:
    job_id, total, failed = job["id"], int(job["total"]), int(job["failed"])
    print(f"job {job_id} {job['status']}: {int(job['done']):,} ok, {failed:,} failed, {total:,} lines")
    if job["status"] in FINISHED and args.out:
        lines = download_results(server, job_id, args.out)
        print(f"results: {args.out} ({lines:,} lines)")
        if job["status"] == "succeeded" and lines != total:
            raise Stop(f"the results stopped at {lines:,} of {total:,} lines: run `bonemets bulk status {job_id} "
                       f"--out {args.out}` again", UNREACHABLE)
    if job["status"] in FINISHED and args.report:
        size = download_report(server, job_id, args.report)
        print(f"summary: {args.report} ({size:,} bytes)")
    if job["status"] != "succeeded":
        reason = f" ({job['failure']})" if job.get("failure") else ""
        print(f"bonemets: job {job_id} {job['status']}{reason}", file=sys.stderr)
        return JOB_FAILED
    if failed:
        for line in first_failures(server, job_id):
            print(line)
        where = f"the lines with \"ok\": false in {args.out}" if args.out else \
            f"bonemets bulk status {job_id} --out FILE"
        print(f"{failed:,} of {total:,} lines failed; their errors: {where}")
        return LINES_FAILED
    return OK


def download_results(server: Server, job_id: str, out: Path) -> int:
    """The results streamed to `out` (through a .part file, so a cut download never looks complete); their lines."""
    partial = out.with_name(out.name + ".part")
    lines = 0
    response = server.send("GET", f"/v1/bulk-jobs/{job_id}/results", stream=True,
                           timeout=httpx.Timeout(30.0, connect=10.0, read=300.0))
    try:
        with partial.open("wb") as file:
            for block in response.iter_bytes():
                file.write(block)
                lines += block.count(b"\n")
    except httpx.TransportError as exc:
        raise Stop(f"the results download broke ({exc or type(exc).__name__}); {partial} has {lines:,} lines: run "
                   f"`bonemets bulk status {job_id} --out {out}` again", UNREACHABLE) from None
    finally:
        response.close()
    os.replace(partial, out)
    return lines


def download_report(server: Server, job_id: str, out: Path) -> int:
    """Ask for the job's registry summary (POST …/report), wait while it renders, write the PDF; its size."""
    asked = server.send("POST", f"/v1/bulk-jobs/{job_id}/report", expect=(202,))
    location = asked.headers["location"]
    delay = retry_after(asked, 1.0)
    while True:
        time.sleep(delay)
        response = server.send("GET", location, expect=(200, 202))
        if response.status_code == 200:
            break
        delay = retry_after(response, 1.0)
    if not response.content.startswith(b"%PDF"):
        raise Stop(f"{location} answered 200 without a PDF ({response.headers.get('content-type')})", SERVER_ERROR)
    out.write_bytes(response.content)
    return len(response.content)


def first_failures(server: Server, job_id: str) -> list[str]:
    """The first few failed lines, each as `line N (line_id X): status title: detail`."""
    shown: list[str] = []
    response = server.send("GET", f"/v1/bulk-jobs/{job_id}/results", params={"ok": "false"}, stream=True)
    try:
        for raw in response.iter_lines():
            if raw.strip():
                shown.append(failure_line(json.loads(raw)))
            if len(shown) == SHOWN_FAILURES:
                break
    finally:
        response.close()
    return shown


def failure_line(result: dict[str, Any]) -> str:
    error = result.get("error") or {}
    line_id = f" (line_id {result['line_id']})" if result.get("line_id") is not None else ""
    text = f"  line {result.get('line')}{line_id}: {error.get('status', '?')} {error.get('title', 'error')}"
    if error.get("detail"):
        text += f": {error['detail']}"
    fields = [f"{e.get('field')}: {e.get('message')}" for e in error.get("errors") or [] if isinstance(e, dict)]
    return text + (f" [{'; '.join(fields[:3])}]" if fields else "")


def cmd_status(server: Server, args: argparse.Namespace) -> int:
    job, _ = server.job(args.job_id)
    if args.wait or args.out or args.report:
        from api.bulk_progress import for_stream

        return follow(server, job, args, for_stream(sys.stdout))
    if args.json:
        print(json.dumps(job, indent=2))
        return OK
    count = int(job["done"]) + int(job["failed"])
    print(f"job {job['id']} {job['status']}: {count:,} of {int(job['total']):,} lines ({job['progress']:.1%}), "
          f"{int(job['done']):,} ok, {int(job['failed']):,} failed")
    print(f"created {when(job['created_at'])}, started {when(job.get('started_at'))}, "
          f"finished {when(job.get('finished_at'))}" + (f", kept until {when(job['expires'])}"
                                                        if job.get("expires") else ""))
    if job.get("failure"):
        print(f"failure: {job['failure']}")
    if job["status"] in FINISHED:
        print(f"results: bonemets bulk status {job['id']} --out results.ndjson [--report summary.pdf]")
    return OK


def cmd_cancel(server: Server, args: argparse.Namespace) -> int:
    server.send("DELETE", f"/v1/bulk-jobs/{args.job_id}", expect=(202,))
    print(f"job {args.job_id} deleted: stopped if it was running, its results removed (its audit records stay)")
    return OK


def cmd_list(server: Server, args: argparse.Namespace) -> int:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:  # every page: jobs expire (BONEMETS_BULK_RESULTS_DAYS), so a client has a bounded number
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = server.send("GET", "/v1/bulk-jobs", params=params).json()
        found.extend(page["jobs"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if args.json:
        print(json.dumps(found, indent=2))
        return OK
    if not found:
        print("no bulk jobs for this key's client")
        return OK
    rows = [("ID", "STATUS", "LINES", "OK", "FAILED", "DONE", "CREATED", "FINISHED")]
    rows += [(j["id"], j["status"], f"{int(j['total']):,}", f"{int(j['done']):,}", f"{int(j['failed']):,}",
              f"{j['progress']:.0%}", when(j["created_at"]), when(j.get("finished_at"))) for j in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) if i < 2 or i > 5 else cell.rjust(width)
                        for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip())
    return OK


def when(stamp: str | None) -> str:
    """An ISO timestamp to the second, as a person reads it (UTC)."""
    return "-" if not stamp else stamp[:19].replace("T", " ") + "Z"


COMMANDS: dict[str, Callable[[Server, argparse.Namespace], int]] = {
    "submit": cmd_submit, "status": cmd_status, "cancel": cmd_cancel, "list": cmd_list}
