"""A known phone or email gets its card back only by proving it owns that contact.

Typing someone's email on the join page must not open their card (name, balance, and the
pass whose QR the till redeems). Instead a CardRecovery row is made and a job
(recovery_tasks.py) sends the contact a one-time link and a 6-digit code:

- the link carries an itsdangerous-signed token (the row's id and a random nonce); the row
  keeps only the nonce's SHA-256. It works once and until `expires_at`.
- the code is kept as an HMAC under the brand's secret; each guess first raises `attempts`
  with one conditional UPDATE (`... WHERE attempts < MAX_ATTEMPTS`), and only a guess that
  won a slot is compared, so parallel guesses cannot pass the limit: PostgreSQL re-checks
  the condition on the locked row, SQLite runs writers one at a time.
- link and code are made by the job, not the request, so no secret sits in the job queue;
  a retried job makes new ones (the undelivered ones never worked).
- at most MAX_PER_HOUR messages per card, so the form cannot be used to flood a customer;
  past that the page looks the same and nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.models import Brand, Card, CardRecovery, utcnow

LIFETIME = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 5
MAX_PER_HOUR = 3
CODE_DIGITS = 6
CHECK_PAGE_MAX_AGE = 24 * 3600  # the "we sent you a code" page's own address
_LINK_SALT = "passcast-card-recovery-link"
_CHECK_SALT = "passcast-card-recovery-check"


@dataclass(frozen=True)
class Secrets:
    """What the message carries: never stored, only hashed."""

    link_token: str
    code: str


def _serializer(brand: Brand, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(brand.code_secret, salt=salt)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _code_hash(brand: Brand, recovery_id: int, code: str) -> str:
    return hmac.new(brand.code_secret, f"code:{recovery_id}:{code}".encode(), hashlib.sha256).hexdigest()


def start(session: Session, card: Card, channel: str, destination: str,
          language: str) -> tuple[CardRecovery, bool]:
    """(recovery, whether to send it): a new recovery for `card`, or, when the card already had
    MAX_PER_HOUR of them in the last hour, its latest one and False (nothing more is sent).
    The caller commits, then queues the message."""
    since = utcnow() - dt.timedelta(hours=1)
    recent = session.scalars(select(CardRecovery).where(CardRecovery.card_id == card.id,
                                                        CardRecovery.created_at >= since)
                             .order_by(CardRecovery.id.desc()).limit(MAX_PER_HOUR)).all()
    if len(recent) >= MAX_PER_HOUR:
        return recent[0], False
    recovery = CardRecovery(brand_id=card.brand_id, card_id=card.id, channel=channel, destination=destination,
                            language=language)
    session.add(recovery)
    session.flush()
    return recovery, True


def make_secrets(session: Session, recovery: CardRecovery, brand: Brand) -> Secrets | None:
    """New link and code for `recovery` (replacing any earlier ones); None when it is used or locked."""
    if recovery.used_at is not None or recovery.attempts >= MAX_ATTEMPTS:
        return None
    nonce = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    recovery.link_hash = _sha256(nonce)
    recovery.code_hash = _code_hash(brand, recovery.id, code)
    recovery.sent_at = utcnow()
    recovery.expires_at = recovery.sent_at + LIFETIME
    session.flush()
    token = _serializer(brand, _LINK_SALT).dumps({"r": recovery.id, "n": nonce})
    return Secrets(link_token=token, code=code)


def check_handle(brand: Brand, recovery: CardRecovery) -> str:
    """The signed id in the address of the page where the code is typed."""
    return _serializer(brand, _CHECK_SALT).dumps({"r": recovery.id})


def from_check_handle(session: Session, brand: Brand, handle: str) -> CardRecovery | None:
    data = _loads(brand, _CHECK_SALT, handle, CHECK_PAGE_MAX_AGE)
    recovery = session.get(CardRecovery, data["r"]) if data else None
    return recovery if recovery is not None and recovery.brand_id == brand.id else None


def _loads(brand: Brand, salt: str, token: str, max_age: int) -> dict[str, Any] | None:
    try:
        data = _serializer(brand, salt).loads(token, max_age=max_age)
    except BadSignature:  # also SignatureExpired
        return None
    return data if isinstance(data, dict) and isinstance(data.get("r"), int) else None


def _consume(session: Session, recovery_id: int, *conditions: Any) -> bool:
    """Mark the recovery used, once: True for the one caller whose UPDATE changed the row."""
    result = session.execute(update(CardRecovery).where(
        CardRecovery.id == recovery_id, CardRecovery.used_at.is_(None), CardRecovery.expires_at > utcnow(),
        *conditions).values(used_at=utcnow()).execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def link_recovery(session: Session, brand: Brand, token: str) -> CardRecovery | None:
    """The still-usable recovery a link token names (without using it up: see redeem_link)."""
    data = _loads(brand, _LINK_SALT, token, int(LIFETIME.total_seconds()) + 60)
    if data is None or not isinstance(data.get("n"), str):
        return None
    recovery = session.get(CardRecovery, data["r"])
    if (recovery is None or recovery.brand_id != brand.id or recovery.link_hash is None
            or not hmac.compare_digest(recovery.link_hash, _sha256(data["n"]))):
        return None
    if recovery.used_at is not None or recovery.expires_at is None or recovery.expires_at <= utcnow():
        return None
    return recovery


def redeem_link(session: Session, brand: Brand, token: str) -> Card | None:
    """The card behind a valid link, which is used up by this call; None for a bad, used or old link."""
    recovery = link_recovery(session, brand, token)
    if recovery is None:
        return None
    link_hash, card = recovery.link_hash, recovery.card
    return card if _consume(session, recovery.id, CardRecovery.link_hash == link_hash) else None


@dataclass(frozen=True)
class CodeOutcome:
    card: Card | None = None
    tries_left: int = 0
    locked: bool = False  # too many wrong codes, used, or expired: start again from the join form
    compared: bool = False  # this guess won one of the MAX_ATTEMPTS tries


def redeem_code(session: Session, brand: Brand, recovery: CardRecovery, code: str) -> CodeOutcome:
    """Check one typed code; the guess counts before it is compared (see the module's docstring)."""
    recovery_id, card, code_hash = recovery.id, recovery.card, recovery.code_hash
    attempts = session.execute(update(CardRecovery).where(
        CardRecovery.id == recovery_id, CardRecovery.attempts < MAX_ATTEMPTS, CardRecovery.used_at.is_(None),
        CardRecovery.code_hash.is_not(None), CardRecovery.code_hash == code_hash, CardRecovery.expires_at > utcnow(),
    ).values(attempts=CardRecovery.attempts + 1).returning(CardRecovery.attempts)).scalar()
    session.commit()
    if attempts is None or code_hash is None:
        return CodeOutcome(locked=True)
    typed = "".join(character for character in code if character.isdigit())
    if (len(typed) == CODE_DIGITS and hmac.compare_digest(code_hash, _code_hash(brand, recovery_id, typed))
            and _consume(session, recovery_id, CardRecovery.code_hash == code_hash)):
        return CodeOutcome(card=card, compared=True)
    left = MAX_ATTEMPTS - attempts
    return CodeOutcome(tries_left=left, locked=left <= 0, compared=True)
