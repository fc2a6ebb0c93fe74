"""The brand API under /api/v1: flask-smorest blueprints, so the OpenAPI description is
generated from the very schemas that validate requests."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from service.problems import http_problem


class PasscastApi(Api):
    """flask-smorest, but errors in RFC 9457 problem+json rather than its own JSON shape."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        return http_problem(error)


def init_app(app: Flask) -> PasscastApi:
    app.config.update(
        API_TITLE="Passcast brand API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="v1/openapi.json",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer",
                           "description": "A brand API key (`pk_...`)"},
                "cashierToken": {"type": "http", "scheme": "bearer",
                                 "description": "A cashier token (`ct_...`)"},
            }},
            "security": [{"apiKey": []}],
        },
    )
    api = PasscastApi(app)
    from service.api import cards, cashier, deliveries, programs, transactions

    api.register_blueprint(programs.blp)
    api.register_blueprint(cards.blp)
    api.register_blueprint(deliveries.blp)
    api.register_blueprint(transactions.blp)
    api.register_blueprint(cashier.blp)
    return api
