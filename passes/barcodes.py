"""Barcode symbologies a card can carry, the numbers brands bring from their plastic cards, and
the barcode pictures (PNG) of every symbology.

A brand moving from plastic cards keeps its card numbers and its symbology, so the POS scanners
at its tills keep reading the phone as they read the plastic. Passcast's own default stays the QR
code with the signed card code (passes/cardcode.py): unforgeable, and readable by any camera.

=========  ==================================  ===================  ===========================
ours       Apple pass.json ``barcodes``         Google BarcodeType   what a card without a
                                                                     legacy number shows
=========  ==================================  ===================  ===========================
qr         PKBarcodeFormatQR                    QR_CODE              (always the signed code)
code128    PKBarcodeFormatCode128               CODE_128             the signed code, Code 128
ean13      PKBarcodeFormatEAN13, then           EAN_13               the signed code as QR (13
           PKBarcodeFormatCode128 (fallback)                         digits cannot carry it)
pdf417     PKBarcodeFormatPDF417                PDF_417              the signed code, PDF417
aztec      PKBarcodeFormatAztec                 AZTEC                the signed code, Aztec
=========  ==================================  ===================  ===========================

EAN-13 on Apple: Apple's Pass.Barcodes documentation says Wallet renders EAN 13 from iOS 27 on
and that an earlier system shows the first format it knows further down the array. So an EAN-13
card carries ``[PKBarcodeFormatEAN13, PKBarcodeFormatCode128]`` with the same 13 digits: iOS 27
shows the EAN-13, older iPhones (and watchOS, which has no Code 128 either: it shows the
altText) show Code 128 of the same digits, which a POS scanner with Code 128 enabled (the factory
setting of most) sends to the till as the same 13 digits. docs/developers/vendor-facts.md has the
sources.

A legacy number is not signed: anyone who knows (or guesses) it can show it, as with the plastic
card it replaces. docs/brands/existing-cards.md says so to the brand.

Pictures are drawn by zxing-cpp's writer (one library for every symbology, the same one the
tests decode with), QR by ``qrcode`` as before. Pure: no Flask, no database.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import qrcode
import zxingcpp
from PIL import Image

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "LegacyNumberError",
    "ShownBarcode",
    "Symbology",
    "SYMBOLOGIES",
    "barcode_image",
    "barcode_png",
    "ean13_check_digit",
    "ean13_for_card_number",
    "from_apple",
    "from_google",
    "normalise_legacy_number",
    "shown_barcode",
    "symbology",
]

DEFAULT_FORMAT = "qr"
FORMATS = ("qr", "code128", "ean13", "pdf417", "aztec")
#: Longest legacy number kept (the database column's size).
MAX_LEGACY_LENGTH = 64
#: Longest Code 128 we draw on a phone: past this the bars get too thin for a till's scanner at
#: Wallet's width (a 40-character alphanumeric Code 128 is about 470 modules).
MAX_CODE128_LENGTH = 40
_SIGNED_PREFIX = re.compile(r"PC[0-9]+:", re.IGNORECASE)
_EAN_SEPARATORS = re.compile(r"[ -]")


@dataclass(frozen=True)
class Symbology:
    """One barcode format as Passcast names it, and as each wallet and zxing-cpp name it."""

    name: str
    title: str
    #: pass.json formats in the order of the ``barcodes`` array (Wallet shows the first it knows).
    apple: tuple[str, ...]
    google: str
    #: Whether the signed card code (34 characters of A-Z 0-9 and ":") fits this symbology.
    carries_signed_code: bool
    #: Drawn wide (1D and PDF417) rather than square (QR, Aztec).
    wide: bool
    zxing: str


SYMBOLOGIES: dict[str, Symbology] = {
    "qr": Symbology("qr", "QR code", ("PKBarcodeFormatQR",), "QR_CODE", True, False, "QRCode"),
    "code128": Symbology("code128", "Code 128", ("PKBarcodeFormatCode128",), "CODE_128", True, True, "Code128"),
    "ean13": Symbology("ean13", "EAN-13", ("PKBarcodeFormatEAN13", "PKBarcodeFormatCode128"), "EAN_13", False,
                       True, "EAN13"),
    "pdf417": Symbology("pdf417", "PDF417", ("PKBarcodeFormatPDF417",), "PDF_417", True, True, "PDF417"),
    "aztec": Symbology("aztec", "Aztec", ("PKBarcodeFormatAztec",), "AZTEC", True, False, "Aztec"),
}
_BY_APPLE = {apple: symbology for symbology in SYMBOLOGIES.values() for apple in symbology.apple[:1]}
_BY_GOOGLE = {symbology.google: symbology for symbology in SYMBOLOGIES.values()}


class LegacyNumberError(ValueError):
    """A card number brought from plastic that the program's barcode cannot carry; says why."""


