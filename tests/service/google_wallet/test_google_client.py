"""The Wallet REST client against the loopback Google: auth, Google's 404/409/429, ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from passes.errors import PassValidationError
from service.google_wallet.client import (
    AlreadyExists,
    GoogleWalletError,
    NotFound,
    QuotaExceeded,
    Unavailable,
    WalletClient,
)
from tests.doubles.fcm import make_service_account
from tests.doubles.google import GoogleWalletDouble

ISSUER = "3388000000022999999"
CLASS = {"id": f"{ISSUER}.program-1", "issuerName": "Demo", "programName": "Demo Rewards",
         "reviewStatus": "UNDER_REVIEW"}
OBJECT = {"id": f"{ISSUER}.card-1", "classId": f"{ISSUER}.program-1", "state": "ACTIVE",
          "loyaltyPoints": {"label": "Points", "balance": {"int": 0}}}


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_service_account(tmp_path_factory.mktemp("wallet-client"), project_id="wallet-client",
                                client_email="client@wallet-client.iam.gserviceaccount.com")


@pytest.fixture
def google(account: Path) -> Iterator[GoogleWalletDouble]:
    with GoogleWalletDouble(account, ISSUER) as double:
        yield double


def _client(account: Path, google: GoogleWalletDouble) -> WalletClient:
    return WalletClient(json.loads(account.read_text()), api_base=google.api_base, token_uri=google.token_uri,
                        timeout=5)


def test_insert_get_patch_and_googles_errors(account: Path, google: GoogleWalletDouble) -> None:
    client = _client(account, google)
    with pytest.raises(NotFound):  # an object needs its class
        client.insert_object(OBJECT)
    client.insert_class(CLASS)
    with pytest.raises(AlreadyExists) as duplicate:
        client.insert_class(CLASS)
    assert duplicate.value.status == 409 and duplicate.value.reason == "duplicate"
    client.insert_object(OBJECT)
    assert client.get_object(OBJECT["id"])["loyaltyPoints"]["balance"] == {"int": 0}
    client.patch_object(OBJECT["id"], {"loyaltyPoints": {"label": "Points", "balance": {"int": 7}}})
    assert google.objects[OBJECT["id"]]["loyaltyPoints"]["balance"] == {"int": 7}
    with pytest.raises(NotFound):
        client.get_object(f"{ISSUER}.card-2")
    with pytest.raises(NotFound):
        client.patch_class(f"{ISSUER}.program-2", {"programName": "x"})
    with pytest.raises(PassValidationError):  # refused before anything is sent
        client.get_object("card-1")
    # one token for all of it
    assert len(google.token_requests) == 1
    assert google.token_requests[0]["scope"] == "https://www.googleapis.com/auth/wallet_object.issuer"


def test_the_fourth_notifying_message_in_a_day_is_429(account: Path, google: GoogleWalletDouble) -> None:
    client = _client(account, google)
    client.insert_class(CLASS)
    client.insert_object(OBJECT)
    for n in range(3):
        client.add_message(OBJECT["id"], {"id": f"m{n}", "header": "h", "body": "b", "messageType": "TEXT_AND_NOTIFY"})
    with pytest.raises(QuotaExceeded) as refused:
        client.add_message(OBJECT["id"], {"id": "m3", "header": "h", "body": "b", "messageType": "TEXT_AND_NOTIFY"})
    assert refused.value.status == 429 and refused.value.reason == "QuotaExceeded"
    client.add_message(OBJECT["id"], {"id": "m4", "header": "h", "body": "b", "messageType": "TEXT"})
    google.advance(24 * 3600 + 1)
    client.add_message(OBJECT["id"], {"id": "m5", "header": "h", "body": "b", "messageType": "TEXT_AND_NOTIFY"})
    assert [m["id"] for m in google.objects[OBJECT["id"]]["messages"]] == ["m0", "m1", "m2", "m4", "m5"]


def test_the_double_checks_ids_issuer_and_token(account: Path, google: GoogleWalletDouble,
                                                tmp_path: Path) -> None:
    client = _client(account, google)
    client.insert_class(CLASS)  # obtains a token
    token = next(iter(google._issued))
    with httpx.Client() as http:
        auth = {"Authorization": f"Bearer {token}"}
        bad_id = http.post(google.api_base + "/loyaltyClass", json={**CLASS, "id": "program-9"}, headers=auth)
        assert bad_id.status_code == 400
        other_issuer = http.post(google.api_base + "/loyaltyClass", json={**CLASS, "id": "123.program-9"},
                                 headers=auth)
        assert other_issuer.status_code == 403
        assert http.get(google.api_base + f"/loyaltyClass/{CLASS['id']}").status_code == 401
    # A key Google does not know for this account gets no token.
    stranger = make_service_account(tmp_path, project_id="wallet-client",
                                    client_email="client@wallet-client.iam.gserviceaccount.com")
    with pytest.raises(GoogleWalletError) as refused:
        _client(stranger, google).get_class(CLASS["id"])
    assert refused.value.status == 401 and not isinstance(refused.value, Unavailable)
    assert google.token_requests[-1] is None
