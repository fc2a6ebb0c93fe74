"""A brand's webhook receiver on loopback: checks each POST's Passcast-Signature the way the
README tells brands to (HMAC-SHA256 of "<t>.<raw body>" with the endpoint secret, a fresh t),
records it, and answers with the next programmed status (default 200). `delay` makes it a slow
receiver (seconds per request); `max_in_flight` is the most requests it held at once."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.doubles.threaded import ThreadedServer


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    signature_ok: bool
    status: int


def signature_ok(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        return False
    if abs(time.time() - int(parts["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


class WebhookReceiver(ThreadedServer):
    thread_name = "webhook-receiver"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None) -> None:
        """With `tls` (a server context) it answers HTTPS and records the SNI name each client sent."""
        self.secret = ""
        self.statuses: list[int] = []  # answered in order; 200 once exhausted
        self.server_names: list[str | None] = []
        self.delay = 0.0
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._bind(host, port, self._handler_class())
        if tls is not None:
            tls.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._tls = tls is not None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        base = self.base_url.replace("http://", "https://", 1) if self._tls else self.base_url
        return base + "/hooks"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return self.received
            time.sleep(0.02)
        raise AssertionError(f"expected {count} webhook requests, got {len(self.received)}")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                time.sleep(receiver.delay)
                ok = signature_ok(receiver.secret, self.headers.get("Passcast-Signature", ""), body)
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    if not ok:
                        status = 400
                    try:
                        parsed = json.loads(body)
                    except ValueError:
                        parsed = None
                    receiver._received.append(Received(self.path, dict(self.headers.items()), body, parsed, ok,
                                                       status))
                    receiver.in_flight -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler
