"""The brand's team through the API: list people and open invites, invite, change a role, remove,
issue a password-reset link. The console's team page makes the same changes through the same
rules (service/access/team.py), so neither can leave a brand without an owner."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.access import team
from service.access.accounts import INVITE_LIFETIME, RESET_LIFETIME
from service.access.roles import ROLE_ORDER
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.fields import Id
from service.models import StaffAccount, utcnow
from service.platform import db
from service.web.problems import Problem

blp = Blueprint("staff", __name__, url_prefix="/api/v1", description="Your brand's team: console accounts and invites")

_REASONS = {
    "email_taken": "This e-mail already has an account.",
    "bad_email": "Enter an e-mail address.",
    "unknown_role": f"role must be one of: {', '.join(ROLE_ORDER)}.",
    "not_yourself": "You cannot change or remove your own account; another owner can.",
    "last_owner": "The brand would be left without an owner; make someone else owner first.",
}


class StaffOut(Schema):
    id = fields.Integer(metadata={"example": 7})
    email = fields.String(metadata={"example": "anna@example.com"})
    role = fields.String(metadata={"example": "marketer"})
    store_ids = fields.Method("_stores", metadata={"description": "A store manager's stores (else empty)"})
    totp_enabled = fields.Boolean()
    created_at = fields.DateTime()
    last_sign_in_at = fields.DateTime(allow_none=True)

    def _stores(self, account: StaffAccount) -> list[int]:
        return sorted(account.stores)


class InviteOut(Schema):
    email = fields.String(metadata={"example": "anna@example.com"})
    role = fields.String(metadata={"example": "marketer"})
    store_ids = fields.List(fields.Integer())
    expires_at = fields.DateTime()
    invite_url = fields.String(metadata={"description": "Single use; only in the answer to the invitation"})


class InviteIn(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254), metadata={"example": "anna@example.com"})
    role = fields.String(required=True, validate=validate.OneOf(ROLE_ORDER), metadata={"example": "marketer"})
    store_ids = fields.List(Id(), load_default=list,
                            metadata={"description": "For a store manager: the stores they manage"})


class RoleIn(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLE_ORDER), metadata={"example": "analyst"})
    store_ids = fields.List(Id(), load_default=list)


class ResetOut(Schema):
    reset_url = fields.String(metadata={"description": "Single use, 24 hours"})
    expires_at = fields.DateTime()


def _link(kind: str, token: str) -> str:
    return current_app.config["PASSCAST"].public_base_url.rstrip("/") + f"/console/{kind}/{token}"


def _refused(error: team.TeamRefused) -> Problem:
    db.session().rollback()
    return Problem(error.status, "Team change refused", _REASONS.get(error.reason, error.reason),
                   type_=f"/problems/{error.reason.replace('_', '-')}")


def _member(account_id: int) -> StaffAccount:
    found = team.member(db.session(), g.brand.id, account_id)
    if found is None:
        raise Problem(404, "Not Found", "No such person in your brand.")
    return found


@blp.route("/staff", methods=["GET"])
@require_brand
@requires("accounts")
@blp.response(200, StaffOut(many=True))
def list_staff() -> Any:
    """Everyone with a console account in the brand, by e-mail."""
    return team.members(db.session(), g.brand.id)


@blp.route("/staff/invites", methods=["GET"])
@require_brand
@requires("accounts")
@blp.response(200, InviteOut(many=True))
def list_invites() -> Any:
    """Invitations not used yet and not expired (their links are never shown again)."""
    return [{"email": link.email, "role": link.role, "expires_at": link.expires_at,
             "store_ids": [int(i) for i in link.store_ids.split(",") if i]}
            for link in team.open_invites(db.session(), g.brand.id)]


@blp.route("/staff/invites", methods=["POST"])
@require_brand
@requires("accounts")
@blp.arguments(InviteIn, example={"email": "anna@example.com", "role": "marketer"})
@blp.response(201, InviteOut)
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM, description="The e-mail already has an account")
def invite(body: dict[str, Any]) -> Any:
    """Invite someone: the answer's `invite_url` (single use, 7 days) is for you to send them."""
    try:
        made = team.invite(db.session(), g.brand, body["email"], body["role"], body["store_ids"], g.actor)
    except team.TeamRefused as error:
        raise _refused(error) from error
    return {"email": made.email, "role": made.role, "store_ids": made.store_ids,
            "expires_at": utcnow() + INVITE_LIFETIME, "invite_url": _link("invite", made.token)}


@blp.route("/staff/<int:account_id>", methods=["PATCH"])
@require_brand
@requires("accounts")
@blp.arguments(RoleIn, example={"role": "store_manager", "store_ids": [1]})
@blp.response(200, StaffOut)
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="Your own account, or the brand's last owner")
def change_role(body: dict[str, Any], account_id: int) -> Any:
    """Change someone's role (and a store manager's stores)."""
    try:
        return team.change_role(db.session(), _member(account_id), body["role"], body["store_ids"], g.actor)
    except team.TeamRefused as error:
        raise _refused(error) from error


@blp.route("/staff/<int:account_id>", methods=["DELETE"])
@require_brand
@requires("accounts")
@blp.response(204)
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="Your own account, or the brand's last owner")
def remove(account_id: int) -> None:
    """Remove someone from the team; their sessions end at once."""
    try:
        team.remove(db.session(), _member(account_id), g.actor)
    except team.TeamRefused as error:
        raise _refused(error) from error


@blp.route("/staff/<int:account_id>/reset-link", methods=["POST"])
@require_brand
@requires("accounts")
@blp.response(201, ResetOut)
def reset_link(account_id: int) -> Any:
    """A password-reset link for someone (single use, 24 hours), for you to send them."""
    token = team.reset_link(db.session(), _member(account_id), g.actor)
    return {"reset_url": _link("reset", token), "expires_at": utcnow() + RESET_LIFETIME}
