"""What we send Google, checked against Google's own walletobjects v1 discovery document
(tests/doubles/wallet_schema.py), and the checker itself: it must refuse what Google refuses."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from passes.errors import PassValidationError
from passes.google import (
    Link,
    LoyaltyClassSpec,
    LoyaltyObjectSpec,
    Text,
    TextModule,
    loyalty_class,
    loyalty_message,
    loyalty_object,
    save_jwt,
)
from tests.doubles import wallet_schema

ISSUER = "3388000000022123456"
RU_POINTS = Text("Баллы", "ru", {"en": "Points", "ru": "Баллы"})


def _object(**changes: object) -> dict[str, object]:
    values: dict[str, object] = dict(
        object_id=f"{ISSUER}.card-1", class_id=f"{ISSUER}.program-1", account_id="1234", account_name="Anna",
        barcode_value="PC1:DEMO:1", alternate_text="1234", points_label=RU_POINTS, balance=120, tier="Gold",
        tier_label=Text("Уровень", "ru", {"en": "Tier"}),
        text_modules=(TextModule("news", Text("Новости", "ru", {"en": "News"}), Text("Двойные баллы", "ru")),),
        links=(Link("terms", "https://example.com/terms", Text("Условия программы", "ru", {"en": "Terms"})),),
        notify_on_update=True)
    values.update(changes)
    return loyalty_object(LoyaltyObjectSpec(**values))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- the checker


def test_the_discovery_document_comes_from_the_installed_client_library() -> None:
    document = wallet_schema.discovery()
    assert document["name"] == "walletobjects" and document["version"] == "v1"
    assert "hexBackgroundColor" in document["schemas"]["LoyaltyClass"]["properties"]
    assert "hexBackgroundColor" not in document["schemas"]["LoyaltyObject"]["properties"]


def test_an_unknown_field_is_refused_with_googles_message() -> None:
    assert wallet_schema.problems("LoyaltyObject", {"id": f"{ISSUER}.x", "hexBackgroundColor": "#112233"}) == [
        'Invalid JSON payload received. Unknown name "hexBackgroundColor" at \'resource\': Cannot find field.']
    nested = {"textModulesData": [{"id": "a", "body": "b"}, {"id": "c", "colour": "red"}]}
    assert wallet_schema.problems("LoyaltyObject", nested) == [
        'Invalid JSON payload received. Unknown name "colour" at \'resource.text_modules_data[1]\': '
        "Cannot find field."]
    message = {"message": {"header": "h", "body": "b", "priority": 1}}
    assert wallet_schema.problems("AddMessageRequest", message, field="add_message_request") == [
        'Invalid JSON payload received. Unknown name "priority" at \'add_message_request.message\': '
        "Cannot find field."]


def test_a_wrong_enum_value_is_refused() -> None:
    assert wallet_schema.problems("LoyaltyObject", {"state": "ACTIV"}) == [
        "Invalid value at 'resource.state' (TYPE_ENUM), \"ACTIV\""]
    assert wallet_schema.problems("LoyaltyObject", {"barcode": {"type": "QR"}}) == [
        "Invalid value at 'resource.barcode.type' (TYPE_ENUM), \"QR\""]
    assert wallet_schema.problems("AddMessageRequest", {"message": {"messageType": "NOTIFY"}},
                                  field="add_message_request") == [
        "Invalid value at 'add_message_request.message.message_type' (TYPE_ENUM), \"NOTIFY\""]


@pytest.mark.parametrize(("body", "error"), [
    ({"accountName": 5}, "Invalid value at 'resource.account_name' (TYPE_STRING), 5"),
    ({"loyaltyPoints": {"balance": {"int": "many"}}},
     "Invalid value at 'resource.loyalty_points.balance.int' (TYPE_INT32), \"many\""),
    ({"loyaltyPoints": {"balance": {"int": 2**31}}},
     "Invalid value at 'resource.loyalty_points.balance.int' (TYPE_INT32), 2147483648"),
    ({"merchantLocations": [{"latitude": "north"}]},
     "Invalid value at 'resource.merchant_locations[0].latitude' (TYPE_DOUBLE), \"north\""),
    ({"hasUsers": "yes"}, "Invalid value at 'resource.has_users' (TYPE_BOOL), \"yes\""),
    ({"version": "v2"}, "Invalid value at 'resource.version' (TYPE_INT64), \"v2\""),
    ({"textModulesData": {"id": "a"}}, "Invalid value at 'resource.text_modules_data' (TYPE_ARRAY), {\"id\": \"a\"}"),
    ({"barcode": "QR"},
     "Invalid value at 'resource.barcode' (type.googleapis.com/google.walletobjects.v1.Barcode), \"QR\""),
])
def test_a_wrong_type_is_refused(body: dict[str, object], error: str) -> None:
    assert wallet_schema.problems("LoyaltyObject", body) == [error]


def test_what_googles_json_mapping_accepts_is_accepted() -> None:
    # 64-bit integers as a string or a number, 32-bit ones as a number or a decimal string,
    # doubles from ints, null for "not set", and a patch is any subset of the resource.
    for body in ({"version": "12"}, {"version": 12}, {"loyaltyPoints": {"balance": {"int": "7"}}},
                 {"merchantLocations": [{"latitude": 52, "longitude": 4.9}]}, {"heroImage": None},
                 {"loyaltyPoints": {"balance": {"int": 40}}}, {}):
        assert wallet_schema.problems("LoyaltyObject", body) == [], body


def test_googles_answer_names_every_violation() -> None:
    answer = wallet_schema.bad_request(wallet_schema.problems("LoyaltyObject", {"a": 1, "state": "x"}))["error"]
    assert answer["code"] == 400 and answer["status"] == "INVALID_ARGUMENT"
    assert [v["field"] for v in answer["details"][0]["fieldViolations"]] == ["resource", "resource.state"]


# ---------------------------------------------------------------------------- what we send


def test_our_object_class_and_message_are_what_google_takes() -> None:
    body = _object()
    assert wallet_schema.problems("LoyaltyObject", body) == []
    google_class = loyalty_class(LoyaltyClassSpec(
        class_id=f"{ISSUER}.program-1", issuer_name="Demo", program_name="Demo Rewards",
        logo_uri="https://example.com/logo.png", background_color="#112233",
        text_modules=(TextModule("terms", Text("Terms and conditions", "en", {"ru": "Условия программы"}), "T"),),
        links=(Link("terms", "https://example.com/terms", "Terms"),), callback_url="https://example.com/cb"))
    assert wallet_schema.problems("LoyaltyClass", google_class) == []
    message = loyalty_message("m-1", Text("Кофейня", "ru"), Text("Двойные баллы", "ru"), "TEXT_AND_NOTIFY")
    assert wallet_schema.problems("AddMessageRequest", {"message": message}, field="add_message_request") == []


def test_labels_and_texts_carry_every_translation_with_the_customers_language_first() -> None:
    body = _object()
    assert body["loyaltyPoints"]["label"] == "Баллы"
    assert body["loyaltyPoints"]["localizedLabel"] == {
        "defaultValue": {"language": "ru", "value": "Баллы"},
        "translatedValues": [{"language": "en", "value": "Points"}, {"language": "ru", "value": "Баллы"}]}
    news = body["textModulesData"][0]
    assert news["localizedHeader"]["translatedValues"] == [{"language": "en", "value": "News"},
                                                           {"language": "ru", "value": "Новости"}]
    assert news["localizedBody"] == {"defaultValue": {"language": "ru", "value": "Двойные баллы"},
                                     "translatedValues": [{"language": "ru", "value": "Двойные баллы"}]}
    assert body["secondaryLoyaltyPoints"]["localizedLabel"]["defaultValue"] == {"language": "ru", "value": "Уровень"}
    assert body["linksModuleData"]["uris"][0]["localizedDescription"]["defaultValue"]["language"] == "ru"
    message = loyalty_message("m-1", "Demo", Text("Привет", "ru"), "TEXT")
    assert message["localizedBody"]["translatedValues"] == [{"language": "ru", "value": "Привет"}]
    with pytest.raises(PassValidationError, match="messageType"):
        loyalty_message("m-1", "Demo", "Hi", "NOTIFY")
    with pytest.raises(PassValidationError, match="language"):
        _object(points_label=Text("Points", "english"))


def test_the_save_links_payload_is_what_google_takes() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = save_jwt({"client_email": "wallet@example.iam.gserviceaccount.com", "private_key": key},
                     [f"{ISSUER}.card-1"], ["https://shop.example.com"], issued_at=1_700_000_000)
    payload = jwt.decode(token, key.public_key(), algorithms=["RS256"], audience="google")["payload"]
    assert wallet_schema.save_payload_problems(payload) == []
    # a link embedding an object with a field Google does not know is refused the same way
    embedded = {"loyaltyObjects": [{**_object(), "hexBackgroundColor": "#112233"}]}
    assert wallet_schema.save_payload_problems(embedded) == [
        'Invalid JSON payload received. Unknown name "hexBackgroundColor" at \'payload.loyalty_objects[0]\': '
        "Cannot find field."]
