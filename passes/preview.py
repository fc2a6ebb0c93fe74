"""Pictures of a pass as the phone shows it, drawn from the pass itself (pass.json, its images
and pass.strings; Google's LoyaltyClass and LoyaltyObject bodies).

Wallet draws a pass on the phone; we have no renderer of Apple's. So that a preview cannot
say something the pass does not, this module draws only what the pass's own data says: every
text comes from the fields (through the same pass.strings the phone reads), every colour from
pass.json or the class, every image from the package. Only the font (DejaVu Sans, which has
Cyrillic) and the proportions are ours. Pure: no Flask, no database; the service builds the
pass with the code that builds the real one and hands it here.

`front_texts` is the list of (label, value) the front shows, the one the drawing writes, so a
test can hold it against pass.json. Pictures are cached by a digest of their inputs: the
console asks again on each keystroke and most keystrokes change nothing on the card.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import textwrap
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import qrcode
from PIL import Image, ImageDraw, ImageFont

from passes.barcodes import Symbology, barcode_image, from_apple, from_google
from passes.localization import parse_strings

#: Wallet's pass width in points, drawn at @2x.
WIDTH = 375 * 2
#: A Google Wallet card as the app shows it, at @2x.
GOOGLE_WIDTH = 360 * 2
#: A lock-screen notification banner, at @2x.
LOCK_WIDTH = 360 * 2
FONTS = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
BOLD_FONTS = ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
CURRENCY_SIGNS = {"EUR": "\u20ac", "USD": "$", "GBP": "\u00a3", "RUB": "\u20bd", "JPY": "\u00a5"}
MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "ru": ("янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.", "окт.", "нояб.", "дек."),
}
_CACHE_SIZE = 512
_cache: OrderedDict[str, bytes] = OrderedDict()

Rgb = tuple[int, int, int]


# -- shared helpers -----------------------------------------------------------------------------


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in BOLD_FONTS if bold else FONTS:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def rgb(value: str | None, default: Rgb) -> Rgb:
    """pass.json colours are `rgb(r, g, b)`; Google's are `#rrggbb`."""
    if not value:
        return default
    value = value.strip()
    if value.startswith("rgb("):
        r, g, b = (int(part) for part in value[4:-1].split(","))
        return r, g, b
    if value.startswith("#") and len(value) == 7:
        return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)
    return default


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)  # speed over size: the console asks on each keystroke
    return out.getvalue()


