"""What Google fetches or calls: the save/delete callback, the program logo, the terms page.

POST /google/callbacks: Google's ECv2SigningOnly-signed message {classId, objectId,
expTimeMillis, eventType "save" | "del", nonce}, verified with Google's root keys
(GOOGLE_CALLBACK_ROOT_KEYS: a file or the JSON, as published at
https://pay.google.com/gp/m/issuer/keys) for our issuer id as recipient. Each nonce is
recorded once (Google retries and may deliver twice): a replay answers 200 and changes
nothing. A bad signature is 400 and writes nothing; unconfigured keys are 503.
"""

from __future__ import annotations

import functools
import html
import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from passes.google import CallbackVerificationError, RootKey, load_root_keys, verify_callback
from service.design.card_design import design, stamp_strip_files
from service.enrolment.i18n import choose_language
from service.google_wallet import sync
from service.loyalty import terms as program_terms
from service.models import Card, GoogleWalletEvent, Program
from service.platform import db
from service.web.problems import Problem

bp = Blueprint("google_wallet", __name__, url_prefix="/google")
log = logging.getLogger(__name__)

EVENT_TYPES = {"save", "del"}


def _root_keys(source: str) -> tuple[RootKey, ...]:
    """GOOGLE_CALLBACK_ROOT_KEYS is the JSON itself or a file (re-read when it changes: Google rotates keys)."""
    if source.lstrip().startswith("{"):
        return _parsed_root_keys(source)
    path = Path(source)
    return _parsed_file_root_keys(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=8)
def _parsed_root_keys(text: str) -> tuple[RootKey, ...]:
    return tuple(load_root_keys(text))


@functools.lru_cache(maxsize=8)
def _parsed_file_root_keys(path: str, _mtime: float) -> tuple[RootKey, ...]:
    return _parsed_root_keys(Path(path).read_text())


def _card_for(object_id: str) -> Card | None:
    settings = current_app.config["PASSCAST"]
    prefix = f"{sync.issuer_id(settings)}.passcast-card-"
    if not object_id.startswith(prefix):
        return None
    return db.session().scalar(select(Card).where(Card.serial_number == object_id[len(prefix):]))


@bp.post("/callbacks")
def callback() -> Any:
    settings = current_app.config["PASSCAST"]
    if not settings.google_callback_root_keys:
        raise Problem(503, "Callbacks not configured", "GOOGLE_CALLBACK_ROOT_KEYS is not set.")
    envelope = request.get_json(silent=True)
    if not isinstance(envelope, dict):
        raise Problem(400, "Invalid callback", "The body must be Google's signed JSON envelope.")
    try:
        roots = _root_keys(settings.google_callback_root_keys)
    except (OSError, ValueError, KeyError, TypeError, CallbackVerificationError) as exc:
        log.error("GOOGLE_CALLBACK_ROOT_KEYS unusable: %s", exc)
        raise Problem(503, "Callbacks not configured", "GOOGLE_CALLBACK_ROOT_KEYS cannot be read.") from exc
    try:
        message = verify_callback(envelope, roots, sync.issuer_id(settings))
    except CallbackVerificationError as exc:
        raise Problem(400, "Invalid callback signature", str(exc)) from exc
    nonce, object_id, event_type = message.get("nonce"), message.get("objectId"), message.get("eventType")
    class_id = message.get("classId")
    if not (isinstance(nonce, str) and 0 < len(nonce) <= 200 and isinstance(object_id, str)
            and len(object_id) <= 300 and event_type in EVENT_TYPES
            and (class_id is None or (isinstance(class_id, str) and len(class_id) <= 300))):
        raise Problem(400, "Invalid callback", "nonce, objectId and eventType (save|del) are required.")
    session = db.session()
    if session.scalar(select(GoogleWalletEvent.id).where(GoogleWalletEvent.nonce == nonce)) is not None:
        return {"status": "duplicate"}
    card = _card_for(object_id)
    session.add(GoogleWalletEvent(nonce=nonce, card_id=card.id if card else None, object_id=object_id,
                                  class_id=class_id, event_type=event_type))
    try:
        session.commit()
    except IntegrityError:  # the same nonce, delivered twice at the same moment
        session.rollback()
        return {"status": "duplicate"}
    return {"status": "recorded", "card_id": card.id if card else None}


def _program(program_id: int) -> Program:
    program = db.session().get(Program, program_id)
    if program is None:
        abort(404)
    return program


@bp.get("/programs/<int:program_id>/logo.png")
def logo(program_id: int) -> Response:
    """The program logo Google shows on the card: 660 x 660 px as Google recommends (the class's
    URL carries ?v=<version>, so a new upload or colour is a new URL and may be cached long)."""
    program = _program(program_id)
    response = Response(sync.logo_png(program), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.set_etag(sync.logo_version(program))
    return response.make_conditional(request)


@bp.get("/programs/<int:program_id>/stamps/<int:filled>.png")
def stamps(program_id: int, filled: int) -> Response:
    """A stamp card's picture with `filled` slots stamped (the @3x strip, 1125 x 369 px), the
    heroImage of its Google objects; ?tier= for a tier's colours. Nothing personal in it, so it
    is cached like the logo (a new design is a new ?v=)."""
    program = _program(program_id)
    if program.kind != "stamps" or filled > (program.stamps_required or 0):
        abort(404)
    tier_id = request.args.get("tier", type=int)
    tier = next((tier for tier in program.tiers if tier.id == tier_id), None)
    files = stamp_strip_files(program, design(program, tier), filled)
    response = Response(files["strip@3x.png"], mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.set_etag(f"{sync.stamps_version(program, tier)}-{filled}")
    return response.make_conditional(request)


@bp.get("/programs/<int:program_id>/terms")
def terms(program_id: int) -> Response:
    """The program's current rules and the brand's own text (service/loyalty/terms.py), in the
    reader's language (?lang=, else Accept-Language: the object's link asks for the customer's)."""
    program = _program(program_id)
    language = choose_language(request)
    body = html.escape(program_terms.terms(program, language).text() or program.description)
    page = (f"<!doctype html><html lang={language}><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width'>"
            f"<title>{html.escape(program.name)}: terms</title><h1>{html.escape(program.name)}</h1>"
            f"<p style='white-space:pre-wrap'>{body}</p>")
    return Response(page, mimetype="text/html")
