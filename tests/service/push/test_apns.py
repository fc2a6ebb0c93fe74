"""APNs provider against the loopback HTTP/2 double: real TLS, real h2, real auth checks."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.push.apns import (
    ApnsSender,
    CertificateCredentials,
    ProviderToken,
    TokenCredentials,
    build_ssl_context,
    map_response,
)
from tests.doubles.apns import NOT_EMPTY_PAYLOAD, ApnsDouble
from tests.doubles.pki import Pki, make_pki, make_untrusted_client_cert

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def hex_token(n: int) -> str:
    return f"{n:064x}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("apns-pki"))


@pytest.fixture(scope="module")
def apns_server(pki: Pki) -> Iterator[ApnsDouble]:
    with ApnsDouble(
        pki.server_cert,
        pki.server_key,
        topic=pki.topic,
        client_ca=pki.ca_cert,
        token_public_key=pki.token_public_key,
        key_id=pki.key_id,
        team_id=pki.team_id,
    ) as double:
        yield double


@pytest.fixture
def apns(apns_server: ApnsDouble) -> ApnsDouble:
    apns_server.reset()
    return apns_server


def cert_credentials(pki: Pki) -> CertificateCredentials:
    return CertificateCredentials(str(pki.client_cert), str(pki.client_key))


def token_credentials(pki: Pki, **overrides: str) -> TokenCredentials:
    values = {"key_file": str(pki.token_key), "key_id": pki.key_id, "team_id": pki.team_id, **overrides}
    return TokenCredentials(**values)


@pytest.fixture
def cert_sender(pki: Pki, apns: ApnsDouble) -> Iterator[ApnsSender]:
    with ApnsSender(cert_credentials(pki), endpoint=apns.url, ca_file=pki.ca_cert) as sender:
        yield sender


@pytest.fixture
def token_sender(pki: Pki, apns: ApnsDouble) -> Iterator[ApnsSender]:
    with ApnsSender(token_credentials(pki), endpoint=apns.url, ca_file=pki.ca_cert) as sender:
        yield sender


# --- authentication ------------------------------------------------------------------------


def test_certificate_auth_push_is_accepted_with_the_pass_update_shape(
    cert_sender: ApnsSender, apns: ApnsDouble, pki: Pki
) -> None:
    [result] = cert_sender.send_batch([hex_token(1)], pki.topic)

    assert result.status == "accepted"
    assert result.http_status == 200
    [request] = apns.requests
    assert result.vendor_id and len(result.vendor_id) == 36  # the apns-id the double sent
    assert request.auth == "certificate"
    assert request.method == "POST"
    assert request.path == f"/3/device/{hex_token(1)}"
    assert request.topic == pki.topic
    assert request.body == b"{}"
    # Deliberate: Wallet documents no push type for passes, and priority defaults to 10.
    assert "apns-push-type" not in request.headers
    assert "apns-priority" not in request.headers
    assert "authorization" not in request.headers


def test_token_auth_push_is_accepted_with_an_es256_provider_token(
    token_sender: ApnsSender, apns: ApnsDouble, pki: Pki
) -> None:
    [result] = token_sender.send_batch([hex_token(2)], pki.topic)

    assert result.status == "accepted"
    [request] = apns.requests
    assert request.auth == "token"
    scheme, provider_token = request.headers["authorization"].split(" ")
    assert scheme == "bearer"
    header = jwt.get_unverified_header(provider_token)
    assert header["alg"] == "ES256" and header["kid"] == pki.key_id
    public_key = serialization.load_pem_public_key(pki.token_public_key.read_bytes())
    claims = jwt.decode(provider_token, public_key, algorithms=["ES256"])  # type: ignore[arg-type]
    assert claims["iss"] == pki.team_id
    assert abs(claims["iat"] - time.time()) < 60


def test_provider_token_is_reused_across_batches(token_sender: ApnsSender, apns: ApnsDouble, pki: Pki) -> None:
    first = token_sender.send_batch([hex_token(n) for n in range(5)], pki.topic)
    jwt_after_first = token_sender.provider_token
    second = token_sender.send_batch([hex_token(n) for n in range(5, 10)], pki.topic)

    assert {r.status for r in first + second} == {"accepted"}
    assert token_sender.provider_token == jwt_after_first
    assert apns.provider_tokens == [jwt_after_first]
    assert {r.headers["authorization"] for r in apns.requests} == {f"bearer {jwt_after_first}"}
    assert token_sender.client.provider_token is not None
    assert token_sender.client.provider_token.minted == 1


def test_provider_token_is_replaced_after_forty_minutes(pki: Pki, apns: ApnsDouble) -> None:
    now = {"t": time.time() - 45 * 60}
    with ApnsSender(token_credentials(pki), endpoint=apns.url, ca_file=pki.ca_cert, clock=lambda: now["t"]) as sender:
        early = sender.send_batch([hex_token(1)], pki.topic)
        now["t"] = time.time()  # 45 minutes later: past the 40-minute refresh point
        late = sender.send_batch([hex_token(2)], pki.topic)

    assert [r.status for r in early + late] == ["accepted", "accepted"]
    assert len(apns.provider_tokens) == 2
    assert len({r.connection_id for r in apns.requests}) == 1  # new token, same connection


def test_expired_provider_token_is_reminted_once_then_reported(pki: Pki, apns: ApnsDouble) -> None:
    seventy_minutes_ago = time.time() - 70 * 60  # a provider clock an hour behind Apple's
    with ApnsSender(
        token_credentials(pki), endpoint=apns.url, ca_file=pki.ca_cert, clock=lambda: seventy_minutes_ago
    ) as sender:
        [result] = sender.send_batch([hex_token(3)], pki.topic)

    assert (result.status, result.http_status, result.reason) == ("failed", 403, "ExpiredProviderToken")
    assert len(apns.requests) == 2  # the original and exactly one retry with a fresh token
    assert len(apns.provider_tokens) == 2


@pytest.mark.parametrize("what", ["foreign key", "wrong key id", "wrong team"])
def test_bad_provider_token_is_rejected(pki: Pki, apns: ApnsDouble, tmp_path: Path, what: str) -> None:
    overrides: dict[str, str] = {}
    if what == "foreign key":
        foreign = tmp_path / "AuthKey_OTHER.p8"
        foreign.write_bytes(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        overrides["key_file"] = str(foreign)
    elif what == "wrong key id":
        overrides["key_id"] = "NOTOURKEY1"
    else:
        overrides["team_id"] = "OTHERTEAM1"
    with ApnsSender(token_credentials(pki, **overrides), endpoint=apns.url, ca_file=pki.ca_cert) as sender:
        [result] = sender.send_batch([hex_token(4)], pki.topic)

    assert (result.status, result.http_status, result.reason) == ("failed", 403, "InvalidProviderToken")
    assert apns.provider_tokens == []


def test_request_without_client_certificate_or_token_is_rejected(pki: Pki, apns: ApnsDouble) -> None:
    """A TLS connection with no client certificate is allowed (token auth shares the
    endpoint), but a push on it without a provider token is refused, as at APNs."""
    context = build_ssl_context(token_credentials(pki), pki.ca_cert)  # trusts the CA, presents no cert
    with httpx.Client(http2=True, http1=False, verify=context) as client:
        response = client.post(f"{apns.url}/3/device/{hex_token(5)}", content=b"{}", headers={"apns-topic": pki.topic})

    result = map_response(hex_token(5), response)
    assert (result.status, result.http_status, result.reason) == ("failed", 403, "MissingProviderToken")
    assert apns.requests[0].auth == "none"


def test_client_certificate_from_an_untrusted_ca_is_refused(pki: Pki, apns: ApnsDouble, tmp_path: Path) -> None:
    rogue_cert, rogue_key = make_untrusted_client_cert(tmp_path, topic=pki.topic)
    with ApnsSender(
        CertificateCredentials(str(rogue_cert), str(rogue_key)), endpoint=apns.url, ca_file=pki.ca_cert
    ) as sender:
        [result] = sender.send_batch([hex_token(6)], pki.topic)

    assert result.status != "accepted"
    assert result.http_status is None  # the TLS handshake failed: no HTTP answer at all
    assert apns.requests == []


def test_server_outside_the_configured_ca_is_refused(pki: Pki, apns: ApnsDouble) -> None:
    with ApnsSender(cert_credentials(pki), endpoint=apns.url) as sender:  # no APNS_CA_FILE
        [result] = sender.send_batch([hex_token(7)], pki.topic)

    assert result.status == "failed"
    assert result.reason is not None and "CERTIFICATE_VERIFY_FAILED" in result.reason


def test_wrong_topic_is_rejected(cert_sender: ApnsSender, apns: ApnsDouble) -> None:
    [result] = cert_sender.send_batch([hex_token(8)], "pass.someone.else")

    assert (result.status, result.http_status, result.reason) == ("failed", 400, "TopicDisallowed")
    assert result.drop_registration is False  # our configuration is wrong, not the token


def test_token_that_is_not_hex_is_refused_without_a_request(cert_sender: ApnsSender, apns: ApnsDouble) -> None:
    [result] = cert_sender.send_batch(["../../3/device/evil"], "pass.x")

    assert (result.status, result.reason) == ("failed", "BadDeviceToken")
    assert apns.requests == []


# --- answers -------------------------------------------------------------------------------


def test_answers_are_mapped_per_token_in_order(cert_sender: ApnsSender, apns: ApnsDouble, pki: Pki) -> None:
    kinds = ["ok", "bad_token", "unregistered", "too_many", "forbidden", "server_error", "unavailable"]
    tokens = [hex_token(100 + i) for i in range(len(kinds))]
    for token, kind in zip(tokens, kinds, strict=True):
        apns.set_answer(token, kind)

    results = cert_sender.send_batch(tokens, pki.topic)

    assert [r.token for r in results] == tokens
    got = [(r.status, r.http_status, r.reason) for r in results]
    assert got == [
        ("accepted", 200, None),
        ("failed", 400, "BadDeviceToken"),
        ("unregistered", 410, "Unregistered"),
        ("retry", 429, "TooManyRequests"),
        ("failed", 403, "InvalidProviderToken"),
        ("retry", 500, "InternalServerError"),
        ("retry", 503, "ServiceUnavailable"),
    ]
    assert [r.drop_registration for r in results] == [False, True, True, False, False, False, False]
    unregistered = results[2]
    assert unregistered.unregistered_at is not None and abs(unregistered.unregistered_at - time.time()) < 60
    for retry in (results[3], results[5], results[6]):
        assert retry.retry_after is not None and retry.retry_after > 0
    assert results[3].retry_after >= 15  # type: ignore[operator]  # per-device throttling backs off longer


def test_retry_back_off_grows_with_the_attempt(cert_sender: ApnsSender, apns: ApnsDouble, pki: Pki) -> None:
    apns.set_answer(hex_token(9), "unavailable")

    first = cert_sender.send_batch([hex_token(9)], pki.topic, attempt=0)[0].retry_after
    fifth = cert_sender.send_batch([hex_token(9)], pki.topic, attempt=4)[0].retry_after

    assert first is not None and fifth is not None
    assert 2.5 <= first <= 5 and 40 <= fifth <= 80


def test_double_insists_on_the_empty_dictionary_payload(pki: Pki, apns: ApnsDouble) -> None:
    context = build_ssl_context(cert_credentials(pki), pki.ca_cert)
    with httpx.Client(http2=True, http1=False, verify=context) as client:
        response = client.post(
            f"{apns.url}/3/device/{hex_token(10)}",
            content=b'{"aps":{"alert":"hi"}}',
            headers={"apns-topic": pki.topic},
        )

    assert response.status_code == 400
    assert response.json()["reason"] == NOT_EMPTY_PAYLOAD


def test_double_honours_flow_control_in_both_directions(pki: Pki, apns: ApnsDouble) -> None:
    """Request bodies beyond the 64 KiB connection window need the double's WINDOW_UPDATEs;
    responses to a client advertising an 8-byte window must wait for the client's."""
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    context.set_alpn_protocols(["h2"])
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.local_settings = h2.settings.Settings(
        client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 8}
    )
    body = b"x" * 4000  # 20 of them: 80,000 bytes > 65,535
    unsent = {}
    responses: dict[int, dict[str, bytes]] = {}
    finished: set[int] = set()
    with context.wrap_socket(socket.create_connection(("127.0.0.1", apns.port)), server_hostname="127.0.0.1") as tls:
        tls.settimeout(10)
        conn.initiate_connection()
        for n in range(20):
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(
                stream_id,
                [
                    (b":method", b"POST"),
                    (b":scheme", b"https"),
                    (b":authority", b"127.0.0.1"),
                    (b":path", f"/3/device/{hex_token(n)}".encode()),
                    (b"apns-topic", pki.topic.encode()),
                ],  # fmt: skip
            )
            unsent[stream_id] = body
            responses[stream_id] = {"body": b""}
        while len(finished) < 20:
            for stream_id, rest in list(unsent.items()):
                room = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
                if room > 0:
                    conn.send_data(stream_id, rest[:room], end_stream=len(rest) <= room)
                    unsent[stream_id] = rest[room:]
                    if not unsent[stream_id]:
                        del unsent[stream_id]
            tls.sendall(conn.data_to_send())
            for event in conn.receive_data(tls.recv(65536)):
                if isinstance(event, h2.events.ResponseReceived):
                    responses[event.stream_id]["status"] = dict(event.headers)[b":status"]
                elif isinstance(event, h2.events.DataReceived):
                    responses[event.stream_id]["body"] += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    finished.add(event.stream_id)
            tls.sendall(conn.data_to_send())

    assert {r["status"] for r in responses.values()} == {b"400"}
    assert {json.loads(r["body"])["reason"] for r in responses.values()} == {NOT_EMPTY_PAYLOAD}
    assert sum(len(r.body) for r in apns.requests) == 80_000