def digest(*parts: Any) -> str:
    """A stable digest of JSON-able parts and bytes: the cache key of a picture."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            hasher.update(hashlib.sha256(part).digest())
        elif isinstance(part, Mapping) and part and all(isinstance(v, bytes) for v in part.values()):
            for name in sorted(part):
                hasher.update(name.encode() + hashlib.sha256(part[name]).digest())
        else:
            hasher.update(json.dumps(part, sort_keys=True, default=str).encode())
        hasher.update(b"\x00")
    return hasher.hexdigest()


def _cached(key: str, draw: Any) -> bytes:
    found = _cache.get(key)
    if found is not None:
        _cache.move_to_end(key)
        return found
    picture = _png(draw())
    _cache[key] = picture
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return picture


def clear_cache() -> None:
    _cache.clear()


def _barcode(message: str, chosen: Symbology | None, square: int, wide: int) -> Image.Image:
    """The pass's barcode in its own symbology (QR when we do not draw the one named): square ones
    `square` pixels a side, 1D and PDF417 `wide` pixels across."""
    if chosen is None or chosen.name == "qr":
        return _qr(message, square)
    try:
        if chosen.wide:
            return barcode_image(message, chosen.name, wide, 150 if chosen.name != "pdf417" else 200)
        return barcode_image(message, chosen.name, square)
    except ValueError:  # a message the symbology cannot carry: the preview shows it as a QR code
        return _qr(message, square)


def _qr(message: str, size: int) -> Image.Image:
    code = qrcode.QRCode(border=1, box_size=6, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(message)
    picture = code.make_image(fill_color="black", back_color="white").get_image().convert("RGBA")
    return picture.resize((size, size), Image.Resampling.NEAREST)


def _rounded(card: Image.Image, radius: int) -> Image.Image:
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, card.width - 1, card.height - 1), radius, fill=255)
    card.putalpha(mask)
    return card


def _fit(pen: ImageDraw.ImageDraw, text: str, face: Any, width: float) -> str:
    """Cut with an ellipsis to `width`, as Wallet truncates a field that does not fit."""
    if pen.textlength(text, font=face) <= width:
        return text
    while text and pen.textlength(text + "\u2026", font=face) > width:
        text = text[:-1]
    return text + "\u2026"


# -- Apple: strings and values as the phone shows them -----------------------------------------


def strings_for(files: Mapping[str, bytes], language: str) -> dict[str, str]:
    """The pass.strings of `language` in the package (Wallet falls back to the pass.json text)."""
    data = files.get(f"{language}.lproj/pass.strings")
    return parse_strings(data) if data else {}


def _number(value: Decimal, language: str, places: int | None = None) -> str:
    text = f"{value:,.{places}f}" if places is not None else f"{value.normalize():,f}"
    text = text.replace(",", "\u00a0" if language == "ru" else ",")
    return text.replace(".", ",") if language == "ru" else text


def _date(value: str, language: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    months = MONTHS.get(language, MONTHS["en"])
    if language == "ru":
        return f"{moment.day} {months[moment.month - 1]} {moment.year} г."
    return f"{months[moment.month - 1]} {moment.day}, {moment.year}"


def field_value(field: Mapping[str, Any], strings: Mapping[str, str], language: str = "en") -> str:
    """A field's value as Wallet writes it: localised text, money with its currency, a date."""
    value = field.get("value", "")
    if isinstance(value, str):
        if field.get("dateStyle"):
            return _date(value, language)
        return strings.get(value, value)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    code = field.get("currencyCode")
    if code:
        amount = _number(number, language, 2)
        sign = CURRENCY_SIGNS.get(code)
        if sign is None:
            return f"{amount} {code}"
        return f"{amount}\u00a0{sign}" if language == "ru" else f"{sign}{amount}"
    return _number(number, language)


def field_label(field: Mapping[str, Any], strings: Mapping[str, str]) -> str:
    label = field.get("label", "")
    return strings.get(label, label)


def change_message(field: Mapping[str, Any], strings: Mapping[str, str], language: str = "en") -> str | None:
    """What the lock screen says when this field changes: its changeMessage, localised, with %@
    replaced by the new value (None: a field without one changes silently)."""
    message = field.get("changeMessage")
    if not message:
        return None
    return strings.get(message, message).replace("%@", field_value(field, strings, language))


