"""storeCard images: exact pixel sizes per scale, fit and cover, generated defaults."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from passes import images
from passes.errors import PassValidationError
from passes.images import image_set
from tests import hostile_images

BROWN = (111, 78, 55)


def png(size: tuple[int, int], colour: tuple[int, ...] = (200, 30, 30), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def opened(result: dict[str, bytes]) -> dict[str, Image.Image]:
    assert all(data.startswith(b"\x89PNG\r\n\x1a\n") for data in result.values())
    return {name: Image.open(io.BytesIO(data)) for name, data in result.items()}


def opaque_colours(image: Image.Image) -> set[tuple[int, ...]]:
    return {pixel[:3] for _, pixel in image.convert("RGBA").getcolors(1 << 20) if pixel[3] == 255}


def sizes(result: dict[str, bytes]) -> dict[str, tuple[int, int]]:
    return {name: image.size for name, image in opened(result).items()}


# --- uploaded sources ----------------------------------------------------------------------


def test_strip_is_covered_to_exact_sizes() -> None:
    assert sizes(image_set("strip", png((1000, 1000)))) == {
        "strip.png": (375, 123),
        "strip@2x.png": (750, 246),
        "strip@3x.png": (1125, 369),
    }


def test_strip_crops_the_overflow_evenly() -> None:
    # Twice as wide as the @3x strip: the outer quarters must be cropped away.
    source = Image.new("RGB", (2250, 369), (0, 200, 0))
    source.paste((220, 0, 0), (562, 0, 1688, 369))
    buffer = io.BytesIO()
    source.save(buffer, "PNG")
    strip = opened(image_set("strip", buffer.getvalue()))["strip@3x.png"].convert("RGB")
    for x in (3, 562, 1121):
        red, green, _ = strip.getpixel((x, 184))
        assert red > 200 and green < 20


def test_icon_fits_inside_an_exact_square() -> None:
    result = opened(image_set("icon", png((400, 200))))
    assert {name: image.size for name, image in result.items()} == {
        "icon.png": (29, 29),
        "icon@2x.png": (58, 58),
        "icon@3x.png": (87, 87),
    }
    icon = result["icon@3x.png"].convert("RGBA")
    assert icon.getpixel((43, 0))[3] == 0  # letterboxed, not stretched
    assert icon.getpixel((43, 43))[:3] == (200, 30, 30)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((800, 200), [(160, 40), (320, 80), (480, 120)]),  # wide: width-bound
        ((100, 200), [(25, 50), (50, 100), (75, 150)]),  # tall: height-bound
        ((32, 10), [(160, 50), (320, 100), (480, 150)]),  # small sources are scaled up to fit
    ],
)
def test_logo_fits_inside_160x50_keeping_aspect(source: tuple[int, int], expected: list[tuple[int, int]]) -> None:
    assert list(sizes(image_set("logo", png(source))).values()) == expected


def test_transparency_survives() -> None:
    logo = opened(image_set("logo", png((320, 100), (0, 0, 0, 0), mode="RGBA")))["logo@2x.png"]
    assert logo.mode == "RGBA" and logo.getpixel((10, 10))[3] == 0


def test_jpeg_sources_are_accepted() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 2000), (10, 120, 200)).save(buffer, "JPEG", quality=85)
    strip = opened(image_set("strip", buffer.getvalue()))
    assert strip["strip@3x.png"].size == (1125, 369)
    red, green, blue = strip["strip.png"].convert("RGB").getpixel((100, 60))
    assert abs(red - 10) < 6 and abs(green - 120) < 6 and abs(blue - 200) < 6


@pytest.mark.parametrize("garbage", [b"", b"not an image", png((10, 10))[:40]])
def test_invalid_image_bytes_are_refused(garbage: bytes) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        image_set("strip", garbage)
    assert excinfo.value.path == "strip"


def test_source_must_be_bytes() -> None:
    with pytest.raises(PassValidationError) as excinfo:
        image_set("logo", "logo.png")  # type: ignore[arg-type]
    assert excinfo.value.path == "logo"


def test_unknown_image_name_is_refused() -> None:
    with pytest.raises(PassValidationError) as excinfo:
        image_set("thumbnail", png((10, 10)))
    assert excinfo.value.path == "thumbnail"


# --- generated defaults --------------------------------------------------------------------


def test_default_icon_is_a_rounded_brand_square_with_an_initial() -> None:
    result = opened(image_set("icon", None, background="#6F4E37", foreground="#FFFFFF", text="demo Coffee"))
    assert {name: image.size for name, image in result.items()} == {
        "icon.png": (29, 29),
        "icon@2x.png": (58, 58),
        "icon@3x.png": (87, 87),
    }
    icon = result["icon@3x.png"].convert("RGBA")
    assert icon.getpixel((0, 0))[3] == 0  # rounded corner
    assert icon.getpixel((6, 43)) == (*BROWN, 255)  # brand colour at the edge
    colours = opaque_colours(icon)
    assert (255, 255, 255) in colours  # the letter


def test_default_icon_without_text_is_plain() -> None:
    icon = opened(image_set("icon", None, background="rgb(111, 78, 55)"))["icon@2x.png"].convert("RGBA")
    assert opaque_colours(icon) == {BROWN}


def test_default_logo_is_a_monogram_not_the_name() -> None:
    """The name is the pass's logoText; the generated logo must not write it a second time."""
    result = opened(image_set("logo", None, foreground="#6F4E37", text="Demo Coffee"))
    assert {name: image.size for name, image in result.items()} == {
        "logo.png": (50, 50),
        "logo@2x.png": (100, 100),
        "logo@3x.png": (150, 150),
    }  # square, the height of the logo box: a wordmark of "Demo Coffee" would be three times as wide
    logo = result["logo@3x.png"].convert("RGBA")
    assert logo.getpixel((0, 0))[3] == 0 and logo.getpixel((75, 75))[3] == 0  # transparent outside and in the ring
    assert BROWN in opaque_colours(logo)  # drawn in the foreground colour
    assert logo.getchannel("A").getbbox() is not None


