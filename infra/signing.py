"""Ed25519 signatures of the audit trail: checkpoints (sequence number, chain hash, time) and export manifests,
a key ring that verifies each signature by the key id it names, and the external sink that every checkpoint is
also appended to, outside the database (issue 11: an insider with the database cannot rewrite what left it)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import msgspec
import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

log = structlog.get_logger("bonemets.audit")
_canonical = msgspec.json.Encoder(order="sorted")


def checkpoint_message(seq: int, chain_hash: str, created_at: str) -> bytes:
    return f"bonemets-audit-checkpoint:v1:{seq}:{chain_hash}:{created_at}".encode()


def key_message(public_key: str, created_at: str) -> bytes:
    return f"bonemets-audit-key:v1:{public_key}:{created_at}".encode()


def purge_message(through_seq: int, anchor_hash: str, record_seq: int, record_hash: str, created_at: str) -> bytes:
    return f"bonemets-audit-purge:v1:{through_seq}:{anchor_hash}:{record_seq}:{record_hash}:{created_at}".encode()


def manifest_message(manifest: Mapping[str, Any]) -> bytes:
    """What an export manifest's signature covers: its canonical encoding (keys sorted), signature excluded."""
    return b"bonemets-audit-manifest:v1:" + _canonical.encode({k: v for k, v in manifest.items() if k != "signature"})


def key_id_of(public_key_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def is_public_key(value: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(value))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Signer:
    seed: bytes

    @property
    def _key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def public_key_hex(self) -> str:
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key_hex)

    def sign(self, seq: int, chain_hash: str, created_at: str) -> str:
        return self._key.sign(checkpoint_message(seq, chain_hash, created_at)).hex()

    def sign_bytes(self, message: bytes) -> str:
        return self._key.sign(message).hex()

    def handover(self, new_public_key: str, created_at: str) -> bytes:
        """The sink line by which this (retiring) key vouches for its successor: a verifier who trusts the first key
        of an installation can follow every rotation in the sink, and trusts no key someone else appended."""
        return msgspec.json.encode({
            "type": "key", "public_key": new_public_key, "key_id": key_id_of(new_public_key), "created_at": created_at,
            "signed_by": self.key_id, "signature": self.sign_bytes(key_message(new_public_key, created_at))}) + b"\n"

    def purge_line(self, through_seq: int, anchor_hash: str, record_seq: int, record_hash: str,
                   created_at: str) -> bytes:
        """The sink line of a retention purge: which records it removed and which audit.purged record says so."""
        return msgspec.json.encode({
            "type": "purge", "through_seq": through_seq, "anchor_hash": anchor_hash, "record_seq": record_seq,
            "record_hash": record_hash, "created_at": created_at, "key_id": self.key_id,
            "signature": self.sign_bytes(purge_message(through_seq, anchor_hash, record_seq, record_hash,
                                                       created_at))}) + b"\n"

    def sign_manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        signed = {**manifest, "key_id": self.key_id}
        return {**signed, "signature": self._key.sign(manifest_message(signed)).hex()}


def signature_valid(public_key_hex: str, seq: int, chain_hash: str, created_at: str, signature: str) -> bool:
    return _valid(public_key_hex, checkpoint_message(seq, chain_hash, created_at), signature)


