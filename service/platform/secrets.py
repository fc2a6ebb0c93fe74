"""Bearer secrets (API keys, cashier tokens): generation, hashing and constant-time checks.

A secret is `<kind>_<prefix>_<random>`; the prefix finds the row, the SHA-256 of the whole
secret is compared in constant time. SHA-256 suffices because the secrets are 256-bit
random values, not passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class NewSecret:
    value: str
    prefix: str
    digest: str


def new_secret(kind: str) -> NewSecret:
    prefix = _secrets.token_hex(6)
    value = f"{kind}_{prefix}_{_secrets.token_urlsafe(32)}"
    return NewSecret(value, prefix, digest(value))


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def prefix_of(value: str, kind: str) -> str | None:
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] != kind:
        return None
    return parts[1]


def matches(value: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(value), stored_digest)


def random_token(length: int = 32) -> str:
    """URL-safe random token (used for pass authenticationToken: Apple wants 16+ chars)."""
    return _secrets.token_urlsafe(length)[:length]
