"""storeCard images at @1x, @2x and @3x, from an upload or generated from the brand.

Wallet picks the variant matching the screen and scales anything else blurrily, so every
variant is rendered at exactly its pixel size. Results are cached: a program's logo is
the same bytes for every card, and this runs on the pass-build hot path.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

from passes.errors import PassValidationError
from passes.schema import parse_color

__all__ = ["MAX_SIDE", "POINT_SIZES", "REFUSAL", "SCALES", "check_source", "image_set", "open_source"]

# Apple's sizes in points; icon is exact, logo is a maximum, strip is covered and cropped.
POINT_SIZES: dict[str, tuple[int, int]] = {"icon": (29, 29), "logo": (160, 50), "strip": (375, 123)}
SCALES = (1, 2, 3)
SUPERSAMPLE = 4  # the default icon is drawn this much larger and shrunk: Pillow does not antialias shapes
# zlib's default. Measured on a 2400x1600 photo: level 9 took 6x longer for 8 % less,
# level 1 saved a third of the time for 30 % more bytes in every download.
PNG_COMPRESS_LEVEL = 6
# Uploads are PNG or JPEG of at most MAX_SIDE x MAX_SIDE pixels (which also bounds the pixel
# count, and so decoding memory and time: about 0.5 s for the largest strip). 4096 takes a
# phone photo (4032 x 3024) and is over three times the largest variant Wallet shows.
MAX_SIDE = 4096
REFUSAL = f"must be a PNG or JPEG image of at most {MAX_SIDE}\N{MULTIPLICATION SIGN}{MAX_SIDE} pixels"
# Pillow names a JPEG with extra frames (phones write them) MPO; its first frame is a plain JPEG.
_FORMATS = {"PNG": ("PNG",), "JPEG": ("JPEG", "MPO")}
_MAGIC = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff"}

Rgb = tuple[int, int, int]
ImageSet = tuple[tuple[str, bytes], ...]


def image_set(
    name: str,
    source: bytes | None,
    *,
    background: str = "#1C1C1E",
    foreground: str = "#FFFFFF",
    text: str | None = None,
) -> dict[str, bytes]:
    """Return ``{name.png, name@2x.png, name@3x.png}`` as PNG bytes.

    With ``source=None`` a designed default is drawn from the brand colours: the icon is a
    rounded square with the first letter of ``text``; the logo is a round monogram of that
    letter (the name itself is Wallet's ``logoText`` beside it, so it is written once); the
    strip is the brand colour with a dotted pattern and a stamp bearing the initial, kept to
    the right so the balance Wallet draws over its left side stays legible.
    """
    if name not in POINT_SIZES:
        raise PassValidationError(name, f"unknown storeCard image; expected {', '.join(POINT_SIZES)}")
    if source is None:
        back = parse_color(background, "background")
        fore = parse_color(foreground, "foreground")
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise PassValidationError("text", "must be a non-empty string")
        if name == "logo" and text is None:
            raise PassValidationError(name, "needs a source image or the brand name as text")
        return dict(_default_set(name, back, fore, None if text is None else text.strip()))
    if not isinstance(source, bytes | bytearray | memoryview):
        raise PassValidationError(name, "source must be image bytes")
    return dict(_resized_set(name, bytes(source)))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _file_name(name: str, scale: int) -> str:
    return f"{name}.png" if scale == 1 else f"{name}@{scale}x.png"


def _pixels(name: str, scale: int) -> tuple[int, int]:
    width, height = POINT_SIZES[name]
    return width * scale, height * scale


# --- uploaded images --------------------------------------------------------------------


def check_source(name: str, source: bytes) -> None:
    """Refuse, before anything stores it, an upload a pass could not be built from.

    Decodes every pixel, so a corrupt body fails here rather than on every pass build later.
    """
    _usable(name, open_source(name, source, draft=None))


def open_source(name: str, source: bytes, *, draft: int | None = None) -> Image.Image:
    """The uploaded PNG or JPEG ``source``, decoded; PassValidationError for anything else.

    Only the PNG and JPEG decoders are ever run (Pillow would otherwise try EPS through
    Ghostscript, TIFF, ICO...), and the size is judged from the header before any pixel is
    decoded. ``draft`` lets JPEG decode at a reduced scale no smaller than that many pixels.
    """
    kind = next((kind for kind, magic in _MAGIC.items() if source.startswith(magic)), None)
    if kind is None:
        raise PassValidationError(name, REFUSAL)
    try:
        image = Image.open(io.BytesIO(source), formats=[kind])
    except Exception as exc:  # a decoder of hostile bytes: every failure (and bomb warning) is a refusal
        raise PassValidationError(name, REFUSAL) from exc
    if image.format not in _FORMATS[kind] or max(image.size) > MAX_SIDE or min(image.size) < 1:
        image.close()
        raise PassValidationError(name, REFUSAL)
    try:
        if draft is not None:
            image.draft("RGB", (draft, draft))
        image.load()
    except Exception as exc:  # truncated or corrupt data: zlib, libjpeg, struct, EOF... all the same to us
        image.close()
        raise PassValidationError(name, REFUSAL) from exc
    return image


def _open(name: str, source: bytes) -> Image.Image:
    # JPEG can decode at 1/2, 1/4 or 1/8 scale; ask for no less than the @3x box in
    # either orientation (EXIF may still rotate it), which halves decoding time.
    return _usable(name, open_source(name, source, draft=max(_pixels(name, 3))))


def _usable(name: str, image: Image.Image) -> Image.Image:
    """Upright, and in the mode the resizing works in (RGB, or RGBA if it has transparency)."""
    try:
        image = ImageOps.exif_transpose(image)  # phone photos are stored sideways
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    except Exception as exc:  # a malformed EXIF block or an exotic mode
        raise PassValidationError(name, REFUSAL) from exc


@lru_cache(maxsize=32)
def _resized_set(name: str, source: bytes) -> ImageSet:
    image = _open(name, source)
    largest = _cover(image, _pixels(name, 3)) if name == "strip" else _fit(image, name, 3)
    variants = {3: largest}
    for scale in (2, 1):
        size = _fit_size(image.size, name, scale) if name == "logo" else _pixels(name, scale)
        variants[scale] = largest.resize(size, Image.Resampling.LANCZOS)
    return tuple((_file_name(name, scale), _png(variants[scale])) for scale in SCALES)


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to fill ``size`` and crop the overflow evenly on both sides."""
    width, height = image.size
    ratio = max(size[0] / width, size[1] / height)
    crop_w, crop_h = size[0] / ratio, size[1] / ratio
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    return image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _fit_size(source: tuple[int, int], name: str, scale: int) -> tuple[int, int]:
    """Largest size with the source's aspect inside the box, in whole points."""
    box_w, box_h = POINT_SIZES[name]
    ratio = min(box_w / source[0], box_h / source[1])
    points = max(1, round(source[0] * ratio)), max(1, round(source[1] * ratio))
    return points[0] * scale, points[1] * scale


def _fit(image: Image.Image, name: str, scale: int) -> Image.Image:
    """Fit inside the box keeping aspect; the icon is centred on a transparent square."""
    size = _fit_size(image.size, name, scale)
    resized = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if name != "icon" or size == _pixels(name, scale):
        return resized
    canvas = Image.new("RGBA", _pixels(name, scale), (0, 0, 0, 0))
    offset = ((canvas.width - size[0]) // 2, (canvas.height - size[1]) // 2)
    canvas.paste(resized, offset)
    return canvas


# --- generated defaults -----------------------------------------------------------------


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu covers Latin, Cyrillic and Greek; Pillow's bundled font is the fallback."""
    for candidate in ("DejaVuSans-Bold.ttf", "Arial Bold.ttf", "Arial.ttf"):
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=64)
def _default_set(name: str, background: Rgb, foreground: Rgb, text: str | None) -> ImageSet:
    if name == "strip":
        art = _strip_art(background, foreground, text)
        images = {scale: art.resize(_pixels(name, scale), Image.Resampling.BOX) for scale in SCALES}
    elif name == "icon":
        art = _icon_art(background, foreground, text)
        # Whole-number factors: BOX is an exact area average, without LANCZOS's halo.
        images = {scale: art.resize(_pixels(name, scale), Image.Resampling.BOX) for scale in SCALES}
    else:
        art = _monogram_art(foreground, text or "")
        images = {scale: art.resize(_pixels_square("logo", scale), Image.Resampling.BOX) for scale in SCALES}
    return tuple((_file_name(name, scale), _png(images[scale])) for scale in SCALES)


def _icon_art(background: Rgb, foreground: Rgb, text: str | None) -> Image.Image:
    """Drawn at SUPERSAMPLE x @3x: Pillow does not antialias the rounded corners."""
    side = POINT_SIZES["icon"][0] * 3 * SUPERSAMPLE
    art = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(art)
    draw.rounded_rectangle((0, 0, side - 1, side - 1), radius=side * 0.22, fill=background)
    if text:
        font = _font(int(side * 0.6))
        draw.text((side / 2, side / 2), text[0].upper(), fill=foreground, font=font, anchor="mm")
    return art


def _pixels_square(name: str, scale: int) -> tuple[int, int]:
    """The logo box's height, square: the monogram sits where a logo would, left of logoText."""
    side = POINT_SIZES[name][1] * scale
    return side, side


def _monogram_art(foreground: Rgb, text: str) -> Image.Image:
    """A ring with the initial, in the foreground colour on transparency (the pass colour shows
    through). Drawn at SUPERSAMPLE x @3x like the icon; 50 x 50 pt with a little margin."""
    side = POINT_SIZES["logo"][1] * 3 * SUPERSAMPLE
    art = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(art)
    margin, ring = side * 0.12, side * 0.055
    draw.ellipse((margin, margin, side - margin, side - margin), outline=(*foreground, 255), width=round(ring))
    draw.text((side / 2, side / 2), text[:1].upper(), fill=(*foreground, 255), font=_font(int(side * 0.4)),
              anchor="mm")
    return art


STRIP_SUPERSAMPLE = 2  # the strip's @3x is already 1125 px wide: twice that antialiases the dots and rings


def _strip_art(background: Rgb, foreground: Rgb, text: str | None) -> Image.Image:
    """The default strip at STRIP_SUPERSAMPLE x @3x: brand colour, lighter towards the top-left,
    a field of dots that thickens to the right, and a stamp (two rings, a dashed one between,
    the initial) at the right. Only tints of the brand's two colours are used,
    so any brand looks like itself; the left half stays quiet for the primary field's text."""
    width, height = (side * 3 * STRIP_SUPERSAMPLE for side in POINT_SIZES["strip"])
    base = _gradient(background, (width, height)).convert("RGBA")
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    ink = foreground
    step = height / 7
    for row in range(7):
        for column in range(int(width / step) + 2):
            x = column * step + (step / 2 if row % 2 else 0)
            y = (row + 0.5) * step
            weight = max(0.0, (x / width - 0.35) / 0.65)  # nothing on the left third, densest at the right
            if weight <= 0:
                continue
            radius = step * (0.05 + 0.09 * weight)
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(*ink, round(20 + 34 * weight)))
    outer = height * 0.40
    centre_x, centre_y = width - outer - height * 0.16, height * 0.5
    # Clear the dots under the stamp, then draw it: outer ring, dashed ring, inner ring, the initial.
    draw.ellipse((centre_x - outer, centre_y - outer, centre_x + outer, centre_y + outer), fill=(0, 0, 0, 0))
    disc = _mix(background, foreground, 0.10)
    draw.ellipse((centre_x - outer, centre_y - outer, centre_x + outer, centre_y + outer),
                 fill=(*disc, 150), outline=(*ink, 120), width=round(height * 0.025))
    dashed = outer * 0.86
    for index in range(48):
        start = index * 7.5
        draw.arc((centre_x - dashed, centre_y - dashed, centre_x + dashed, centre_y + dashed), start, start + 4.5,
                 fill=(*ink, 110), width=round(height * 0.012))
    inner = outer * 0.72
    draw.ellipse((centre_x - inner, centre_y - inner, centre_x + inner, centre_y + inner),
                 outline=(*ink, 140), width=round(height * 0.018))
    if text:
        draw.text((centre_x, centre_y), text[:1].upper(), fill=(*ink, 160), font=_font(int(inner * 1.1)),
                  anchor="mm")
    # A soft arc sweeping in from the bottom left: movement without crowding the balance.
    sweep = height * 1.9
    draw.arc((-sweep * 0.6, height * 0.55, sweep * 1.2, height * 0.55 + sweep), 200, 330,
             fill=(*ink, 28), width=round(height * 0.03))
    return Image.alpha_composite(base, overlay).convert("RGB")


def _gradient(background: Rgb, size: tuple[int, int]) -> Image.Image:
    """Top a little lighter, bottom a little darker than the brand colour: the strip's ground."""
    top = Image.new("RGB", size, _mix(background, (255, 255, 255), 0.18))
    bottom = Image.new("RGB", size, _mix(background, (0, 0, 0), 0.18))
    mask = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    return Image.composite(bottom, top, mask)


def _mix(colour: Rgb, other: Rgb, amount: float) -> Rgb:
    red, green, blue = (round(a + (b - a) * amount) for a, b in zip(colour, other, strict=True))
    return red, green, blue
