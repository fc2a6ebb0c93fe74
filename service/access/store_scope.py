"""Store-scoped roles: a store manager acts only for the stores named on their account.

Written once so every endpoint that touches a store's staff, tills or counter asks the same
question. `g.store_ids` (set by `console_principal`, service/api/auth.py) is a frozenset of
store ids for a store-scoped role and absent or None for everyone else (owners, marketers,
API keys, cashiers), who are not limited here.

Reads and writes alike stop at the manager's stores (the stores themselves, their cashiers
and tills). Two answers:
- a store, cashier or till outside the manager's stores (a brand-wide cashier or till
  included) is answered 404, exactly as a missing id, because the manager's lists never show it;
- naming a store the manager does not run (creating a cashier or pairing a till there,
  moving a cashier there, posting a counter transaction for it), or no store at all
  (brand-wide), is refused 403 naming the store the caller sent and the manager's own: it
  tells the caller which ids are theirs to use, at the price of confirming that the id they
  sent is one of the brand's stores (its number, nothing of its name or place).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from flask import g
from sqlalchemy import Select, false
from sqlalchemy.orm import InstrumentedAttribute

from service.web.problems import Problem


class StoreOwned(Protocol):
    @property
    def store_id(self) -> int | None: ...


T = TypeVar("T", bound=StoreOwned)


def limited_to() -> frozenset[int] | None:
    """The stores the principal is limited to, or None when it is not limited."""
    return g.get("store_ids")


def may_act_for(store_id: int | None) -> bool:
    """Whether the principal may act for `store_id` (None: brand-wide, only for the unlimited)."""
    stores = limited_to()
    return stores is None or (store_id is not None and store_id in stores)


def check_store(store_id: int | None) -> None:
    """403 problem+json naming the store unless the principal may act for it; call it after the
    store has been checked to be the brand's (tenancy first, so another brand's id stays a 404)."""
    if may_act_for(store_id):
        return
    mine = sorted(limited_to() or ())
    if store_id is None:
        raise Problem(403, "Store needed",
                      f"Your role acts only for your stores ({_listed(mine)}); name one of them as store_id, "
                      f"brand-wide is for the owner.", type_="/problems/store-not-yours",
                      store_id=None, your_store_ids=mine)
    raise Problem(403, "Not your store",
                  f"Store {store_id} is not one of your stores ({_listed(mine)}).",
                  type_="/problems/store-not-yours", store_id=store_id, your_store_ids=mine)


def visible(statement: Select[Any], column: InstrumentedAttribute[Any]) -> Select[Any]:
    """`statement` narrowed to rows whose `column` is one of the principal's stores (unchanged
    when the principal is not limited; rows of no store are hidden from a limited one)."""
    stores = limited_to()
    if stores is None:
        return statement
    return statement.where(column.in_(sorted(stores)) if stores else false())


def within_stores(row: T, what: str, row_id: int) -> T:
    """`row` if the principal may act for its store (a Store passes as the row of its own id, see
    service/api/stores.py), else the same 404, word for word, as a missing
    id (service/api/tenancy.py `brand_row`), so a manager cannot tell the two apart."""
    if not may_act_for(row.store_id):
        raise Problem(404, f"{what[:1].upper()}{what[1:]} not found", f"No {what} {row_id} in your brand.")
    return row


def _listed(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids) if ids else "none yet"
