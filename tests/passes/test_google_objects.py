"""LoyaltyClass / LoyaltyObject JSON and the save-link JWT (passes/google.py)."""

from __future__ import annotations

import io

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image

from passes.errors import PassValidationError
from passes.google import (
    Link,
    LoyaltyClassSpec,
    LoyaltyObjectSpec,
    MerchantLocation,
    TextModule,
    check_id,
    loyalty_class,
    loyalty_object,
    make_id,
    program_logo,
    save_jwt,
    save_url,
)

ISSUER = "3388000000022123456"


def _object(**changes: object) -> LoyaltyObjectSpec:
    values: dict[str, object] = dict(
        object_id=f"{ISSUER}.card-1", class_id=f"{ISSUER}.program-1", account_id="1234 5678 90",
        account_name="Anna Smith", barcode_value="PC1:DEMO:123456789:abc", alternate_text="1234 5678 90",
        points_label="Points", balance=120, tier="Gold",
        text_modules=(TextModule("news", "News", "Double points"),),
        links=(Link("terms", "https://example.com/terms", "Terms"),),
        merchant_locations=(MerchantLocation(52.37, 4.90),))
    values.update(changes)
    return LoyaltyObjectSpec(**values)  # type: ignore[arg-type]


def test_object_carries_balance_tier_barcode_and_modules() -> None:
    body = loyalty_object(_object())
    assert body["id"] == f"{ISSUER}.card-1" and body["classId"] == f"{ISSUER}.program-1"
    assert body["loyaltyPoints"] == {"label": "Points", "balance": {"int": 120}}
    assert body["secondaryLoyaltyPoints"] == {"label": "Tier", "balance": {"string": "Gold"}}
    assert body["barcode"] == {"type": "QR_CODE", "value": "PC1:DEMO:123456789:abc", "alternateText": "1234 5678 90"}
    assert body["state"] == "ACTIVE" and "hexBackgroundColor" not in body  # a class field only
    assert body["textModulesData"] == [{"id": "news", "header": "News", "body": "Double points"}]
    assert body["linksModuleData"]["uris"][0]["uri"] == "https://example.com/terms"
    assert body["merchantLocations"] == [{"latitude": 52.37, "longitude": 4.90}]
    assert "notifyPreference" not in body
    assert loyalty_object(_object(notify_on_update=True))["notifyPreference"] == "NOTIFY_ON_UPDATE"
    assert loyalty_object(_object(active=False))["state"] == "INACTIVE"
    assert loyalty_object(_object(balance="1.20 EUR"))["loyaltyPoints"]["balance"] == {"string": "1.20 EUR"}


@pytest.mark.parametrize(("changes", "path"), [
    ({"object_id": "card-1"}, "loyaltyObject.id"),
    ({"object_id": "abc.card-1"}, "loyaltyObject.id"),
    ({"object_id": f"{ISSUER}.card 1"}, "loyaltyObject.id"),
    ({"class_id": "999.program-1"}, "loyaltyObject.classId"),
    ({"merchant_locations": tuple(MerchantLocation(52.0, 4.0 + i / 100) for i in range(11))},
     "loyaltyObject.merchantLocations"),
    ({"barcode_value": ""}, "loyaltyObject.barcode.value"),
    ({"links": (Link("x", "javascript:alert(1)", "x"),)}, "loyaltyObject.linksModuleData.uris[0].uri"),
    ({"text_modules": (TextModule("a", "A", "1"), TextModule("a", "B", "2"))}, "loyaltyObject.textModulesData[1].id"),
])
def test_object_refuses_what_google_would(changes: dict[str, object], path: str) -> None:
    with pytest.raises(PassValidationError) as error:
        loyalty_object(_object(**changes))
    assert error.value.path == path


def test_ten_locations_are_fine() -> None:
    locations = tuple(MerchantLocation(52.0, 4.0 + i / 100) for i in range(10))
    assert len(loyalty_object(_object(merchant_locations=locations))["merchantLocations"]) == 10