# --- connection reuse ----------------------------------------------------------------------


def test_two_hundred_pushes_travel_on_one_connection(cert_sender: ApnsSender, apns: ApnsDouble, pki: Pki) -> None:
    connections_before = len(apns.connection_ids)

    results = cert_sender.send_batch([hex_token(1000 + n) for n in range(200)], pki.topic)

    assert [r.status for r in results] == ["accepted"] * 200
    requests = apns.requests
    assert len(requests) == 200
    assert len({r.connection_id for r in requests}) == 1
    assert len(apns.connection_ids) == connections_before + 1
    assert len({r.stream_id for r in requests}) == 200  # one stream per push


def test_token_auth_connection_is_reused_across_batches(token_sender: ApnsSender, apns: ApnsDouble, pki: Pki) -> None:
    for batch in range(3):
        results = token_sender.send_batch([hex_token(2000 + batch * 50 + n) for n in range(50)], pki.topic)
        assert {r.status for r in results} == {"accepted"}

    assert len({r.connection_id for r in apns.requests}) == 1


def test_sender_reconnects_after_goaway(cert_sender: ApnsSender, apns: ApnsDouble, pki: Pki) -> None:
    cert_sender.send_batch([hex_token(1)], pki.topic)
    apns.goaway_all()
    time.sleep(0.05)

    [result] = cert_sender.send_batch([hex_token(2)], pki.topic)

    assert result.status == "accepted"
    first, second = apns.requests
    assert first.connection_id != second.connection_id


