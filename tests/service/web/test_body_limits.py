"""Request bodies are bounded per endpoint kind, declared (Content-Length) or chunked: a 50 MB
body to an unauthenticated endpoint is a quick 413, not 50 MB read and parsed (item 7)."""

from __future__ import annotations

import dataclasses
import io
import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from PIL import Image

from service import create_app
from service.platform.config import Settings
from tests.helpers import bearer

BIG = 50 * 1024 * 1024
SMALL_LIMIT = 64 * 1024


def _json_of_size(size: int) -> bytes:
    return json.dumps({"logs": ["x" * size]}).encode()


@pytest.mark.parametrize("path", ["/passkit/v1/log", "/passkit/v1/passes/pass.dev.passcast.loyalty/x/personalize",
                                  "/api/v1/stores"])
def test_a_declared_json_body_over_the_limit_is_413_problem(client: FlaskClient, seeded: dict[str, Any],
                                                           path: str) -> None:
    response = client.post(path, data=_json_of_size(SMALL_LIMIT + 1), content_type="application/json",
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json()["limit"] == SMALL_LIMIT
    # under the limit the same endpoint reads it as before
    assert client.post("/passkit/v1/log", json={"logs": ["x" * 1000]}).status_code == 200


def test_a_join_form_over_the_limit_is_a_page(client: FlaskClient, seeded: dict[str, Any]) -> None:
    response = client.post("/join/demo-coffee", data={"name": "x" * (SMALL_LIMIT + 1)},
                           headers={"Accept-Language": "ru"})
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "Слишком много данных" in response.get_data(as_text=True)


def _png(size: int) -> bytes:
    """A PNG of roughly `size` bytes (noise does not compress)."""
    import os

    side = int((size / 3) ** 0.5) + 1
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG", compress_level=0)
    return buffer.getvalue()


def test_images_and_imports_have_their_own_larger_limits(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    program = seeded["program_id"]
    image = _png(1024 * 1024)
    put = client.put(f"/api/v1/programs/{program}/images/logo", data=image, content_type="image/png", headers=key)
    assert put.status_code == 200, put.get_json()
    too_big = client.put(f"/api/v1/programs/{program}/images/logo", data=b"\x89PNG" + b"0" * (5 * 1024 * 1024),
                         content_type="image/png", headers=key)
    assert too_big.status_code == 413 and too_big.get_json()["limit"] == 5 * 1024 * 1024
    # A members file far above the JSON limit (blank lines cost the import nothing).
    csv = "name,email\nAnna,anna@example.com\n" + "\n" * (2 * SMALL_LIMIT)
    imported = client.post(f"/api/v1/programs/{program}/imports", data=csv, content_type="text/csv", headers=key)
    assert imported.status_code == 202, imported.get_json()


def test_limits_from_the_environment() -> None:
    settings = Settings.from_env({"BODY_LIMIT_BYTES": "1000", "UPLOAD_LIMIT_BYTES": "2000",
                                  "IMPORT_LIMIT_BYTES": "3000"})
    assert (settings.body_limit_bytes, settings.upload_limit_bytes, settings.import_limit_bytes) == (1000, 2000, 3000)
    defaults = Settings.from_env({})
    assert (defaults.body_limit_bytes, defaults.upload_limit_bytes, defaults.import_limit_bytes) == (
        64 * 1024, 5 * 1024 * 1024, 100 * 1024 * 1024)


def test_an_import_over_its_configured_limit_is_413(settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, import_limit_bytes=200 * 1024))
    try:
        csv = "name,email\nAnna,anna@example.com\n" + "\n" * (300 * 1024)
        refused = app.test_client().post("/api/v1/programs/1/imports", data=csv, content_type="text/csv",
                                         headers=bearer("pk_x_y"))  # refused before the key is even looked at
        assert refused.status_code == 413 and refused.get_json()["limit"] == 200 * 1024
    finally:
        app.extensions["db_engine"].dispose()


# --- over a real socket: chunked bodies and declared lengths that never arrive ---------------------


def _send_chunked(base: str, path: str, total: int, outcome: dict[str, Any]) -> None:
    """POST `total` bytes of a JSON-looking body with Transfer-Encoding: chunked, reading the
    answer as soon as it comes; records the status, the bytes sent and the seconds taken."""
    host = urlsplit(base)
    started = time.monotonic()
    sent = 0
    with socket.create_connection((host.hostname, host.port), timeout=20) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host.netloc}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"10000\r\n" + b"[" * 0x10000 + b"\r\n"
        sock.setblocking(False)
        answer = b""
        pending = memoryview(b"")
        try:
            while (sent < total or pending) and b"\r\n\r\n" not in answer:
                try:
                    answer += sock.recv(65536)
                except BlockingIOError:
                    pass
                if not pending:
                    pending, sent = memoryview(chunk), sent + 0x10000
                try:
                    pending = pending[sock.send(pending):]
                except BlockingIOError:
                    time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.setblocking(True)
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    outcome.update(status=int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None,
                   sent=sent, seconds=time.monotonic() - started, head=answer.split(b"\r\n\r\n")[0])


def test_chunked_50_mb_bodies_in_parallel_are_refused_quickly(live: dict[str, Any]) -> None:
    outcomes: list[dict[str, Any]] = [{} for _ in range(8)]
    threads = [threading.Thread(target=_send_chunked, args=(live["base"], "/passkit/v1/log", BIG, outcome))
               for outcome in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for outcome in outcomes:
        assert outcome["status"] == 413, outcome
        assert b"application/problem+json" in outcome["head"]
        assert outcome["seconds"] < 10, outcome
        assert outcome["sent"] < BIG // 2, "the server stopped reading long before the end"


def test_a_declared_50_mb_body_is_refused_before_it_is_sent(live: dict[str, Any]) -> None:
    host = urlsplit(live["base"])
    with socket.create_connection((host.hostname, host.port), timeout=10) as sock:
        sock.sendall(f"POST /passkit/v1/log HTTP/1.1\r\nHost: {host.netloc}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {BIG}\r\n\r\n".encode())
        answer = sock.recv(65536)  # nothing of the body was sent: the answer must not wait for it
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_chunked_body_under_the_limit_is_read_whole(live: dict[str, Any]) -> None:
    host = urlsplit(live["base"])
    body = json.dumps({"logs": ["x" * 40000, "y" * 20000]}).encode()  # 60 KB in two chunks
    chunks = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:30000], body[30000:]))
    with socket.create_connection((host.hostname, host.port), timeout=10) as sock:
        sock.sendall(f"POST /passkit/v1/log HTTP/1.1\r\nHost: {host.netloc}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode() + chunks + b"0\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_a_request_without_content_length_or_chunks_has_no_body_to_read(app: Any) -> None:
    """Neither Content-Length nor Transfer-Encoding: no body (RFC 9112 6.3), so the guard reads
    nothing, and the view still sees the endpoint's limit and an empty body."""
    from flask import request

    @app.post("/_probe")
    def probe() -> dict[str, Any]:
        return {"limit": request.max_content_length, "body": request.get_data(as_text=True)}

    environ = {"wsgi.input_terminated": True}  # as gunicorn says of every request
    answer = app.test_client().post("/_probe", environ_overrides=environ)
    assert answer.status_code == 200
    assert answer.get_json() == {"limit": app.config["PASSCAST"].body_limit_bytes, "body": ""}
    big = app.test_client().post("/_probe", data=b"x" * (app.config["PASSCAST"].body_limit_bytes + 1),
                                 environ_overrides=environ)
    assert big.status_code == 413  # a declared body over the limit: refused as before