def test_default_logo_monogram_is_the_initial_in_any_script() -> None:
    latin = image_set("logo", None, text="Demo Coffee")["logo@3x.png"]
    assert image_set("logo", None, text="delta")["logo@3x.png"] == latin  # the initial, upper-cased
    cyrillic = opened(image_set("logo", None, text="Кофейня «Ёлка»"))["logo@3x.png"]
    assert cyrillic.size == (150, 150) and image_set("logo", None, text="Кофейня")["logo@3x.png"] != latin


def test_default_logo_needs_text() -> None:
    with pytest.raises(PassValidationError) as excinfo:
        image_set("logo", None)
    assert excinfo.value.path == "logo"
    with pytest.raises(PassValidationError) as excinfo:
        image_set("logo", None, text="  ")
    assert excinfo.value.path == "text"


def test_default_strip_is_designed_not_a_plain_gradient() -> None:
    """A plain gradient has one colour per row and a few dozen in all (the old default: 47);
    the drawn strip has a motif (dots, a stamp with the initial) on the right, in tints of the
    brand's colours, and leaves the top left, where Wallet draws the balance, untouched."""
    result = opened(image_set("strip", None, background="#6F4E37", foreground="#FFFFFF", text="demo"))
    assert {name: image.size for name, image in result.items()} == {
        "strip.png": (375, 123),
        "strip@2x.png": (750, 246),
        "strip@3x.png": (1125, 369),
    }
    strip = result["strip@2x.png"].convert("RGB")
    width, height = strip.size
    assert len(strip.getcolors(1 << 20)) > 500
    middle_row = {strip.getpixel((x, height // 2)) for x in range(width)}
    assert len(middle_row) > 10  # a gradient's row is one colour
    right = strip.crop((int(width * 0.7), 0, width, height))
    assert max(sum(colour) for _, colour in right.getcolors(1 << 20)) > sum(BROWN) + 200  # the stamp's light ink
    assert all(abs(a - b) <= 40 for a, b in zip(strip.getpixel((width // 6, height // 2)), BROWN, strict=True))
    ground = images._gradient(BROWN, (width, height))
    calm = [(x, y) for x in range(0, width // 3, 5) for y in range(0, height // 2, 5)]
    assert all(strip.getpixel(point) == ground.getpixel(point) for point in calm)  # the balance stays legible
    for scale in ("strip.png", "strip@3x.png"):  # every scale is the same drawing, not a crop
        small = result[scale].convert("RGB").resize((750, 246), Image.Resampling.BOX)
        assert max(abs(a - b) for a, b in zip(small.getpixel((660, 123)), strip.getpixel((660, 123)), strict=True)) < 40


def test_default_strip_carries_the_brand_initial() -> None:
    plain = image_set("strip", None, background="#6F4E37")
    assert image_set("strip", None, background="#6F4E37", text="Anna's")["strip@2x.png"] != plain["strip@2x.png"]
    assert image_set("strip", None, background="#6F4E37", text="B")["strip@2x.png"] != image_set(
        "strip", None, background="#6F4E37", text="A")["strip@2x.png"]


@pytest.mark.parametrize(
    ("kwargs", "path"), [({"background": "brown"}, "background"), ({"foreground": "#12"}, "foreground")]
)
def test_default_colours_are_validated(kwargs: dict[str, str], path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        image_set("strip", None, **kwargs)
    assert excinfo.value.path == path


def test_results_are_cached_but_not_shared() -> None:
    images._default_set.cache_clear()
    first = image_set("icon", None, background="#123456", text="Q")
    first["icon.png"] = b"mutated by a caller"
    second = image_set("icon", None, background="rgb(18, 52, 86)", text="Q")  # same colour, other spelling
    assert images._default_set.cache_info().hits == 1
    assert second["icon.png"].startswith(b"\x89PNG")

    source = png((600, 300))
    images._resized_set.cache_clear()
    assert image_set("logo", source) == image_set("logo", source)
    assert images._resized_set.cache_info().hits == 1


# --- hostile uploads (security issue item 8) -------------------------------------------------


HOSTILE = {
    "eps": hostile_images.eps(),
    "corrupt-idat": hostile_images.corrupt_idat_png(),
    "900-megapixel-png": hostile_images.png_claiming(30_000, 30_000),
    "65000x65000-jpeg": hostile_images.jpeg_claiming(65_000, 65_000),
    "88-megapixel-png": hostile_images.png_claiming(9_400, 9_400),
    "one-pixel-too-wide": hostile_images.png_claiming(images.MAX_SIDE + 1, 10),
    **{fmt.lower(): hostile_images.encoded(fmt) for fmt in hostile_images.OTHER_FORMATS},
}


@pytest.mark.parametrize("name", HOSTILE)
def test_only_png_and_jpeg_within_bounds_are_accepted(name: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        images.check_source("logo", HOSTILE[name])
    assert excinfo.value.rule == images.REFUSAL
    with pytest.raises(PassValidationError):  # the build refuses it too (before decoding, for the giants)
        image_set("logo", HOSTILE[name])


def test_the_giants_are_refused_from_their_header() -> None:
    """The 900-megapixel PNG would be Pillow's DecompressionBombError, the 88-megapixel one
    seconds and a gigabyte of decoding; both are judged from the claimed size alone."""
    started = time.perf_counter()
    for name in ("900-megapixel-png", "65000x65000-jpeg", "88-megapixel-png"):
        with pytest.raises(PassValidationError):
            images.check_source("strip", HOSTILE[name])
    assert time.perf_counter() - started < 1.0


def test_the_largest_accepted_image() -> None:
    side = images.MAX_SIDE
    for fmt in ("PNG", "JPEG"):
        source = hostile_images.encoded(fmt, (side, side // 2))
        images.check_source("strip", source)
        assert sizes(image_set("strip", source))["strip@3x.png"] == (1125, 369)


def test_a_jpeg_with_extra_frames_is_a_jpeg() -> None:
    """Phones write MPO (a JPEG with a second frame); Pillow names it MPO, its first frame is read."""
    buffer = io.BytesIO()
    Image.new("RGB", (300, 100), (10, 120, 200)).save(buffer, "MPO", save_all=True,
                                                      append_images=[Image.new("RGB", (300, 100))])
    images.check_source("logo", buffer.getvalue())
    assert sizes(image_set("logo", buffer.getvalue()))["logo.png"] == (150, 50)
