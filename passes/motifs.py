"""Strip images drawn from a motif: the ready-made designs' strips (coffee beans, wheat ears,
stripes, petals), in the design's own colours, at the storeCard strip's @3x size.

Pure Pillow, deterministic (the same motif and colours give the same bytes, so the pass's
images and their cache keys do not change from one build to the next).
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw

from passes.schema import parse_color

#: storeCard strip at @3x (375 x 144 points).
SIZE = (1125, 432)
MOTIFS = ("beans", "wheat", "stripes", "petals")

Rgb = tuple[int, int, int]


def _mix(a: Rgb, b: Rgb, amount: float) -> Rgb:
    return tuple(round(x + (y - x) * amount) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def strip_png(motif: str, background: str, foreground: str) -> bytes:
    """The strip of `motif` on `background` (#rrggbb), drawn in a faint `foreground`."""
    if motif not in MOTIFS:
        raise ValueError(f"unknown motif {motif!r}; motifs are {', '.join(MOTIFS)}")
    back = parse_color(background, "background")
    ink = _mix(back, parse_color(foreground, "foreground"), 0.18)
    picture = Image.new("RGB", SIZE, back)
    pen = ImageDraw.Draw(picture)
    width, height = SIZE
    if motif == "beans":
        for row in range(4):
            for column in range(10):
                x, y = column * 120 + (60 if row % 2 else 0) + 20, row * 110 + 20
                pen.ellipse((x, y, x + 70, y + 48), fill=ink)
                pen.arc((x + 10, y + 4, x + 60, y + 44), 200, 340, fill=back, width=5)
    elif motif == "wheat":
        for column in range(9):
            x = column * 130 + 60
            pen.line((x, height - 20, x, 90), fill=ink, width=6)
            for step in range(5):
                y = 100 + step * 52
                pen.ellipse((x - 34, y, x - 4, y + 46), fill=ink)
                pen.ellipse((x + 4, y, x + 34, y + 46), fill=ink)
    elif motif == "stripes":
        for offset in range(-height, width, 90):
            pen.polygon(((offset, height), (offset + 40, height), (offset + 40 + height, 0), (offset + height, 0)),
                        fill=ink)
    else:  # petals
        for cx, cy, r in ((160, 150, 70), (520, 300, 90), (900, 140, 80), (1080, 360, 50), (330, 380, 40)):
            for petal in range(6):
                angle = petal * math.pi / 3
                px, py = cx + r * 0.7 * math.cos(angle), cy + r * 0.7 * math.sin(angle)
                pen.ellipse((px - r / 2, py - r / 2, px + r / 2, py + r / 2), fill=ink)
            pen.ellipse((cx - r / 3, cy - r / 3, cx + r / 3, cy + r / 3), fill=back)
    # Fade the motif out to the left, where Wallet writes the balance over the strip.
    fade = Image.linear_gradient("L").rotate(90).resize(SIZE)  # 0 at the left edge, 255 at the right
    mask = fade.point(lambda v: max(0, min(255, (v - 80) * 5 // 2)))  # plain for the left third
    picture = Image.composite(picture, Image.new("RGB", SIZE, back), mask)
    out = io.BytesIO()
    picture.save(out, "PNG", optimize=True)
    return out.getvalue()