def _valid(public_key_hex: str, message: bytes, signature: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class KeyRing:
    """The public keys the trail's signatures are checked with, by key id: the current one and every retired one.
    A signature names its key id; a key the ring does not hold verifies nothing."""

    keys: Mapping[str, str]  # key id -> public key (hex)

    @classmethod
    def of(cls, public_keys: Iterable[str]) -> KeyRing:
        return cls({key_id_of(k): k for k in public_keys})

    def checkpoint_valid(self, key_id: str, seq: int, chain_hash: str, created_at: str, signature: str) -> bool:
        key = self.keys.get(key_id)
        return key is not None and signature_valid(key, seq, chain_hash, created_at, signature)

    def valid(self, key_id: str, message: bytes, signature: str) -> bool:
        key = self.keys.get(key_id)
        return key is not None and _valid(key, message, signature)

    def manifest_valid(self, manifest: Mapping[str, Any]) -> bool:
        key = self.keys.get(manifest.get("key_id", ""))
        return key is not None and _valid(key, manifest_message(manifest), manifest.get("signature", ""))

    def merged(self, other: KeyRing) -> KeyRing:
        return KeyRing({**self.keys, **other.keys})


class Sink(Protocol):
    def append(self, lines: list[bytes]) -> None: ...


class FileSink:
    """Appends to a file, meant to be on other storage than the database (a WORM mount, a log shipper's input):
    O_APPEND, an exclusive lock across processes, and fsync before a checkpoint counts as published."""

    def __init__(self, path: str) -> None:
        self.path = path

    def append(self, lines: list[bytes]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, b"".join(lines))
            os.fsync(fd)
        finally:
            os.close(fd)


class SyslogSink:
    """RFC 5424-style lines to a syslog or SIEM collector, over UDP (`syslog://host:port`) or TCP
    (`syslog+tcp://host:port`, one line per message, newline-framed)."""

    def __init__(self, host: str, port: int, tcp: bool) -> None:
        self.address, self.tcp = (host, port), tcp

    def append(self, lines: list[bytes]) -> None:
        hostname = socket.gethostname().encode()
        messages = [b"<110>1 - " + hostname + b" bonemets - audit-checkpoint - " + line for line in lines]
        kind = socket.SOCK_STREAM if self.tcp else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.settimeout(3)
            sock.connect(self.address)
            for message in messages:
                sock.sendall(message if self.tcp else message.rstrip(b"\n"))


def file_path(spec: str | None) -> str | None:
    """The path of a file sink (a path or file:///path), None for any other sink or none."""
    if not spec:
        return None
    parts = urlsplit(spec)
    return spec if parts.scheme == "" else parts.path if parts.scheme == "file" else None


def sink_for(spec: str) -> Sink:
    """BONEMETS_AUDIT_CHECKPOINT_SINK: a file path (or file:///path), syslog://host:port, syslog+tcp://host:port."""
    parts = urlsplit(spec)
    if parts.scheme in ("syslog", "syslog+tcp"):
        if not parts.hostname or not parts.port:
            raise ValueError("a syslog sink needs a host and a port: syslog://host:514")
        return SyslogSink(parts.hostname, parts.port, tcp=parts.scheme == "syslog+tcp")
    if (path := file_path(spec)) is not None:
        return FileSink(path)
    raise ValueError(f"unknown sink {parts.scheme!r}: use a file path, file://, syslog:// or syslog+tcp://")


def sink_line(cp: tuple[int, str, str, str, str], public_key: str) -> bytes:
    """One published checkpoint: everything needed to check it without the database or the server's word."""
    seq, chain_hash, created_at, key_id, signature = cp
    return msgspec.json.encode({"type": "checkpoint", "seq": seq, "hash": chain_hash, "created_at": created_at,
                                "key_id": key_id, "signature": signature, "public_key": public_key}) + b"\n"


@dataclass
class Checkpointer:
    """Signs the chain head into a checkpoint at every `every`-th record, and after `minutes` without one.

    Checkpoints signed inside a transaction wait in `pending` (reset whenever a new batch starts chaining)
    and reach the external sink by `publish()`, which the caller runs once its transaction has committed:
    a checkpoint the database rolled back is never published."""

    signer: Signer
    every: int = 1000
    minutes: float = 10.0
    sink: Sink | None = None
    _last: float = field(default_factory=time.monotonic)
    pending: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    _backlog: list[bytes] = field(default_factory=list)  # published lines a failing sink has not taken yet
    _lock: threading.Lock = field(default_factory=threading.Lock)
    sink_failed: bool = False

    @property
    def waiting(self) -> int:
        return len(self._backlog)

    def begin(self) -> None:
        self.pending = []

    def savepoint(self) -> tuple[float, int]:
        """Where signing stands (the clock of the last checkpoint, the checkpoints pending): for `rollback_to` when
        the transaction that would have held the next ones does not commit."""
        return self._last, len(self.pending)

    def rollback_to(self, point: tuple[float, int]) -> None:
        """Forget the checkpoints signed since `point`: their transaction was rolled back, so they are never
        published, and a checkpoint the clock made due is still due."""
        self._last, kept = point
        del self.pending[kept:]

    def at(self, seq: int) -> bool:
        """A checkpoint belongs at record `seq` (every `every`-th record of the chain)."""
        return seq % self.every == 0

    def overdue(self) -> bool:
        return time.monotonic() - self._last > self.minutes * 60

    def signed(self, seq: int, chain_hash: str, created_at: str) -> tuple[int, str, str, str, str]:
        self._last = time.monotonic()
        cp = (seq, chain_hash, created_at, self.signer.key_id, self.signer.sign(seq, chain_hash, created_at))
        self.pending.append(cp)
        return cp

    def publish_lines(self, lines: list[bytes]) -> None:
        """Other signed lines for the sink (a purge, a key handover), published like checkpoints."""
        self._backlog.extend(lines)
        self.publish()

    def publish(self) -> None:
        """Append the committed checkpoints to the sink; a sink that fails keeps them for the next publish and
        is logged (the records themselves are committed: the service goes on)."""
        committed, self.pending = self.pending, []
        if self.sink is None or not (committed or self._backlog):
            return
        with self._lock:
            lines = self._backlog + [sink_line(cp, self.signer.public_key_hex) for cp in committed]
            try:
                self.sink.append(lines)
            except Exception as exc:
                self._backlog = lines[-10_000:]
                self.sink_failed = True
                log.error("audit.checkpoint_sink_failed", error=type(exc).__name__, waiting=len(self._backlog))
                return
            self._backlog, self.sink_failed = [], False


def checkpointer_for(seed: bytes, every: int, minutes: float, sink: str | None = None) -> Checkpointer:
    return Checkpointer(signer=Signer(seed), every=every, minutes=minutes, sink=sink_for(sink) if sink else None)


@dataclass
class Published:
    """What a file sink holds, judged against the keys the verifier trusts: the checkpoints, the purges, the keys
    handed over by a trusted key, and the first line that proves someone else wrote to the sink (a key nobody
    trusted vouched for, a bad signature, two different checkpoints for one record)."""

    checkpoints: list[Any]
    purges: dict[int, tuple[int, str]]  # through_seq -> (seq, hash) of its audit.purged record
    keyring: KeyRing
    problem: tuple[int | None, str] | None = None


def read_sink(path: str, trusted: KeyRing) -> Published:
    from infra.audit import Checkpoint

    lines = []
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    item = msgspec.json.decode(line)
                    if not isinstance(item, dict):
                        raise TypeError
                except (msgspec.DecodeError, TypeError):
                    raise ValueError(f"{path}, line {number}: not a line of a bonemets checkpoint sink") from None
                lines.append((number, item))
    keys = dict(trusted.keys)
    grew = True
    while grew:  # follow the handovers from the trusted keys, in whatever order the lines stand
        grew = False
        for _, item in lines:
            if item.get("type") == "key" and item.get("key_id") not in keys and item.get("signed_by") in keys:
                public = item.get("public_key", "")
                if (is_public_key(public) and key_id_of(public) == item.get("key_id")
                        and _valid(keys[item["signed_by"]], key_message(public, str(item.get("created_at"))),
                                   str(item.get("signature")))):
                    keys[item["key_id"]], grew = public, True
    ring = KeyRing(keys)
    published = Published(checkpoints=[], purges={}, keyring=ring)
    seen: dict[int, str] = {}
    for number, item in lines:
        kind = item.get("type")
        try:
            if kind == "key":
                if item.get("key_id") not in keys:
                    raise _Untrusted(None, f"line {number} announces key {item.get('key_id')} without a valid "
                                     "signature by a trusted key")
            elif kind == "checkpoint":
                cp = Checkpoint(seq=item["seq"], hash=item["hash"], created_at=item["created_at"],
                                key_id=item["key_id"], signature=item["signature"])
                if not ring.checkpoint_valid(cp.key_id, cp.seq, cp.hash, cp.created_at, cp.signature):
                    raise _Untrusted(cp.seq, f"line {number}: the checkpoint of record {cp.seq} is not signed by a "
                                     "trusted key")
                if seen.setdefault(cp.seq, cp.hash) != cp.hash:
                    raise _Untrusted(cp.seq, f"line {number}: a second, different checkpoint of record {cp.seq}")
                published.checkpoints.append(cp)
            elif kind == "purge":
                message = purge_message(item["through_seq"], item["anchor_hash"], item["record_seq"],
                                        item["record_hash"], item["created_at"])
                if not ring.valid(item["key_id"], message, item["signature"]):
                    raise _Untrusted(item["through_seq"], f"line {number}: a purge not signed by a trusted key")
                published.purges[item["through_seq"]] = (item["record_seq"], item["record_hash"])
                if seen.setdefault(item["through_seq"], item["anchor_hash"]) != item["anchor_hash"]:
                    raise _Untrusted(item["through_seq"], f"line {number}: the purge's anchor differs from the "
                                     f"checkpoint of record {item['through_seq']}")
            else:
                raise _Untrusted(None, f"line {number} is of no kind this service writes")
        except (KeyError, TypeError, ValueError):
            published.problem = (None, f"line {number} of the sink is malformed")
            break
        except _Untrusted as untrusted:
            published.problem = (untrusted.seq, f"the checkpoint sink was written by someone else: {untrusted}")
            break
    published.checkpoints.sort(key=lambda c: c.seq)
    return published


class _Untrusted(Exception):
    def __init__(self, seq: int | None, message: str) -> None:
        super().__init__(message)
        self.seq = seq
