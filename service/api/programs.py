"""Programs: earn rules, tiers, expiry and design (colours, images), and the certificate their
passes are signed with. Whatever changes what a pass shows re-derives tiers and expiry
(service/loyalty/engine.py) and updates every card of the program."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, request
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from passes.errors import CertificateError, PassValidationError
from passes.images import MAX_SIDE, REFUSAL, check_source
from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import (
    PROBLEM,
    STAMP_FIELDS,
    ProblemOut,
    ProgramIn,
    ProgramRules,
    TierIn,
    TierOut,
    TierPatch,
)
from service.api.cards import brand_program
from service.api.schemas import CertificateOut, ProgramOut
from service.apple import signing
from service.design.presets import PRESETS
from service.google_wallet.tasks import queue_sync_held
from service.loyalty import engine as loyalty
from service.loyalty import legacy_numbers, partners
from service.loyalty import stamps as stamp_rules
from service.models import Card, Program, Store, Tier
from service.platform import db
from service.push.fanout import bump_cards
from service.web.problems import Problem, validation_problem

blp = Blueprint("programs", __name__, url_prefix="/api/v1",
                description="Programs: earn rules, tiers, points expiry, design and certificate")

IMAGE_KINDS = ("logo", "icon", "strip", "stamp")  # stamp: the stamp cards' slot image
_IMAGE_BODY = {"required": True, "content": {
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    "description": f"The image file itself: PNG or JPEG, at most {MAX_SIDE}\N{MULTIPLICATION SIGN}"
                   f"{MAX_SIDE} pixels"}


def _mark_all_cards_changed(program: Program) -> None:
    """A design or rules change alters every pass of the program."""
    session = db.session()
    session.flush()
    ids = list(session.scalars(select(Card.id).where(Card.program_id == program.id)))
    bump_cards(session, ids)
    queue_sync_held(session, ids)


#: Program fields that decide a card's tier or points expiry (the others only change how passes look).
TIER_AND_EXPIRY_RULES = frozenset({"kind", "tier_basis", "points_expire_days"})
#: Program settings no pass shows (what a point is worth, the till's undo window): changing only these
#: re-sends no card. The till's limits are in the terms on the pass's back (service/loyalty/terms.py).
NOT_ON_THE_PASS = frozenset({"point_value", "undo_window_minutes"})


def _rules_changed(program: Program) -> None:
    """Tiers, basis or expiry changed: re-derive each card's tier and expiry, then update all passes
    (cards the re-derivation already changed are not bumped twice: one push each)."""
    session = db.session()
    versions = select(Card.id, Card.version).where(Card.program_id == program.id)
    session.flush()
    before: dict[int, int] = {row.id: row.version for row in session.execute(versions)}
    loyalty.refresh_program(session, program)
    session.flush()
    untouched = [row.id for row in session.execute(versions) if before.get(row.id) == row.version]
    bump_cards(session, untouched)
    queue_sync_held(session, untouched)  # the re-derived ones went through the ORM: the flush hook has them


def _check_rules(program: Program, body: dict[str, Any]) -> None:
    """Cross-field rules the schema cannot see (it validates one request, not the result)."""
    if program.kind == "discount" and program.tier_basis == "points":
        raise validation_problem([{"field": "tier_basis",
                                   "message": "A discount card has no points balance; use lifetime_spend."}])
    if program.kind != "stamps":
        sent = [name for name in STAMP_FIELDS if body.get(name) not in (None, 0, [])]
        if sent:
            raise validation_problem([{"field": name, "message": f"Only stamp-card programs (kind stamps) take "
                                                                 f"{name}; this one is {program.kind}."}
                                      for name in sent])
        return
    store_ids = db.session().scalars(select(Store.id).where(Store.brand_id == program.brand_id)).all()
    errors = stamp_rules.problems(program, store_ids)
    if program.points_expire_days:
        errors.append({"field": "points_expire_days", "message": "Stamps do not expire; leave it null."})
    if errors:
        raise validation_problem(errors)


def _check_barcode_format(program: Program, new_format: str) -> None:
    """Every legacy number the program's cards carry must fit the new symbology as it is."""
    problems = legacy_numbers.format_change_problems(db.session(), program, new_format)
    if problems:
        raise Problem(409, "Card numbers do not fit", f"The program's cards cannot show {new_format}: "
                      + "; ".join(problems) + ".", type_="/problems/barcode-format-change")