def symbology(name: str) -> Symbology:
    try:
        return SYMBOLOGIES[name]
    except KeyError:
        raise ValueError(f"unknown barcode format {name!r}; use one of {', '.join(FORMATS)}") from None


def ean13_check_digit(first_twelve: str) -> int:
    """GS1's check digit: weights 1, 3, 1, 3... from the left over the first twelve digits."""
    if len(first_twelve) != 12 or not (first_twelve.isascii() and first_twelve.isdigit()):
        raise ValueError("the EAN-13 check digit is computed over exactly 12 digits")
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first_twelve))
    return (10 - total % 10) % 10


#: The first digits of an EAN-13 number Passcast makes for a card: GS1 keeps prefixes 20-29 for
#: restricted circulation (numbers a company uses in its own shops, never on a product sold
#: elsewhere), and 20 is the one not given to price- or weight-embedded items in most countries.
GENERATED_EAN13_PREFIX = "20"


def ean13_for_card_number(number: int, prefix: str = GENERATED_EAN13_PREFIX) -> str:
    """A valid EAN-13 for a card that brought no plastic number: `prefix`, the card's number
    zero-padded to fill 12 digits, and the check digit. The same card number always gives the same
    EAN-13, and different card numbers different ones (card numbers are unique in a brand)."""
    width = 12 - len(prefix)
    if not (prefix.isascii() and prefix.isdigit()) or number < 0 or len(str(number)) > width:
        raise ValueError(f"card number {number} does not fit an EAN-13 after the prefix {prefix!r}")
    body = f"{prefix}{number:0{width}d}"
    return body + str(ean13_check_digit(body))


def _ean13(text: str) -> str:
    digits = _EAN_SEPARATORS.sub("", text)
    if not (digits.isascii() and digits.isdigit()):
        raise LegacyNumberError(f"{text!r} is not an EAN-13 number: digits only (spaces and dashes are ignored)")
    if len(digits) == 12:
        return digits + str(ean13_check_digit(digits))
    if len(digits) != 13:
        raise LegacyNumberError(f"{text!r} is not an EAN-13 number: it has {len(digits)} digits; EAN-13 has 13 "
                                "(or give the first 12 and the check digit is added)")
    expected = ean13_check_digit(digits[:12])
    if int(digits[12]) != expected:
        raise LegacyNumberError(f"{text!r} is not a valid EAN-13 number: its check digit is {digits[12]}, "
                                f"the first 12 digits need {expected} (a typo?)")
    return digits


def normalise_legacy_number(text: str, format_name: str) -> str:
    """The card number a brand brings from plastic, as the card keeps it, or LegacyNumberError.

    Nothing is dropped: surrounding whitespace is trimmed, and for EAN-13 only spaces and dashes
    inside are removed (12 digits get their check digit appended); anything else the number cannot
    be is refused with the reason. Every format also refuses what would pass for a signed card
    code (``PC1:...``), so a scanned text is never both.

    ``qr`` programs keep the number (the card answers and the till show it) while the pass shows
    the signed code; the rule is then the widest one (printable ISO-8859-1, what pass.json's
    messageEncoding carries), and switching the program to another format checks again.
    """
    if not isinstance(text, str):
        raise LegacyNumberError("the card number must be text")
    number = text.strip()
    if not number:
        raise LegacyNumberError("the card number is empty")
    if len(number) > MAX_LEGACY_LENGTH:
        raise LegacyNumberError(f"the card number is longer than {MAX_LEGACY_LENGTH} characters")
    if _SIGNED_PREFIX.match(number):
        raise LegacyNumberError(f"{number[:20]!r}... looks like a Passcast signed code (PC1:...), not a card number")
    name = symbology(format_name).name
    if name == "ean13":
        return _ean13(number)
    if name == "code128":
        if not all(" " <= char <= "~" for char in number):
            raise LegacyNumberError(f"{number!r} cannot be Code 128: printable ASCII only (letters, digits, "
                                    "punctuation, spaces)")
        if len(number) > MAX_CODE128_LENGTH:
            raise LegacyNumberError(f"{number!r} is too long for a Code 128 on a phone (at most "
                                    f"{MAX_CODE128_LENGTH} characters)")
        return number
    bad = next((char for char in number if not (" " <= char <= "~" or "\u00a0" <= char <= "\u00ff")), None)
    if bad is not None:
        raise LegacyNumberError(f"{number!r} has {bad!r}: a barcode on a pass carries printable ISO-8859-1 "
                                "characters only")
    return number


