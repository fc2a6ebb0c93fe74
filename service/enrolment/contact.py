"""Email and phone as we store them, so the same person typed twice is recognised as one."""

from __future__ import annotations

import re

from marshmallow import ValidationError, validate

_PHONE = re.compile(r"^\+?[0-9 ()\-.]{5,32}$")
_PHONE_NOISE = re.compile(r"[ ()\-.]")
_email = validate.Email()


def normalise_email(value: str) -> str:
    """Lower-cased and trimmed; raises ValueError when it is not an email address."""
    email = value.strip().lower()
    try:
        _email(email)
    except ValidationError:
        raise ValueError("not a valid email address") from None
    if len(email) > 320:
        raise ValueError("longer than 320 characters")
    return email


def normalise_phone(value: str) -> str:
    """Digits with an optional leading +, without spaces, dashes, dots or brackets."""
    phone = value.strip()
    if not _PHONE.fullmatch(phone):
        raise ValueError("use digits, spaces, dashes and an optional leading +")
    compact = _PHONE_NOISE.sub("", phone)
    if not 5 <= len(compact.lstrip("+")) <= 20:
        raise ValueError("between 5 and 20 digits")
    return compact
