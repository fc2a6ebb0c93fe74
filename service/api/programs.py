"""Programs: their design (colours, images), and the certificate their passes are signed with."""

from __future__ import annotations

import io
from typing import Any

from flask import g, request
from flask_smorest import Blueprint
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from passes.errors import CertificateError
from service import db, signing
from service.api.cards import brand_program
from service.api.schemas import CertificateOut, ProgramOut, ProgramPatch, StoreOut
from service.auth import require_brand
from service.models import Card, Program, Store
from service.problems import Problem
from service.push.fanout import bump_cards

blp = Blueprint("programs", __name__, url_prefix="/api/v1", description="Programs and stores")

IMAGE_KINDS = ("logo", "icon", "strip")
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def _mark_all_cards_changed(program: Program) -> None:
    """A design change alters every pass of the program."""
    session = db.session()
    bump_cards(session, list(session.scalars(select(Card.id).where(Card.program_id == program.id))))


@blp.route("/programs", methods=["GET"])
@require_brand
@blp.response(200, ProgramOut(many=True))
def list_programs() -> Any:
    """The brand's programs."""
    return db.session().scalars(select(Program).where(Program.brand_id == g.brand.id).order_by(Program.id)).all()


@blp.route("/programs/<int:program_id>", methods=["GET"])
@require_brand
@blp.response(200, ProgramOut)
def get_program(program_id: int) -> Any:
    """One program."""
    return brand_program(program_id)


@blp.route("/programs/<int:program_id>", methods=["PATCH"])
@require_brand
@blp.arguments(ProgramPatch)
@blp.response(200, ProgramOut)
def patch_program(body: dict[str, Any], program_id: int) -> Any:
    """Change name, texts or colours; every card's pass is updated."""
    program = brand_program(program_id)
    for key, value in body.items():
        setattr(program, key, value)
    if body:
        _mark_all_cards_changed(program)
    db.session().commit()
    return program


@blp.route("/programs/<int:program_id>/images/<kind>", methods=["PUT"])
@require_brand
@blp.response(200, ProgramOut)
def put_image(program_id: int, kind: str) -> Any:
    """Upload the logo, icon or strip as the raw request body (PNG or JPEG); resized for @1x/@2x/@3x."""
    data = request.get_data()
    if not data:
        raise Problem(422, "Empty image", "Send the image bytes as the request body.")
    if len(data) > MAX_IMAGE_BYTES:
        raise Problem(413, "Image too large", "Images must be under 5 MiB.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise Problem(422, "Not an image", f"Could not read the image: {error}.") from None
    return _set_image(program_id, kind, data)


@blp.route("/programs/<int:program_id>/images/<kind>", methods=["DELETE"])
@require_brand
@blp.response(200, ProgramOut)
def delete_image(program_id: int, kind: str) -> Any:
    """Go back to the generated default image."""
    return _set_image(program_id, kind, None)


def _set_image(program_id: int, kind: str, data: bytes | None) -> Program:
    program = brand_program(program_id)
    if kind not in IMAGE_KINDS:
        raise Problem(404, "Unknown image", f"Images are {', '.join(IMAGE_KINDS)}.")
    setattr(program, f"{kind}_png", data)
    _mark_all_cards_changed(program)
    db.session().commit()
    return program


@blp.route("/programs/<int:program_id>/certificate", methods=["POST"])
@require_brand
@blp.response(201, CertificateOut)
def upload_certificate(program_id: int) -> Any:
    """Upload the Pass Type ID certificate (multipart form).

    Fields: `certificate` (.p12, or PEM), `key` (PEM key when the certificate is PEM without
    one), `password` (of the .p12 or the key), `wwdr` (Apple WWDR G4 intermediate, PEM or DER).
    The certificate is refused unless it is valid now, holds its key, chains to the WWDR and
    its UID/OU equal the program's passTypeIdentifier/teamIdentifier.
    """
    program = brand_program(program_id)
    files = request.files
    if "certificate" not in files or "wwdr" not in files:
        raise Problem(422, "Missing files", "Send `certificate` (.p12 or PEM) and `wwdr` (Apple WWDR G4).")
    password = request.form.get("password")
    key = files["key"].read() if "key" in files else None
    try:
        certificate = signing.certificate_from_upload(
            files["certificate"].read(), password=password.encode() if password else None,
            wwdr_pem=files["wwdr"].read(), key_pem=key)
        certificate.check(program.pass_type_identifier, program.team_identifier)
    except CertificateError as error:
        raise Problem(422, "Certificate refused", str(error), type_="/problems/certificate") from None
    row = signing.store_certificate(db.session(), certificate, brand_id=g.brand.id)
    program.certificate = row
    _mark_all_cards_changed(program)
    db.session().commit()
    return {"id": row.id, "pass_type_identifier": row.pass_type_identifier,
            "team_identifier": row.team_identifier, "not_after": row.not_after,
            "warning": certificate.expiry_warning()}


@blp.route("/stores", methods=["GET"])
@require_brand
@blp.response(200, StoreOut(many=True))
def list_stores() -> Any:
    """The brand's stores."""
    return db.session().scalars(select(Store).where(Store.brand_id == g.brand.id).order_by(Store.id)).all()
