"""The two PassKit GETs every phone makes after a push, answered below Flask (issue 18).

After a campaign's push each phone lists its updatable passes and fetches the new one: a
million of each within minutes. Around those one-SELECT views, Flask's dispatch (request
and app contexts, URL matching, every before/after/teardown hook, the Response object and
its header processing) was about 750 Python function calls per request, more than the
statement and the view together. This WSGI layer sits in front of the Flask app and answers
exactly those two requests, in their common shapes, from the same functions the views call
(`web_service.updatable_body`, `web_service.fetch_outcome`), with the very status line,
headers and body Flask gives (tests/service/apple/test_lean_wsgi.py compares them).

It takes a request only when nothing the app's hooks check could apply to it:

- GET (HEAD and every other method go to Flask), no body (no Content-Length but 0, no
  Transfer-Encoding): the request guard's body limit has nothing to measure;
- the path is exactly `/passkit/v1/passes/<type>/<serial>` or
  `/passkit/v1/devices/<device>/registrations/<type>`, each part of letters, digits and
  `._~-` only, and the query string is empty (a fetch) or only `passesUpdatedSince=<tag>` of
  those characters (a list): no control character anywhere (the guard's 422), nothing to
  decode, no redirect or 404 of Flask's URL map;
- the pass is stored at its current version (a fetch that must sign goes to Flask, which
  takes the outcome already read from the environ rather than reading it again).

Everything else, and any request whose lean answer raises, is Flask's, which answers it as it
always did (a database error: the 503 problem of service/web/health.py). The app-wide hooks
this skips do nothing for these requests (the rate-limit headers need a spent API budget,
the docs policy is for /api/docs, the session teardown closes a Session these paths never
open); test_lean_wsgi.py lists them, so a new hook is not skipped unnoticed.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.exc import DBAPIError
from werkzeug.http import http_date, parse_date

from passes.package import PKPASS_MEDIA_TYPE
from service.apple import web_service
from service.apple.downloads import filename_for

_PART = r"([A-Za-z0-9._~-]+)"
_FETCH = re.compile(rf"/passkit/v1/passes/{_PART}/{_PART}")
_LIST = re.compile(rf"/passkit/v1/devices/{_PART}/registrations/{_PART}")
_LIST_QUERY = re.compile(r"passesUpdatedSince=([A-Za-z0-9._~-]*)")
_PREFIX = "/passkit/v1/"
# WSGI environ keys (CGI names, not environment variables of the process)
_CONTENT_LENGTH, _PATH_INFO, _METHOD, _QUERY = "CONTENT_LENGTH", "PATH_INFO", "REQUEST_METHOD", "QUERY_STRING"
_IF_MODIFIED_SINCE, _AUTHORIZATION = "HTTP_IF_MODIFIED_SINCE", "HTTP_AUTHORIZATION"

Answer = tuple[str, list[tuple[str, str]], bytes]
StartResponse = Callable[..., Any]

# What Flask answers for these (werkzeug's status lines and default headers).
_UNAUTHORIZED: Answer = ("401 UNAUTHORIZED", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "0")],
                         b"")
_NO_CONTENT: Answer = ("204 NO CONTENT", [("Content-Type", "text/html; charset=utf-8")], b"")


@functools.lru_cache(maxsize=256)
def _disposition(program_name: str) -> str:
    return f'attachment; filename="{filename_for(program_name)}"'


def _not_modified(updated_at: dt.datetime) -> Answer:
    return "304 NOT MODIFIED", [("Last-Modified", http_date(updated_at))], b""


def _pkpass(data: bytes, last_modified: dt.datetime, program_name: str) -> Answer:
    """downloads.pkpass_response, as werkzeug sends it: the stored bytes themselves, no copy."""
    return "200 OK", [("Content-Type", PKPASS_MEDIA_TYPE), ("Content-Length", str(len(data))),
                      ("Last-Modified", http_date(last_modified)), ("Content-Disposition", _disposition(program_name)),
                      ("Cache-Control", "no-cache")], data


def _bodiless(environ: dict[str, Any]) -> bool:
    return environ.get(_CONTENT_LENGTH) in (None, "", "0") and "HTTP_TRANSFER_ENCODING" not in environ


class LeanPassKit:
    """WSGI: the phones' list and fetch answered here, every other request by `flask_app`."""

    def __init__(self, app: Flask, flask_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.flask_app = flask_app
        self.engine = app.extensions["db_lean_engine"]
        self.logger = app.logger

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get(_PATH_INFO, "")
        if path.startswith(_PREFIX) and environ.get(_METHOD) == "GET" and _bodiless(environ):
            try:
                answer = self._answer(path, environ)
            except DBAPIError:
                answer = None  # Flask meets the same error and answers it (503, logged there)
            except Exception:  # noqa: BLE001 - a bug here must not cost the phone its answer
                self.logger.exception("lean PassKit path failed on %s; answered through Flask", path)
                answer = None
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [body] if body else []
        return self.flask_app(environ, start_response)

    def _answer(self, path: str, environ: dict[str, Any]) -> Answer | None:
        query = environ.get(_QUERY, "")
        fetch = _FETCH.fullmatch(path)
        if fetch is not None:
            return self._fetch(fetch.group(1), fetch.group(2), environ) if not query else None
        listing = _LIST.fullmatch(path)
        if listing is None:
            return None
        tag_match = _LIST_QUERY.fullmatch(query) if query else None
        if query and tag_match is None:
            return None
        body = web_service.updatable_body(listing.group(1), listing.group(2),
                                          tag_match.group(1) if tag_match else None, self.engine)
        if body is None:
            return _NO_CONTENT
        return "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body

    def _fetch(self, pass_type_identifier: str, serial_number: str, environ: dict[str, Any]) -> Answer | None:
        since = parse_date(environ.get(_IF_MODIFIED_SINCE))  # as request.if_modified_since
        outcome = web_service.fetch_outcome(pass_type_identifier, serial_number, since,
                                            environ.get(_AUTHORIZATION, ""), self.engine)
        status, row = outcome
        if status == 401 or row is None:
            return _UNAUTHORIZED
        if status == 304:
            return _not_modified(row.updated_at)
        if status == 200 and row.data is not None and row.last_modified is not None:
            return _pkpass(row.data, row.last_modified, row.program_name)
        environ[web_service.LEAN_OUTCOME] = outcome  # Flask signs it, without reading the row again
        return None
