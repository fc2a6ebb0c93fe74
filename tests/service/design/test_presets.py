"""Ready-made designs: each one makes a pass that verifies as a phone checks it, and a preview;
one click on an existing program, or a `preset` when creating one."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from passes import preview as draw
from passes.images import check_source
from service.design.presets import PRESETS
from service.models import Card, Program
from service.platform import db
from tests.helpers import bearer, verified_pass


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio."""
    def luminance(colour: tuple[int, int, int]) -> float:
        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(colour[0]) + 0.7152 * channel(colour[1]) + 0.0722 * channel(colour[2])
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_is_readable_and_its_strip_usable(name: str) -> None:
    preset = PRESETS[name]
    background = draw.rgb(preset.background_color, (0, 0, 0))
    assert contrast(draw.rgb(preset.foreground_color, (0, 0, 0)), background) >= 4.5
    assert contrast(draw.rgb(preset.label_color, (0, 0, 0)), background) >= 3.0
    strip = preset.fields()["strip_png"]
    check_source("strip", strip)  # what an upload must pass
    assert Image.open(io.BytesIO(strip)).size == (1125, 432)
    assert strip == preset.fields()["strip_png"]  # the same bytes each time: image caches keep hitting
    assert set(preset.title) == {"en", "ru"}


@pytest.mark.parametrize("name", PRESETS)
def test_a_program_created_with_a_preset_issues_a_valid_pass(client: FlaskClient, seeded: dict[str, Any],
                                                           tmp_path: Path, name: str) -> None:
    key = bearer(seeded["api_key"])
    created = client.post("/api/v1/programs", headers=key, json={"name": f"{name} club", "preset": name})
    assert created.status_code == 201, created.data[:300]
    program = created.get_json()
    assert program["background_color"] == PRESETS[name].background_color
    assert program["description"] == PRESETS[name].description
    card = client.post(f"/api/v1/programs/{program['id']}/cards", headers=key,
                       json={"customer": {"name": "Anna Smith"}}).get_json()
    download = client.get(card["apple_pass_url"].removeprefix("http://127.0.0.1:8000"))
    pass_json, files = verified_pass(download.data, seeded["dev_ca_file"], tmp_path / name)
    assert pass_json["backgroundColor"] == "rgb({}, {}, {})".format(*draw.rgb(PRESETS[name].background_color,
                                                                                (0, 0, 0)))
    assert "strip@2x.png" in files
    assert PRESETS[name].terms in pass_json["storeCard"]["backFields"][-1]["value"]
    for query, width in (("", draw.WIDTH), ("?platform=google", draw.GOOGLE_WIDTH), ("?side=back", draw.WIDTH)):
        answer = client.get(f"/api/v1/programs/{program['id']}/preview.png{query}", headers=key)
        assert answer.status_code == 200
        assert Image.open(io.BytesIO(answer.data)).width == width


def test_fields_sent_with_a_preset_win(client: FlaskClient, seeded: dict[str, Any]) -> None:
    created = client.post("/api/v1/programs", headers=bearer(seeded["api_key"]),
                          json={"name": "Mine", "preset": "beauty", "background_color": "#000000"}).get_json()
    assert created["background_color"] == "#000000" and created["label_color"] == PRESETS["beauty"].label_color


def test_apply_preset_dresses_the_program_and_updates_every_card(app: Flask, client: FlaskClient,
                                                                 seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=key,
                       json={"customer": {"name": "Anna Smith"}}).get_json()
    with app.app_context():
        version = db.session().get(Card, card["id"]).version
    before = client.get(f"/api/v1/programs/{seeded['program_id']}/preview.png", headers=key).data
    answer = client.post(f"/api/v1/programs/{seeded['program_id']}/apply-preset", headers=key,
                         json={"name": "fashion"})
    assert answer.status_code == 200 and answer.get_json()["background_color"] == "#111111"
    with app.app_context():
        session = db.session()
        program = session.get(Program, seeded["program_id"])
        assert program.strip_png == PRESETS["fashion"].fields()["strip_png"] and program.points_per_unit == 10
        assert session.get(Card, card["id"]).version == version + 1
    after = client.get(f"/api/v1/programs/{seeded['program_id']}/preview.png", headers=key)
    assert after.data != before
    assert Image.open(io.BytesIO(after.data)).convert("RGB").getpixel((draw.WIDTH // 2, 128)) == (17, 17, 17)
    listed = client.get("/api/v1/program-presets", headers=key).get_json()
    assert [p["name"] for p in listed] == ["cafe", "bakery", "fashion", "beauty"]
    bad = client.post(f"/api/v1/programs/{seeded['program_id']}/apply-preset", headers=key, json={"name": "zoo"})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
