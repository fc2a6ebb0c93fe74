"""The customer's download link: the signed .pkpass, as Wallet wants it served."""

from __future__ import annotations

import hmac
import re

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select

from passes.package import PKPASS_MEDIA_TYPE
from service.apple import pass_files
from service.loyalty.cards import download_key
from service.models import Card
from service.platform import db

bp = Blueprint("downloads", __name__)


def pkpass_response(data: bytes, last_modified, filename: str) -> Response:  # type: ignore[no-untyped-def]
    """Wrong Content-Type makes the phone save a .zip; Last-Modified drives Wallet's updates."""
    response = Response(data, mimetype=PKPASS_MEDIA_TYPE)
    response.last_modified = last_modified
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-cache"
    return response


def pass_filename(card: Card) -> str:
    return filename_for(card.program.name)


def filename_for(program_name: str) -> str:
    """The download's file name, from the program's name (the lean fetch has only that)."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", program_name).strip("-").lower() or "card"
    return f"{name}.pkpass"


@bp.get("/passes/<serial_number>.pkpass")
def apple_pass(serial_number: str) -> Response:
    session = db.session()
    card = session.scalar(select(Card).where(Card.serial_number == serial_number))
    key = request.args.get("key", "")
    expected = download_key(card, card.program.brand) if card is not None else "x" * 32
    if card is None or not hmac.compare_digest(key, expected):
        abort(404)
    stored = pass_files.served(session, card, current_app.config["PASSCAST"].web_service_url)
    session.commit()
    return pkpass_response(stored.data, stored.last_modified, pass_filename(card))
