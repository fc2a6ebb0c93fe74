"""Staff passwords: argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile),
re-hashed on sign-in when the parameters grow. Never logged, never stored in the clear."""

from __future__ import annotations

import functools
import os

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 takes any length; a megabyte password is only a way to burn CPU

# PASSWORD_HASH_PROFILE=fast-insecure-for-tests: the test suite signs a demo owner in for almost
# every test; at the real cost (~0.2 s a hash) that alone added minutes to it. Never in production.
_PROFILES = {"default": profiles.RFC_9106_LOW_MEMORY, "fast-insecure-for-tests": profiles.CHEAPEST}


@functools.cache
def _hasher_for(profile: str) -> PasswordHasher:
    if profile not in _PROFILES:
        raise ValueError(f"PASSWORD_HASH_PROFILE must be one of {', '.join(_PROFILES)}, not {profile!r}")
    return PasswordHasher.from_parameters(_PROFILES[profile])


def _hasher() -> PasswordHasher:
    return _hasher_for(os.environ.get("PASSWORD_HASH_PROFILE", "default"))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("not anybody's password")


def verify(stored: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    try:
        hasher = _hasher()
        return hasher.verify(stored or _dummy_hash(hasher), password[:MAX_LENGTH]) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)


def password_problem(password: str, email: str = "") -> str | None:
    """Why `password` is too weak, or None (key words of en/ru messages live in the console's words)."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    if len(set(password)) < 4 or (email and email.split("@")[0].lower() in password.lower()):
        return "too_simple"
    return None
