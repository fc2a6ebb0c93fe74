"""Staff accounts: signing in (with the wrong-password lockout and the TOTP step), sessions,
and the single-use invite and reset links.

- Wrong passwords (and wrong TOTP codes) are counted in the account's row: MAX_ATTEMPTS in a row
  lock sign-in for LOCKOUT, whatever process answers. An attempt is counted *before* the password
  is checked, by one conditional UPDATE (as cashier PINs do, service/cashier/pins.py), so a burst of
  parallel guesses gets MAX_ATTEMPTS checks and no more.
- Sessions are rows (StaffSession): the browser holds a 256-bit token (only its SHA-256 is kept),
  so signing out ends that one at once and "sign out everywhere" deletes every row of the account.
  Each session has its own CSRF token, which every unsafe console request must send back.
- Invite and reset links are 256-bit tokens too, used once (a conditional UPDATE of used_at, so two
  tabs cannot both use one) and only until they expire.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import secrets as pysecrets
from dataclasses import dataclass

import pyotp
import qrcode
from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.orm import Session, joinedload

from service import audit
from service.access import passwords, recovery_codes
from service.access.roles import ROLES, STORE_SCOPED
from service.models import Brand, StaffAccount, StaffLink, StaffSession, UTCDateTime, utcnow
from service.platform import secrets

MAX_ATTEMPTS = 5
LOCKOUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=12)
MFA_STEP_LIFETIME = dt.timedelta(minutes=5)
INVITE_LIFETIME = dt.timedelta(days=7)
RESET_LIFETIME = dt.timedelta(days=1)
SESSION_KIND, LINK_KIND = "cs", "cl"


class AccessRefused(Exception):
    """Why an access step failed, as a key of the console's words (`locked`, `wrong`, ...)."""

    def __init__(self, reason: str, *, locked_until: dt.datetime | None = None, attempts_left: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.locked_until = locked_until
        self.attempts_left = attempts_left


def normalise_email(email: str) -> str:
    return email.strip().lower()[:254]


def store_ids_text(role: str, store_ids: list[int] | None) -> str:
    return ",".join(str(i) for i in sorted(set(store_ids or []))) if role in STORE_SCOPED else ""


def create_account(session: Session, brand: Brand, email: str, password: str, role: str,
                   store_ids: list[int] | None = None) -> StaffAccount:
    if role not in ROLES:
        raise AccessRefused("unknown_role")
    account = StaffAccount(brand_id=brand.id, email=normalise_email(email),
                           password_hash=passwords.hash_password(password), role=role,
                           store_ids=store_ids_text(role, store_ids))
    session.add(account)
    session.flush()
    return account


# ---- signing in -----------------------------------------------------------------------------


def _count_attempt(session: Session, account_id: int, now: dt.datetime) -> int | None:
    """Count one attempt (committed) unless sign-in is locked; the attempts so far, or None when
    locked. One conditional UPDATE, so concurrent attempts cannot overrun the limit."""
    at = literal(now, UTCDateTime())
    expired = and_(StaffAccount.locked_until.is_not(None), StaffAccount.locked_until <= at)
    attempts = case((expired, 0), else_=StaffAccount.failed_attempts) + 1
    result = session.execute(
        update(StaffAccount)
        .where(StaffAccount.id == account_id,
               or_(StaffAccount.locked_until.is_(None), StaffAccount.locked_until <= at))
        .values(failed_attempts=attempts,
                locked_until=case((attempts >= MAX_ATTEMPTS, literal(now + LOCKOUT, UTCDateTime())), else_=None))
        .execution_options(synchronize_session=False))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.rollback()
        return None
    count = session.scalar(select(StaffAccount.failed_attempts).where(StaffAccount.id == account_id))
    session.commit()
    return count


def _succeeded(session: Session, account: StaffAccount) -> None:
    session.execute(update(StaffAccount).where(StaffAccount.id == account.id)
                    .values(failed_attempts=0, locked_until=None).execution_options(synchronize_session=False))
    session.commit()
    session.refresh(account)


def _checked(session: Session, account: StaffAccount, right: bool, now: dt.datetime, attempts: int | None) -> None:
    session.refresh(account)
    if attempts is None:
        raise AccessRefused("locked", locked_until=account.locked_until)
    if right:
        _succeeded(session, account)
        return
    if attempts >= MAX_ATTEMPTS:
        raise AccessRefused("locked", locked_until=account.locked_until or now + LOCKOUT)
    raise AccessRefused("wrong", attempts_left=MAX_ATTEMPTS - attempts)


def check_password(session: Session, email: str, password: str) -> StaffAccount:
    """The account once `password` is its password; raises AccessRefused otherwise. Commits the count."""
    now = utcnow()
    account = session.scalar(select(StaffAccount).where(StaffAccount.email == normalise_email(email)))
    if account is None:
        passwords.verify(None, password)  # as slow as a real check: no telling who has an account
        raise AccessRefused("wrong")
    attempts = _count_attempt(session, account.id, now)
    right = attempts is not None and passwords.verify(account.password_hash, password)
    _checked(session, account, right, now, attempts)
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
        session.commit()
    return account


def check_totp(session: Session, account: StaffAccount, code: str) -> None:
    """A TOTP code, counted against the same lockout as passwords (6 digits are guessable too)."""
    now = utcnow()
    attempts = _count_attempt(session, account.id, now)
    right = (attempts is not None and account.totp_secret is not None
             and pyotp.TOTP(account.totp_secret).verify(code.strip().replace(" ", ""), valid_window=1))
    _checked(session, account, right, now, attempts)


def check_second_factor(session: Session, account: StaffAccount, code: str) -> str:
    """The sign-in's second step: a TOTP code, or one of the account's recovery codes (each works
    once). Either is counted against the same lockout, so the codes add no way around it. Returns
    which one it was ("totp" or "recovery"); raises AccessRefused otherwise. A recovery code's use
    is in the audit log, committed with the use."""
    if not recovery_codes.looks_like_one(code):
        check_totp(session, account, code)
        return "totp"
    now = utcnow()
    attempts = _count_attempt(session, account.id, now)
    right = attempts is not None and account.totp_enabled and recovery_codes.use(session, account.id, code)
    if right:
        audit.record(session, account.brand_id, "staff.recovery_code_used", "staff", account.id,
                     {"email": account.email, "remaining": recovery_codes.remaining(session, account.id)},
                     actor=_actor(account))
    _checked(session, account, right, now, attempts)
    return "recovery"


def _actor(account: StaffAccount) -> audit.Actor:
    return audit.Actor("staff", account.id, f"staff {account.email}")


# ---- sessions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSession:
    token: str
    row: StaffSession


def new_session(session: Session, account: StaffAccount, *, mfa_pending: bool = False) -> NewSession:
    secret = secrets.new_secret(SESSION_KIND)
    lifetime = MFA_STEP_LIFETIME if mfa_pending else SESSION_LIFETIME
    row = StaffSession(account_id=account.id, prefix=secret.prefix, token_hash=secret.digest,
                       csrf_token=pysecrets.token_urlsafe(32), mfa_pending=mfa_pending,
                       expires_at=utcnow() + lifetime)
    session.add(row)
    if not mfa_pending:
        account.last_sign_in_at = utcnow()
    session.commit()
    return NewSession(secret.value, row)


def session_for(session: Session, token: str | None, *, mfa_pending: bool = False) -> StaffSession | None:
    """The live session of `token` (its account and brand loaded), or None."""
    prefix = secrets.prefix_of(token, SESSION_KIND) if token else None
    if prefix is None or token is None:
        return None
    row = session.scalar(select(StaffSession).where(StaffSession.prefix == prefix)
                         .options(joinedload(StaffSession.account).joinedload(StaffAccount.brand)))
    if (row is None or not secrets.matches(token, row.token_hash) or row.expires_at <= utcnow()
            or row.mfa_pending != mfa_pending):
        return None
    return row


def end_session(session: Session, row: StaffSession) -> None:
    session.execute(delete(StaffSession).where(StaffSession.id == row.id))
    session.commit()


def end_every_session(session: Session, account_id: int) -> int:
    """Sign out everywhere: every browser of this account is signed out at once."""
    result = session.execute(delete(StaffSession).where(StaffSession.account_id == account_id))
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---- invite and reset links ------------------------------------------------------------------


def create_invite(session: Session, brand: Brand, email: str, role: str, store_ids: list[int] | None = None, *,
                  commit: bool = True) -> str:
    """A link token inviting `email` to `brand` as `role`; valid INVITE_LIFETIME, once."""
    email = normalise_email(email)
    if role not in ROLES:
        raise AccessRefused("unknown_role")
    if "@" not in email or session.scalar(select(StaffAccount.id).where(StaffAccount.email == email)):
        raise AccessRefused("email_taken" if "@" in email else "bad_email")
    secret = secrets.new_secret(LINK_KIND)
    session.add(StaffLink(brand_id=brand.id, kind="invite", email=email, role=role,
                          store_ids=store_ids_text(role, store_ids), prefix=secret.prefix,
                          token_hash=secret.digest, expires_at=utcnow() + INVITE_LIFETIME))
    if commit:
        session.commit()
    return secret.value


def create_reset(session: Session, account: StaffAccount) -> str:
    secret = secrets.new_secret(LINK_KIND)
    session.add(StaffLink(brand_id=account.brand_id, kind="reset", email=account.email, role=account.role,
                          account_id=account.id, prefix=secret.prefix, token_hash=secret.digest,
                          expires_at=utcnow() + RESET_LIFETIME))
    session.commit()
    return secret.value


def link_for(session: Session, token: str, kind: str) -> StaffLink | None:
    """The unused, unexpired link of `token`, or None."""
    prefix = secrets.prefix_of(token, LINK_KIND)
    if prefix is None:
        return None
    link = session.scalar(select(StaffLink).where(StaffLink.prefix == prefix, StaffLink.kind == kind))
    if (link is None or not secrets.matches(token, link.token_hash) or link.used_at is not None
            or link.expires_at <= utcnow()):
        return None
    return link


def _use(session: Session, link: StaffLink) -> bool:
    """Mark the link used; False if another request used it first."""
    result = session.execute(update(StaffLink).where(StaffLink.id == link.id, StaffLink.used_at.is_(None))
                             .values(used_at=utcnow()).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def accept_invite(session: Session, token: str, password: str) -> StaffAccount:
    link = link_for(session, token, "invite")
    if link is None:
        raise AccessRefused("link_dead")
    if (reason := passwords.password_problem(password, link.email)) is not None:
        raise AccessRefused(reason)
    if not _use(session, link):
        session.rollback()
        raise AccessRefused("link_dead")
    brand = session.get(Brand, link.brand_id)
    assert brand is not None
    if session.scalar(select(StaffAccount.id).where(StaffAccount.email == link.email)):
        session.rollback()
        raise AccessRefused("email_taken")
    account = create_account(session, brand, link.email, password, link.role,
                             [int(i) for i in link.store_ids.split(",") if i])
    session.commit()
    return account


def reset_password(session: Session, token: str, password: str) -> StaffAccount:
    """Set a new password from a reset link; every session of the account ends and any lockout lifts."""
    link = link_for(session, token, "reset")
    account = session.get(StaffAccount, link.account_id) if link and link.account_id else None
    if link is None or account is None:
        raise AccessRefused("link_dead")
    if (reason := passwords.password_problem(password, account.email)) is not None:
        raise AccessRefused(reason)
    if not _use(session, link):
        session.rollback()
        raise AccessRefused("link_dead")
    account.password_hash = passwords.hash_password(password)
    account.failed_attempts, account.locked_until = 0, None
    session.execute(delete(StaffSession).where(StaffSession.account_id == account.id))
    session.commit()
    return account


# ---- TOTP -------------------------------------------------------------------------------------


def totp_uri(account: StaffAccount, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name="Passcast")


def qr_data_uri(text: str) -> str:
    """A PNG QR code as a data: URI (drawn here: no request leaves our origin)."""
    image = qrcode.make(text, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def enable_totp(session: Session, account: StaffAccount, secret: str, code: str) -> list[str] | None:
    """Turn TOTP on once the authenticator shows the code of `secret`: the account's ten new
    recovery codes (to show this once), or None when the code is wrong."""
    try:
        right = bool(secret) and pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), valid_window=1)
    except ValueError:  # a secret that is not base32, or too short (a form edited by hand)
        right = False
    if not right:
        return None
    account.totp_secret, account.totp_enabled = secret, True
    codes = recovery_codes.replace(session, account)
    audit.record(session, account.brand_id, "staff.totp_enabled", "staff", account.id, {"email": account.email},
                 actor=_actor(account))
    session.commit()
    return codes


def regenerate_recovery_codes(session: Session, account: StaffAccount) -> list[str]:
    """Ten new recovery codes; the old ones stop working at once (in the same commit)."""
    if not account.totp_enabled:
        raise AccessRefused("totp_needed")
    codes = recovery_codes.replace(session, account)
    audit.record(session, account.brand_id, "staff.recovery_codes_regenerated", "staff", account.id,
                 {"email": account.email}, actor=_actor(account))
    session.commit()
    return codes


def disable_totp(session: Session, account: StaffAccount) -> None:
    """TOTP off, and its recovery codes gone with it (turning it on again gives new ones)."""
    account.totp_secret, account.totp_enabled = None, False
    recovery_codes.remove(session, account.id)
    audit.record(session, account.brand_id, "staff.totp_disabled", "staff", account.id, {"email": account.email},
                 actor=_actor(account))
    session.commit()
