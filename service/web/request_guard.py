"""What every request must be before a view sees it: a bounded body, readable JSON, and text
without characters that mean nothing (see service/platform/text_rules.py).

One place, in `before_request`, rather than a check in each view:

- Body size by endpoint kind. Flask's MAX_CONTENT_LENGTH is the small limit (PassKit, JSON API
  calls, forms); uploads raise `request.max_content_length` for their endpoint only. A declared
  Content-Length over the limit is refused before anything is read; a chunked body (no
  Content-Length) is read through Werkzeug's LimitedStream up to one byte past the limit: the same 413.
- JSON is parsed once here with the failures Python's json module raises besides
  JSONDecodeError (RecursionError for deep nesting, ValueError for integers over 4300 digits)
  and lone surrogates (valid JSON escapes, but not UTF-8, so unstorable): 400, not 500.
- Control characters: none in the path or query string (ids, slugs, tokens); NUL and the other
  C0 controls except tab and line breaks nowhere in a JSON body or form (the API's schemas are
  stricter per field, service/api/parser.py): 422.

Machines (API, PassKit) get problem+json; people get a page (service/web/error_pages.py).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from service.platform.text_rules import bad_character, has_lone_surrogate, strings_in
from service.web.error_pages import customer_error_page, is_machine_path
from service.web.problems import validation_problem

#: Endpoints that take files: brand images and certificates (UPLOAD_LIMIT_BYTES), and the
#: members-import CSV (IMPORT_LIMIT_BYTES). Every other endpoint gets BODY_LIMIT_BYTES.
UPLOAD_ENDPOINTS = frozenset({"programs.put_image", "programs.put_tier_strip", "programs.upload_certificate"})
IMPORT_ENDPOINTS = frozenset({"imports.create_import"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: Endpoints whose body is the file itself, whatever its Content-Type says: `curl --data-binary
#: @logo.png` labels it application/x-www-form-urlencoded, and parsing it as a form here would
#: leave the view an empty body.
RAW_BODY_ENDPOINTS = frozenset({"programs.put_image", "programs.put_tier_strip", "imports.create_import"})


class InvalidJson(BadRequest):
    """A body that claims to be JSON but cannot be read as such (answered as a 400 problem)."""


def body_limit(endpoint: str | None) -> int:
    settings = current_app.config["PASSCAST"]
    if endpoint in IMPORT_ENDPOINTS:
        return settings.import_limit_bytes
    if endpoint in UPLOAD_ENDPOINTS:
        return settings.upload_limit_bytes
    return settings.body_limit_bytes


def parse_json(data: bytes) -> Any:
    """Decoded JSON, or InvalidJson saying why; never RecursionError/ValueError/UnicodeError."""
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InvalidJson(f"The request body is not UTF-8 (byte {error.start}).") from None
    except RecursionError:
        raise InvalidJson("The JSON body is nested too deeply.") from None
    except json.JSONDecodeError:
        raise InvalidJson("The request body is not valid JSON.") from None
    except ValueError:  # an integer beyond Python's 4300-digit conversion limit
        raise InvalidJson("The JSON body has a number too long to read (over 4300 digits).") from None
    for path, text in strings_in(value):
        if has_lone_surrogate(text):
            raise InvalidJson(f"The JSON body has a lone UTF-16 surrogate at {path}, which is not a character.")
    return value


def _limit_body() -> None:
    limit = body_limit(request.endpoint)
    environ = request.environ
    if "CONTENT_LENGTH" not in environ and "HTTP_TRANSFER_ENCODING" not in environ:
        # Neither header: the request has no body (RFC 9112 section 6.3), nothing to read or measure.
        request.max_content_length = limit
        return
    if request.content_length is None and environ.get("wsgi.input_terminated"):
        # Chunked: LimitedStream stops quietly at the limit (it raises only when asked for more),
        # so a longer body would reach the view cut short. Read one byte past the limit here
        # (cached for the view and the form parser) to tell "complete" from "too long".
        request.max_content_length = limit + 1
        too_long = len(request.get_data(cache=True)) > limit
        request.max_content_length = limit
        if too_long:
            raise RequestEntityTooLarge()
        return
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def _refuse(field: str, message: str) -> Response:
    if is_machine_path():
        raise validation_problem([{"field": field, "message": message}])
    return customer_error_page(422)


def _check_text() -> Response | None:
    reason = bad_character(request.path)
    if reason:
        return _refuse("path", reason)
    for key, value in request.args.items(multi=True):
        reason = bad_character(key) or bad_character(value)
        if reason:
            return _refuse("query" if bad_character(key) else f"query.{key}", reason)
    if request.mimetype in _FORM_TYPES and request.endpoint not in RAW_BODY_ENDPOINTS:
        for key, value in request.form.items(multi=True):
            reason = bad_character(key, free_text=True) or bad_character(value, free_text=True)
            if reason:
                return _refuse("form" if bad_character(key, free_text=True) else key, reason)
    elif request.is_json:
        data = request.get_data(cache=True)
        if data.strip():
            for path, text in strings_in(parse_json(data)):
                reason = bad_character(text, free_text=True)
                if reason:
                    return _refuse(path, reason)
    return None


def register(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = app.config["PASSCAST"].body_limit_bytes

    @app.before_request
    def _guard() -> Response | None:
        _limit_body()
        return _check_text()
