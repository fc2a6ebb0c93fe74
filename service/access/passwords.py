"""Staff passwords: argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile),
re-hashed on sign-in when the parameters grow. Never logged, never stored in the clear."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 takes any length; a megabyte password is only a way to burn CPU

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not anybody's password")


def verify(stored: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password[:MAX_LENGTH]) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def password_problem(password: str, email: str = "") -> str | None:
    """Why `password` is too weak, or None (key words of en/ru messages live in the console's words)."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    if len(set(password)) < 4 or (email and email.split("@")[0].lower() in password.lower()):
        return "too_simple"
    return None
