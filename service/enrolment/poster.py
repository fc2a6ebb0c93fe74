"""The counter poster: the brand's logo and name and the join link as a big QR code, A4.

Drawn with Pillow (PNG, and PDF through Pillow's own PDF writer: one A4 page at 150 dpi);
the QR code by `qrcode`, error correction Q so a scuffed or glare-struck print still scans.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_Q

from service.enrolment.i18n import Words

DPI = 150
A4 = (1240, 1754)  # 210 x 297 mm at 150 dpi
_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

#: Part of every cached poster's version (poster_cache.py): raise it when the drawing changes.
VERSION = "1"
#: Posters drawn by this process (render is the costly part; tests and operators can watch it).
renders = 0


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False) -> Font:
    """DejaVu Sans where installed (it has Cyrillic), else Pillow's built-in font."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for directory in _FONT_DIRS:
        if (directory / name).exists():
            return ImageFont.truetype(str(directory / name), size)
    return ImageFont.load_default(size)


def _hex(colour: str, fallback: str) -> str:
    return colour if isinstance(colour, str) and len(colour) == 7 and colour.startswith("#") else fallback


def _fit(draw: ImageDraw.ImageDraw, text: str, size: int, width: int, bold: bool = False) -> Font:
    """The font at `size`, or smaller until `text` fits in `width`."""
    while size > 14:
        font = _font(size, bold)
        if draw.textlength(text, font=font) <= width:
            return font
        size -= 4
    return _font(size, bold)


def _centred(draw: ImageDraw.ImageDraw, y: int, text: str, font: Font, fill: str) -> int:
    """Draw `text` centred at height y; returns the y below it."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((A4[0] - (right - left)) // 2 - left, y - top), text, font=font, fill=fill)
    return y + (bottom - top)


def render(*, brand_name: str, program_name: str, url: str, logo_png: bytes | None, background: str,
           foreground: str, words: Words) -> Image.Image:
    global renders
    renders += 1
    background, foreground = _hex(background, "#1f2937"), _hex(foreground, "#ffffff")
    image = Image.new("RGB", A4, "white")
    draw = ImageDraw.Draw(image)
    margin = 90
    band = 430
    draw.rectangle((0, 0, A4[0], band), fill=background)
    y = 70
    if logo_png:
        logo = Image.open(io.BytesIO(logo_png)).convert("RGBA")
        logo.thumbnail((A4[0] - 2 * margin, 170))
        image.paste(logo, ((A4[0] - logo.width) // 2, y), logo)
        y += logo.height + 40
    else:
        y += 60
    y = _centred(draw, y, brand_name, _fit(draw, brand_name, 84, A4[0] - 2 * margin, bold=True), foreground)
    _centred(draw, min(y + 30, band - 70), program_name, _fit(draw, program_name, 44, A4[0] - 2 * margin),
             foreground)

    heading = words("poster_heading")
    y = _centred(draw, band + 60, heading, _fit(draw, heading, 88, A4[0] - 2 * margin, bold=True), "#111111")
    sub = words("poster_sub", program=program_name)
    y = _centred(draw, y + 30, sub, _fit(draw, sub, 36, A4[0] - 2 * margin), "#444444")

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=4, box_size=10)
    code.add_data(url)
    code.make(fit=True)
    qr = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    side = min(760, A4[1] - y - 260)
    qr = qr.resize((side, side), Image.Resampling.NEAREST)
    image.paste(qr, ((A4[0] - side) // 2, y + 40))
    y += 40 + side + 30

    hint = words("poster_url")
    y = _centred(draw, y, hint, _font(30), "#666666")
    _centred(draw, y + 20, url, _fit(draw, url, 40, A4[0] - 2 * margin, bold=True), "#111111")
    draw.rectangle((0, A4[1] - 24, A4[0], A4[1]), fill=background)
    return image


def to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", dpi=(DPI, DPI), optimize=True)
    return buffer.getvalue()


def to_pdf(image: Image.Image, title: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PDF", resolution=float(DPI), title=title)
    return buffer.getvalue()
