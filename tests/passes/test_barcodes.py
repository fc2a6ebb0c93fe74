"""Every barcode format a brand may keep from its plastic cards, built into pass.json and Google's
LoyaltyObject, drawn as a PNG and in the card previews, and read back by zxing-cpp's decoder: the
format it finds and the text it reads are what the till's scanner will get."""

from __future__ import annotations

import io
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from passes import preview
from passes.barcodes import (
    FORMATS,
    SYMBOLOGIES,
    LegacyNumberError,
    barcode_png,
    ean13_check_digit,
    normalise_legacy_number,
    shown_barcode,
)
from passes.cardcode import encode_card_code, short_number
from passes.errors import PassValidationError
from passes.google import LoyaltyObjectSpec, loyalty_object
from passes.schema import Barcode, Pass, StoreCard
from tests.doubles import wallet_schema

SECRET = b"0123456789abcdef"
SIGNED = encode_card_code("ACME", 12345678, SECRET)
SHORT = short_number(12345678)
ISSUER = "3388000000022123456"
#: What each symbology decodes as in zxing-cpp.
ZXING = {"qr": zxingcpp.BarcodeFormat.QRCode, "code128": zxingcpp.BarcodeFormat.Code128,
         "ean13": zxingcpp.BarcodeFormat.EAN13, "pdf417": zxingcpp.BarcodeFormat.PDF417,
         "aztec": zxingcpp.BarcodeFormat.Aztec}
#: A plastic card's number per format (the EAN-13 is GS1's own example).
LEGACY = {"code128": "ACME-0042-77", "ean13": "4006381333931", "pdf417": "ACME 0042 77/B",
          "aztec": "ACME-0042-77"}


def decode(png: bytes) -> list[Any]:
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))


def build_pass(barcodes: tuple[Barcode, ...]) -> Pass:
    return Pass(pass_type_identifier="pass.com.example.card", team_identifier="ABCDE12345",
                serial_number="card-1", organization_name="Acme", description="Acme card",
                store_card=StoreCard(), barcodes=barcodes)


def pass_barcodes(format_name: str, legacy: str | None) -> tuple[Barcode, ...]:
    shown = shown_barcode(format_name, SIGNED, SHORT, legacy)
    return tuple(Barcode(message=shown.message, format=apple, alt_text=shown.alt_text)
                 for apple in shown.apple_formats)


def google_object(format_name: str, legacy: str | None) -> dict[str, Any]:
    shown = shown_barcode(format_name, SIGNED, SHORT, legacy)
    return loyalty_object(LoyaltyObjectSpec(
        object_id=f"{ISSUER}.card-1", class_id=f"{ISSUER}.program-1", account_id=shown.alt_text,
        account_name="Anna", barcode_value=shown.message, barcode_type=shown.google_type,
        alternate_text=shown.alt_text, points_label="Points", balance=10))


# ------------------------------------------------------------------ built, drawn, decoded


@pytest.mark.parametrize("format_name", FORMATS)
def test_each_format_is_built_rendered_and_decoded(format_name: str) -> None:
    """pass.json, the Google object and the PNG of each format; zxing-cpp reads back the format and
    the text (a legacy number for the plastic formats, the signed code for QR)."""
    legacy = LEGACY.get(format_name)
    expected = legacy if legacy is not None else SIGNED
    pass_json = build_pass(pass_barcodes(format_name, legacy)).to_json_dict()
    first = pass_json["barcodes"][0]
    assert first["format"] == SYMBOLOGIES[format_name].apple[0]
    assert first["message"] == expected and first["messageEncoding"] == "iso-8859-1"
    body = google_object(format_name, legacy)
    assert body["barcode"] == {"type": SYMBOLOGIES[format_name].google, "value": expected,
                               "alternateText": legacy or SHORT}
    assert wallet_schema.problems("LoyaltyObject", body) == []  # Google's own enum of BarcodeType

    found = decode(barcode_png(first["message"], format_name))
    assert [(code.format, code.text) for code in found] == [(ZXING[format_name], expected)]


def test_an_ean13_pass_carries_a_code128_fallback_of_the_same_digits() -> None:
    """iOS 27 draws EAN-13; an older iPhone draws the first format it knows: Code 128 of the same 13
    digits, which a POS scanner reads as the same number."""
    pass_json = build_pass(pass_barcodes("ean13", LEGACY["ean13"])).to_json_dict()
    assert [(entry["format"], entry["message"]) for entry in pass_json["barcodes"]] == [
        ("PKBarcodeFormatEAN13", "4006381333931"), ("PKBarcodeFormatCode128", "4006381333931")]
    fallback = decode(barcode_png("4006381333931", "code128"))
    assert [(code.format, code.text) for code in fallback] == [(zxingcpp.BarcodeFormat.Code128, "4006381333931")]


