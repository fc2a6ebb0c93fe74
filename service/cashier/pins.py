"""PIN sign-in on a paired till: PIN hashing, the wrong-PIN lockout and cashier sessions.

A shop tablet is paired once to a brand and store with a till key (`tl_...`, made by the
brand API, kept in the tablet's localStorage). On that tablet a cashier picks their name and
types a 4-8 digit PIN; the answer is a cashier session token that every cashier endpoint
takes exactly like the cashier's own token, so the till's scan and purchase calls are the same.

Why it is safe enough for 4 digits:
- PINs are guessed only on a paired till (the till key is a 256-bit secret), and only with a
  slow salted hash to compare against (werkzeug's scrypt; the database never holds a PIN).
- Wrong PINs are counted in the cashier's row: MAX_ATTEMPTS in a row lock PIN sign-in for
  LOCKOUT, whatever process answers. An attempt is counted *before* the PIN is checked, by one
  conditional UPDATE, so a burst of parallel guesses gets MAX_ATTEMPTS checks and no more.
- Sessions are stateless (no table, no extra query on the hot path): `ct_s<cashier id>t<till
  id>_<expiry>.<HMAC>`, keyed by the brand's secret and bound to the PIN hash and the till, so
  changing or clearing the PIN ends them, disabling the cashier or unpairing the till refuses
  them (the token check loads the cashier and, in the same query, the till), and they expire
  after SESSION_LIFETIME (a shift). The till also gives a cashier of no store a store: the one
  the till stands in.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import re

from sqlalchemy import and_, case, literal, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from service.models import Brand, Cashier, Till, UTCDateTime, utcnow
from service.web.problems import Problem

MAX_ATTEMPTS = 5
LOCKOUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=12)
SESSION_PREFIX = "s"  # ct_s<id>_...: a cashier token's prefix is 12 hex digits, never starting with "s"

PIN_PATTERN = re.compile(r"[0-9]{4,8}")  # fullmatch: "$" would let "4071\n" through


@functools.cache
def _dummy_hash() -> str:
    """Compared against when there is nothing to compare, so a refusal takes as long as a check."""
    return generate_password_hash("00000000", method="scrypt")


def pin_problem(pin: str) -> str | None:
    """Why `pin` cannot be a PIN, or None. The first PINs an attacker tries are refused."""
    if not PIN_PATTERN.fullmatch(pin):
        return "A PIN is 4 to 8 digits."
    if len(set(pin)) == 1:
        return "A PIN of one repeated digit is too easy to guess."
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({1}, {-1}):
        return "A run of consecutive digits (1234, 9876) is too easy to guess."
    return None


def set_pin(cashier: Cashier, pin: str | None) -> None:
    """Set (or with None clear) the PIN; any lockout ends, and so do sessions made with the old PIN."""
    cashier.pin_hash = generate_password_hash(pin, method="scrypt") if pin is not None else None
    cashier.pin_failed_attempts = 0
    cashier.pin_locked_until = None


# ---- sessions -------------------------------------------------------------------------------


def _session_mac(brand: Brand, cashier_id: int, till_id: int, expires: int, pin_hash: str) -> str:
    key = hmac.new(brand.code_secret, b"passcast cashier session", hashlib.sha256).digest()
    mac = hmac.new(key, f"{cashier_id}.{till_id}.{expires}.{pin_hash}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def new_session(cashier: Cashier, till: Till, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    """A session token for a cashier who has just given their PIN on `till`, and when it expires."""
    assert cashier.pin_hash is not None
    expires_at = ((now or utcnow()) + SESSION_LIFETIME).replace(microsecond=0)
    expires = int(expires_at.timestamp())
    mac = _session_mac(cashier.brand, cashier.id, till.id, expires, cashier.pin_hash)
    return f"ct_{SESSION_PREFIX}{cashier.id}t{till.id}_{expires}.{mac}", expires_at


_SESSION_IDS = re.compile(SESSION_PREFIX + r"([0-9]{1,10})t([0-9]{1,10})")


def session_ids(prefix: str) -> tuple[int, int] | None:
    """(cashier id, till id) of a session token's prefix (`s<id>t<till>`), or None if it is not one."""
    match = _SESSION_IDS.fullmatch(prefix)
    return (int(match[1]), int(match[2])) if match else None


