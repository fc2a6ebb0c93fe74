"""passes/preview.py draws only what the pass says: texts through pass.strings, colours from
pass.json or the class; the same inputs give the same (cached) picture."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from passes import preview
from passes.localization import lproj_files

PASS: dict[str, Any] = {
    "organizationName": "Bean There", "description": "Loyalty card", "logoText": "Bean There",
    "backgroundColor": "rgb(10, 20, 30)", "foregroundColor": "rgb(255, 255, 255)", "labelColor": "rgb(200, 180, 150)",
    "barcodes": [{"format": "PKBarcodeFormatQR", "message": "BT-1", "messageEncoding": "iso-8859-1",
                  "altText": "1234 5674"}],
    "storeCard": {
        "headerFields": [{"key": "tier", "label": "Tier", "value": "Gold", "changeMessage": "Your tier is now %@"}],
        "primaryFields": [{"key": "balance", "label": "Cashback", "value": 12.5, "currencyCode": "EUR",
                           "changeMessage": "Balance: %@"}],
        "secondaryFields": [{"key": "holder", "label": "Member", "value": "Anna"}],
        "auxiliaryFields": [{"key": "number", "label": "Card", "value": "1234 5674"}],
        "backFields": [{"key": "terms", "label": "Terms and conditions", "value": "Be nice."}],
    },
}
FILES = lproj_files({"en": {"Tier": "Tier", "Balance: %@": "Balance: %@"},
                     "ru": {"Tier": "Уровень", "Cashback": "Кешбэк", "Balance: %@": "Баланс: %@",
                            "Be nice.": "Будьте вежливы."}})


def test_front_texts_are_the_fields_through_pass_strings() -> None:
    assert preview.front_texts(PASS, preview.strings_for(FILES, "en")) == [
        ("headerFields", "TIER", "Gold"), ("primaryFields", "CASHBACK", "\u20ac12.50"),
        ("secondaryFields", "MEMBER", "Anna"), ("auxiliaryFields", "CARD", "1234 5674")]
    russian = preview.front_texts(PASS, preview.strings_for(FILES, "ru"), "ru")
    assert russian[0] == ("headerFields", "УРОВЕНЬ", "Gold") and russian[1][2] == "12,50\u00a0\u20ac"
    assert preview.back_texts(PASS, preview.strings_for(FILES, "ru"), "ru") == [
        ("Terms and conditions", "Будьте вежливы.")]


def test_change_message_is_what_the_lock_screen_says() -> None:
    fields = preview.fields_of(PASS)
    assert preview.change_message(fields["balance"], preview.strings_for(FILES, "en")) == "Balance: \u20ac12.50"
    russian = preview.strings_for(FILES, "ru")
    assert preview.change_message(fields["balance"], russian, "ru") == "Баланс: 12,50\u00a0\u20ac"
    assert preview.change_message(fields["holder"], {}) is None


def test_the_front_is_painted_in_the_pass_colours_and_cached() -> None:
    preview.clear_cache()
    png = preview.render_front(PASS, FILES)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.width == preview.WIDTH and image.getpixel((preview.WIDTH // 2, 128)) == (10, 20, 30)
    assert preview.render_front(PASS, FILES) is png  # same inputs: the cached bytes
    assert preview.render_front({**PASS, "backgroundColor": "rgb(1, 2, 3)"}, FILES) != png


def test_google_card_uses_the_class_colour_and_localized_labels() -> None:
    klass = {"issuerName": "Bean There", "programName": "Beans", "hexBackgroundColor": "#fafafa"}
    obj = {"accountName": "Anna", "accountId": "1234 5674",
           "loyaltyPoints": {"label": "Points", "localizedLabel": {
               "defaultValue": {"language": "en", "value": "Points"},
               "translatedValues": [{"language": "ru", "value": "Баллы"}]}, "balance": {"int": 135}},
           "secondaryLoyaltyPoints": {"label": "Tier", "balance": {"string": "Gold"}},
           "barcode": {"type": "QR_CODE", "value": "BT-1", "alternateText": "1234 5674"}}
    texts = preview.google_texts(klass, obj, "ru")
    assert texts["points_label"] == "Баллы" and texts["points"] == "135" and texts["secondary"] == "Gold"
    image = Image.open(io.BytesIO(preview.render_google(klass, obj, "ru"))).convert("RGB")
    assert image.width == preview.GOOGLE_WIDTH and image.getpixel((preview.GOOGLE_WIDTH - 20, 200)) == (250, 250, 250)
    assert preview.text_colour_on((250, 250, 250)) != preview.text_colour_on((10, 20, 30))


def test_lock_screen_banner() -> None:
    image = Image.open(io.BytesIO(preview.render_lock_screen("Balance: 135", "Bean There"))).convert("RGB")
    assert image.width == preview.LOCK_WIDTH and 100 < image.height < 400
