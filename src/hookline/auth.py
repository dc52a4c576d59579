"""API keys and roles. A key is shown once; only its SHA-256 digest is stored.

Keys carry 256 bits of randomness, so a fast digest is as safe as a slow password hash
and lets every request find its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "hlk_"


class Role(StrEnum):
    OPERATOR = "operator"
    TENANT_ADMIN = "tenant-admin"
    USER = "user"
    PUBLISHER = "publisher"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the role of the key, and the tenant and user it is bound to."""

    key_id: str
    role: Role
    tenant_id: str | None
    user_id: str | None


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