def fields_of(pass_json: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every field of the pass by key (storeCard, the style Passcast issues)."""
    style = pass_json.get("storeCard", {})
    return {field["key"]: field for row in ("headerFields", "primaryFields", "secondaryFields",
                                             "auxiliaryFields", "backFields") for field in style.get(row, ())}


def front_texts(pass_json: Mapping[str, Any], strings: Mapping[str, str],
                language: str = "en") -> list[tuple[str, str, str]]:
    """(row, label, value) of every field on the front, in drawing order: what render_front writes."""
    style = pass_json.get("storeCard", {})
    return [(row, field_label(field, strings).upper(), field_value(field, strings, language))
            for row in ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields")
            for field in style.get(row, ())]


def _image(files: Mapping[str, bytes], name: str) -> Image.Image | None:
    data = files.get(f"{name}@2x.png") or files.get(f"{name}.png")
    return Image.open(io.BytesIO(data)).convert("RGBA") if data else None


# -- Apple: the front ------------------------------------------------------------------------


def render_front(pass_json: Mapping[str, Any], files: Mapping[str, bytes], language: str = "en") -> bytes:
    """The storeCard front as Wallet arranges it: logo and logo text, header fields, strip with the
    primary field over it, secondary and auxiliary rows, the barcode with its altText. PNG, 750 px wide."""
    key = digest("front", pass_json, {n: d for n, d in files.items() if n.endswith((".png", ".strings"))}, language)
    return _cached(key, lambda: draw_front(pass_json, files, language))


def draw_front(pass_json: Mapping[str, Any], files: Mapping[str, bytes], language: str = "en") -> Image.Image:
    strings = strings_for(files, language)
    style = pass_json.get("storeCard", {})
    background = rgb(pass_json.get("backgroundColor"), (255, 255, 255))
    foreground = rgb(pass_json.get("foregroundColor"), (0, 0, 0))
    label_colour = rgb(pass_json.get("labelColor"), foreground)
    card = Image.new("RGBA", (WIDTH, 1400), background + (255,))
    pen = ImageDraw.Draw(card)
    pad = 28

    def row(name: str) -> list[tuple[str, str]]:
        return [(field_label(f, strings).upper(), field_value(f, strings, language)) for f in style.get(name, ())]

    # Top row: header fields from the right, then the logo and as much logo text as fits.
    right = WIDTH - pad
    for label, value in reversed(row("headerFields")):
        width = max(pen.textlength(label, font=font(20)), pen.textlength(value, font=font(34)))
        pen.text((right - width, pad + 4), label, font=font(20), fill=label_colour)
        pen.text((right - width, pad + 30), value, font=font(34), fill=foreground)
        right -= int(width) + 24
    logo = _image(files, "logo")
    x = pad
    if logo is not None:
        logo.thumbnail((320, 100))
        card.alpha_composite(logo, (x, pad - 4))
        x += logo.width + 16
    text = _fit(pen, pass_json.get("logoText") or "", font(30, True), right - x)
    if len(text) > 1:
        pen.text((x, pad + 28), text, font=font(30, True), fill=foreground)

    # Strip with the primary field over it.
    top = 140
    strip = _image(files, "strip")
    strip_height = 246
    if strip is not None:
        strip = strip.resize((WIDTH, int(strip.height * WIDTH / strip.width)))
        strip_height = strip.height
        card.alpha_composite(strip, (0, top))
    for label, value in row("primaryFields"):
        pen.text((pad, top + 40), _fit(pen, value, font(72), WIDTH - 2 * pad), font=font(72), fill=foreground)
        pen.text((pad, top + 130), label, font=font(24), fill=label_colour)

    # Secondary and auxiliary fields in one row each.
    y = top + strip_height + 24
    for name in ("secondaryFields", "auxiliaryFields"):
        fields = row(name)
        if not fields:
            continue
        column = (WIDTH - 2 * pad) // len(fields)
        for index, (label, value) in enumerate(fields):
            pen.text((pad + index * column, y), label, font=font(20), fill=label_colour)
            pen.text((pad + index * column, y + 26), _fit(pen, value, font(30), column - 12), font=font(30),
                     fill=foreground)
        y += 90

    # The barcode on a white plate, as Wallet shows it.
    barcode = (pass_json.get("barcodes") or [{}])[0]
    if barcode.get("message"):
        alt = barcode.get("altText", "")
        picture = _barcode(barcode["message"], from_apple(str(barcode.get("format", ""))), 240, 520)
        plate_w, plate_h = picture.width + 40, picture.height + 40 + (36 if alt else 0)
        left, plate_top = (WIDTH - plate_w) // 2, y + 10
        pen.rounded_rectangle((left, plate_top, left + plate_w, plate_top + plate_h), 12, fill="white")
        card.alpha_composite(picture, (left + 20, plate_top + 20))
        if alt:
            width = pen.textlength(alt, font=font(22))
            pen.text(((WIDTH - width) / 2, plate_top + picture.height + 28), alt, font=font(22), fill="black")
        y = plate_top + plate_h + pad
    if pass_json.get("voided"):
        pen.text((pad, y - pad // 2), strings.get("Voided", "VOID"), font=font(24, True), fill=label_colour)
        y += 20
    return _rounded(card.crop((0, 0, WIDTH, y)), 24)


# -- Apple: the back -------------------------------------------------------------------------


def back_texts(pass_json: Mapping[str, Any], strings: Mapping[str, str],
               language: str = "en") -> list[tuple[str, str]]:
    """(label, value) of every back field, in order: what render_back writes."""
    return [(field_label(field, strings), field_value(field, strings, language))
            for field in pass_json.get("storeCard", {}).get("backFields", ())]


def render_back(pass_json: Mapping[str, Any], files: Mapping[str, bytes], language: str = "en") -> bytes:
    """The back as Wallet's pass details show it: the icon and organisation, then each back field's
    label and (wrapped) value, in the system's colours (Wallet does not dress the back). PNG, 750 px wide."""
    key = digest("back", pass_json, {n: d for n, d in files.items() if n.endswith((".png", ".strings"))}, language)
    return _cached(key, lambda: draw_back(pass_json, files, language))


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(paragraph, width) or [""])
    return lines