def test_the_previews_draw_the_chosen_symbology() -> None:
    """The card designer's pictures carry the real barcode: zxing-cpp reads it off the preview."""
    for format_name in FORMATS:
        legacy = LEGACY.get(format_name)
        expected = legacy if legacy is not None else SIGNED
        pass_json = build_pass(pass_barcodes(format_name, legacy)).to_json_dict()
        pass_json["storeCard"] = {"auxiliaryFields": [{"key": "number", "label": "Card", "value": "x"}]}
        front = decode(preview.render_front(pass_json, {}))
        assert [(code.format, code.text) for code in front] == [(ZXING[format_name], expected)], format_name
        google = decode(preview.render_google({"hexBackgroundColor": "#ffffff", "programName": "Acme"},
                                              google_object(format_name, legacy)))
        assert [(code.format, code.text) for code in google] == [(ZXING[format_name], expected)], format_name


def test_a_card_without_a_legacy_number_keeps_the_signed_code() -> None:
    for format_name in ("qr", "code128", "pdf417", "aztec"):
        shown = shown_barcode(format_name, SIGNED, SHORT, None)
        assert (shown.symbology.name, shown.message, shown.alt_text) == (format_name, SIGNED, SHORT)
    # 13 digits cannot carry the signed code: such a card of an EAN-13 program shows the signed QR code
    shown = shown_barcode("ean13", SIGNED, SHORT, None)
    assert (shown.symbology.name, shown.message) == ("qr", SIGNED)
    # a QR program shows the signed code even for a card that has a legacy number
    assert shown_barcode("qr", SIGNED, SHORT, "4006381333931").message == SIGNED
    code = decode(barcode_png(SIGNED, "code128"))
    assert [(c.format, c.text) for c in code] == [(zxingcpp.BarcodeFormat.Code128, SIGNED)]


# ------------------------------------------------------------------ legacy numbers


def test_ean13_check_digit_is_gs1s() -> None:
    assert ean13_check_digit("400638133393") == 1
    assert ean13_check_digit("590123412345") == 7  # GS1's other example: 5901234123457
    assert normalise_legacy_number("400638133393", "ean13") == "4006381333931"  # 12 digits + check digit
    assert normalise_legacy_number(" 4 006381 333931 ", "ean13") == "4006381333931"
    assert normalise_legacy_number("4006381-333931", "ean13") == "4006381333931"


@pytest.mark.parametrize(("text", "format_name", "says"), [
    ("4006381333932", "ean13", "its check digit is 2, the first 12 digits need 1"),
    ("40063813339", "ean13", "it has 11 digits"),
    ("40063813339A1", "ean13", "digits only"),
    ("Grüße-1", "code128", "printable ASCII only"),
    ("A" * 41, "code128", "at most 40 characters"),
    ("tab\there", "pdf417", "printable ISO-8859-1"),
    ("карта-1", "aztec", "printable ISO-8859-1"),
    ("   ", "code128", "is empty"),
    ("X" * 65, "qr", "longer than 64"),
    ("pc1:ACME:1:ABC", "code128", "looks like a Passcast signed code"),
])
def test_a_number_the_format_cannot_carry_is_refused_with_the_reason(text: str, format_name: str,
                                                                     says: str) -> None:
    with pytest.raises(LegacyNumberError, match=says):
        normalise_legacy_number(text, format_name)


def test_nothing_of_a_number_is_dropped() -> None:
    assert normalise_legacy_number("  ACME 0042/77  ", "code128") == "ACME 0042/77"  # inner spaces kept
    assert normalise_legacy_number("Café-7", "pdf417") == "Café-7"  # ISO-8859-1
    assert normalise_legacy_number("Café-7", "qr") == "Café-7"
    with pytest.raises(ValueError, match="unknown barcode format"):
        normalise_legacy_number("1", "datamatrix")


def test_pass_json_refuses_an_ean13_alone_or_not_13_digits() -> None:
    with pytest.raises(PassValidationError, match="needs a fallback"):
        build_pass((Barcode(message="4006381333931", format="PKBarcodeFormatEAN13"),))
    with pytest.raises(PassValidationError, match="exactly 13 digits"):
        Barcode(message="400638133393", format="PKBarcodeFormatEAN13")


def test_google_refuses_a_barcode_type_we_do_not_send() -> None:
    with pytest.raises(PassValidationError, match="barcode.type"):
        loyalty_object(LoyaltyObjectSpec(
            object_id=f"{ISSUER}.card-1", class_id=f"{ISSUER}.program-1", account_id="1", account_name="A",
            barcode_value="1", barcode_type="qrCode", alternate_text="1", points_label="Points", balance=1))
