"""A cashier credential (own token or a till's PIN session) gets the counter view of a card:
the holder's name and what the counter needs, never contact details, birthday or pass links."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient

from tests.helpers import bearer
from tests.service.cashier.test_cashier_pin import PIN, sign_in, till  # noqa: F401 - `till` is a fixture

PERSONAL = ("email", "phone", "birthday", "apple_pass_url", "google_save_url", "google_wallet", "barcode_message",
            "serial_number")
HOLDER = {"name": "Anna Smith", "email": "anna.private@example.com", "phone": "+31 6 1234 5678",
          "birthday": "1990-04-17"}


def _issue(client: FlaskClient, seeded: dict[str, Any], name: str = "Anna Smith", n: int = 0) -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {**HOLDER, "name": name,
                                              "email": f"{n}.{HOLDER['email']}",
                                              "phone": f"{HOLDER['phone']}{n}"}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _secrets_of(card: dict[str, Any]) -> list[str]:
    """Every value of the full view a cashier must not see, the download key on its own too."""
    download_key = card["apple_pass_url"].rsplit("key=", 1)[-1].rsplit("/", 1)[-1]
    values = [card["customer"]["email"], card["customer"]["phone"], card["customer"]["birthday"],
              card["apple_pass_url"], download_key, card["barcode_message"], card["serial_number"]]
    if card["google_save_url"]:
        values.append(card["google_save_url"])
    return values


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for inner in value.values() for key in _keys(inner)}
    if isinstance(value, list):
        return {key for inner in value for key in _keys(inner)}
    return set()


def _assert_counter_view(response: Any, card: dict[str, Any]) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.get_json()
    body = response.get_json()
    text = response.get_data(as_text=True)
    assert not _keys(body) & set(PERSONAL), (sorted(_keys(body) & set(PERSONAL)), text)
    for secret in _secrets_of(card):
        assert secret not in text and json.dumps(secret)[1:-1] not in text, (secret, text)
    return body


def _cashier_credentials(client: FlaskClient, till: dict[str, Any]) -> dict[str, str]:  # noqa: F811
    signed_in = sign_in(client, till["till_key"], till["eva"]["id"], PIN)
    assert signed_in.status_code == 200, signed_in.get_json()
    return {"cashier token": till["cashier_token"], "PIN session": signed_in.get_json()["token"]}


def test_cashier_credentials_get_the_counter_view_everywhere(client: FlaskClient,
                                                             till: dict[str, Any]) -> None:  # noqa: F811
    card = _issue(client, till)
    for label, token in _cashier_credentials(client, till).items():
        got = _assert_counter_view(client.get(f"/api/v1/cards/{card['id']}", headers=bearer(token)), card)
        assert got["customer"] == {"id": card["customer"]["id"], "name": "Anna Smith"}, label
        full = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(till["api_key"])).get_json()
        for field in ("id", "number", "balance", "tier", "voided", "version"):
            assert got[field] == full[field], (label, field)
        assert "recent_transactions" in got and "balance_money" in got and "tier" in got

        scanned = _assert_counter_view(client.post("/api/v1/cashier/scan", headers=bearer(token),
                                                   json={"code": card["barcode_message"]}), card)
        assert scanned["customer"]["name"] == "Anna Smith", label

        answer = _assert_counter_view(client.post(
            f"/api/v1/cards/{card['id']}/transactions", json={"type": "purchase", "amount": "10.00"},
            headers={**bearer(token), "Idempotency-Key": f"view-{label}"}), card)
        assert answer["balance"] > full["balance"]
        _assert_counter_view(client.get(f"/api/v1/cards/{card['id']}/transactions", headers=bearer(token)), card)
        _assert_counter_view(client.get(f"/api/v1/cards/{card['id']}/referral", headers=bearer(token)), card)
        _assert_counter_view(client.get(f"/cashier/cards/{card['id']}/push", headers=bearer(token)), card)


def test_cashiers_walking_sequential_ids_learn_no_personal_data(client: FlaskClient,
                                                                till: dict[str, Any]) -> None:  # noqa: F811
    cards = [_issue(client, till, name=f"Holder {n}", n=n) for n in range(3)]
    for token in _cashier_credentials(client, till).values():
        for card in cards:  # never scanned by this cashier: looked up by id alone
            got = _assert_counter_view(client.get(f"/api/v1/cards/{card['id']}", headers=bearer(token)), card)
            assert set(got["customer"]) == {"id", "name"}


def test_a_brand_key_still_gets_the_full_card(client: FlaskClient, till: dict[str, Any]) -> None:  # noqa: F811
    card = _issue(client, till)
    got = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(till["api_key"])).get_json()
    assert got["customer"]["email"] == card["customer"]["email"]
    assert (got["customer"]["phone"], got["customer"]["birthday"]) == (HOLDER["phone"] + "0", HOLDER["birthday"])
    assert got["apple_pass_url"] == card["apple_pass_url"] and got["barcode_message"] == card["barcode_message"]
    assert "google_save_url" in got and got["google_wallet"] is not None
    assert client.get(got["apple_pass_url"].split("8000", 1)[-1]).status_code == 200