def draw_back(pass_json: Mapping[str, Any], files: Mapping[str, bytes], language: str = "en") -> Image.Image:
    strings = strings_for(files, language)
    texts = back_texts(pass_json, strings, language)
    pad = 32
    lines: list[tuple[str, Any, Rgb]] = []
    for label, value in texts:
        lines.append((label, font(22), (110, 110, 115)))
        lines.extend((line, font(28), (20, 20, 22)) for line in _wrap(value, 40))
        lines.append(("", font(14), (0, 0, 0)))
    height = 150 + sum(42 if face.size >= 28 else 32 for _, face, _ in lines) + pad
    card = Image.new("RGBA", (WIDTH, height), (242, 242, 247, 255))
    pen = ImageDraw.Draw(card)
    icon = _image(files, "icon")
    if icon is not None:
        icon = icon.resize((72, 72))
        card.alpha_composite(icon, (pad, pad))
    pen.text((pad + 92, pad + 6), pass_json.get("organizationName", ""), font=font(30, True), fill=(20, 20, 22))
    pen.text((pad + 92, pad + 44), strings.get(pass_json.get("description", ""), pass_json.get("description", "")),
             font=font(22), fill=(110, 110, 115))
    y = 150
    for text, face, colour in lines:
        pen.text((pad, y), text, font=face, fill=colour)
        y += 42 if face.size >= 28 else 32
    return _rounded(card, 24)


# -- Google ----------------------------------------------------------------------------------


def _google_text(body: Mapping[str, Any], key: str, language: str) -> str:
    """A Google text in `language`: localized<Key>'s translation, its default, else the plain field."""
    localized = body.get("localized" + key[0].upper() + key[1:])
    if isinstance(localized, Mapping):
        for translated in localized.get("translatedValues", ()):
            if translated.get("language", "").split("-")[0] == language:
                return translated.get("value", "")
        default = localized.get("defaultValue") or {}
        if default.get("value"):
            return str(default["value"])
    return str(body.get(key, ""))


def _balance(points: Mapping[str, Any]) -> str:
    balance = points.get("balance", {})
    for kind in ("string", "int", "double"):
        if kind in balance:
            return str(balance[kind])
    if "money" in balance:
        money = balance["money"]
        return f"{Decimal(money.get('micros', 0)) / 1_000_000:.2f} {money.get('currencyCode', '')}".strip()
    return ""


def google_texts(loyalty_class: Mapping[str, Any], loyalty_object: Mapping[str, Any],
                 language: str = "en") -> dict[str, str]:
    """The texts Google's loyalty card shows, by their place: what render_google writes."""
    texts = {"issuer": str(loyalty_class.get("issuerName", "")),
             "program": _google_text(loyalty_class, "programName", language),
             "account_name": str(loyalty_object.get("accountName", "")),
             "account_id": str(loyalty_object.get("accountId", "")),
             "barcode_text": str(loyalty_object.get("barcode", {}).get("alternateText", ""))}
    for name, key in (("points", "loyaltyPoints"), ("secondary", "secondaryLoyaltyPoints")):
        points = loyalty_object.get(key)
        if points:
            texts[f"{name}_label"] = _google_text(points, "label", language)
            texts[name] = _balance(points)
    return texts


