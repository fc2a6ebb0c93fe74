"""The stamp strip (passes/stamps.py), checked by its pixels: the slots whose centre carries the
stamp are exactly the filled ones, for every count of every card size, at each scale."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from passes.errors import PassValidationError
from passes.stamps import MAX_SLOTS, layout, slot_centres, stamp_strip

BACK, FORE = (0x1F, 0x29, 0x37), (0xFD, 0xE6, 0x8A)


def _filled(png: bytes, total: int, scale: int, stamp: tuple[int, int, int] = FORE) -> list[bool]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (375 * scale, 123 * scale)

    def near(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> int:
        return sum((a - b) ** 2 for a, b in zip(pixel, colour, strict=True))

    return [near(image.getpixel(c), stamp) < near(image.getpixel(c), BACK)  # type: ignore[arg-type]
            for c in slot_centres(total, scale)]


@pytest.mark.parametrize("total", [1, 5, 8, 10, 12, 40])
def test_every_count_fills_exactly_that_many_slots_in_order(total: int) -> None:
    for filled in sorted({0, 1, total // 2, total - 1, total}):
        files = stamp_strip(filled, total, background="#1f2937", foreground="#fde68a")
        assert set(files) == {"strip.png", "strip@2x.png", "strip@3x.png"}
        for scale in (1, 2, 3):
            name = "strip.png" if scale == 1 else f"strip@{scale}x.png"
            assert _filled(files[name], total, scale) == [True] * filled + [False] * (total - filled), (filled, name)


def test_more_stamps_than_slots_shows_a_full_card() -> None:
    files = stamp_strip(13, 10, background="#1f2937", foreground="#fde68a")
    assert all(_filled(files["strip@3x.png"], 10, 3))


def test_slots_are_laid_out_in_rows_that_fit_the_strip() -> None:
    assert layout(5) == (1, 5)
    assert layout(10) == (2, 5)
    assert layout(MAX_SLOTS)[0] * layout(MAX_SLOTS)[1] >= MAX_SLOTS
    for total in range(1, MAX_SLOTS + 1):
        rows, columns = layout(total)
        assert rows * columns >= total > (rows - 1) * columns
        centres = slot_centres(total)
        assert len(set(centres)) == total
        assert all(0 < x < 1125 and 0 < y < 369 for x, y in centres)


def test_an_uploaded_stamp_is_drawn_full_when_stamped_and_faint_when_not() -> None:
    green = io.BytesIO()
    Image.new("RGB", (64, 40), (20, 200, 60)).save(green, "PNG")
    files = stamp_strip(4, 6, background="#1f2937", foreground="#fde68a", stamp=green.getvalue())
    assert _filled(files["strip@3x.png"], 6, 3, stamp=(20, 200, 60)) == [True] * 4 + [False] * 2


def test_same_look_same_bytes() -> None:
    one = stamp_strip(3, 10, background="#1f2937", foreground="#fde68a")
    assert one == stamp_strip(3, 10, background="#1F2937", foreground="#FDE68A")
    assert one != stamp_strip(4, 10, background="#1f2937", foreground="#fde68a")


@pytest.mark.parametrize(("filled", "total", "stamp"), [
    (-1, 10, None), (True, 10, None), (1, 0, None), (1, MAX_SLOTS + 1, None), (1, 10, b"not an image"),
])
def test_bad_input_is_a_validation_error(filled: int, total: int, stamp: bytes | None) -> None:
    with pytest.raises(PassValidationError):
        stamp_strip(filled, total, background="#1f2937", foreground="#fde68a", stamp=stamp)
