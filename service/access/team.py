"""A brand's team: who is in it, invitations, role changes, removal and reset links.

One implementation for the console's team page and the brand API (/api/v1/staff), so both refuse
the same things: a store that is not the brand's, a change that would leave the brand without an
owner (nobody could then let anyone in again), and a person acting on their own account (an owner
does not demote or remove themselves by a slip of the mouse; another owner can).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from service import audit
from service.access import accounts, recovery_codes
from service.access.roles import ROLES
from service.models import Brand, StaffAccount, StaffLink, StaffSession, Store, utcnow


class TeamRefused(Exception):
    """A team change we do not make; `reason` is a key of the console's words."""

    def __init__(self, reason: str, status: int = 422):
        super().__init__(reason)
        self.reason, self.status = reason, status


@dataclass(frozen=True)
class Invitation:
    token: str
    email: str
    role: str
    store_ids: list[int]


def members(session: Session, brand_id: int) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).where(StaffAccount.brand_id == brand_id)
                                .order_by(StaffAccount.email)))


def open_invites(session: Session, brand_id: int) -> list[StaffLink]:
    return list(session.scalars(select(StaffLink).where(
        StaffLink.brand_id == brand_id, StaffLink.kind == "invite", StaffLink.used_at.is_(None),
        StaffLink.expires_at > utcnow()).order_by(StaffLink.created_at)))


def member(session: Session, brand_id: int, account_id: int) -> StaffAccount | None:
    """A member of this brand; another brand's id is simply not found."""
    found = session.get(StaffAccount, account_id)
    return found if found is not None and found.brand_id == brand_id else None


def our_stores(session: Session, brand_id: int, asked: list[int] | None) -> list[int]:
    """`asked` kept to the brand's own stores: a crafted request naming another brand's store ids
    must not end up on one of our accounts."""
    if not asked:
        return []
    return sorted(session.scalars(select(Store.id).where(Store.brand_id == brand_id, Store.id.in_(set(asked)))))


def invite(session: Session, brand: Brand, email: str, role: str, store_ids: list[int] | None,
           actor: audit.Actor) -> Invitation:
    """A single-use invite link for `email` (its token; the link is /console/invite/<token>)."""
    stores = our_stores(session, brand.id, store_ids)
    try:
        token = accounts.create_invite(session, brand, email, role, stores, commit=False)
    except accounts.AccessRefused as error:
        raise TeamRefused(error.reason, 409 if error.reason == "email_taken" else 422) from error
    email = accounts.normalise_email(email)
    audit.record(session, brand.id, "staff.invited", "staff", None, {"email": email, "role": role}, actor=actor)
    session.commit()
    return Invitation(token, email, role, stores if role in accounts.STORE_SCOPED else [])


def _owners_left_without(session: Session, account: StaffAccount) -> int:
    return session.scalar(select(func.count()).select_from(StaffAccount).where(
        StaffAccount.brand_id == account.brand_id, StaffAccount.role == "owner",
        StaffAccount.id != account.id)) or 0


def _not_self_nor_last_owner(session: Session, account: StaffAccount, actor: audit.Actor, *,
                             still_owner: bool) -> None:
    if actor.kind == "staff" and actor.id == account.id:
        raise TeamRefused("not_yourself", 409)
    if account.role == "owner" and not still_owner and _owners_left_without(session, account) == 0:
        raise TeamRefused("last_owner", 409)


def change_role(session: Session, account: StaffAccount, role: str, store_ids: list[int] | None,
                actor: audit.Actor) -> StaffAccount:
    if role not in ROLES:
        raise TeamRefused("unknown_role")
    _not_self_nor_last_owner(session, account, actor, still_owner=role == "owner")
    before = {"role": account.role, "store_ids": account.store_ids}
    account.role = role
    account.store_ids = accounts.store_ids_text(role, our_stores(session, account.brand_id, store_ids))
    if changes := audit.diff(before, {"role": account.role, "store_ids": account.store_ids}):
        audit.record(session, account.brand_id, "staff.role_changed", "staff", account.id,
                     {"email": account.email, **changes}, actor=actor)
    session.commit()
    return account


def remove(session: Session, account: StaffAccount, actor: audit.Actor) -> None:
    """Remove the person; their sessions end at once."""
    _not_self_nor_last_owner(session, account, actor, still_owner=False)
    # its sessions and links first (SQLite does not enforce ON DELETE CASCADE)
    session.execute(delete(StaffSession).where(StaffSession.account_id == account.id))
    session.execute(delete(StaffLink).where(StaffLink.account_id == account.id))
    recovery_codes.remove(session, account.id)
    audit.record(session, account.brand_id, "staff.removed", "staff", account.id,
                 {"email": account.email, "role": account.role}, actor=actor)
    session.delete(account)
    session.commit()


def reset_link(session: Session, account: StaffAccount, actor: audit.Actor) -> str:
    """A single-use password-reset token for the person (the link is /console/reset/<token>)."""
    audit.record(session, account.brand_id, "staff.reset_link_issued", "staff", account.id,
                 {"email": account.email}, actor=actor)
    return accounts.create_reset(session, account)