def text_colour_on(background: Rgb) -> Rgb:
    """Google writes white on a dark card and black on a light one (relative luminance)."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    luminance = 0.2126 * channel(background[0]) + 0.7152 * channel(background[1]) + 0.0722 * channel(background[2])
    return (255, 255, 255) if luminance < 0.4 else (32, 33, 36)


def render_google(loyalty_class: Mapping[str, Any], loyalty_object: Mapping[str, Any], language: str = "en",
                  logo: bytes | None = None) -> bytes:
    """Google's loyalty card layout: the round logo and program name in the header, the account name
    and id, the points and the secondary points, the barcode on white with its alternate text, on the
    class's hexBackgroundColor. `logo` is the programLogo's bytes (the body holds only its URL). PNG."""
    key = digest("google", loyalty_class, loyalty_object, language, logo or b"")
    return _cached(key, lambda: draw_google(loyalty_class, loyalty_object, language, logo))


def draw_google(loyalty_class: Mapping[str, Any], loyalty_object: Mapping[str, Any], language: str = "en",
                logo: bytes | None = None) -> Image.Image:
    texts = google_texts(loyalty_class, loyalty_object, language)
    background = rgb(loyalty_class.get("hexBackgroundColor"), (66, 133, 244))
    ink = text_colour_on(background)
    quiet = tuple(round(0.75 * c + 0.25 * b) for c, b in zip(ink, background, strict=True))
    pad = 36
    card = Image.new("RGBA", (GOOGLE_WIDTH, 1000), background + (255,))
    pen = ImageDraw.Draw(card)
    if logo:
        picture = Image.open(io.BytesIO(logo)).convert("RGBA").resize((80, 80))
        mask = Image.new("L", picture.size, 0)
        ImageDraw.Draw(mask).ellipse((0, 0, 79, 79), fill=255)
        card.paste(picture, (pad, pad), mask)
        pen.ellipse((pad, pad, pad + 79, pad + 79), outline=quiet, width=2)  # Google rings the logo
    pen.text((pad + 100, pad + 4), _fit(pen, texts["issuer"], font(24), GOOGLE_WIDTH - pad * 2 - 100),
             font=font(24), fill=quiet)
    pen.text((pad + 100, pad + 36), _fit(pen, texts["program"], font(32, True), GOOGLE_WIDTH - pad * 2 - 100),
             font=font(32, True), fill=ink)
    y = pad + 130
    pen.line((0, y, GOOGLE_WIDTH, y), fill=quiet, width=1)
    y += 28
    pen.text((pad, y), _fit(pen, texts["account_name"], font(30), GOOGLE_WIDTH - 2 * pad), font=font(30), fill=ink)
    pen.text((pad, y + 42), texts["account_id"], font=font(24), fill=quiet)
    y += 110
    column = (GOOGLE_WIDTH - 2 * pad) // 2
    for index, name in enumerate(("points", "secondary")):
        if name in texts:
            pen.text((pad + index * column, y), texts[f"{name}_label"], font=font(22), fill=quiet)
            pen.text((pad + index * column, y + 30), _fit(pen, texts[name], font(44, True), column - 12),
                     font=font(44, True), fill=ink)
    y += 120
    barcode = loyalty_object.get("barcode") or {}
    if barcode.get("value"):
        picture = _barcode(barcode["value"], from_google(str(barcode.get("type", ""))), 300, 560)
        left = (GOOGLE_WIDTH - picture.width - 40) // 2
        plate_h = picture.height + 40 + (40 if texts["barcode_text"] else 0)
        pen.rounded_rectangle((left, y, left + picture.width + 40, y + plate_h), 16, fill="white")
        card.alpha_composite(picture, (left + 20, y + 20))
        if texts["barcode_text"]:
            width = pen.textlength(texts["barcode_text"], font=font(24))
            pen.text(((GOOGLE_WIDTH - width) / 2, y + picture.height + 30), texts["barcode_text"], font=font(24),
                     fill="black")
        y += plate_h + pad
    return _rounded(card.crop((0, 0, GOOGLE_WIDTH, y)), 28)


# -- the lock screen -------------------------------------------------------------------------


def render_lock_screen(message: str, title: str, icon: bytes | None = None, when: str = "now") -> bytes:
    """The notification a pass update shows on the lock screen: the pass's icon, its title
    (organizationName on Apple, the program on Google), `when`, and the message. PNG, 720 px wide."""
    key = digest("lock", message, title, icon or b"", when)
    return _cached(key, lambda: draw_lock_screen(message, title, icon, when))


def draw_lock_screen(message: str, title: str, icon: bytes | None = None, when: str = "now") -> Image.Image:
    lines = _wrap(message, 40)[:4]
    height = 40 + 44 + 40 * len(lines) + 32
    banner = Image.new("RGBA", (LOCK_WIDTH, height), (236, 236, 240, 255))
    pen = ImageDraw.Draw(banner)
    pad = 28
    if icon:
        picture = Image.open(io.BytesIO(icon)).convert("RGBA").resize((64, 64))
        mask = Image.new("L", picture.size, 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, 63, 63), 14, fill=255)
        banner.paste(picture, (pad, pad + 4), mask)
    x = pad + 84
    when_width = pen.textlength(when, font=font(22))
    pen.text((x, pad), _fit(pen, title, font(26, True), LOCK_WIDTH - x - pad - when_width - 16),
             font=font(26, True), fill=(20, 20, 22))
    pen.text((LOCK_WIDTH - pad - when_width, pad + 4), when, font=font(22), fill=(110, 110, 115))
    y = pad + 40
    for line in lines:
        pen.text((x, y), line, font=font(26), fill=(20, 20, 22))
        y += 40
    return _rounded(banner, 28)


#: What Google Wallet's Android notification is headed with (the app), and the words it writes
#: for a changed figure. Google writes its own notification texts; these are our approximation
#: of them, drawn only from the object's own data (the label and value of the changed field).
GOOGLE_APP = "Google Wallet"
GOOGLE_UPDATED = {"en": "{label}: {value}", "ru": "{label}: {value}"}


def google_change_message(loyalty_object: Mapping[str, Any], key: str, language: str = "en") -> str | None:
    """The text of Google's notification when field `key` of the object changes: the balance (or
    discount) and the tier come from loyaltyPoints and secondaryLoyaltyPoints, news from its text
    module; None when the object has no such field."""
    if key in ("balance", "discount", "tier"):
        points = loyalty_object.get("secondaryLoyaltyPoints" if key == "tier" else "loyaltyPoints")
        if not points:
            return None
        return GOOGLE_UPDATED.get(language, GOOGLE_UPDATED["en"]).format(
            label=_google_text(points, "label", language), value=_balance(points))
    if key == "news":
        for module in loyalty_object.get("textModulesData", ()):
            if module.get("id") == "news":
                return _google_text(module, "body", language)
    return None


def render_google_lock_screen(message: str, program: str, logo: bytes | None = None, when: str = "now") -> bytes:
    """An Android notification of a Google Wallet object update: the round program logo, "Google
    Wallet · <when>", the program's name and the message. PNG, 720 px wide."""
    key = digest("google-lock", message, program, logo or b"", when)
    return _cached(key, lambda: draw_google_lock_screen(message, program, logo, when))