def _check_kind_change(program: Program, old_kind: str) -> None:
    """Points are not stamps: a program with cards cannot become, or stop being, a stamp card. A
    program shared with partners keeps a kind they can share (else they would lose it unannounced)."""
    if old_kind != program.kind and program.kind not in partners.PARTNER_KINDS:
        sharing = partners.sharing_brands(db.session(), program.id)
        if sharing:
            why = partners.WHY_POINTS_ONLY.format(kind="stamp" if program.kind == "stamps" else program.kind)
            raise Problem(409, "Program has partners", f"This program is shared with brands "
                          f"{', '.join(map(str, sharing))} (invited or taking part): it cannot become a "
                          f"{program.kind} program. {why} End the partnerships first.",
                          type_="/problems/program-has-partners", partner_brand_ids=sharing)
    if (old_kind == "stamps") == (program.kind == "stamps"):
        return
    if db.session().scalar(select(Card.id).where(Card.program_id == program.id).limit(1)) is not None:
        raise Problem(409, "Program has cards", f"This program has cards: it cannot change from {old_kind} to "
                      f"{program.kind} (their balances would change meaning). Create a new program.",
                      type_="/problems/program-kind-change")


_PROGRAM_EXAMPLE = {"name": "Demo Coffee Rewards", "kind": "points", "currency": "EUR", "points_per_unit": "10",
                    "rounding": "down", "tier_basis": "lifetime_points", "points_expire_days": 365,
                    "background_color": "#3b2417"}


@blp.route("/programs", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, ProgramOut(many=True))
def list_programs() -> Any:
    """The brand's programs."""
    return db.session().scalars(select(Program).where(Program.brand_id == g.brand.id).order_by(Program.id)).all()


@blp.route("/programs", methods=["POST"])
@require_brand
@requires("design")
@blp.arguments(ProgramIn, example=_PROGRAM_EXAMPLE)
@blp.response(201, ProgramOut)
def create_program(body: dict[str, Any]) -> Any:
    """Create a program. Until you upload its certificate, passes are signed with the development one."""
    settings = current_app.config["PASSCAST"]
    body.setdefault("pass_type_identifier", settings.dev_pass_type_identifier)
    body.setdefault("team_identifier", settings.dev_team_identifier)
    body.setdefault("currency", settings.default_currency)
    preset = body.pop("preset", None)
    if preset is not None:  # a ready-made design; the fields sent with it win
        body = {**PRESETS[preset].fields(), **body}
    if body.get("kind") == "stamps":
        body.setdefault("stamp_rule", "visit")
    program = Program(brand_id=g.brand.id, **body)
    _check_rules(program, body)
    if (program.pass_type_identifier, program.team_identifier) == (settings.dev_pass_type_identifier,
                                                                   settings.dev_team_identifier):
        program.certificate = signing.ensure_dev_certificate(db.session(), settings.certs_dir,
                                                             settings.dev_pass_type_identifier,
                                                             settings.dev_team_identifier)
    session = db.session()
    session.add(program)
    session.flush()
    audit.record(session, g.brand.id, "program.created", "program", program.id,
                 audit.snapshot(program, ("name", "kind")))
    session.commit()
    return program


