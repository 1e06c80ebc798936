"""Links to the PDF report of a CDS Hooks answer (issue 13): a card's link must open in the clinician's browser,
which holds no API key and no EHR token, so the link itself is the permission — as a pre-signed storage URL is.

A link names one audited answer, the client it was given to, the report's language and its expiry, and carries
an HMAC-SHA256 of all four under a key derived from the pseudonym key (never the key itself). It opens that one
report and nothing else, until it expires (BONEMETS_REPORT_LINK_TTL_S, a day by default); a forged or altered link
is not found, an expired one is gone. The link holds no patient reference, and the report prints none."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

import msgspec

_CONTEXT = b"bonemets report link v1"


class Grant(msgspec.Struct, array_like=True, frozen=True):
    """What a link allows: the report of audit record `audit_id`, given to `client`, in `language`, until `expires`
    (Unix seconds)."""

    audit_id: str
    client: str
    language: str
    expires: int


class LinkRefused(Exception):
    """`expired` tells an honest link past its time (410) from one that is not ours (404)."""

    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "not a link of this service")
        self.expired = expired


def _key(pseudonym_key: bytes) -> bytes:
    return hmac.new(pseudonym_key, _CONTEXT, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(pseudonym_key: bytes, grant: Grant) -> str:
    body = msgspec.json.encode(grant)
    return f"{_b64(body)}.{_b64(hmac.new(_key(pseudonym_key), body, hashlib.sha256).digest())}"


def grant_for(pseudonym_key: bytes, *, audit_id: str, client: str, language: str, ttl_s: int,
              now: float | None = None) -> str:
    moment = time.time() if now is None else now
    return sign(pseudonym_key, Grant(audit_id=audit_id, client=client, language=language,
                                     expires=int(moment) + ttl_s))


def verify(pseudonym_key: bytes, token: str, now: float | None = None) -> Grant:
    """The grant a link carries, once its signature holds and it has not expired; LinkRefused otherwise."""
    try:
        body_text, mac_text = token.split(".")
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, binascii.Error):
        raise LinkRefused(expired=False) from None
    if not hmac.compare_digest(mac, hmac.new(_key(pseudonym_key), body, hashlib.sha256).digest()):
        raise LinkRefused(expired=False)
    try:
        grant = msgspec.json.decode(body, type=Grant)
    except msgspec.DecodeError:  # signed by us, so never; but a link is outside input all the same
        raise LinkRefused(expired=False) from None
    if grant.expires < (time.time() if now is None else now):
        raise LinkRefused(expired=True)
    return grant
