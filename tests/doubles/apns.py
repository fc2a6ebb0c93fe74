"""A loopback APNs: HTTP/2 over TLS with the `h2` library, speaking the provider API.

It checks what Apple checks for a pass-update push (POST /3/device/<hex token>,
apns-topic, provider authentication by client certificate or ES256 JWT) plus the one
thing Wallet needs that APNs does not enforce (payload exactly `{}`), records every
request with the id of the TCP connection it came on (so tests can prove connection
reuse), and answers each token from a programmable table.

Like APNs it accepts TLS connections without a client certificate (token auth shares the
endpoint) and, on such a connection, advertises SETTINGS_MAX_CONCURRENT_STREAMS = 1 until
a request carries a valid provider token, then raises it to 1000.

Run in-process (a background thread with its own event loop):

    with ApnsDouble(pki.server_cert, pki.server_key, client_ca=pki.ca_cert, ...) as apns:
        ... apns.url, apns.requests, apns.connection_ids ...

or as its own process, e.g. for a benchmark:

    python -m tests.doubles.apns --port 0 --cert server.pem --key server.key \
        [--client-ca ca.pem] [--token-key pub.pem --key-id K --team-id T] [--topic pass.x]

which prints the port on stdout, serves until SIGTERM/SIGINT and then prints a JSON
summary (requests, connections, statuses) on stderr. With `--forward-port 0` it also prints a
second port, where simulated phones connect to receive the token of every accepted push, one
line each (`Forwarder`; bench/campaign_storm.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import ssl
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import jwt
from cryptography.hazmat.primitives import serialization
from hpack import NeverIndexedHeaderTuple

#: Named answers for the per-token table: kind -> (HTTP status, APNs reason).
ANSWERS: dict[str, tuple[int, str | None]] = {
    "ok": (200, None),
    "bad_token": (400, "BadDeviceToken"),
    "unregistered": (410, "Unregistered"),
    "too_many": (429, "TooManyRequests"),
    "forbidden": (403, "InvalidProviderToken"),
    "server_error": (500, "InternalServerError"),
    "unavailable": (503, "ServiceUnavailable"),
}

#: A per-token "answer" that is no answer: the request is left hanging.
HANG = "hang"
#: Apple rejects provider tokens whose iat is more than an hour old.
TOKEN_MAX_AGE = 3600
#: What APNs advertises once a connection is authenticated.
AUTHENTICATED_MAX_STREAMS = 1000
#: Answers written per socket write, at most. APNs answers each stream as it is processed;
#: holding every answer of a read (up to 256 KB of requests, a thousand streams) until the
#: last one was made turned a benchmark into client and double taking turns.
FLUSH_EVERY_ANSWERS = 16
#: The reason this double gives when the body is not the empty dictionary Wallet expects.
#: (Real APNs would accept the push, and Wallet would then ignore it: bug #7 in
#: wallet-protocols.md, which is why the double is stricter than Apple here.)
NOT_EMPTY_PAYLOAD = "PassPayloadNotEmptyDictionary"

_PATH = re.compile(rb"^/3/device/([^/?#]*)$")
_HEX = re.compile(rb"^[0-9a-fA-F]+$")
_PUSH_TYPES = {
    b"alert", b"background", b"location", b"voip", b"complication", b"fileprovider",
    b"mdm", b"liveactivity", b"pushtotalk",
}  # fmt: skip
_USER_ID_OID = "userId"


@dataclass(frozen=True, slots=True)
class ReceivedPush:
    """One request as the double saw it, and what it answered."""

    connection_id: int
    stream_id: int
    method: str
    path: str
    token: str | None
    topic: str | None
    headers: dict[str, str]
    body: bytes
    auth: str  # "certificate", "token" or "none"
    status: int
    reason: str | None
    received_at: float


class _Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Stream:
    __slots__ = ("headers", "body")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.headers = headers
        self.body = bytearray()


class _Connection(asyncio.Protocol):
    """One client connection: feeds bytes to h2, answers every completed stream at once."""

    def __init__(self, double: ApnsDouble) -> None:
        self.double = double
        self.transport: asyncio.Transport | None = None
        self.id = 0
        self.conn: h2.connection.H2Connection | None = None
        self.streams: dict[int, _Stream] = {}
        self.pending: dict[int, bytes] = {}  # response bodies waiting for flow-control window
        self.cert_auth = False
        self.cert_topic: str | None = None
        self.stream_limit_raised = False
        self.good_tokens: dict[bytes, float] = {}  # provider JWT -> iat, verified once
        self.going_away = False  # GOAWAY sent: later streams are left unprocessed

    # asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.id = self.double._connection_opened(self)
        ssl_object = transport.get_extra_info("ssl_object")
        peer = ssl_object.getpeercert() if ssl_object is not None else None
        if peer:  # only present when it verified against the client CA
            self.cert_auth = True
            for rdn in peer.get("subject", ()):
                for key, value in rdn:
                    if key == _USER_ID_OID:
                        self.cert_topic = value
        self.stream_limit_raised = self.cert_auth
        # Header validation is left to _check (what APNs cares about): h2's generic
        # validation costs a third of the per-request CPU and the benchmark needs it.
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=False,
                header_encoding=None,
                validate_inbound_headers=False,
                normalize_inbound_headers=False,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        self.conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: (AUTHENTICATED_MAX_STREAMS if self.cert_auth else 1),
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 8000,
            },
        )
        self.conn.initiate_connection()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.double._connection_closed(self)

    def data_received(self, data: bytes) -> None:
        assert self.conn is not None
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            self._close()
            return
        answered = 0
        for event in events:
            kind = type(event)
            if kind is h2.events.RequestReceived:
                self.streams[event.stream_id] = _Stream(event.headers)
            elif kind is h2.events.DataReceived:
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.body += event.data
                # Give the window back, or the client stalls after 64 KiB of bodies.
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif kind is h2.events.StreamEnded:
                stream = self.streams.pop(event.stream_id, None)
                if stream is not None and not self.going_away:
                    self._answer(event.stream_id, stream)
                    answered += 1
                    if answered % FLUSH_EVERY_ANSWERS == 0:
                        self._flush()  # these answers go now, not after the whole read
            elif kind is h2.events.WindowUpdated or kind is h2.events.RemoteSettingsChanged:
                self._send_pending()
            elif kind is h2.events.StreamReset:
                self.streams.pop(event.stream_id, None)
                self.pending.pop(event.stream_id, None)
            elif kind is h2.events.ConnectionTerminated:
                self._flush()
                self._close()
                return
        self._flush()

    # helpers ------------------------------------------------------------------------

    def _flush(self) -> None:
        if self.conn is not None and self.transport is not None and not self.transport.is_closing():
            data = self.conn.data_to_send()
            if data:
                self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def goaway(self) -> None:
        """Politely end the connection, as APNs does for maintenance."""
        if self.conn is not None:
            self.conn.close_connection()
            self._flush()
        self._close()

    def _answer(self, stream_id: int, stream: _Stream) -> None:
        headers = dict(stream.headers)
        body = bytes(stream.body)
        token: str | None = None
        auth = "certificate" if self.cert_auth else "none"
        try:
            token, auth = self._check(headers, body)
            if self.double.answers.get(token.lower()) == HANG:
                return
            status, reason = self.double._answer_for(token)
        except _Rejected as rejected:
            status, reason = rejected.status, rejected.reason
        self.double._record(self.id, stream_id, headers, body, token, auth, status, reason)
        self._respond(stream_id, status, reason)
        budget = self.double._goaway_after
        if budget is not None:
            self.double._goaway_after = budget - 1
            if budget <= 1:
                self.double._goaway_after = None
                self.going_away = True
                assert self.conn is not None
                self.conn.close_connection(last_stream_id=stream_id)

    def _check(self, headers: dict[bytes, bytes], body: bytes) -> tuple[str, str]:
        if headers.get(b":method") != b"POST":
            raise _Rejected(405, "MethodNotAllowed")
        match = _PATH.match(headers.get(b":path", b""))
        if match is None:
            raise _Rejected(404, "BadPath")
        raw_token = match.group(1)
        if not _HEX.match(raw_token):
            raise _Rejected(400, "BadDeviceToken")
        auth = self._authenticate(headers.get(b"authorization"))
        topic = headers.get(b"apns-topic")
        if not topic:
            raise _Rejected(400, "MissingTopic")
        topic_text = topic.decode("utf-8", "replace")
        if self.double.topic is not None and topic_text != self.double.topic:
            raise _Rejected(400, "TopicDisallowed")
        if auth == "certificate" and self.cert_topic is not None and topic_text != self.cert_topic:
            raise _Rejected(400, "TopicDisallowed")
        push_type = headers.get(b"apns-push-type")
        if push_type is not None and push_type not in _PUSH_TYPES:
            raise _Rejected(400, "InvalidPushType")
        priority = headers.get(b"apns-priority")
        if priority is not None and priority not in (b"1", b"5", b"10"):
            raise _Rejected(400, "BadPriority")
        if not body:
            raise _Rejected(400, "PayloadEmpty")
        if body != b"{}":
            raise _Rejected(400, NOT_EMPTY_PAYLOAD)
        return raw_token.decode("ascii"), auth

    def _authenticate(self, authorization: bytes | None) -> str:
        if self.cert_auth:
            return "certificate"  # APNs ignores the authorization header on cert connections
        if authorization is None:
            raise _Rejected(403, "MissingProviderToken")
        scheme, _, provider_token = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not provider_token:
            raise _Rejected(403, "InvalidProviderToken")
        iat = self.good_tokens.get(provider_token)
        if iat is None:
            iat = self.double._verify_provider_token(provider_token)  # raises _Rejected
            self.good_tokens[provider_token] = iat
        if self.double.clock() - iat > TOKEN_MAX_AGE:
            raise _Rejected(403, "ExpiredProviderToken")
        if not self.stream_limit_raised and self.conn is not None:
            self.stream_limit_raised = True
            self.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: AUTHENTICATED_MAX_STREAMS})
        return "token"

    def _respond(self, stream_id: int, status: int, reason: str | None) -> None:
        assert self.conn is not None
        # apns-id is unique per response: never-indexed keeps it out of the HPACK dynamic
        # table, which it would otherwise churn on every stream (Apple asks the same of us).
        headers = [
            (b":status", str(status).encode()),
            NeverIndexedHeaderTuple(b"apns-id", str(uuid.uuid4()).encode()),
        ]
        body = b""
        if reason is not None:
            payload: dict[str, Any] = {"reason": reason}
            if status == 410:
                payload["timestamp"] = int(self.double.clock() * 1000)
            body = json.dumps(payload).encode()
            headers.append((b"content-type", b"application/json; charset=utf-8"))
            headers.append((b"content-length", str(len(body)).encode()))
        try:
            self.conn.send_headers(stream_id, headers, end_stream=not body)
        except h2.exceptions.ProtocolError:  # the client reset the stream meanwhile
            return
        if body:
            self.pending[stream_id] = body
            self._send_pending()

    def _send_pending(self) -> None:
        """Send waiting response bodies as far as the flow-control windows allow."""
        assert self.conn is not None
        for stream_id in list(self.pending):
            data = self.pending[stream_id]
            try:
                while data:
                    window = self.conn.local_flow_control_window(stream_id)
                    size = min(window, self.conn.max_outbound_frame_size, len(data))
                    if size <= 0:
                        break
                    chunk, data = data[:size], data[size:]
                    self.conn.send_data(stream_id, chunk, end_stream=not data)
            except h2.exceptions.ProtocolError:  # stream closed or reset
                data = b""
            if data:
                self.pending[stream_id] = data
            else:
                del self.pending[stream_id]


class ApnsDouble:
    """The loopback APNs. See the module docstring."""

    def __init__(
        self,
        cert_file: str | Path,
        key_file: str | Path,
        *,
        topic: str | None = None,
        client_ca: str | Path | None = None,
        token_public_key: str | Path | None = None,
        key_id: str | None = None,
        team_id: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topic = topic
        self.key_id = key_id
        self.team_id = team_id
        self.host = host
        self.port = port
        self.record = record
        self.clock = clock
        self.answers: dict[str, str] = {}
        self.default_answer = "ok"
        #: Called on the serving loop with each token whose push was accepted (200): the
        #: storm bench's simulated phones learn of their push this way (`Forwarder`).
        self.on_accepted: Callable[[str], None] | None = None
        self._goaway_after: int | None = None
        self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ssl.minimum_version = ssl.TLSVersion.TLSv1_2
        self._ssl.load_cert_chain(str(cert_file), str(key_file))
        self._ssl.set_alpn_protocols(["h2"])
        if client_ca is not None:
            self._ssl.load_verify_locations(str(client_ca))
            # Optional, as at APNs: token-auth clients connect without a certificate, but a
            # certificate that is presented must chain to the CA or the handshake fails.
            self._ssl.verify_mode = ssl.CERT_OPTIONAL
        self._token_key = (
            serialization.load_pem_public_key(Path(token_public_key).read_bytes())
            if token_public_key is not None
            else None
        )
        self._lock = threading.Lock()
        self._requests: list[ReceivedPush] = []
        self._statuses: Counter[int] = Counter()
        self._provider_tokens: list[str] = []
        self._connection_ids: list[int] = []
        self._open: dict[int, _Connection] = {}
        self._next_connection_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._stop_event: asyncio.Event | None = None

    # programming and inspection ---------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def set_answer(self, token: str, kind: str) -> None:
        """Answer `token` with one of ANSWERS ("ok", "bad_token", "unregistered", ...), or
        "hang": never answer it (the stream stays open until the client gives up)."""
        if kind not in ANSWERS and kind != HANG:
            raise ValueError(f"unknown answer {kind!r}; choose from {sorted(ANSWERS)}")
        self.answers[token.lower()] = kind

    @property
    def requests(self) -> list[ReceivedPush]:
        with self._lock:
            return list(self._requests)

    @property
    def connection_ids(self) -> list[int]:
        """Ids of every connection accepted so far, in order."""
        with self._lock:
            return list(self._connection_ids)

    @property
    def provider_tokens(self) -> list[str]:
        """Distinct provider JWTs that verified, in the order first seen."""
        with self._lock:
            return list(self._provider_tokens)

    @property
    def statuses(self) -> Counter[int]:
        with self._lock:
            return Counter(self._statuses)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._provider_tokens.clear()
        self.answers.clear()
        self.default_answer = "ok"
        self._goaway_after = None
        self.on_accepted = None

    def goaway_after(self, answered: int) -> None:
        """After `answered` more answers on a connection, send GOAWAY naming the last answered
        stream and leave every later stream unprocessed, as APNs does when it sheds a
        connection mid-batch; the client must resend those on a new connection."""
        self._goaway_after = answered

    def goaway_all(self) -> None:
        """Close every open connection with GOAWAY (what APNs does for maintenance)."""
        loop = self._loop
        if loop is None:
            return
        done = threading.Event()

        def close() -> None:
            for connection in list(self._open.values()):
                connection.goaway()
            done.set()

        loop.call_soon_threadsafe(close)
        done.wait(5)

    # called from connections (event-loop thread) -----------------------------------------

    def _connection_opened(self, connection: _Connection) -> int:
        with self._lock:
            self._next_connection_id += 1
            connection_id = self._next_connection_id
            self._connection_ids.append(connection_id)
        self._open[connection_id] = connection
        return connection_id

    def _connection_closed(self, connection: _Connection) -> None:
        self._open.pop(connection.id, None)

    def _answer_for(self, token: str) -> tuple[int, str | None]:
        return ANSWERS[self.answers.get(token.lower(), self.default_answer)]

    def _verify_provider_token(self, provider_token: bytes) -> float:
        if self._token_key is None:
            raise _Rejected(403, "InvalidProviderToken")
        try:
            header = jwt.get_unverified_header(provider_token)
            if header.get("alg") != "ES256":
                raise _Rejected(403, "InvalidProviderToken")
            if self.key_id is not None and header.get("kid") != self.key_id:
                raise _Rejected(403, "InvalidProviderToken")
            claims = jwt.decode(
                provider_token,
                self._token_key,  # type: ignore[arg-type]
                algorithms=["ES256"],
                options={"require": ["iss", "iat"], "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise _Rejected(403, "InvalidProviderToken") from exc
        if self.team_id is not None and claims.get("iss") != self.team_id:
            raise _Rejected(403, "InvalidProviderToken")
        iat = claims.get("iat")
        if not isinstance(iat, (int, float)) or iat > self.clock() + 300:
            raise _Rejected(403, "InvalidProviderToken")
        with self._lock:
            text = provider_token.decode("ascii")
            if text not in self._provider_tokens:
                self._provider_tokens.append(text)
        return float(iat)

    def _record(
        self,
        connection_id: int,
        stream_id: int,
        headers: dict[bytes, bytes],
        body: bytes,
        token: str | None,
        auth: str,
        status: int,
        reason: str | None,
    ) -> None:
        if status == 200 and token is not None and self.on_accepted is not None:
            self.on_accepted(token)
        with self._lock:
            self._statuses[status] += 1
            if not self.record:
                return
            topic = headers.get(b"apns-topic")
            self._requests.append(
                ReceivedPush(
                    connection_id=connection_id,
                    stream_id=stream_id,
                    method=headers.get(b":method", b"").decode("latin-1"),
                    path=headers.get(b":path", b"").decode("latin-1"),
                    token=token,
                    topic=topic.decode("utf-8", "replace") if topic is not None else None,
                    headers={k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()},
                    body=body,
                    auth=auth,
                    status=status,
                    reason=reason,
                    received_at=time.time(),
                )
            )

    # running ---------------------------------------------------------------------------

    async def serve(self, on_ready: Callable[[int], None] | None = None) -> None:
        """Serve on the running loop until `stop()` (or, in a process, a signal)."""
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._server = await self._loop.create_server(
            lambda: _Connection(self), self.host, self.port, ssl=self._ssl, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if on_ready is not None:
            on_ready(self.port)
        try:
            await self._stop_event.wait()
        finally:
            self._server.close()
            for connection in list(self._open.values()):
                connection._close()
            await self._server.wait_closed()

    def start(self) -> ApnsDouble:
        """Serve from a background thread; returns once the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self.serve(on_ready=lambda _port: ready.set()))
            except BaseException as exc:  # surfaced to start()'s caller
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name="apns-double", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError("APNs double did not start") from (failure[0] if failure else None)
        return self

    def stop(self) -> None:
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop_event.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def stop_from_loop(self) -> None:
        """stop() for code already running on the serving loop (signal handlers)."""
        if self._stop_event is not None:
            self._stop_event.set()

    def __enter__(self) -> ApnsDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._statuses.values()),
                "connections": len(self._connection_ids),
                "statuses": {str(k): v for k, v in sorted(self._statuses.items())},
                "provider_tokens": len(self._provider_tokens),
            }


