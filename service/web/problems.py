"""RFC 9457 problem details: every API error is `application/problem+json`.

Raising `Problem` anywhere in a request handler produces the response; unexpected
exceptions and Werkzeug's HTTP errors are converted too, so clients never get HTML.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import BadRequest, HTTPException

from service.web.error_pages import customer_error_page, is_machine_path

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 type_: str = "about:blank", **extensions: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.extensions = extensions

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body["instance"] = request.path if request else None
        body.update(self.extensions)
        return body


def validation_problem(errors: list[dict[str, str]]) -> Problem:
    """422 listing every invalid field: `[{"field": "points", "message": "..."}]`."""
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(422, "Invalid request", detail, type_="/problems/validation", errors=errors)


def problem_response(problem: Problem) -> Response:
    response = Response(json.dumps(problem.to_dict()), status=problem.status,
                        mimetype=PROBLEM_MEDIA_TYPE)
    if problem.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def flatten_messages(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """webargs/marshmallow nest messages by location and field; clients want a flat list."""
    if isinstance(messages, dict):
        errors: list[dict[str, str]] = []
        for key, value in messages.items():
            if not prefix and key in ("json", "query", "form", "headers", "files", "view_args"):
                errors.extend(flatten_messages(value, ""))
            else:
                errors.extend(flatten_messages(value, f"{prefix}.{key}" if prefix else str(key)))
        return errors
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [{"field": _field(prefix), "message": " ".join(_plain(m) for m in messages)}]
    return [{"field": _field(prefix), "message": _plain(str(messages))}]


def _field(path: str) -> str:
    """marshmallow names errors of the whole body `_schema`; clients know it as the body."""
    if path in ("", "_schema"):
        return "body"
    return path.removesuffix("._schema")


#: marshmallow's words where ours say what to send instead.
_PLAIN = {"Invalid input type.": "Expected a JSON object.",
          "Not a valid mapping type.": "Expected a JSON object."}


def _plain(message: str) -> str:
    return _PLAIN.get(message, message)


def http_problem(error: HTTPException) -> Response | HTTPException:
    """Werkzeug/webargs HTTP errors as problem+json for machines (API, PassKit); on pages
    an unknown address (an unknown join slug, card serial, any path) and a too-large body are
    our own page in the customer's language, other errors are untouched."""
    if not is_machine_path():
        return customer_error_page(error.code) if error.code in (404, 413) else error
    if error.code == 413:
        limit = request.max_content_length
        return problem_response(Problem(413, "Request body too large", f"This endpoint accepts at most {limit} bytes.",
                                        type_="/problems/too-large", limit=limit))
    data = getattr(error, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    if error.code == 422 and messages:
        return problem_response(validation_problem(flatten_messages(messages)))
    detail = data.get("message") or error.description
    if error.code == 400 and request.is_json and error.description == BadRequest.description:
        detail = "The request body is not valid JSON."  # what Werkzeug's generic 400 means here
    return problem_response(Problem(error.code or 500, error.name, detail))


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return problem_response(problem)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        app.logger.exception("unhandled error on %s", request.path)
        return problem_response(Problem(500, "Internal Server Error",
                                        "Something went wrong on our side; nothing was changed."))