def session_valid(cashier: Cashier, till: Till | None, token: str, now: dt.datetime | None = None) -> bool:
    """Is `token` a live session of `cashier` on `till` (still paired, of the cashier's brand)?
    Constant-time MAC check."""
    _, _, rest = token.split("_", 2)
    expires_text, dot, mac = rest.partition(".")
    if (not dot or not expires_text.isdigit() or len(expires_text) > 12 or cashier.pin_hash is None
            or till is None or till.revoked_at is not None or till.brand_id != cashier.brand_id):
        return False
    expected = _session_mac(cashier.brand, cashier.id, till.id, int(expires_text), cashier.pin_hash)
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return False
    return int(expires_text) > (now or utcnow()).timestamp()


# ---- signing in -----------------------------------------------------------------------------


def till_cashiers(session: Session, till: Till) -> list[Cashier]:
    """Who can sign in on this till: active cashiers with a PIN, of the till's store or of no store
    (brand-wide); a till of no store lists every such cashier of the brand."""
    statement = select(Cashier).where(Cashier.brand_id == till.brand_id, Cashier.active.is_(True),
                                      Cashier.pin_hash.is_not(None))
    if till.store_id is not None:
        statement = statement.where(or_(Cashier.store_id == till.store_id, Cashier.store_id.is_(None)))
    return list(session.scalars(statement.order_by(Cashier.name, Cashier.id)))


def _count_attempt(session: Session, cashier_id: int, now: dt.datetime) -> int | None:
    """Count one attempt (committed) unless PIN sign-in is locked; the attempts so far, or None
    when locked. One conditional UPDATE, so concurrent attempts cannot overrun the limit."""
    at = literal(now, UTCDateTime())
    expired = and_(Cashier.pin_locked_until.is_not(None), Cashier.pin_locked_until <= at)
    attempts = case((expired, 0), else_=Cashier.pin_failed_attempts) + 1
    result = session.execute(
        update(Cashier)
        .where(Cashier.id == cashier_id, or_(Cashier.pin_locked_until.is_(None), Cashier.pin_locked_until <= at))
        .values(pin_failed_attempts=attempts,
                pin_locked_until=case((attempts >= MAX_ATTEMPTS, literal(now + LOCKOUT, UTCDateTime())),
                                      else_=None))
        .execution_options(synchronize_session=False))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.rollback()
        return None
    count = session.scalar(select(Cashier.pin_failed_attempts).where(Cashier.id == cashier_id))
    session.commit()
    return count


def _locked(cashier: Cashier, now: dt.datetime) -> Problem:
    until = cashier.pin_locked_until or now + LOCKOUT
    return Problem(429, "PIN locked", f"Too many wrong PINs: PIN sign-in for {cashier.name} is locked until "
                   f"{until:%H:%M} UTC. Ask your manager, or sign in with your cashier token.",
                   type_="/problems/pin-locked", locked_until=until.isoformat(),
                   retry_after=max(1, int((until - now).total_seconds()) + 1))


def sign_in(session: Session, till: Till, cashier_id: int, pin: str) -> Cashier:
    """The cashier, once `pin` is theirs; raises a Problem otherwise. Commits the attempt count."""
    now = utcnow()
    cashier = session.get(Cashier, cashier_id)
    if (cashier is None or cashier.brand_id != till.brand_id
            or (till.store_id is not None and cashier.store_id not in (None, till.store_id))):
        check_password_hash(_dummy_hash(), pin)
        raise Problem(401, "Wrong cashier or PIN", "This cashier cannot sign in on this till.",
                      type_="/problems/wrong-pin")
    if not cashier.active:
        raise Problem(403, "Cashier disabled", "This cashier has been disabled by the brand.")
    if cashier.pin_hash is None:
        check_password_hash(_dummy_hash(), pin)
        raise Problem(401, "No PIN", f"{cashier.name} has no PIN yet; the manager sets it.",
                      type_="/problems/wrong-pin")
    attempts = _count_attempt(session, cashier.id, now)
    session.refresh(cashier)
    if attempts is None:
        raise _locked(cashier, now)
    if cashier.pin_hash is not None and check_password_hash(cashier.pin_hash, pin):
        session.execute(update(Cashier).where(Cashier.id == cashier.id)
                        .values(pin_failed_attempts=0, pin_locked_until=None)
                        .execution_options(synchronize_session=False))
        session.commit()
        session.refresh(cashier)
        return cashier
    if attempts >= MAX_ATTEMPTS:
        raise _locked(cashier, now)
    left = MAX_ATTEMPTS - attempts
    raise Problem(401, "Wrong PIN", f"Wrong PIN. {left} {'try' if left == 1 else 'tries'} left before "
                  f"PIN sign-in is locked for {int(LOCKOUT.total_seconds() // 60)} minutes.",
                  type_="/problems/wrong-pin", attempts_left=left)
