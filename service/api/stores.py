"""Stores: where a brand's customers shop; passes list the stores nearest the holder (with the
lock-screen text and, optionally, the store's iBeacon), so any change updates the brand's passes."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from service import audit
from service.access.scopes import requires
from service.access.store_scope import visible, within_stores
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut, StoreIn, StoreOut, StorePatch, StoreQuery
from service.api.pagination import LINK_HEADER, page
from service.api.tenancy import brand_row
from service.google_wallet.tasks import queue_sync_held
from service.models import Card, Cashier, Customer, LedgerEntry, Store
from service.platform import db
from service.push.fanout import bump_cards
from service.web.problems import Problem, validation_problem

blp = Blueprint("stores", __name__, url_prefix="/api/v1", description="Stores: locations, lock-screen text, beacons")

_NOT_FOUND = {"description": "No such store in your brand"}


def brand_store(store_id: int) -> Store:
    """The brand's store (404 otherwise), whoever asks: what a write names is checked for the
    principal's stores by `store_scope.check_store`, with its own 403."""
    return brand_row(Store, store_id, "store")


class _OwnStore:
    """A store seen as the row it owns (its own id), for `store_scope.within_stores`."""

    def __init__(self, store: Store) -> None:
        self.store_id: int | None = store.id


def readable_store(store_id: int) -> Store:
    """The brand's store; for a store manager only one of theirs (else 404, word for word a missing id's)."""
    store = brand_store(store_id)
    within_stores(_OwnStore(store), "store", store_id)
    return store


def _update_passes() -> None:
    """Stores appear in passes (locations, relevant text, beacons): every card of the brand changes."""
    session = db.session()
    session.flush()
    ids = list(session.scalars(select(Card.id).where(Card.brand_id == g.brand.id)))
    bump_cards(session, ids)
    queue_sync_held(session, ids)  # merchantLocations on the Google objects


@blp.route("/stores", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(StoreQuery, location="query")
@blp.response(200, StoreOut(many=True), headers=LINK_HEADER)
def list_stores(query: dict[str, Any]) -> Any:
    """The brand's stores, oldest first; a store manager sees their own stores only."""
    statement = visible(select(Store).where(Store.brand_id == g.brand.id), Store.id)
    if query["q"]:
        statement = statement.where(Store.name.contains(query["q"], autoescape=True))
    return page(statement, Store.id, query, newest_first=False)


@blp.route("/stores", methods=["POST"])
@require_brand
@requires("stores")
@blp.arguments(StoreIn, example={"name": "Demo Coffee Centraal", "address": "Stationsplein 1, Amsterdam",
                                 "latitude": 52.3791, "longitude": 4.9003,
                                 "relevant_text": "Show your card for double points",
                                 "beacon_uuid": "E2C56DB5-DFFB-48D2-B060-D0F5A71096E0",
                                 "beacon_major": 1, "beacon_minor": 7})
@blp.response(201, StoreOut)
def create_store(body: dict[str, Any]) -> Any:
    """Add a store; passes near it start showing it."""
    store = Store(brand_id=g.brand.id, **body)
    db.session().add(store)
    _update_passes()
    audit.record(db.session(), g.brand.id, "store.created", "store", store.id, audit.snapshot(store, body))
    db.session().commit()
    return store


@blp.route("/stores/<int:store_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, StoreOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND["description"])
def get_store(store_id: int) -> Any:
    """One store (for a store manager, one of theirs: another is a 404 like a missing id)."""
    return readable_store(store_id)


@blp.route("/stores/<int:store_id>", methods=["PATCH"])
@require_brand
@requires("stores")
@blp.arguments(StorePatch(partial=True), example={"relevant_text": "Free cookie with any coffee today"})
@blp.response(200, StoreOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND["description"])
def patch_store(body: dict[str, Any], store_id: int) -> Any:
    """Change a store (send only what changes); passes showing it are updated."""
    store = brand_store(store_id)
    merged = {key: getattr(store, key) for key in ("beacon_uuid", "beacon_major", "beacon_minor")} | body
    if merged["beacon_uuid"] is None and (merged["beacon_major"] is not None or merged["beacon_minor"] is not None):
        raise validation_problem([{"field": "beacon_uuid", "message": "major/minor need a beacon_uuid."}])
    before = audit.snapshot(store, body)
    for key, value in body.items():
        setattr(store, key, value)
    if body.keys() - {"time_zone"}:  # the time zone is not on any pass (quiet hours: campaigns/pacing.py)
        _update_passes()
    if changes := audit.diff(before, audit.snapshot(store, body)):
        audit.record(db.session(), g.brand.id, "store.updated", "store", store.id, changes)
    db.session().commit()
    return store


@blp.route("/stores/<int:store_id>", methods=["DELETE"])
@require_brand
@requires("stores")
@blp.response(204)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND["description"])
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="Cashiers or past transactions refer to the store")
def delete_store(store_id: int) -> None:
    """Remove a store. Customers who had it as home store keep their cards (no home store)."""
    store = brand_store(store_id)
    session = db.session()
    in_use = (session.scalar(select(Cashier.id).where(Cashier.store_id == store.id).limit(1))
              or session.scalar(select(LedgerEntry.id).where(LedgerEntry.store_id == store.id).limit(1)))
    if in_use:
        raise Problem(409, "Store in use", "Cashiers or past transactions refer to this store; it stays.",
                      type_="/problems/store-in-use")
    session.execute(update(Customer).where(Customer.home_store_id == store.id).values(home_store_id=None)
                    .execution_options(synchronize_session=False))
    audit.record(session, g.brand.id, "store.deleted", "store", store.id,
                 audit.snapshot(store, ("name", "address")))
    session.delete(store)
    try:
        _update_passes()
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Problem(409, "Store in use", "Other records refer to this store; it stays.",
                      type_="/problems/store-in-use") from None
