"""The join form: its CSRF token and its server-side validation.

CSRF: a signed double-submit token. The page sets a random nonce in an HttpOnly, SameSite=Lax
cookie and puts the same nonce, signed with the brand's secret (itsdangerous, with a time
stamp), in a hidden field. A POST is accepted only when the signature holds, the token is for
this program and not older than TOKEN_MAX_AGE, and its nonce equals the cookie's: another
site can neither read the cookie nor forge the signature. No server-side session is needed,
so any web process can check any form.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from service.enrolment.contact import normalise_email, normalise_phone
from service.loyalty.cards import CustomerDetails
from service.models import Brand, Program

COOKIE = "passcast_join"
TOKEN_MAX_AGE = 6 * 3600  # a form left open over lunch still works
_SALT = "passcast-join-form"


def _serializer(brand: Brand) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(brand.code_secret, salt=_SALT)


def new_token(brand: Brand, program: Program, nonce: str | None = None) -> tuple[str, str]:
    """(token for the hidden field, nonce for the cookie); reuses the cookie's nonce if given."""
    nonce = nonce if nonce and len(nonce) == 32 else secrets.token_hex(16)
    return _serializer(brand).dumps({"p": program.id, "n": nonce}), nonce


def token_ok(brand: Brand, program: Program, token: str | None, cookie_nonce: str | None) -> bool:
    if not token or not cookie_nonce:
        return False
    try:
        data: Any = _serializer(brand).loads(token, max_age=TOKEN_MAX_AGE)
    except BadSignature:  # also SignatureExpired
        return False
    return (isinstance(data, dict) and data.get("p") == program.id
            and hmac.compare_digest(str(data.get("n", "")), cookie_nonce))


@dataclass
class JoinForm:
    """What was typed (to show it again) and, when valid, the customer details."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field -> i18n key
    details: CustomerDetails | None = None
    ref: str | None = None


def read_form(form: Any, language: str, today: dt.date, asked: dict[str, str] | None = None) -> JoinForm:
    """Check what was typed; `asked` (join_settings.fields_of) says which fields the page shows
    and which it requires: a field that is off is ignored even if a crafted form sends it."""
    asked = asked or {"phone": "optional", "email": "optional", "birthday": "optional"}
    values = {name: (form.get(name) or "").strip() if asked.get(name) != "off" else ""
              for name in ("name", "email", "phone", "birthday", "ref")}
    result = JoinForm(values=values, ref=values["ref"] or None)
    errors = result.errors
    name = values["name"]
    if not name:
        errors["name"] = "error_name"
    elif len(name) > 200:
        errors["name"] = "error_name_long"
    email = phone = None
    if values["email"]:
        try:
            email = normalise_email(values["email"])
        except ValueError:
            errors["email"] = "error_email"
    if values["phone"]:
        try:
            phone = normalise_phone(values["phone"])
        except ValueError:
            errors["phone"] = "error_phone"
    for required in ("phone", "email", "birthday"):
        if asked.get(required) == "required" and not values[required] and required not in errors:
            errors[required] = "error_required"
    if not values["email"] and not values["phone"] and "email" not in errors and "phone" not in errors:
        errors["email" if asked.get("email") != "off" else "phone"] = "error_contact"
    birthday = None
    if values["birthday"]:
        try:
            birthday = dt.date.fromisoformat(values["birthday"])
        except ValueError:
            errors["birthday"] = "error_birthday"
        else:
            if birthday > today:
                errors["birthday"] = "error_birthday_future"
    if form.get("consent") != "yes":
        errors["consent"] = "error_consent"
    if not errors:
        result.details = CustomerDetails(name=name, email=email, phone=phone, birthday=birthday, language=language)
    return result
