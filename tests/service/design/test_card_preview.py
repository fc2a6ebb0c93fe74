"""Card previews: drawn from the pass the phone would get, for a sample card that is never
stored; a draft changes the picture and nothing else."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from passes import preview as draw
from passes.package import read_pkpass
from service import demo
from service.design import preview
from service.models import Card, Program, PushDelivery
from service.platform import db
from tests.helpers import bearer


def url(seeded: dict[str, Any], query: str = "") -> str:
    return f"/api/v1/programs/{seeded['program_id']}/preview.png" + (f"?{query}" if query else "")


def picture(response: Any) -> Image.Image:
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "image/png"
    return Image.open(io.BytesIO(response.data)).convert("RGB")


def rgb_of(value: str) -> tuple[int, int, int]:
    return draw.rgb(value, (0, 0, 0))


def real_pass(client: FlaskClient, seeded: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A real card like the sample one (Anna Smith, 135 points), its .pkpass as a phone downloads it."""
    key = bearer(seeded["api_key"])
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=key,
                       json={"customer": {"name": "Anna Smith"}}).get_json()
    answer = client.post(f"/api/v1/cards/{card['id']}/transactions", json={"type": "purchase", "amount": "13.50"},
                         headers={**key, "Idempotency-Key": "preview-test"})
    assert answer.status_code in (200, 201), answer.data[:300]
    card = client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json()
    files = read_pkpass(client.get(card["apple_pass_url"].removeprefix("http://127.0.0.1:8000")).data)
    return json.loads(files["pass.json"]), files


@pytest.mark.parametrize(("query", "width"), [
    ("", draw.WIDTH), ("platform=apple&side=back", draw.WIDTH), ("platform=google", draw.GOOGLE_WIDTH),
    ("message=balance", draw.LOCK_WIDTH), ("language=ru&tier=Gold", draw.WIDTH),
])
def test_previews_decode_at_their_size(client: FlaskClient, seeded: dict[str, Any], query: str, width: int) -> None:
    image = picture(client.get(url(seeded, query), headers=bearer(seeded["api_key"])))
    assert image.width == width
    assert 100 < image.height < 2000


