"""Request and response schemas of the brand API (validation and OpenAPI in one place)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class CustomerIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=320))
    phone = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^\+?[0-9 ()\-]{5,32}$",
                                                   error="Use digits, spaces, dashes and an optional leading +."))
    birthday = fields.Date(load_default=None, allow_none=True)
    language = fields.String(load_default="en", validate=validate.OneOf(["en", "ru"]))
    home_store_id = fields.Integer(load_default=None, allow_none=True, strict=True)


class CardIssueIn(Schema):
    customer = fields.Nested(CustomerIn, required=True)


class CustomerOut(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    birthday = fields.Date(allow_none=True)
    language = fields.String()
    home_store_id = fields.Integer(allow_none=True)


class CardOut(Schema):
    id = fields.Integer(metadata={"example": 42})
    program_id = fields.Integer()
    serial_number = fields.String(metadata={"example": "7f0d3c1e-0d0c-4a55-9f1b-6a3c0c1d2e3f"})
    number = fields.String(metadata={"description": "Short number printed under the QR code",
                                     "example": "1234 5678 90"})
    customer = fields.Nested(CustomerOut)
    balance = fields.Integer(metadata={"example": 120})
    lifetime_points = fields.Integer()
    tier = fields.String(allow_none=True)
    voided = fields.Boolean()
    version = fields.Integer()
    updated_at = fields.DateTime()
    created_at = fields.DateTime()
    barcode_message = fields.String(metadata={"description": "What the QR code on the pass encodes"})
    apple_pass_url = fields.Url(metadata={"description": "GET it: the signed .pkpass"})
    google_save_url = fields.String(allow_none=True, metadata={
        "description": "Save to Google Wallet link (null until Google Wallet is configured)"})


class StoreOut(Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()
    latitude = fields.Float()
    longitude = fields.Float()
    relevant_text = fields.String(allow_none=True)


class ProgramOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    description = fields.String()
    terms = fields.String()
    currency = fields.String()
    points_per_unit = fields.Decimal(as_string=True)
    rounding = fields.String()
    cashback_percent = fields.Decimal(as_string=True)
    discount_percent = fields.Decimal(as_string=True)
    background_color = fields.String()
    foreground_color = fields.String()
    label_color = fields.String()
    pass_type_identifier = fields.String()
    team_identifier = fields.String()
    certificate = fields.Method("_certificate")

    def _certificate(self, program):  # type: ignore[no-untyped-def]
        cert = program.certificate
        if cert is None:
            return None
        return {"id": cert.id, "not_after": cert.not_after.isoformat(), "dev": cert.is_dev,
                "pass_type_identifier": cert.pass_type_identifier,
                "team_identifier": cert.team_identifier}


HEX_COLOUR = validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="Use a #rrggbb colour.")


class ProgramPatch(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(min=1, max=300))
    terms = fields.String(validate=validate.Length(max=5000))
    background_color = fields.String(validate=HEX_COLOUR)
    foreground_color = fields.String(validate=HEX_COLOUR)
    label_color = fields.String(validate=HEX_COLOUR)


class CertificateUploadIn(Schema):
    password = fields.String(load_default=None, allow_none=True)


class CertificateOut(Schema):
    id = fields.Integer()
    pass_type_identifier = fields.String()
    team_identifier = fields.String()
    not_after = fields.DateTime()
    warning = fields.String(allow_none=True)