@dataclass(frozen=True)
class ShownBarcode:
    """What a card's barcode is: the symbology and the message it encodes, and the text under it."""

    symbology: Symbology
    message: str
    alt_text: str

    @property
    def apple_formats(self) -> tuple[str, ...]:
        return self.symbology.apple

    @property
    def google_type(self) -> str:
        return self.symbology.google


def shown_barcode(format_name: str, signed_code: str, short_number: str,
                  legacy_number: str | None) -> ShownBarcode:
    """The barcode a card shows in a program of `format_name`.

    QR programs: the signed code, whatever the card. Other programs: the legacy number when the
    card has one (the plastic card's number, in its symbology, with the number under it), else
    the signed code in the program's symbology when it fits, else (EAN-13) the signed QR code.
    """
    chosen = symbology(format_name)
    if chosen.name != "qr" and legacy_number:
        return ShownBarcode(chosen, legacy_number, legacy_number)
    if chosen.carries_signed_code:
        return ShownBarcode(chosen, signed_code, short_number)
    return ShownBarcode(SYMBOLOGIES["qr"], signed_code, short_number)


def from_apple(format_constant: str) -> Symbology | None:
    """The symbology of a pass.json ``barcodes`` entry (the first entry's format), if we draw it."""
    return _BY_APPLE.get(format_constant)


def from_google(barcode_type: str) -> Symbology | None:
    return _BY_GOOGLE.get(barcode_type)


def _qr_image(message: str) -> Image.Image:
    code = qrcode.QRCode(border=1, box_size=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(message)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def _module_image(message: str, chosen: Symbology) -> Image.Image:
    """One pixel per module (1D: bars one pixel wide, 50 high), quiet zones included."""
    if chosen.name == "qr":
        return _qr_image(message)
    try:
        code = zxingcpp.create_barcode(message, getattr(zxingcpp.BarcodeFormat, chosen.zxing))
    except ValueError as error:
        raise ValueError(f"cannot draw {message!r} as {chosen.title}: {error}") from None
    return Image.fromarray(code.to_image(scale=1, add_quiet_zones=True)).convert("L")


def barcode_image(message: str, format_name: str, width: int, height: int | None = None) -> Image.Image:
    """The barcode scaled by a whole number of pixels per module to at most `width` x `height`
    (square symbologies: `width` x `width`), centred on white; RGBA.

    Whole-pixel modules, never a fractional resize: a scanner decodes the picture as drawn.
    """
    chosen = symbology(format_name)
    modules = _module_image(message, chosen)
    height = height or (width if not chosen.wide else max(width // 3, 1))
    linear = chosen.wide and chosen.name != "pdf417"  # 1D: the bars' length is free, only their width counts
    scale = max(1, width // modules.width if linear else min(width // modules.width, height // modules.height))
    drawn = modules.resize((modules.width * scale, height if linear else modules.height * scale),
                           Image.Resampling.NEAREST)
    plate = Image.new("L", (max(width, drawn.width), max(height, drawn.height)), 255)
    plate.paste(drawn, ((plate.width - drawn.width) // 2, (plate.height - drawn.height) // 2))
    return plate.convert("RGBA")


def barcode_png(message: str, format_name: str, width: int = 600, height: int | None = None) -> bytes:
    """The barcode as a PNG (see `barcode_image`)."""
    out = io.BytesIO()
    barcode_image(message, format_name, width, height).save(out, "PNG")
    return out.getvalue()