def draw_google_lock_screen(message: str, program: str, logo: bytes | None = None, when: str = "now") -> Image.Image:
    lines = _wrap(message, 40)[:4]
    pad = 28
    height = pad + 34 + 44 + 40 * len(lines) + pad
    banner = Image.new("RGBA", (LOCK_WIDTH, height), (248, 249, 250, 255))
    pen = ImageDraw.Draw(banner)
    if logo:
        picture = Image.open(io.BytesIO(logo)).convert("RGBA").resize((56, 56))
        mask = Image.new("L", picture.size, 0)
        ImageDraw.Draw(mask).ellipse((0, 0, 55, 55), fill=255)
        banner.paste(picture, (pad, pad + 34), mask)
    pen.text((pad, pad), f"{GOOGLE_APP} \N{MIDDLE DOT} {when}", font=font(22), fill=(95, 99, 104))
    x = pad + (76 if logo else 0)
    y = pad + 34
    pen.text((x, y), _fit(pen, program, font(26, True), LOCK_WIDTH - x - pad), font=font(26, True), fill=(32, 33, 36))
    y += 44
    for line in lines:
        pen.text((x, y), line, font=font(26), fill=(60, 64, 67))
        y += 40
    return _rounded(banner, 24)


def image_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as picture:
        return picture.size


__all__: Sequence[str] = (
    "WIDTH", "GOOGLE_WIDTH", "LOCK_WIDTH", "render_front", "render_back", "render_google", "render_lock_screen",
    "render_google_lock_screen", "google_change_message",
    "front_texts", "back_texts", "google_texts", "change_message", "field_value", "fields_of", "strings_for",
)