class Forwarder:
    """Hands each accepted push to the phones, as APNs hands it to a device: the token, one
    line of ASCII hex, to every subscriber connected to a plain TCP port of the double's.

    Lines are gathered and written once per event-loop iteration, so a read of a thousand
    pushes costs one socket write, not a thousand. Pushes accepted while no subscriber is
    connected are counted in `dropped` (a phone that is off).
    """

    def __init__(self) -> None:
        self.subscribers: list[asyncio.Transport] = []
        self.forwarded = 0
        self.dropped = 0
        self._buffer: list[bytes] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def listen(self, host: str, port: int) -> int:
        self._loop = asyncio.get_running_loop()
        forwarder = self

        class _Subscriber(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                assert isinstance(transport, asyncio.Transport)
                self.transport = transport
                forwarder.subscribers.append(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                if self.transport in forwarder.subscribers:
                    forwarder.subscribers.remove(self.transport)

        server = await self._loop.create_server(_Subscriber, host, port)
        return int(server.sockets[0].getsockname()[1])

    def push(self, token: str) -> None:
        if not self.subscribers:
            self.dropped += 1
            return
        if not self._buffer and self._loop is not None:
            self._loop.call_soon(self._flush)
        self._buffer.append(token.encode("ascii") + b"\n")

    def _flush(self) -> None:
        data, count = b"".join(self._buffer), len(self._buffer)
        self._buffer.clear()
        for transport in self.subscribers:
            transport.write(data)
        self.forwarded += count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.doubles.apns", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--cert", required=True, help="server certificate (PEM)")
    parser.add_argument("--key", required=True, help="server key (PEM)")
    parser.add_argument("--client-ca", help="CA that client certificates must chain to")
    parser.add_argument("--token-key", help="public key (PEM) that verifies provider JWTs")
    parser.add_argument("--key-id", help="required JWT kid")
    parser.add_argument("--team-id", help="required JWT iss")
    parser.add_argument("--topic", help="required apns-topic")
    parser.add_argument(
        "--answer",
        action="append",
        default=[],
        metavar="TOKEN=KIND",
        help=f"per-token answer, KIND in {sorted(ANSWERS)}",
    )
    parser.add_argument("--record", action="store_true", help="keep every request in memory")
    parser.add_argument("--forward-port", type=int, default=None,
                        help="also listen here (0: any port, printed on a second stdout line) and send each "
                             "accepted push's token, one line each, to whoever connects (simulated phones)")
    args = parser.parse_args(argv)

    double = ApnsDouble(
        args.cert,
        args.key,
        topic=args.topic,
        client_ca=args.client_ca,
        token_public_key=args.token_key,
        key_id=args.key_id,
        team_id=args.team_id,
        host=args.host,
        port=args.port,
        record=args.record,
    )
    for item in args.answer:
        token, _, kind = item.partition("=")
        double.set_answer(token, kind)

    forwarder = Forwarder() if args.forward_port is not None else None

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, double.stop_from_loop)
        forward_port: list[int] = []
        if forwarder is not None:
            forward_port.append(await forwarder.listen(args.host, args.forward_port))
            double.on_accepted = forwarder.push

        def ready(port: int) -> None:
            print(port, flush=True)
            for port_ in forward_port:
                print(port_, flush=True)

        await double.serve(on_ready=ready)

    asyncio.run(run())
    extra = {"forwarded": forwarder.forwarded, "dropped": forwarder.dropped} if forwarder is not None else {}
    print(json.dumps({**double.summary(), **extra, "cpu_seconds": round(time.process_time(), 3)}), file=sys.stderr,
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
