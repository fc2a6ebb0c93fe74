"""Recovery codes for the console's TOTP step: ten single-use codes, given when two-factor sign-in
is turned on (or regenerated), for the day the phone with the authenticator is lost.

Why a salted SHA-256 and not the argon2 of passwords (service/access/passwords.py): a password is
chosen by a person and may be guessable, so it needs a slow hash; a recovery code is chosen by
`secrets` (16 characters of a 31-letter alphabet, about 79 bits), so nobody can enumerate them,
fast hash or not, and a database dump gives nothing back. A slow hash would instead cost every
sign-in step up to ten argon2 checks (one per unused code; argon2 cannot be looked up by value),
about two seconds at production cost. The account id salts each hash, so one code's hash means
nothing for another account. The lookup is by hash equality and the use is one conditional UPDATE
of `used_at`, so a code works exactly once even with two tabs at once.

Guessing goes through the same counter as wrong TOTP codes (accounts.check_second_factor), and
using one is in the audit log: the owner sees it.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from service.models import StaffAccount, StaffRecoveryCode, utcnow

COUNT = 10
LENGTH = 16
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt


def normalise(code: str) -> str:
    """What a person typed, as stored: lower case, without the dashes and spaces of the display."""
    return "".join(code.lower().split()).replace("-", "")[:64]


def looks_like_one(code: str) -> bool:
    """A recovery code's shape (a TOTP code is 6 digits: the step tells them apart by this)."""
    text = normalise(code)
    return len(text) == LENGTH and all(letter in ALPHABET for letter in text)


def _hash(account_id: int, code: str) -> str:
    return hashlib.sha256(f"passcast-recovery:{account_id}:{normalise(code)}".encode()).hexdigest()


def _shown(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, LENGTH, 4))


def replace(session: Session, account: StaffAccount) -> list[str]:
    """New codes for `account` (the old ones stop working): returned once, in display form
    (`abcd-efgh-jkmn-pqrs`), never stored. The caller commits."""
    session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.account_id == account.id))
    codes = ["".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(COUNT)]
    session.add_all(StaffRecoveryCode(account_id=account.id, code_hash=_hash(account.id, code)) for code in codes)
    return [_shown(code) for code in codes]


def remove(session: Session, account_id: int) -> None:
    """Every code of the account (TOTP turned off, the account removed). The caller commits."""
    session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.account_id == account_id))


def remaining(session: Session, account_id: int) -> int:
    return int(session.scalar(select(func.count(StaffRecoveryCode.id)).where(
        StaffRecoveryCode.account_id == account_id, StaffRecoveryCode.used_at.is_(None))) or 0)


def use(session: Session, account_id: int, code: str) -> bool:
    """Spend `code` if it is an unused code of the account: True the one time it works. The caller
    commits (with the audit entry)."""
    if not looks_like_one(code):
        return False
    result = session.execute(
        update(StaffRecoveryCode)
        .where(StaffRecoveryCode.account_id == account_id, StaffRecoveryCode.code_hash == _hash(account_id, code),
               StaffRecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]
