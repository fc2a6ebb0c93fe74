"""The readable API docs page, /api/docs: ReDoc (vendored in service/web/static/vendor/) rendering
/api/v1/openapi.json, registered by flask-smorest (OPENAPI_REDOC_*).

The page may load only from our own origin. ReDoc's sidebar credit asks cdn.redoc.ly for a
logo, whatever its options say; a Content-Security-Policy keeps the browser from asking
(the link text stays), so reading our docs tells no third party about it.
"""

from __future__ import annotations

from flask import Flask, Response, request

DOCS_PATH = "/api/docs"
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
          "base-uri 'none'; frame-ancestors 'none'")


def init_app(app: Flask) -> None:
    @app.after_request
    def _docs_policy(response: Response) -> Response:
        if request.path == DOCS_PATH:
            response.headers["Content-Security-Policy"] = POLICY
        return response