def test_goaway_in_the_middle_of_a_batch_resends_only_the_unprocessed_streams(
    cert_sender: ApnsSender, apns: ApnsDouble, pki: Pki
) -> None:
    """APNs sheds connections with GOAWAY(last_stream_id): streams above it were never
    processed and must go again on a new connection; the ones below must not."""
    tokens = [hex_token(5000 + n) for n in range(60)]
    apns.goaway_after(25)

    results = cert_sender.send_batch(tokens, pki.topic)

    assert [r.status for r in results] == ["accepted"] * 60
    requests = apns.requests
    assert sorted(r.token for r in requests) == sorted(tokens)  # each token answered exactly once
    first, *others = sorted({r.connection_id for r in requests})
    assert others, "the unprocessed streams went on a new connection"
    assert sum(1 for r in requests if r.connection_id == first) == 25


def test_a_request_without_an_answer_times_out_as_retry_and_the_rest_go_through(
    pki: Pki, apns: ApnsDouble
) -> None:
    silent, fine = hex_token(6001), [hex_token(6002 + n) for n in range(5)]
    apns.set_answer(silent, "hang")
    with ApnsSender(cert_credentials(pki), endpoint=apns.url, ca_file=pki.ca_cert, timeout=0.5) as sender:
        started = time.monotonic()
        first, *rest = sender.send_batch([silent, *fine], pki.topic)
        waited = time.monotonic() - started
        assert first.status == "retry" and "RequestTimeout" in (first.reason or "")
        assert first.retry_after is not None and first.retry_after > 0
        assert [r.status for r in rest] == ["accepted"] * 5
        assert 0.4 < waited < 5
        # the connection survived the abandoned stream
        [again] = sender.send_batch([hex_token(6100)], pki.topic)
        assert again.status == "accepted"
    assert len({r.connection_id for r in apns.requests}) == 1


