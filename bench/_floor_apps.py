"""The two apps bench/http_floor.py serves with gunicorn: what a request costs before any view.

`bare` is a WSGI callable with nothing in it; `flask_app` is Flask with one route taking two path
parts, as the PassKit fetch does. Neither touches a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response

BODY = b"hello"


def bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(BODY)))])
    return [BODY]


flask_app = Flask(__name__)


@flask_app.get("/passes/<pass_type_identifier>/<serial_number>")
def latest(pass_type_identifier: str, serial_number: str) -> Response:
    return Response(BODY, mimetype="application/octet-stream")
