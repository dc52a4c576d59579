"""Signatures of a delivery, and their verification as a receiver does it (SPEC 5.1).

A webhook with a secret signs each delivery twice, both with HMAC-SHA256 keyed with the
secret's UTF-8 bytes:

- ``Qlik-Signature: <hex>``: lowercase hex of the HMAC of the exact body bytes.
- Standard Webhooks (standardwebhooks.com): ``webhook-id: <message id>``,
  ``webhook-timestamp: <Unix seconds>`` and ``webhook-signature: v1,<base64>``, the HMAC
  of ``"<id>.<timestamp>." + body``. A Standard Webhooks library verifies them when
  given ``"whsec_" + base64(secret)``; the timestamp lets a receiver refuse replays.

During a secret rotation's grace period (``rotation``) the previous secret signs too:
``webhook-signature`` then lists both signatures, ``v1,<new> v1,<previous>``, space
separated, as the Standard Webhooks specification allows for rotating keys, so a receiver
holding either secret verifies. ``Qlik-Signature`` is one lowercase hex HMAC, which Qlik
receivers compare whole with their own: it stays the new secret's alone.

Signing with an empty secret is refused (it would authenticate nothing). The verifiers
never raise: an empty secret, a malformed header or a stale timestamp is simply ``False``;
digests are compared in constant time.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping
from datetime import datetime

DEFAULT_TOLERANCE = 300  # seconds a Standard Webhooks timestamp may be off, either way

_TIMESTAMP = re.compile(r"[0-9]{1,20}")


def qlik_signature(secret: str, body: bytes) -> str:
    """The ``Qlik-Signature`` header value for ``body``."""
    return _hmac(secret, body).hex()


def standard_webhook_headers(
    secret: str, message_id: str, timestamp: int, body: bytes, *, previous: str | None = None
) -> dict[str, str]:
    """The ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers; with a
    ``previous`` secret, the signature lists the one under ``secret`` first, then its own."""
    keys = [secret] if previous is None else [secret, previous]
    signatures = [
        "v1," + base64.b64encode(_standard_digest(key, message_id, timestamp, body)).decode()
        for key in keys
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def delivery_signatures(
    secret: str, message_id: str, timestamp: int, body: bytes, *, previous: str | None = None
) -> dict[str, str]:
    """Every signature header of a delivery: ``Qlik-Signature`` (``secret``'s only) and the
    Standard Webhooks headers (``secret``'s signature, and ``previous``'s when given)."""
    return {
        "Qlik-Signature": qlik_signature(secret, body),
        **standard_webhook_headers(secret, message_id, timestamp, body, previous=previous),
    }


def signs_with_previous(rotating_until: datetime | None, timestamp: int) -> bool:
    """Whether the previous secret of a rotation that ends at ``rotating_until`` (None: no
    rotation) still signs a delivery stamped ``timestamp`` (its ``webhook-timestamp``):
    only while the stamp is earlier than the end."""
    return rotating_until is not None and timestamp < rotating_until.timestamp()


def verify_qlik_signature(secret: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (hex, any case) is the ``Qlik-Signature`` of ``body``."""
    if not secret or not signature.isascii():
        return False
    try:
        expected = qlik_signature(secret, body)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, signature.lower())


def verify_standard_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """Whether ``headers`` (names in any case) sign ``body`` at most ``tolerance`` seconds
    from ``now``. ``webhook-signature`` may list several space-separated signatures; one
    ``v1`` match is enough."""
    found = {name.lower(): value for name, value in headers.items()}
    message_id = found.get("webhook-id", "")
    timestamp = _timestamp(found.get("webhook-timestamp", ""))
    if not secret or not message_id or timestamp is None or abs(now - timestamp) > tolerance:
        return False
    try:
        expected = _standard_digest(secret, message_id, timestamp, body)
    except UnicodeEncodeError:
        return False
    signatures = _v1_signatures(found.get("webhook-signature", ""))
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def _hmac(secret: str, message: bytes) -> bytes:
    if not secret:
        raise ValueError("cannot sign with an empty secret")
    return hmac.digest(secret.encode(), message, "sha256")


def _standard_digest(secret: str, message_id: str, timestamp: int, body: bytes) -> bytes:
    return _hmac(secret, f"{message_id}.{timestamp}.".encode() + body)


def _timestamp(text: str) -> int | None:
    return int(text) if _TIMESTAMP.fullmatch(text) else None


def _v1_signatures(header: str) -> list[bytes]:
    signatures = []
    for entry in header.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            signatures.append(base64.b64decode(encoded, validate=True))
        except ValueError:  # binascii.Error, or text that is not ASCII
            continue
    return signatures