def test_shared_sender_is_one_per_credential(pki: Pki, apns: ApnsDouble) -> None:
    try:
        a = ApnsSender.shared(cert_credentials(pki), endpoint=apns.url, ca_file=str(pki.ca_cert))
        b = ApnsSender.shared(cert_credentials(pki), endpoint=apns.url, ca_file=str(pki.ca_cert))
        c = ApnsSender.shared(token_credentials(pki), endpoint=apns.url, ca_file=str(pki.ca_cert))
        assert a is b and a is not c
    finally:
        ApnsSender.close_shared()


def test_provider_token_refresh_window_is_enforced(pki: Pki) -> None:
    with pytest.raises(ValueError):
        ProviderToken(token_credentials(pki), refresh_after=5 * 60)
    with pytest.raises(ValueError):
        ProviderToken(token_credentials(pki), refresh_after=90 * 60)


# --- the double as a separate process (what the benchmark runs) ---------------------------


def test_double_runs_as_its_own_process(pki: Pki) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.doubles.apns",
            "--port",
            "0",
            "--cert",
            str(pki.server_cert),
            "--key",
            str(pki.server_key),
            "--client-ca",
            str(pki.ca_cert),
            "--token-key",
            str(pki.token_public_key),
            "--key-id",
            pki.key_id,
            "--team-id",
            pki.team_id,
            "--topic",
            pki.topic,
            "--answer",
            f"{hex_token(3)}=unregistered",
        ],  # fmt: skip
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with ApnsSender(token_credentials(pki), endpoint=f"https://127.0.0.1:{port}", ca_file=pki.ca_cert) as sender:
            results = sender.send_batch([hex_token(n) for n in range(1, 51)], pki.topic)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)

    assert [r.status for r in results].count("accepted") == 49
    assert results[2].status == "unregistered"
    summary = json.loads(stderr.strip().splitlines()[-1])
    assert summary["requests"] == 50 and summary["connections"] == 1
    assert summary["statuses"] == {"200": 49, "410": 1}
