"""Draw docs/img/card.png: the front of a real demo pass, drawn from its own pass.json.

Passcast has no pass renderer of its own (Wallet draws the pass on the phone), so this
script makes a real one and draws what it says, nothing more: it runs the service in a
temporary directory (SQLite, dev certificates, the demo brand from `flask demo`), issues
a card and posts a purchase through the brand API, downloads the signed .pkpass the way a
phone does, and lays out its storeCard front in Pillow the way Apple Wallet arranges one:
logo and logo text, header field, strip image with the primary field over it, secondary
and auxiliary fields, the QR code of `barcodes[0]` with its `altText`. Colours, texts and
images all come from the pass; only the font (DejaVu Sans) and the proportions are ours.

    .venv/bin/python docs/img/draw_card.py        # or: make card-picture
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import qrcode  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

OUT = Path(__file__).with_name("card.png")
WIDTH = 375 * 2  # Wallet's pass width in points, at @2x
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def issue_demo_pass(workdir: Path) -> bytes:
    """The .pkpass of a demo card after one purchase, from the service's own code."""
    from service import create_app, demo
    from service.platform import migrate
    from service.platform.config import Settings

    settings = Settings(database_url=f"sqlite:///{workdir}/passcast.db", certs_dir=workdir / "certs",
                        instance_dir=workdir / "instance")
    settings.instance_dir.mkdir(parents=True)
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    with app.app_context():
        from service.platform import db

        seeded = demo.seed(db.session(), settings)
    client = app.test_client()
    key = {"Authorization": f"Bearer {seeded['api_key']}"}
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=key,
                       json={"customer": {"name": "Anna Smith", "email": "anna@example.com"}}).get_json()
    client.post(f"/api/v1/cards/{card['id']}/transactions", json={"type": "purchase", "amount": "12.50"},
                headers={**key, "Idempotency-Key": "docs-card-picture"})
    card = client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json()
    url = card["apple_pass_url"].removeprefix(settings.public_base_url.rstrip("/"))
    answer = client.get(url)
    assert answer.status_code == 200, answer.status_code
    return answer.data


def rgb(value: str | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    """pass.json colours are `rgb(r, g, b)`."""
    if not value or not value.startswith("rgb("):
        return default
    r, g, b = (int(part) for part in value[4:-1].split(","))
    return r, g, b


def text_of(field: dict, strings: dict[str, str]) -> tuple[str, str]:
    label = strings.get(field.get("label", ""), field.get("label", ""))
    value = field.get("value", "")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return label.upper(), strings.get(str(value), str(value))


def lproj_strings(files: dict[str, bytes], language: str = "en") -> dict[str, str]:
    """Wallet shows the phone's language; the picture shows English."""
    data = files.get(f"{language}.lproj/pass.strings")
    strings: dict[str, str] = {}
    if data is None:
        return strings
    text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('"') and '" = "' in line:
            key, value = line[1:].rstrip(";").rstrip('"').split('" = "', 1)
            strings[key] = value
    return strings


def image(files: dict[str, bytes], name: str) -> Image.Image | None:
    data = files.get(f"{name}@2x.png") or files.get(f"{name}.png")
    return Image.open(io.BytesIO(data)).convert("RGBA") if data else None


def draw(pkpass: bytes) -> Image.Image:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    pass_json = json.loads(files["pass.json"])
    strings = lproj_strings(files)
    style = pass_json["storeCard"]
    background = rgb(pass_json.get("backgroundColor"), (255, 255, 255))
    foreground = rgb(pass_json.get("foregroundColor"), (0, 0, 0))
    label_colour = rgb(pass_json.get("labelColor"), foreground)

    def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(BOLD if bold else FONT, size)

    height = 1400
    card = Image.new("RGBA", (WIDTH, height), background + (255,))
    pen = ImageDraw.Draw(card)
    pad = 28

    # Top row: header fields from the right, then the logo and as much logo text as fits.
    right = WIDTH - pad
    for field in reversed(style.get("headerFields", [])):
        label, value = text_of(field, strings)
        width = max(pen.textlength(label, font=font(20)), pen.textlength(value, font=font(34)))
        pen.text((right - width, pad + 4), label, font=font(20), fill=label_colour)
        pen.text((right - width, pad + 30), value, font=font(34), fill=foreground)
        right -= width + 24
    logo = image(files, "logo")
    x = pad
    if logo is not None:
        logo.thumbnail((320, 100))
        card.alpha_composite(logo, (x, pad - 4))
        x += logo.width + 16
    text = pass_json.get("logoText") or ""
    while text and pen.textlength(text, font=font(30, True)) > right - x:
        text = text[:-2] + "\u2026"  # Wallet truncates the logo text the same way
    if len(text) > 1:
        pen.text((x, pad + 28), text, font=font(30, True), fill=foreground)

    # Strip with the primary field over it.
    top = 140
    strip = image(files, "strip")
    strip_height = 246
    if strip is not None:
        strip = strip.resize((WIDTH, int(strip.height * WIDTH / strip.width)))
        strip_height = strip.height
        card.alpha_composite(strip, (0, top))
    for field in style.get("primaryFields", []):
        label, value = text_of(field, strings)
        pen.text((pad, top + 40), value, font=font(72), fill=foreground)
        pen.text((pad, top + 130), label, font=font(24), fill=label_colour)

    # Secondary and auxiliary fields in one row each.
    y = top + strip_height + 24
    for row in ("secondaryFields", "auxiliaryFields"):
        fields = style.get(row, [])
        if not fields:
            continue
        column = (WIDTH - 2 * pad) // len(fields)
        for index, field in enumerate(fields):
            label, value = text_of(field, strings)
            pen.text((pad + index * column, y), label, font=font(20), fill=label_colour)
            pen.text((pad + index * column, y + 26), value, font=font(30), fill=foreground)
        y += 90

    # The barcode on a white plate, as Wallet shows it.
    barcode = (pass_json.get("barcodes") or [{}])[0]
    if barcode.get("message"):
        qr = qrcode.QRCode(border=1, box_size=6, error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(barcode["message"])
        picture = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGBA")
        picture = picture.resize((240, 240), Image.NEAREST)
        alt = barcode.get("altText", "")
        plate_w, plate_h = 280, 240 + 40 + (36 if alt else 0)
        left, plate_top = (WIDTH - plate_w) // 2, y + 10
        pen.rounded_rectangle((left, plate_top, left + plate_w, plate_top + plate_h), 12, fill="white")
        card.alpha_composite(picture, (left + 20, plate_top + 20))
        if alt:
            width = pen.textlength(alt, font=font(22))
            pen.text(((WIDTH - width) / 2, plate_top + 268), alt, font=font(22), fill="black")
        y = plate_top + plate_h + pad

    card = card.crop((0, 0, WIDTH, y))
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, card.width - 1, card.height - 1), 24, fill=255)
    card.putalpha(mask)
    return card


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        pkpass = issue_demo_pass(Path(directory))
    draw(pkpass).save(OUT, optimize=True)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
