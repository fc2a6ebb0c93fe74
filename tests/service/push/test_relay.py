"""WalletPasses-style relay client against the loopback relay double."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from service.push.relay import RelaySender
from service.push.results import parse_retry_after
from service.push.wallet_apps import APPS
from tests.doubles.relay import RelayDouble

PASS_TYPE = "pass.test.passcast.loyalty"
API_KEY = "wp-test-key-0123456789"


@pytest.fixture
def relay() -> Iterator[RelayDouble]:
    with RelayDouble(api_key=API_KEY) as double:
        yield double


@pytest.fixture
def sender(relay: RelayDouble) -> Iterator[RelaySender]:
    with RelaySender(relay.url, api_key=API_KEY) as s:
        yield s


def test_payload_shape_and_raw_api_key(sender: RelaySender, relay: RelayDouble) -> None:
    results = sender.send_batch(["fcm-a", "fcm-b", "fcm-c"], PASS_TYPE)

    assert [(r.token, r.status, r.http_status) for r in results] == [
        ("fcm-a", "accepted", 200),
        ("fcm-b", "accepted", 200),
        ("fcm-c", "accepted", 200),
    ]
    [request] = relay.requests
    assert request.path == "/api/v1/push"
    assert json.loads(request.body) == {"passTypeIdentifier": PASS_TYPE, "pushTokens": ["fcm-a", "fcm-b", "fcm-c"]}
    assert request.headers["authorization"] == API_KEY  # the key itself, no "Bearer"
    assert request.headers["content-type"] == "application/json"


def test_large_batches_go_in_chunks(relay: RelayDouble) -> None:
    tokens = [f"t{n}" for n in range(120)]
    with RelaySender(relay.url, api_key=API_KEY, chunk_size=50) as sender:
        results = sender.send_batch(tokens, PASS_TYPE)

    assert [r.token for r in results] == tokens
    assert [len(r.json["pushTokens"]) for r in relay.requests] == [50, 50, 20]


def test_tokens_the_relay_reports_dead_are_unregistered(sender: RelaySender, relay: RelayDouble) -> None:
    relay.expired_tokens = {"old"}

    new, old = sender.send_batch(["new", "old"], PASS_TYPE)

    assert new.status == "accepted"
    assert (old.status, old.reason) == ("unregistered", "expired_push_tokens")
    assert old.drop_registration


def test_passworks_style_gcm_results_are_understood(sender: RelaySender, relay: RelayDouble) -> None:
    gcm_answer = {"success": 1, "failure": 1, "results": [{"message_id": "0:1"}, {"error": "NotRegistered"}]}
    relay.respond_with(200, gcm_answer)

    ok, gone = sender.send_batch(["x", "y"], PASS_TYPE)

    assert ok.status == "accepted"
    assert (gone.status, gone.reason) == ("unregistered", "NotRegistered")


def test_wrong_api_key_fails_every_token(relay: RelayDouble) -> None:
    with RelaySender(relay.url, api_key="not-the-key") as sender:
        results = sender.send_batch(["a", "b"], PASS_TYPE)

    assert {(r.status, r.http_status, r.reason) for r in results} == {("failed", 401, "Unauthorized")}


def test_throttling_honours_retry_after(sender: RelaySender, relay: RelayDouble) -> None:
    relay.respond_with(429, {"error": "slow down"}, {"Retry-After": "30"})

    results = sender.send_batch(["a", "b"], PASS_TYPE)

    assert {(r.status, r.http_status, r.retry_after) for r in results} == {("retry", 429, 30.0)}


def test_relay_outage_asks_for_a_retry(sender: RelaySender, relay: RelayDouble) -> None:
    relay.respond_with(503)

    [result] = sender.send_batch(["a"], PASS_TYPE)

    assert (result.status, result.http_status) == ("retry", 503)
    assert result.retry_after is not None and result.retry_after > 0


def test_unreachable_relay_asks_for_a_retry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with RelaySender(f"http://127.0.0.1:{closed_port}/api/v1/push") as sender:
        [result] = sender.send_batch(["a"], PASS_TYPE)

    assert result.status == "retry" and result.http_status is None


def test_retry_after_accepts_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert parse_retry_after("12") == 12
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_walletunion_chunks_at_its_documented_maxima_and_flags_hms() -> None:
    with RelayDouble(api_key=API_KEY, app="walletunion") as union:
        with RelaySender(union.url, api_key=API_KEY, app=APPS["walletunion"]) as google:
            assert {r.status for r in google.send_batch([f"g{n}" for n in range(120)], PASS_TYPE)} == {"accepted"}
        with RelaySender(union.url, api_key=API_KEY, app=APPS["walletunion-hms"]) as huawei:
            assert {r.status for r in huawei.send_batch([f"h{n}" for n in range(120)], PASS_TYPE)} == {"accepted"}
        sizes = [(len(r.json["pushTokens"]), r.json["hms"]) for r in union.requests]
    assert sizes == [(50, False), (50, False), (20, False), (120, True)]


def test_walletunion_unknown_tokens_are_unreachable_and_fcm_failed_is_retried(relay: RelayDouble) -> None:
    relay.respond_with(200, {"status": "FCM_FAILED", "unknown_push_tokens": ["u"], "expired_push_tokens": []})
    with RelaySender(relay.url, api_key=API_KEY, app=APPS["walletunion"]) as sender:
        unknown, other = sender.send_batch(["u", "o"], PASS_TYPE)
    assert (unknown.status, unknown.reason) == ("unreachable", "unknown_push_tokens")
    assert (other.status, other.reason) == ("retry", "FCM_FAILED") and other.retry_after is not None


def test_passworks_gcm_mismatch_is_unreachable(relay: RelayDouble) -> None:
    relay.respond_with(200, {"results": [{"error": "MismatchSenderId"}, {"error": "Unavailable"}]})
    with RelaySender(relay.url, api_key=API_KEY) as sender:
        foreign, busy = sender.send_batch(["f", "b"], PASS_TYPE)
    assert (foreign.status, foreign.reason) == ("unreachable", "MismatchSenderId")
    assert busy.status == "retry"
