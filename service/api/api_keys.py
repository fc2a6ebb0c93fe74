"""API keys: a brand may hold several (one per integration) and revoke any of them.

Only a SHA-256 of a key is stored (service/platform/secrets.py), so the secret is in the answer to
its creation and nowhere else, ever. Each key has a scope (service/access/scopes.py), so a dashboard
or a till's integration holds a key that can read, or work the counter, and nothing more.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import func, select

from service import audit
from service.access import scopes
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut, ProblemOut
from service.api.pagination import LINK_HEADER, PageQuery, page
from service.api.tenancy import brand_row
from service.models import ApiKey, Brand, utcnow
from service.platform import db, secrets
from service.platform.row_locks import lock_row
from service.web.problems import Problem

blp = Blueprint("api-keys", __name__, url_prefix="/api/v1", description="API keys of your brand")


def brand_key(key_id: int) -> ApiKey:
    return brand_row(ApiKey, key_id, "API key")


@blp.route("/api-keys", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(PageQuery, location="query")
@blp.response(200, ApiKeyOut(many=True), headers=LINK_HEADER)
def list_keys(query: dict[str, Any]) -> Any:
    """The brand's keys, revoked ones included (never their secrets)."""
    return page(select(ApiKey).where(ApiKey.brand_id == g.brand.id), ApiKey.id, query, newest_first=False)


@blp.route("/api-keys", methods=["POST"])
@require_brand
@requires("keys")
@blp.arguments(ApiKeyIn, example={"name": "POS sync", "scope": "cashier"})
@blp.response(201, ApiKeyCreatedOut)
@blp.alt_response(403, schema=ProblemOut, content_type=PROBLEM,
                  description="The scope grants a permission the caller does not hold")
def create_key(body: dict[str, Any]) -> Any:
    """Create a key with a scope (default `full`). The answer's `key` is the secret: it is shown this once.
    A key never gets more than its creator holds."""
    granted = scopes.SCOPES[body["scope"]]
    beyond = sorted(granted - g.permissions)
    if beyond:
        raise Problem(403, "Scope beyond your permissions",
                      f"A `{body['scope']}` key would hold {', '.join(f'`{p}`' for p in beyond)}, which you do not.",
                      type_="/problems/permission-missing", permission=beyond[0], scope=g.get("scope"))
    secret = secrets.new_secret("pk")
    key = ApiKey(brand_id=g.brand.id, name=body["name"], scope=body["scope"], prefix=secret.prefix,
                 secret_hash=secret.digest, created_at=utcnow())
    session = db.session()
    session.add(key)
    session.flush()
    audit.record(session, g.brand.id, "api_key.created", "api_key", key.id,
                 {"name": key.name, "prefix": key.prefix, "scope": key.scope})
    session.commit()
    return {**{field: getattr(key, field) for field in ("id", "name", "prefix", "scope", "created_at",
                                                        "revoked_at")},
            "key": secret.value}


@blp.route("/api-keys/<int:key_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, ApiKeyOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such key in your brand")
def get_key(key_id: int) -> Any:
    """One key (without its secret)."""
    return brand_key(key_id)


@blp.route("/api-keys/<int:key_id>", methods=["DELETE"])
@require_brand
@requires("keys")
@blp.response(200, ApiKeyOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such key in your brand")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="It is the brand's last active key")
def revoke_key(key_id: int) -> Any:
    """Revoke a key: it stops working at once. The last active key cannot be revoked (create another first)."""
    key = brand_key(key_id)
    session = db.session()
    if key.revoked_at is None:
        # Serialise revocations of one brand (on SQLite too), so two at once cannot both leave it keyless.
        lock_row(session, Brand, g.brand.id)
        session.refresh(key)
        if key.revoked_at is not None:  # revoked by the request we waited for
            session.rollback()
            return key
        active = session.scalar(select(func.count(ApiKey.id)).where(
            ApiKey.brand_id == g.brand.id, ApiKey.revoked_at.is_(None)))
        if active <= 1:
            session.rollback()
            raise Problem(409, "Last active key", "Create another key before revoking this one.",
                          type_="/problems/last-api-key")
        key.revoked_at = utcnow()
        audit.record(session, g.brand.id, "api_key.revoked", "api_key", key.id,
                     {"name": key.name, "prefix": key.prefix, "scope": key.scope})
        session.commit()
    return key
