"""Ed25519 signatures of audit checkpoints: (sequence number, chain hash, time) signed by the service."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def checkpoint_message(seq: int, chain_hash: str, created_at: str) -> bytes:
    return f"bonemets-audit-checkpoint:v1:{seq}:{chain_hash}:{created_at}".encode()


def key_id_of(public_key_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


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


def signature_valid(public_key_hex: str, seq: int, chain_hash: str, created_at: str, signature: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(
            bytes.fromhex(signature), checkpoint_message(seq, chain_hash, created_at))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class Checkpointer:
    """Decides when the writer signs the head: every `every` records, or after `minutes` without one."""

    signer: Signer
    every: int = 1000
    minutes: float = 10.0
    _last: float = field(default_factory=time.monotonic)

    def due(self, old_seq: int, new_seq: int) -> bool:
        return new_seq // self.every > old_seq // self.every or time.monotonic() - self._last > self.minutes * 60

    def signed(self, seq: int, chain_hash: str, created_at: str) -> tuple[int, str, str, str, str]:
        self._last = time.monotonic()
        return seq, chain_hash, created_at, self.signer.key_id, self.signer.sign(seq, chain_hash, created_at)


def checkpointer_for(seed: bytes, every: int, minutes: float) -> Checkpointer:
    return Checkpointer(signer=Signer(seed), every=every, minutes=minutes)
