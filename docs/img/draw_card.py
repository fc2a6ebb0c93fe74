"""Draw docs/img/card.png: the front of a real demo pass, drawn from its own pass.json.

Wallet draws the pass on the phone; this script makes a real pass and draws what it says with
passes/preview.py (the renderer behind the card designer's previews): it runs the service in a
temporary directory (SQLite, dev certificates, the demo brand from `flask demo`), issues
a card and posts a purchase through the brand API, downloads the signed .pkpass the way a
phone does, and lays out its storeCard front the way Apple Wallet arranges one:
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from passes.package import read_pkpass  # noqa: E402
from passes.preview import render_front  # noqa: E402

OUT = Path(__file__).with_name("card.png")


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


def draw(pkpass: bytes, language: str = "en") -> bytes:
    """The front of the pass, by passes/preview.py: the renderer the card designer's previews use."""
    files = read_pkpass(pkpass)
    return render_front(json.loads(files["pass.json"]), files, language)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        pkpass = issue_demo_pass(Path(directory))
    with Image.open(io.BytesIO(draw(pkpass))) as picture:
        picture.save(OUT, optimize=True)  # the previews favour speed; the docs' copy favours size
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
