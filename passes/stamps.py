"""The stamp card's strip: N slots in rows, the first `filled` of them stamped.

Drawn from the brand's stamp image (any PNG or JPEG: fitted into a round slot, at full strength
when stamped, greyed and faint when empty) or, without one, a default stamp: a disc in the pass's
foreground colour with a cup on it, and an empty slot a faint ring. The same picture serves Apple
(strip.png at @1x/@2x/@3x) and Google (the object's heroImage, the @3x bytes).

Pure Pillow and deterministic; results are cached by (filled, total, colours, stamp bytes), so the
pass of a card is drawn once per distinct look, never per request.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw, ImageOps

from passes.errors import PassValidationError
from passes.images import PNG_COMPRESS_LEVEL, POINT_SIZES, REFUSAL, SCALES, open_source
from passes.schema import parse_color

__all__ = ["MAX_SLOTS", "layout", "slot_centres", "stamp_strip"]

MAX_SLOTS = 40
MAX_ROWS = 4
SUPERSAMPLE = 2  # Pillow does not antialias shapes: draw twice the @3x size and shrink
PADDING = 0.08  # of the strip's height, around the grid
FILL = 0.82  # of a cell the slot's circle takes

Rgb = tuple[int, int, int]


def layout(total: int) -> tuple[int, int]:
    """(rows, columns) giving the largest slots for `total` on the 375 x 123 pt strip."""
    if not 1 <= total <= MAX_SLOTS:
        raise PassValidationError("stamps", f"a stamp card has 1..{MAX_SLOTS} slots; got {total}")
    width, height = POINT_SIZES["strip"]
    inner_w, inner_h = width - 2 * PADDING * height, height - 2 * PADDING * height
    best = (0.0, 1, total)
    for rows in range(1, MAX_ROWS + 1):
        columns = math.ceil(total / rows)
        if rows > 1 and (rows - 1) * columns >= total:  # a row would stay empty
            continue
        side = min(inner_w / columns, inner_h / rows)
        if side > best[0] + 1e-9:
            best = (side, rows, columns)
    return best[1], best[2]


def _cells(total: int, size: tuple[int, int]) -> tuple[float, list[tuple[float, float]]]:
    """The cell side and the centre of every slot, row by row, each row centred."""
    width, height = size
    rows, columns = layout(total)
    pad = PADDING * height
    side = min((width - 2 * pad) / columns, (height - 2 * pad) / rows)
    top = (height - rows * side) / 2
    centres = []
    for row in range(rows):
        in_row = min(columns, total - row * columns)
        left = (width - in_row * side) / 2
        centres.extend((left + (column + 0.5) * side, top + (row + 0.5) * side) for column in range(in_row))
    return side, centres


def slot_centres(total: int, scale: int = 3) -> list[tuple[int, int]]:
    """Pixel centres of the slots in strip@{scale}x, in stamping order (for checks of the picture)."""
    size = (POINT_SIZES["strip"][0] * scale, POINT_SIZES["strip"][1] * scale)
    return [(round(x), round(y)) for x, y in _cells(total, size)[1]]


def stamp_strip(filled: int, total: int, *, background: str, foreground: str,
                stamp: bytes | None = None) -> dict[str, bytes]:
    """``{strip.png, strip@2x.png, strip@3x.png}`` showing `filled` of `total` slots stamped.

    `filled` beyond `total` shows a full card. An unreadable `stamp` is a PassValidationError
    (the caller falls back to the default stamp).
    """
    if isinstance(filled, bool) or not isinstance(filled, int) or filled < 0:
        raise PassValidationError("stamps", f"filled must be a whole number from 0; got {filled!r}")
    layout(total)
    back = parse_color(background, "background")
    fore = parse_color(foreground, "foreground")
    if stamp is not None and not isinstance(stamp, bytes | bytearray | memoryview):
        raise PassValidationError("stamp", "must be image bytes")
    return dict(_strip_set(min(filled, total), total, back, fore, bytes(stamp) if stamp is not None else None))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


@lru_cache(maxsize=128)
def _strip_set(filled: int, total: int, back: Rgb, fore: Rgb, stamp: bytes | None) -> tuple[tuple[str, bytes], ...]:
    width, height = (side * 3 * SUPERSAMPLE for side in POINT_SIZES["strip"])
    art = _draw(filled, total, back, fore, _stamp_art(stamp), (width, height))
    out = []
    for scale in SCALES:
        size = (POINT_SIZES["strip"][0] * scale, POINT_SIZES["strip"][1] * scale)
        name = "strip.png" if scale == 1 else f"strip@{scale}x.png"
        out.append((name, _png(art.resize(size, Image.Resampling.BOX))))  # whole factors: 2, 3, 6
    return tuple(out)


@lru_cache(maxsize=16)
def _stamp_art(stamp: bytes | None) -> Image.Image | None:
    """The uploaded stamp, decoded once (RGBA), or None for the default."""
    if stamp is None:
        return None
    try:
        return ImageOps.exif_transpose(open_source("stamp", stamp)).convert("RGBA")
    except PassValidationError:
        raise
    except Exception as exc:  # a malformed EXIF block or an exotic mode
        raise PassValidationError("stamp", REFUSAL) from exc


def _mix(colour: Rgb, other: Rgb, amount: float) -> Rgb:
    red, green, blue = (round(a + (b - a) * amount) for a, b in zip(colour, other, strict=True))
    return red, green, blue


def _draw(filled: int, total: int, back: Rgb, fore: Rgb, stamp: Image.Image | None,
          size: tuple[int, int]) -> Image.Image:
    canvas = Image.new("RGBA", size, (*back, 255))
    draw = ImageDraw.Draw(canvas)
    cell, centres = _cells(total, size)
    radius = cell * FILL / 2
    faint = _mix(back, fore, 0.35)
    side = max(1, round(radius * 2))
    pieces = {state: _round(_fitted(stamp, side), side, state) for state in (True, False)} if stamp else {}
    for index, (x, y) in enumerate(centres):
        box = (x - radius, y - radius, x + radius, y + radius)
        stamped = index < filled
        if stamp is None:
            if stamped:
                draw.ellipse(box, fill=(*fore, 255))
                _cup(draw, x, y, radius, back)
            else:
                draw.ellipse(box, outline=(*faint, 255), width=max(2, round(radius * 0.08)))
        else:
            canvas.alpha_composite(pieces[stamped], (round(x - side / 2), round(y - side / 2)))
            if not stamped:
                draw.ellipse(box, outline=(*faint, 255), width=max(2, round(radius * 0.06)))
    return canvas.convert("RGB")


def _cup(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, ink: Rgb) -> None:
    """A coffee cup in the stamp's lower half, leaving its centre the stamp colour (a checkable pixel)."""
    top, bottom = y + radius * 0.12, y + radius * 0.62
    half = radius * 0.36
    draw.polygon(((x - half, top), (x + half, top), (x + half * 0.72, bottom), (x - half * 0.72, bottom)),
                 fill=(*ink, 255))
    draw.arc((x + half * 0.55, top + radius * 0.06, x + half * 1.45, top + radius * 0.36), 270, 90,
             fill=(*ink, 255), width=max(2, round(radius * 0.08)))
    for offset in (-0.18, 0.18):  # steam
        sx = x + radius * offset
        draw.line((sx, y - radius * 0.55, sx, y - radius * 0.05), fill=(*ink, 255), width=max(2, round(radius * 0.07)))


def _fitted(stamp: Image.Image, side: int) -> Image.Image:
    """The stamp scaled to cover a `side` square, centred and cropped."""
    return ImageOps.fit(stamp, (side, side), Image.Resampling.LANCZOS)


def _round(image: Image.Image, side: int, stamped: bool) -> Image.Image:
    """Cut round; an empty slot's stamp is greyed to a quarter of its strength."""
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, side - 1, side - 1), fill=255)
    alpha = ImageChops.multiply(image.getchannel("A"), mask)
    if not stamped:
        image = ImageOps.grayscale(image.convert("RGB")).convert("RGBA")
        alpha = alpha.point(lambda value: value // 4)
    image = image.copy()
    image.putalpha(alpha)
    return image
