"""FCM HTTP v1 through pyfcm against the loopback OAuth + FCM double."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.push.fcm import FCM_SCOPE, FcmSender
from tests.doubles.fcm import GOOGLE_TOKEN_URI, JWT_BEARER_GRANT, FcmDouble, make_service_account

PASS_TYPE = "pass.test.passcast.loyalty"


@pytest.fixture(scope="module")
def service_account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_service_account(tmp_path_factory.mktemp("fcm-sa"))


@pytest.fixture
def fcm(service_account: Path) -> Iterator[FcmDouble]:
    with FcmDouble(service_account) as double:
        yield double


@pytest.fixture
def sender(service_account: Path, fcm: FcmDouble) -> Iterator[FcmSender]:
    with FcmSender(service_account, endpoint=fcm.url, token_uri=fcm.token_uri, max_workers=8) as s:
        yield s


def test_token_exchange_then_data_only_message(sender: FcmSender, fcm: FcmDouble, service_account: Path) -> None:
    # The file names Google's token endpoint: the exchange reaching the double proves
    # GOOGLE_TOKEN_URI (configuration) wins over the file.
    assert json.loads(service_account.read_text())["token_uri"] == GOOGLE_TOKEN_URI

    result = sender.send("device-token-1", PASS_TYPE)

    assert result.status == "accepted" and result.http_status == 200
    assert result.vendor_id is not None and result.vendor_id.startswith("projects/passcast-test/messages/")
    [exchange] = fcm.token_requests
    assert exchange.status == 200 and exchange.grant_type == JWT_BEARER_GRANT
    assert exchange.claims is not None
    assert exchange.claims["iss"] == fcm.client_email
    assert FCM_SCOPE in exchange.claims["scope"].split()
    [received] = fcm.messages
    assert received.project == "passcast-test"
    assert received.authorization.startswith("Bearer ya29.test-")
    assert received.message == {
        "token": "device-token-1",
        "data": {"passTypeIdentifier": PASS_TYPE},
        "android": {"priority": "high"},
    }  # data-only: no "notification" block
    assert received.validate_only is False


def test_batch_shares_one_access_token(sender: FcmSender, fcm: FcmDouble) -> None:
    tokens = [f"device-{n}" for n in range(24)]

    results = sender.send_batch(tokens, PASS_TYPE)

    assert [r.token for r in results] == tokens
    assert {r.status for r in results} == {"accepted"}
    assert len(fcm.token_requests) == 1
    assert len({m.authorization for m in fcm.messages}) == 1


def test_unregistered_token_is_reported_for_deletion(sender: FcmSender, fcm: FcmDouble) -> None:
    fcm.set_answer("gone", "unregistered")

    ok, gone = sender.send_batch(["alive", "gone"], PASS_TYPE)

    assert ok.status == "accepted"
    assert (gone.status, gone.http_status, gone.reason) == ("unregistered", 404, "UNREGISTERED")
    assert gone.drop_registration


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("quota", ("retry", 429, "QUOTA_EXCEEDED", 17.0)),
        ("unavailable", ("retry", 503, "UNAVAILABLE", 3.0)),
        ("invalid", ("failed", 400, "INVALID_ARGUMENT", None)),
        ("sender_mismatch", ("unreachable", 403, "SENDER_ID_MISMATCH", None)),
        ("sender_mismatch_info", ("unreachable", 403, "SENDER_ID_MISMATCH", None)),
    ],
)
def test_errors_are_mapped(
    sender: FcmSender, fcm: FcmDouble, kind: str, expected: tuple[str, int, str, float | None]
) -> None:
    fcm.set_answer("tok", kind)

    result = sender.send("tok", PASS_TYPE)

    assert (result.status, result.http_status, result.reason, result.retry_after) == expected
    assert len(fcm.messages) == 1  # one attempt: no blocking retry loop inside pyfcm


def test_expired_access_token_is_refreshed_and_the_push_resent(sender: FcmSender, fcm: FcmDouble) -> None:
    assert sender.send("a", PASS_TYPE).status == "accepted"
    fcm.expire_access_tokens()

    result = sender.send("b", PASS_TYPE)

    assert result.status == "accepted"
    assert len(fcm.token_requests) == 2
    assert [m.status for m in fcm.messages] == [200, 200]


def test_assertion_signed_by_another_key_fails_the_exchange(fcm: FcmDouble, tmp_path: Path) -> None:
    impostor = make_service_account(tmp_path, client_email=fcm.client_email)  # same name, other key
    with FcmSender(impostor, endpoint=fcm.url, token_uri=fcm.token_uri) as sender:
        result = sender.send("tok", PASS_TYPE)

    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("OAuth")
    assert [r.status for r in fcm.token_requests] == [400]
    assert fcm.messages == []


def test_unreachable_fcm_asks_for_a_retry(service_account: Path, fcm: FcmDouble) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with FcmSender(service_account, endpoint=f"http://127.0.0.1:{closed_port}", token_uri=fcm.token_uri) as sender:
        result = sender.send("tok", PASS_TYPE)

    assert result.status == "retry" and result.http_status is None
    assert result.retry_after is not None and result.retry_after > 0