def test_class_has_program_logo_colour_and_callback() -> None:
    body = loyalty_class(LoyaltyClassSpec(
        class_id=f"{ISSUER}.program-1", issuer_name="Demo Coffee", program_name="Demo Rewards",
        logo_uri="https://example.com/logo.png", background_color="#112233",
        text_modules=(TextModule("terms", "Terms", "Be nice"),), callback_url="https://example.com/cb"))
    assert body["programLogo"]["sourceUri"]["uri"] == "https://example.com/logo.png"
    assert body["issuerName"] == "Demo Coffee" and body["programName"] == "Demo Rewards"
    assert body["callbackOptions"] == {"url": "https://example.com/cb"}
    assert body["reviewStatus"] == "UNDER_REVIEW"
    with pytest.raises(PassValidationError):
        loyalty_class(LoyaltyClassSpec(class_id=f"{ISSUER}.p", issuer_name="x", program_name="y",
                                       logo_uri="ftp://x/logo.png", background_color="#112233"))


def test_ids() -> None:
    assert make_id(ISSUER, "passcast-card-7f0d3c1e-0d0c") == f"{ISSUER}.passcast-card-7f0d3c1e-0d0c"
    for bad in ("", "123", ".abc", "12a.b", "123.", "123.a/b"):
        with pytest.raises(PassValidationError):
            check_id(bad)
    with pytest.raises(PassValidationError):
        make_id(ISSUER, "has space")


def test_save_jwt_references_the_object_and_verifies_with_the_public_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    account = {"client_email": "wallet@example.iam.gserviceaccount.com", "private_key": pem,
               "private_key_id": "kid-1"}
    token = save_jwt(account, [f"{ISSUER}.card-1"], ["https://shop.example.com"], issued_at=1_700_000_000)
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], audience="google")
    assert claims["iss"] == account["client_email"] and claims["typ"] == "savetowallet"
    assert claims["origins"] == ["https://shop.example.com"] and claims["iat"] == 1_700_000_000
    assert claims["payload"] == {"loyaltyObjects": [{"id": f"{ISSUER}.card-1"}]}
    assert jwt.get_unverified_header(token)["kid"] == "kid-1"
    assert save_url(token) == "https://pay.google.com/gp/v/save/" + token
    assert len(save_url(token)) < 1200  # a reference, not the whole object
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other.public_key(), algorithms=["RS256"], audience="google")
    with pytest.raises(PassValidationError):
        save_jwt(account, ["not-an-id"])


def _png(size: tuple[int, int], colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_program_logo_is_660_square_with_the_artwork_inside_the_circle() -> None:
    wide = Image.open(io.BytesIO(program_logo(_png((300, 100), "#ff0000"), background="#0000ff",
                                              foreground="#ffffff", text="Demo"))).convert("RGB")
    assert wide.size == (660, 660)
    assert wide.getpixel((330, 330)) == (255, 0, 0)  # the artwork, centred
    assert wide.getpixel((5, 5)) == (0, 0, 255)  # the brand's background around it
    assert wide.getpixel((330, 240)) == (0, 0, 255)  # aspect kept: a 3:1 logo is not stretched square
    reds = [x for x in range(660) if wide.getpixel((x, 330)) == (255, 0, 0)]
    assert 400 <= len(reds) <= 440 and reds[0] > 660 * 0.15  # clear of the circular crop
    default = Image.open(io.BytesIO(program_logo(None, background="#112233", foreground="#ffffff",
                                                 text="Demo"))).convert("RGB")
    assert default.size == (660, 660) and default.getpixel((3, 3)) == (0x11, 0x22, 0x33)
    assert (255, 255, 255) in {default.getpixel((x, 330)) for x in range(200, 460)}  # the letter
    with pytest.raises(PassValidationError, match="programLogo"):
        program_logo(b"not an image", background="#000000", foreground="#ffffff", text="Demo")
