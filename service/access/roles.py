"""The permissions vocabulary and what each staff role may do.

The same words name an API key's scopes (service/access/scopes.py), so one check serves a
console session and a key alike: a request's principal carries `g.permissions`.
"""

from __future__ import annotations

PERMISSIONS: frozenset[str] = frozenset({
    "read", "cashier", "campaigns", "design", "members", "stores", "staff", "webhooks", "keys", "accounts", "audit",
    "partners",
})

ROLES: dict[str, frozenset[str]] = {
    "owner": PERMISSIONS,
    # runs the program end to end: the card, campaigns, members, stores and their cashiers and tills
    "marketer": frozenset({"read", "campaigns", "design", "members", "stores", "staff"}),
    # limited to the stores named on the account (StaffAccount.store_ids)
    "store_manager": frozenset({"read", "cashier", "staff"}),
    "analyst": frozenset({"read"}),
}

#: Roles whose permissions hold only for the stores named on the account.
STORE_SCOPED: frozenset[str] = frozenset({"store_manager"})

#: The order the team page lists them in.
ROLE_ORDER: tuple[str, ...] = ("owner", "marketer", "store_manager", "analyst")


def permissions_of(role: str) -> frozenset[str]:
    """What `role` may do; nothing for a role this version does not know."""
    return ROLES.get(role, frozenset())
