"""pass.json schema: every rule raises with the path Wallet's field would have."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from passes.errors import PassValidationError
from passes.schema import (
    NFC,
    Barcode,
    Beacon,
    Field,
    Location,
    Pass,
    RelevantDate,
    StoreCard,
    check_update,
)

WHEN = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
TOKEN = "t0ken-of-at-least-16-chars"


def spki_b64(key: Any) -> str:
    return base64.b64encode(key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode()


def make_pass(**overrides: Any) -> Pass:
    values: dict[str, Any] = {
        "pass_type_identifier": "pass.com.example.loyalty",
        "team_identifier": "ABCDE12345",
        "serial_number": "card-0001",
        "organization_name": "Demo Coffee",
        "description": "Demo Coffee loyalty card",
        "store_card": StoreCard(primary_fields=(Field("balance", 120, label="Points", change_message="Now %@"),)),
    }
    values.update(overrides)
    return Pass(**values)


def rule_path(excinfo: pytest.ExceptionInfo[PassValidationError]) -> str:
    return excinfo.value.path


# --- Field -------------------------------------------------------------------------------


def test_change_message_must_contain_placeholder() -> None:
    with pytest.raises(PassValidationError) as excinfo:
        Field("balance", 10, change_message="Your balance changed")
    assert rule_path(excinfo) == "changeMessage"
    assert "%@" in excinfo.value.rule


def test_change_message_with_placeholder_is_emitted() -> None:
    assert Field("balance", 10, change_message="Balance: %@").to_json_dict() == {
        "key": "balance",
        "value": 10,
        "changeMessage": "Balance: %@",
    }


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"key": "", "value": 1}, "key"),
        ({"key": 5, "value": 1}, "key"),
        ({"key": "k", "value": True}, "value"),
        ({"key": "k", "value": float("nan")}, "value"),
        ({"key": "k", "value": Decimal("Infinity")}, "value"),
        ({"key": "k", "value": None}, "value"),
        ({"key": "k", "value": datetime(2025, 1, 1)}, "value"),  # naive
        ({"key": "k", "value": 1, "label": 3}, "label"),
        ({"key": "k", "value": 1, "text_alignment": "left"}, "textAlignment"),
        ({"key": "k", "value": 1, "attributed_value": float("inf")}, "attributedValue"),
        ({"key": "k", "value": WHEN, "date_style": "short"}, "dateStyle"),
        ({"key": "k", "value": "tomorrow", "date_style": "PKDateStyleShort"}, "dateStyle"),
        ({"key": "k", "value": "2025-01-01", "date_style": "PKDateStyleShort"}, "dateStyle"),
        ({"key": "k", "value": 1, "number_style": "decimal"}, "numberStyle"),
        ({"key": "k", "value": "12", "number_style": "PKNumberStyleDecimal"}, "numberStyle"),
        ({"key": "k", "value": "12", "currency_code": "EUR"}, "currencyCode"),
        ({"key": "k", "value": 12, "currency_code": "eur"}, "currencyCode"),
        ({"key": "k", "value": 12, "currency_code": "EURO"}, "currencyCode"),
    ],
)
def test_field_rules(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        Field(**kwargs)
    assert rule_path(excinfo) == path


def test_decimal_values_become_json_numbers() -> None:
    assert Field("a", Decimal("12.50")).value == 12.5
    whole = Field("b", Decimal("100"))
    assert whole.value == 100 and isinstance(whole.value, int)


def test_date_and_number_styles_serialise() -> None:
    date_field = Field("since", WHEN, date_style="PKDateStyleMedium", text_alignment="PKTextAlignmentRight")
    assert date_field.to_json_dict() == {
        "key": "since",
        "value": "2025-03-01T09:30:00+01:00",
        "dateStyle": "PKDateStyleMedium",
        "textAlignment": "PKTextAlignmentRight",
    }
    assert Field("s", "2025-03-01T09:30:00Z", date_style="PKDateStyleShort").value == "2025-03-01T09:30:00Z"
    money = Field("credit", Decimal("7.25"), currency_code="EUR", number_style="PKNumberStyleDecimal")
    assert money.to_json_dict()["currencyCode"] == "EUR"
    assert money.to_json_dict()["value"] == 7.25


def test_schema_objects_are_frozen() -> None:
    item = Field("a", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.value = 2  # type: ignore[misc]


# --- Barcode -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"message": ""}, "message"),
        ({"message": "x", "format": "QR"}, "format"),
        ({"message": "Ёлка"}, "message"),  # not latin-1
        ({"message": "x", "message_encoding": "klingon-8"}, "messageEncoding"),
        ({"message": "café", "format": "PKBarcodeFormatCode128"}, "message"),
        ({"message": "x", "alt_text": ""}, "altText"),
    ],
)
def test_barcode_rules(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        Barcode(**kwargs)
    assert rule_path(excinfo) == path


def test_barcode_defaults_and_utf8() -> None:
    assert Barcode("PC1-ABC", alt_text="ABC").to_json_dict() == {
        "format": "PKBarcodeFormatQR",
        "message": "PC1-ABC",
        "messageEncoding": "iso-8859-1",
        "altText": "ABC",
    }
    assert Barcode("Ёлка", message_encoding="utf-8").message == "Ёлка"


# --- Location, Beacon, RelevantDate, NFC -------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"latitude": 90.5, "longitude": 0}, "latitude"),
        ({"latitude": -91, "longitude": 0}, "latitude"),
        ({"latitude": True, "longitude": 0}, "latitude"),
        ({"latitude": 0, "longitude": 180.01}, "longitude"),
        ({"latitude": 0, "longitude": "12"}, "longitude"),
        ({"latitude": 0, "longitude": 0, "altitude": float("inf")}, "altitude"),
        ({"latitude": 0, "longitude": 0, "relevant_text": " "}, "relevantText"),
    ],
)
def test_location_rules(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        Location(**kwargs)
    assert rule_path(excinfo) == path


def test_location_edges_are_valid() -> None:
    assert Location(-90, 180, altitude=Decimal("12.5")).to_json_dict() == {
        "latitude": -90,
        "longitude": 180,
        "altitude": 12.5,
    }


UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"proximity_uuid": "not-a-uuid"}, "proximityUUID"),
        ({"proximity_uuid": 42}, "proximityUUID"),
        ({"proximity_uuid": UUID, "major": 65536}, "major"),
        ({"proximity_uuid": UUID, "major": -1}, "major"),
        ({"proximity_uuid": UUID, "major": True}, "major"),
        ({"proximity_uuid": UUID, "major": 1, "minor": 70000}, "minor"),
        ({"proximity_uuid": UUID, "minor": 1}, "minor"),
    ],
)
def test_beacon_rules(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        Beacon(**kwargs)
    assert rule_path(excinfo) == path


def test_beacon_uuid_is_canonical_uppercase() -> None:
    beacon = Beacon("{" + UUID + "}", major=0, minor=65535, relevant_text="Welcome")
    assert beacon.to_json_dict() == {
        "proximityUUID": UUID.upper(),
        "major": 0,
        "minor": 65535,
        "relevantText": "Welcome",
    }


def test_relevant_date_forms() -> None:
    assert RelevantDate(date=WHEN).to_json_dict() == {"date": "2025-03-01T09:30:00+01:00"}
    interval = RelevantDate(start_date=WHEN, end_date=WHEN + timedelta(hours=2))
    assert interval.to_json_dict() == {
        "startDate": "2025-03-01T09:30:00+01:00",
        "endDate": "2025-03-01T11:30:00+01:00",
    }


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({}, "startDate"),
        ({"start_date": WHEN}, "startDate"),
        ({"date": WHEN, "end_date": WHEN}, "date"),
        ({"date": datetime(2025, 1, 1)}, "date"),
        ({"start_date": WHEN, "end_date": WHEN}, "endDate"),
        ({"start_date": datetime(2025, 1, 1), "end_date": WHEN}, "startDate"),
    ],
)
def test_relevant_date_rules(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        RelevantDate(**kwargs)
    assert rule_path(excinfo) == path


@pytest.fixture(scope="module")
def p256_key() -> str:
    return spki_b64(ec.generate_private_key(ec.SECP256R1()))


def test_nfc_message_limit_is_64_bytes(p256_key: str) -> None:
    assert NFC("x" * 64, p256_key).to_json_dict() == {"message": "x" * 64, "encryptionPublicKey": p256_key}
    with pytest.raises(PassValidationError) as excinfo:
        NFC("é" * 33, p256_key)  # 33 characters, 66 bytes
    assert rule_path(excinfo) == "message"


def test_nfc_key_must_be_p256_spki(p256_key: str) -> None:
    for bad in ("not base64!", base64.b64encode(b"junk").decode(), spki_b64(ec.generate_private_key(ec.SECP384R1()))):
        with pytest.raises(PassValidationError) as excinfo:
            NFC("m", bad)
        assert rule_path(excinfo) == "encryptionPublicKey"
    rsa_key = spki_b64(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(PassValidationError):
        NFC("m", rsa_key)
    with pytest.raises(PassValidationError) as excinfo:
        NFC("m", p256_key, requires_authentication="yes")  # type: ignore[arg-type]
    assert rule_path(excinfo) == "requiresAuthentication"


# --- StoreCard -------------------------------------------------------------------------------


def fields(prefix: str, count: int) -> tuple[Field, ...]:
    return tuple(Field(f"{prefix}{index}", index) for index in range(count))


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"header_fields": fields("h", 4)}, "headerFields"),
        ({"primary_fields": fields("p", 2)}, "primaryFields"),
        ({"secondary_fields": fields("s", 3), "auxiliary_fields": fields("a", 2)}, "auxiliaryFields"),
        ({"back_fields": "not a list"}, "backFields"),
        ({"back_fields": [42]}, "backFields[0]"),
        (
            {"header_fields": [Field("a", 1), {"key": "b", "value": 2, "change_message": "no"}]},
            "headerFields[1].changeMessage",
        ),
        ({"header_fields": [{"key": "b", "valu": 2}]}, "headerFields[0]"),
    ],
)
def test_store_card_rules(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        StoreCard(**kwargs)
    assert rule_path(excinfo) == path


def test_store_card_limits_are_inclusive() -> None:
    card = StoreCard(
        header_fields=fields("h", 3),
        primary_fields=fields("p", 1),
        secondary_fields=fields("s", 2),
        auxiliary_fields=fields("a", 2),
        back_fields=fields("b", 20),
    )
    data = card.to_json_dict()
    assert [len(data[name]) for name in ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields")] == [
        3,
        1,
        2,
        2,
    ]
    assert len(data["backFields"]) == 20
    assert StoreCard().to_json_dict() == {}


# --- Pass: identity and structure ------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"format_version": 2}, "formatVersion"),
        ({"format_version": True}, "formatVersion"),
        ({"pass_type_identifier": "com.example.loyalty"}, "passTypeIdentifier"),
        ({"pass_type_identifier": ""}, "passTypeIdentifier"),
        ({"team_identifier": "abc"}, "teamIdentifier"),
        ({"serial_number": ""}, "serialNumber"),
        ({"serial_number": "a/b"}, "serialNumber"),
        ({"serial_number": "a b"}, "serialNumber"),
        ({"organization_name": ""}, "organizationName"),
        ({"description": "  "}, "description"),
        ({"store_card": "storeCard"}, "storeCard"),
        ({"store_card": {"header_fields": [Field("a", 1), {"key": "", "value": 1}]}}, "storeCard.headerFields[1].key"),
        ({"barcodes": [Barcode("x"), {"message": "x", "format": "EAN"}]}, "barcodes[1].format"),
        ({"nfc": {"message": "x" * 65, "encryption_public_key": "AAAA"}}, "nfc.message"),
        ({"user_info": {"when": WHEN}}, "userInfo"),
        ({"user_info": ["a"]}, "userInfo"),
        ({"voided": "no"}, "voided"),
        ({"sharing_prohibited": 1}, "sharingProhibited"),
        ({"logo_text": ""}, "logoText"),
    ],
)
def test_pass_rules(overrides: dict[str, Any], path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(**overrides)
    assert rule_path(excinfo) == path


def test_field_keys_are_unique_across_the_pass() -> None:
    card = StoreCard(
        header_fields=(Field("points", 1),),
        secondary_fields=(Field("tier", "Gold"),),
        back_fields=(Field("terms", "..."), Field("points", 2)),
    )
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(store_card=card)
    assert rule_path(excinfo) == "storeCard.backFields[1].key"
    assert "points" in excinfo.value.rule


# --- Pass: relevance (pitfall 10) -----------------------------------------------------


def locations(count: int) -> list[Location]:
    return [Location(48.85 + index / 100, 2.35) for index in range(count)]


def test_more_than_ten_locations_is_refused() -> None:
    assert len(make_pass(locations=locations(10)).to_json_dict()["locations"]) == 10
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(locations=locations(11))
    assert rule_path(excinfo) == "locations"


def test_more_than_ten_beacons_is_refused() -> None:
    beacons = [Beacon(UUID, major=index) for index in range(11)]
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(beacons=beacons, locations=locations(1))
    assert rule_path(excinfo) == "beacons"


@pytest.mark.parametrize(
    "overrides",
    [
        {"beacons": [Beacon(UUID, relevant_text="Come in")]},
        {"relevant_date": WHEN},
        {"relevant_dates": [RelevantDate(date=WHEN)]},
        {"max_distance": 50},
    ],
)
def test_store_card_relevance_needs_locations(overrides: dict[str, Any]) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(**overrides)
    assert rule_path(excinfo) == "locations"
    make_pass(locations=locations(1), **overrides)  # fine once there is a location


@pytest.mark.parametrize("distance", [0, -5, float("nan"), "10"])
def test_max_distance_must_be_positive(distance: object) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(locations=locations(1), max_distance=distance)
    assert rule_path(excinfo) == "maxDistance"


def test_relevance_serialises() -> None:
    data = make_pass(
        locations=[{"latitude": 48.85, "longitude": 2.35, "relevant_text": "Coffee?"}],
        beacons=[Beacon(UUID, major=1)],
        max_distance=Decimal("100"),
        relevant_dates=[{"start_date": WHEN, "end_date": WHEN + timedelta(days=1)}],
    ).to_json_dict()
    assert data["locations"] == [{"latitude": 48.85, "longitude": 2.35, "relevantText": "Coffee?"}]
    assert data["beacons"] == [{"proximityUUID": UUID.upper(), "major": 1}]
    assert data["maxDistance"] == 100
    assert data["relevantDates"] == [{"startDate": "2025-03-01T09:30:00+01:00", "endDate": "2025-03-02T09:30:00+01:00"}]


# --- Pass: web service --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"web_service_url": "https://example.com/passkit"}, "authenticationToken"),
        ({"authentication_token": TOKEN}, "webServiceURL"),
        ({"web_service_url": "https://example.com/passkit", "authentication_token": "short"}, "authenticationToken"),
        ({"web_service_url": "https://example.com/passkit", "authentication_token": "x" * 15}, "authenticationToken"),
        (
            {"web_service_url": "https://example.com/p", "authentication_token": "has spaces in the token"},
            "authenticationToken",
        ),
        ({"web_service_url": "http://example.com/passkit", "authentication_token": TOKEN}, "webServiceURL"),
        ({"web_service_url": "ftp://example.com/passkit", "authentication_token": TOKEN}, "webServiceURL"),
        ({"web_service_url": "/passkit", "authentication_token": TOKEN}, "webServiceURL"),
        ({"web_service_url": "https://example.com/passkit?x=1", "authentication_token": TOKEN}, "webServiceURL"),
    ],
)
def test_web_service_rules(overrides: dict[str, Any], path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(**overrides)
    assert rule_path(excinfo) == path


@pytest.mark.parametrize(
    ("url", "allow_http"),
    [
        ("https://cards.example.com/passkit", False),
        ("http://localhost:8000/passkit", False),
        ("http://127.0.0.1:8000/passkit", False),
        ("http://192.168.1.20:8000/passkit", True),
    ],
)
def test_web_service_accepted(url: str, allow_http: bool) -> None:
    data = make_pass(web_service_url=url, authentication_token=TOKEN, allow_http=allow_http).to_json_dict()
    assert data["webServiceURL"] == url
    assert data["authenticationToken"] == TOKEN
    assert "allow_http" not in data and "allowHttp" not in data


# --- Pass: appearance and dates -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("#FF8000", "rgb(255, 128, 0)"),
        ("#0a0B0c", "rgb(10, 11, 12)"),
        ("rgb(1,2,3)", "rgb(1, 2, 3)"),
        (" rgb( 255 , 255 , 255 ) ", "rgb(255, 255, 255)"),
    ],
)
def test_colours_are_normalised_to_rgb(given: str, expected: str) -> None:
    data = make_pass(background_color=given, foreground_color=given, label_color=given).to_json_dict()
    assert data["backgroundColor"] == data["foregroundColor"] == data["labelColor"] == expected


@pytest.mark.parametrize(
    ("attr", "path"),
    [("background_color", "backgroundColor"), ("foreground_color", "foregroundColor"), ("label_color", "labelColor")],
)
@pytest.mark.parametrize(
    "bad", ["red", "#fff", "#GGGGGG", "rgb(256, 0, 0)", "rgba(1, 2, 3, 0.5)", "rgb(1, 2)", 0xFFFFFF]
)
def test_bad_colours_are_refused(attr: str, path: str, bad: object) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(**{attr: bad})
    assert rule_path(excinfo) == path


@pytest.mark.parametrize(("attr", "path"), [("expiration_date", "expirationDate"), ("relevant_date", "relevantDate")])
def test_naive_dates_are_refused(attr: str, path: str) -> None:
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(locations=locations(1), **{attr: datetime(2025, 1, 1, 12, 0)})
    assert rule_path(excinfo) == path
    with pytest.raises(PassValidationError) as excinfo:
        make_pass(locations=locations(1), **{attr: "2025-01-01T12:00:00Z"})
    assert rule_path(excinfo) == path


def test_dates_are_w3c_strings() -> None:
    data = make_pass(
        locations=locations(1),
        expiration_date=datetime(2026, 1, 31, 23, 59, 59, 999, tzinfo=UTC),
        relevant_date=WHEN,
    ).to_json_dict()
    assert data["expirationDate"] == "2026-01-31T23:59:59+00:00"
    assert data["relevantDate"] == "2025-03-01T09:30:00+01:00"


# --- Pass: JSON output -----------------------------------------------------------------------


def test_full_pass_json(p256_key: str) -> None:
    p = make_pass(
        barcodes=[Barcode("PC1-0001", alt_text="0001")],
        web_service_url="https://cards.example.com/passkit",
        authentication_token=TOKEN,
        background_color="#6F4E37",
        logo_text="Demo Coffee",
        voided=True,
        sharing_prohibited=True,
        user_info={"card_id": 7},
        nfc=NFC("loyalty:0001", p256_key, requires_authentication=True),
    )
    assert p.to_json_dict() == {
        "formatVersion": 1,
        "passTypeIdentifier": "pass.com.example.loyalty",
        "teamIdentifier": "ABCDE12345",
        "serialNumber": "card-0001",
        "organizationName": "Demo Coffee",
        "description": "Demo Coffee loyalty card",
        "storeCard": {
            "primaryFields": [{"key": "balance", "value": 120, "label": "Points", "changeMessage": "Now %@"}]
        },
        "barcodes": [
            {"format": "PKBarcodeFormatQR", "message": "PC1-0001", "messageEncoding": "iso-8859-1", "altText": "0001"}
        ],
        "webServiceURL": "https://cards.example.com/passkit",
        "authenticationToken": TOKEN,
        "backgroundColor": "rgb(111, 78, 55)",
        "logoText": "Demo Coffee",
        "voided": True,
        "sharingProhibited": True,
        "userInfo": {"card_id": 7},
        "nfc": {"message": "loyalty:0001", "encryptionPublicKey": p256_key, "requiresAuthentication": True},
    }


def test_deprecated_barcode_key_is_never_emitted() -> None:
    with_barcodes = make_pass(barcodes=[Barcode("A"), Barcode("B", format="PKBarcodeFormatPDF417")])
    data = json.loads(with_barcodes.to_json_bytes())
    assert "barcode" not in data
    assert [item["message"] for item in data["barcodes"]] == ["A", "B"]
    assert b'"barcode"' not in make_pass().to_json_bytes()


def test_json_bytes_are_compact_sorted_utf8() -> None:
    p = make_pass(organization_name="Кофейня «Ёлка»")
    raw = p.to_json_bytes()
    assert raw == make_pass(organization_name="Кофейня «Ёлка»").to_json_bytes()
    assert "Кофейня «Ёлка»".encode() in raw
    assert b"\n" not in raw and b'": ' not in raw and b'", "' not in raw
    keys = list(json.loads(raw))
    assert keys == sorted(keys)
    assert json.loads(raw) == p.to_json_dict()


def test_user_info_is_copied() -> None:
    info = {"tier": {"name": "gold"}}
    p = make_pass(user_info=info)
    info["tier"]["name"] = "changed"
    assert p.to_json_dict()["userInfo"] == {"tier": {"name": "gold"}}


# --- updates (pitfall 10) -----------------------------------------------------------------


def test_update_may_change_fields() -> None:
    before = make_pass(web_service_url="https://a.example/p", authentication_token=TOKEN)
    after = make_pass(
        web_service_url="https://a.example/p",
        authentication_token=TOKEN,
        store_card=StoreCard(primary_fields=(Field("balance", 150, change_message="Now %@"),)),
    )
    check_update(before, after)


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"serial_number": "card-0002"}, "serialNumber"),
        ({"authentication_token": "another-token-of-16+"}, "authenticationToken"),
        ({"pass_type_identifier": "pass.com.example.other"}, "passTypeIdentifier"),
    ],
)
def test_update_must_keep_identity(changes: dict[str, Any], path: str) -> None:
    base = {"web_service_url": "https://a.example/p", "authentication_token": TOKEN}
    with pytest.raises(PassValidationError) as excinfo:
        check_update(make_pass(**base), make_pass(**{**base, **changes}))
    assert rule_path(excinfo) == path


def test_update_cannot_drop_the_token() -> None:
    with pytest.raises(PassValidationError) as excinfo:
        check_update(make_pass(web_service_url="https://a.example/p", authentication_token=TOKEN), make_pass())
    assert rule_path(excinfo) == "authenticationToken"


# --- pass.json written piece by piece (issue 18) is what json.dumps writes -------------------


def _reference_json(p: Pass) -> bytes:
    """What to_json_bytes wrote before it wrote pieces: the encoder over to_json_dict()."""
    return json.dumps(p.to_json_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


_AWKWARD = ['plain', 'quote " and back \\ slash', "tab\tnew\nline\r\x00\x1f\x7f", "Кофейня «Ёлка» €",
            "line\u2028sep\u2029", "emoji \U0001f600", "%@ percent"]


def _every_attribute_passes(p256_key: str) -> list[Pass]:
    fields = [
        Field("a", "text", label="", change_message="Was %@", text_alignment="PKTextAlignmentRight"),
        Field("b", 12, number_style="PKNumberStylePercent", attributed_value="<a href='x'>12</a>"),
        Field("c", Decimal("7.25"), currency_code="EUR", label="Money"),
        Field("d", Decimal(100)),
        Field("e", 1.5e-7),
        Field("f", -0.0),
        Field("g", 2**70),
        Field("h", WHEN, date_style="PKDateStyleMedium", change_message="On %@"),
        Field("i", "2025-03-01T09:30:00+01:00", date_style="PKDateStyleShort", attributed_value=WHEN),
    ] + [Field(f"s{index}", text, label=text, change_message=f"{text} %@") for index, text in enumerate(_AWKWARD)]
    back = tuple(fields[4:])
    passes = [
        make_pass(),
        make_pass(store_card=StoreCard()),
        make_pass(store_card=StoreCard(header_fields=(fields[0],), primary_fields=(fields[1],),
                                       secondary_fields=(fields[2],), auxiliary_fields=(fields[3],),
                                       back_fields=back)),
        make_pass(
            barcodes=[Barcode("PC1-0001", alt_text="0001"), Barcode("ÄÖÜ", format="PKBarcodeFormatPDF417"),
                      Barcode("ABC-123", format="PKBarcodeFormatCode128", message_encoding="utf-8", alt_text="ABC")],
            locations=[Location(52.5, 13.4), Location(-90, 180, altitude=Decimal("12.5"), relevant_text=_AWKWARD[2]),
                       Location(Decimal("1.25"), 0)],
            beacons=[Beacon("e2c56db5-dffb-48d2-b060-d0f5a71096e0"),
                     Beacon("E2C56DB5-DFFB-48D2-B060-D0F5A71096E0", major=1, minor=65535, relevant_text="Near")],
            max_distance=Decimal(50), relevant_date=WHEN,
            relevant_dates=[RelevantDate(date=WHEN), RelevantDate(start_date=WHEN, end_date=WHEN + timedelta(hours=2))],
            expiration_date=datetime(2026, 1, 31, 23, 59, 59, 999, tzinfo=UTC),
            web_service_url="https://cards.example.com/passkit", authentication_token=TOKEN,
            background_color="#6F4E37", foreground_color="rgb(1,2,3)", label_color="rgb( 255 , 0 , 9 )",
            logo_text=_AWKWARD[1], voided=True, sharing_prohibited=True,
            user_info={"z": [1, 2.5, None, True], "a": {"y": "Ёлка", "b": "\n"}},
            nfc=NFC("loyalty:0001", p256_key, requires_authentication=True)),
        make_pass(nfc=NFC("x" * 64, p256_key), user_info={}, max_distance=0.5, locations=[Location(0.0, -0.0)]),
        make_pass(web_service_url="http://192.168.1.2/passkit", authentication_token=TOKEN, allow_http=True),
    ]
    passes += [make_pass(organization_name=text, description=text, logo_text=text, serial_number=f"s-{index}",
                         store_card=StoreCard(back_fields=(Field("k", text, label=text),)))
               for index, text in enumerate(_AWKWARD)]
    return passes


def test_json_bytes_are_the_encoders_for_every_attribute(p256_key: str) -> None:
    for p in _every_attribute_passes(p256_key):
        assert p.to_json_bytes() == _reference_json(p)
        assert p.to_json_bytes() == _reference_json(p)  # again, from the pieces written once


def test_a_field_written_once_is_the_same_in_every_pass() -> None:
    shared = Field("terms", "Our rules. " * 50, label="Terms and conditions")
    first = make_pass(store_card=StoreCard(back_fields=(shared,)))
    second = make_pass(serial_number="card-0002", store_card=StoreCard(back_fields=(shared,)))
    assert first.to_json_bytes() == _reference_json(first)
    assert second.to_json_bytes() == _reference_json(second)
    assert shared == Field("terms", "Our rules. " * 50, label="Terms and conditions")  # the text is no field
    assert repr(shared) == repr(Field("terms", "Our rules. " * 50, label="Terms and conditions"))