@blp.route("/programs/<int:program_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, ProgramOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def get_program(program_id: int) -> Any:
    """One program."""
    return brand_program(program_id)


@blp.route("/programs/<int:program_id>", methods=["PATCH"])
@require_brand
@requires("design")
@blp.arguments(ProgramRules, example={"points_per_unit": "12", "rounding": "nearest", "points_expire_days": 180,
                                      "background_color": "#1f2937"})
@blp.response(200, ProgramOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="A kind change of a program with cards, or a barcode_format its cards' numbers "
                              "do not fit")
def patch_program(body: dict[str, Any], program_id: int) -> Any:
    """Change texts, colours, earn rules (kind, points_per_unit, rounding, cashback/discount
    percent), the tier basis or points expiry; every card's tier, expiry and pass are updated."""
    program = brand_program(program_id)
    before = audit.snapshot(program, body)
    old_kind, old_format = program.kind, program.barcode_format
    if body.get("barcode_format", program.barcode_format) != program.barcode_format:
        _check_barcode_format(program, body["barcode_format"])
    for key, value in body.items():
        setattr(program, key, value)
    if program.kind == "stamps" and program.stamp_rule is None:
        program.stamp_rule = "visit"
    _check_kind_change(program, old_kind)
    _check_rules(program, body)
    if "barcode_format" in body:  # EAN-13 cannot carry the signed code: every card gets a number
        legacy_numbers.number_cards_without_one(db.session(), program)
        if old_format == "ean13" != program.barcode_format:  # the others carry the signed code again
            legacy_numbers.forget_generated_numbers(db.session(), program)
    if changes := audit.diff(before, audit.snapshot(program, body)):
        audit.record(db.session(), g.brand.id, "program.updated", "program", program.id, changes)
    if TIER_AND_EXPIRY_RULES & body.keys():
        _rules_changed(program)
    elif body.keys() - NOT_ON_THE_PASS:
        _mark_all_cards_changed(program)
    db.session().commit()
    return program


# -- tiers -------------------------------------------------------------------------------------


def brand_tier(program: Program, tier_id: int) -> Tier:
    tier = db.session().get(Tier, tier_id)
    if tier is None or tier.program_id != program.id:
        raise Problem(404, "Tier not found", f"No tier {tier_id} in program {program.id}.")
    return tier


def _save_tier(program: Program, audited: Callable[[], object]) -> None:
    """Flush a tier change, turning a duplicate name or threshold into a 409, then audit it (`audited`,
    once the tier has its id) and re-derive cards."""
    session = db.session()
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Problem(409, "Tier conflicts", "Another tier of this program has that name or threshold.",
                      type_="/problems/tier-conflict") from None
    audited()
    _rules_changed(program)
    session.commit()


_TIER_EXAMPLE = {"name": "Gold", "threshold": "500", "earn_multiplier": "1.25", "background_color": "#7c5e10",
                 "label_color": "#fde68a"}


@blp.route("/programs/<int:program_id>/tiers", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, TierOut(many=True))
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def list_tiers(program_id: int) -> Any:
    """The program's tiers, lowest threshold first."""
    program = brand_program(program_id)
    return db.session().scalars(select(Tier).where(Tier.program_id == program.id).order_by(Tier.threshold)).all()


@blp.route("/programs/<int:program_id>/tiers", methods=["POST"])
@require_brand
@requires("design")
@blp.arguments(TierIn, example=_TIER_EXAMPLE)
@blp.response(201, TierOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="A tier with that name or threshold exists")
def create_tier(body: dict[str, Any], program_id: int) -> Any:
    """Add a tier; cards that reach it move up, and their passes show it."""
    program = brand_program(program_id)
    if body.get("earn_multiplier") is None:
        body.pop("earn_multiplier", None)
    tier = Tier(program_id=program.id, **body)
    db.session().add(tier)
    _save_tier(program, lambda: audit.record(db.session(), g.brand.id, "tier.created", "tier", tier.id,
                                             {"program_id": program.id, **audit.snapshot(tier, body)}))
    return tier


@blp.route("/programs/<int:program_id>/tiers/<int:tier_id>", methods=["PATCH"])
@require_brand
@requires("design")
@blp.arguments(TierPatch(partial=True), example={"threshold": "400", "earn_multiplier": "1.5"})
@blp.response(200, TierOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program or tier in your brand")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="A tier with that name or threshold exists")
def patch_tier(body: dict[str, Any], program_id: int, tier_id: int) -> Any:
    """Change a tier (send only what changes); cards and passes follow."""
    program = brand_program(program_id)
    tier = brand_tier(program, tier_id)
    before = audit.snapshot(tier, body)
    for key, value in body.items():
        if key == "earn_multiplier" and value is None:
            continue
        setattr(tier, key, value)
    changes = audit.diff(before, audit.snapshot(tier, body))
    _save_tier(program, lambda: changes and audit.record(db.session(), g.brand.id, "tier.updated", "tier",
                                                         tier.id, {"program_id": program.id, **changes}))
    return tier


@blp.route("/programs/<int:program_id>/tiers/<int:tier_id>", methods=["DELETE"])
@require_brand
@requires("design")
@blp.response(204)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program or tier in your brand")
def delete_tier(program_id: int, tier_id: int) -> None:
    """Remove a tier; its cards fall to the highest tier they still reach."""
    program = brand_program(program_id)
    tier = brand_tier(program, tier_id)
    session = db.session()
    # Cards leave the tier first (refresh_program then puts each where it belongs).
    for card in session.scalars(select(Card).where(Card.tier_id == tier.id)):
        card.current_tier = None
    session.flush()
    audit.record(session, g.brand.id, "tier.deleted", "tier", tier.id,
                 {"program_id": program.id, **audit.snapshot(tier, ("name", "threshold"))})
    session.delete(tier)
    session.flush()
    _rules_changed(program)
    session.commit()


@blp.route("/programs/<int:program_id>/images/<kind>", methods=["PUT"])
@require_brand
@requires("design")
@blp.response(200, ProgramOut)
@blp.doc(requestBody=_IMAGE_BODY,
         parameters=[{"in": "path", "name": "kind", "required": True,
                      "schema": {"type": "string", "enum": IMAGE_KINDS}}])
def put_image(program_id: int, kind: str) -> Any:
    """Upload the logo, icon, strip or stamp as the raw request body (PNG or JPEG); resized for @1x/@2x/@3x
    (the stamp: drawn in each slot of a stamp card's strip, full for a stamp, faded for an empty slot)."""
    program = brand_program(program_id)  # before any decoding: another brand's program is a 404 at once
    _known_kind(kind)
    return _set_image(program, kind, _image_body(kind))


def _image_body(kind: str) -> bytes:
    """The request body, if it is a PNG or JPEG a pass can be built from: checked (and decoded)
    here, so a bad upload is refused now rather than breaking every pass of the program later."""
    if request.mimetype == "multipart/form-data":
        raise Problem(415, "Unsupported Media Type", "Send the image itself as the request body, with "
                      "Content-Type: image/png or image/jpeg, not as a multipart form.", type_="/problems/raw-body")
    data = request.get_data()
    if not data:
        raise Problem(422, "Empty image", "Send the image bytes as the request body.")
    try:
        check_source(kind, data)
    except PassValidationError:
        raise Problem(422, "Not a usable image", f"The {kind} {REFUSAL}.") from None
    return data


@blp.route("/programs/<int:program_id>/tiers/<int:tier_id>/strip", methods=["PUT"])
@require_brand
@requires("design")
@blp.response(200, TierOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program or tier in your brand")
@blp.doc(requestBody=_IMAGE_BODY)
def put_tier_strip(program_id: int, tier_id: int) -> Any:
    """The tier's own strip image (PNG or JPEG as the body): passes of cards in the tier show it."""
    program = brand_program(program_id)
    tier = brand_tier(program, tier_id)
    before = audit.snapshot(tier, ("strip_png",))
    tier.strip_png = _image_body("strip")
    audit.record(db.session(), g.brand.id, "tier.image_set", "tier", tier.id,
                 audit.diff(before, audit.snapshot(tier, ("strip_png",))))
    _mark_all_cards_changed(program)
    db.session().commit()
    return tier


@blp.route("/programs/<int:program_id>/tiers/<int:tier_id>/strip", methods=["DELETE"])
@require_brand
@requires("design")
@blp.response(200, TierOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program or tier in your brand")
def delete_tier_strip(program_id: int, tier_id: int) -> Any:
    """Back to the program's strip for this tier."""
    program = brand_program(program_id)
    tier = brand_tier(program, tier_id)
    before = audit.snapshot(tier, ("strip_png",))
    tier.strip_png = None
    audit.record(db.session(), g.brand.id, "tier.image_removed", "tier", tier.id,
                 audit.diff(before, audit.snapshot(tier, ("strip_png",))))
    _mark_all_cards_changed(program)
    db.session().commit()
    return tier


@blp.route("/programs/<int:program_id>/images/<kind>", methods=["DELETE"])
@require_brand
@requires("design")
@blp.response(200, ProgramOut)
def delete_image(program_id: int, kind: str) -> Any:
    """Go back to the generated default image."""
    program = brand_program(program_id)
    _known_kind(kind)
    return _set_image(program, kind, None)


def _known_kind(kind: str) -> None:
    if kind not in IMAGE_KINDS:
        raise Problem(404, "Unknown image", f"Images are {', '.join(IMAGE_KINDS)}.")


def _set_image(program: Program, kind: str, data: bytes | None) -> Program:
    before = audit.snapshot(program, (f"{kind}_png",))
    setattr(program, f"{kind}_png", data)
    audit.record(db.session(), g.brand.id, "program.image_set" if data is not None else "program.image_removed",
                 "program", program.id, audit.diff(before, audit.snapshot(program, (f"{kind}_png",))))
    _mark_all_cards_changed(program)
    db.session().commit()
    return program


@blp.route("/programs/<int:program_id>/certificate", methods=["POST"])
@require_brand
@requires("design")
@blp.response(201, CertificateOut)
@blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["certificate", "wwdr"],
    "properties": {
        "certificate": {"type": "string", "format": "binary", "description": ".p12, or PEM certificate"},
        "key": {"type": "string", "format": "binary", "description": "PEM key, when the certificate is PEM "
                                                                    "without one"},
        "password": {"type": "string", "description": "Of the .p12 or the key"},
        "wwdr": {"type": "string", "format": "binary", "description": "Apple WWDR G4 intermediate, PEM or DER"},
    }}}}})
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
    audit.record(db.session(), g.brand.id, "program.certificate_set", "program", program.id,
                 {"pass_type_identifier": row.pass_type_identifier, "not_after": row.not_after})
    _mark_all_cards_changed(program)
    db.session().commit()
    return {"id": row.id, "pass_type_identifier": row.pass_type_identifier,
            "team_identifier": row.team_identifier, "not_after": row.not_after,
            "warning": certificate.expiry_warning()}