def test_the_apple_front_shows_what_the_real_pass_says(app: Flask, client: FlaskClient,
                                                       seeded: dict[str, Any]) -> None:
    real, files = real_pass(client, seeded)
    image = picture(client.get(url(seeded), headers=bearer(seeded["api_key"])))
    # The colour the card is painted in is the real pass's backgroundColor (sampled between the
    # top row and the strip, away from the rounded corners and any text).
    assert image.getpixel((draw.WIDTH // 2, 128)) == rgb_of(real["backgroundColor"])
    with app.app_context():
        program = db.session().get(Program, seeded["program_id"])
        sample, sample_files = preview.apple_pass(app.config["PASSCAST"], program, preview.sample_card(program))
    for colour in ("backgroundColor", "foregroundColor", "labelColor"):
        assert sample[colour] == real[colour]
    strings = draw.strings_for(files, "en")
    # The same fields with the same labels and values, but for the card number the real card got.
    drawn = draw.front_texts(sample, draw.strings_for(sample_files, "en"))
    expected = draw.front_texts(real, strings)
    assert [t for t in drawn if t[1] != "CARD"] == [t for t in expected if t[1] != "CARD"]
    assert ("primaryFields", "POINTS", "135") in drawn and ("secondaryFields", "MEMBER", "Anna Smith") in drawn
    assert ("headerFields", "TIER", "Silver") in drawn  # the tier the engine gives 135 lifetime points
    # And the picture is the one drawn from exactly that pass (the cache key is its inputs).
    assert client.get(url(seeded), headers=bearer(seeded["api_key"])).data == draw.render_front(sample, sample_files)


def test_russian_preview_uses_the_ru_strings(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    english = client.get(url(seeded), headers=key).data
    russian = client.get(url(seeded, "language=ru"), headers=key).data
    assert english != russian
    with app.app_context():
        program = db.session().get(Program, seeded["program_id"])
        sample, files = preview.apple_pass(app.config["PASSCAST"], program, preview.sample_card(program, "ru"))
    texts = draw.front_texts(sample, draw.strings_for(files, "ru"), "ru")
    assert ("primaryFields", "БАЛЛЫ", "135") in texts
    assert russian == draw.render_front(sample, files, "ru")
    back = draw.back_texts(sample, draw.strings_for(files, "ru"), "ru")
    assert ("Условия программы", back[-1][1]) == back[-1] and "балл" in back[-1][1]


def test_lock_screen_message_is_the_change_message(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    with app.app_context():
        program = db.session().get(Program, seeded["program_id"])
        sample, files = preview.apple_pass(app.config["PASSCAST"], program, preview.sample_card(program, "ru"))
        field = draw.fields_of(sample)["balance"]
        assert draw.change_message(field, draw.strings_for(files, "en")) == "Balance: 135"
        assert draw.change_message(field, draw.strings_for(files, "ru"), "ru") == "Баланс: 135"
    key = bearer(seeded["api_key"])
    assert picture(client.get(url(seeded, "message=balance&language=ru"), headers=key))
    assert client.get(url(seeded, "message=news&news=Hello"), headers=key).status_code == 200
    # A points card has no discount field: nothing would change on the lock screen.
    answer = client.get(url(seeded, "message=discount"), headers=key)
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["errors"][0]["field"] == "message"


def _state(app: Flask, seeded: dict[str, Any]) -> tuple[Any, ...]:
    with app.app_context():
        session = db.session()
        program = session.get(Program, seeded["program_id"])
        versions = tuple(session.scalars(select(Card.version).where(Card.program_id == program.id).order_by(Card.id)))
        return (program.background_color, program.name, program.strip_png, versions,
                session.scalar(select(func.count()).select_from(PushDelivery)))


def test_a_draft_changes_the_preview_and_stores_nothing(app: Flask, client: FlaskClient,
                                                        seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    real_pass(client, seeded)
    before = _state(app, seeded)
    saved = client.get(url(seeded), headers=key).data
    answer = client.post(url(seeded), headers=key, json={"background_color": "#1f2937", "name": "Bean There"})
    image = picture(answer)
    assert answer.data != saved
    assert image.getpixel((draw.WIDTH // 2, 128)) == (0x1F, 0x29, 0x37)
    assert picture(client.post(url(seeded, "platform=google"), headers=key, json={"background_color": "#1f2937"})
                   ).getpixel((draw.GOOGLE_WIDTH - 20, 200)) == (0x1F, 0x29, 0x37)
    assert client.post(url(seeded), headers=key, json={"preset": "bakery"}).status_code == 200
    assert _state(app, seeded) == before  # program unchanged, no version bump, nothing in the outbox
    assert client.get(url(seeded), headers=key).data == saved


@pytest.mark.parametrize(("method", "query", "body", "field"), [
    ("GET", "platform=windows", None, "platform"),
    ("GET", "language=de", None, "language"),
    ("GET", "tier=Diamond", None, "tier"),
    ("GET", "message=expiry&platform=google", None, "message"),  # Google shows no change of expiry
    ("POST", "", {"background_color": "blue"}, "background_color"),
    ("POST", "", {"kind": "discount", "tier_basis": "points"}, "tier_basis"),
    ("POST", "", {"pass_type_identifier": "pass.x"}, "pass_type_identifier"),
])
def test_bad_input_is_a_422_problem(client: FlaskClient, seeded: dict[str, Any], method: str, query: str,
                                    body: Any, field: str) -> None:
    answer = client.open(url(seeded, query), method=method, json=body, headers=bearer(seeded["api_key"]))
    assert answer.status_code == 422, answer.data[:300]
    assert answer.mimetype == "application/problem+json"
    assert field in json.dumps(answer.get_json())


def test_another_brands_program_is_404(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        brand = demo.create_brand(session, "Other Tea", "other-tea")
        other_key = demo.create_api_key(session, brand, "b")
        session.commit()
    theirs = client.post("/api/v1/programs", headers=bearer(other_key), json={"name": "Tea Points"}).get_json()
    key = bearer(seeded["api_key"])
    for answer in (client.get(f"/api/v1/programs/{theirs['id']}/preview.png", headers=key),
                   client.post(f"/api/v1/programs/{theirs['id']}/preview.png", headers=key, json={}),
                   client.post(f"/api/v1/programs/{theirs['id']}/apply-preset", headers=key, json={"name": "cafe"}),
                   client.get("/api/v1/programs/2147483647/preview.png", headers=key)):
        assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/programs/{theirs['id']}/preview.png", headers=bearer(other_key)).status_code == 200
    assert client.get(url(seeded)).status_code == 401


def test_a_draft_leaves_the_session_clean(app: Flask, seeded: dict[str, Any]) -> None:
    """The draft is a detached copy: the loaded program, its brand and tiers stay as they were, so
    no later flush or commit in the request could save or push it."""
    with app.app_context():
        session = db.session()
        program = session.get(Program, seeded["program_id"])
        programs_of_brand = list(program.brand.programs)
        draft = preview.draft_program(program, {"background_color": "#1f2937", "name": "Bean There"})
        for asked in (preview.Request(), preview.Request(platform="google"), preview.Request(message="balance"),
                      preview.Request(tier="Gold", side="back", language="ru")):
            assert preview.render(app.config["PASSCAST"], draft, asked).startswith(b"\x89PNG")
        assert (program.background_color, program.name) != ("#1f2937", "Bean There")
        assert not session.dirty and not session.new and draft not in session
        assert list(program.brand.programs) == programs_of_brand
