"""The brand API under /api/v1: flask-smorest blueprints, so the OpenAPI description is
generated from the very schemas that validate requests."""

from __future__ import annotations

import threading
from typing import Any

import flask_smorest
from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from service.api import fields
from service.api.brand_schemas import ProblemOut
from service.api.parser import PasscastParser
from service.web.problems import http_problem

# Every blueprint module does `from flask_smorest import Blueprint` and parses with this class
# attribute at import (decoration) time; this package is imported before any of them, so all
# of them get our parser.
flask_smorest.Blueprint.ARGUMENTS_PARSER = PasscastParser()

API_DESCRIPTION = """\
Issue loyalty cards to your customers, keep them current in Apple Wallet and Google Wallet,
and hear about what happens to them.

**Authentication.** `Authorization: Bearer <api key>` (`pk_...`); create more keys, one per
integration, with `POST /api/v1/api-keys` (the secret is shown once) and revoke them any time.
A key only ever sees its own brand: another brand's ids answer 404.

**Scopes.** A key is created with a scope: `read_only` (every GET), `cashier` (read, scan and
counter transactions), `campaigns` (read, campaigns, geo, birthday, back-in-stock, NPS surveys,
journeys) or `full` (everything; the default, and what keys made before scopes hold). Each operation names the
permission it needs in `x-permission`; without it the answer is `403` problem+json
(`/problems/permission-missing`) naming the `permission` and the key's `scope`.

**Audit log.** `GET /api/v1/audit-log` (permission `audit`) lists who changed what, when.

**Errors** are `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, and
for 422 an `errors` list naming each invalid field. Nothing is written when a request fails.

**Pagination.** Lists take `limit` (1-200, default 50) and return a JSON array; when there is
more, the `Link` header carries the next page: `<...?cursor=...>; rel="next"`.

**Rate limits** are per API key (default 600 requests a minute), counted once the key's secret
has matched; requests whose key does not verify count against the client address instead (default
60 a minute). Every authenticated answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
`X-RateLimit-Reset`; over the limit the answer is `429` problem+json with `Retry-After` (seconds).

**Webhooks** (`/api/v1/webhooks`) POST JSON `{"id", "type", "created_at", "data"}` with
`Passcast-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the
endpoint's secret>`; answer 2xx within 10 s. Failures are retried with exponential backoff.
"""


class BoundedInt(IntegerConverter):
    """`<int:...>` that stops at the largest INTEGER (every primary key is one): a larger id
    cannot exist, so it is a 404 rather than an overflow in the database driver (a 500)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


class PasscastApi(Api):
    """flask-smorest, but errors in RFC 9457 problem+json rather than its own JSON shape, and
    the OpenAPI description written when it is first read rather than at start-up.

    Documenting the views was two thirds of `create_app` (about 0.4 s of CPU): every worker
    process and every test paid it, though only /api/v1/openapi.json and the docs page read
    the spec. Routes are registered at once; their documentation waits in `_undocumented`
    until something reads `spec` (threads wait for the one that writes it).
    """

    ERROR_SCHEMA = ProblemOut

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._undocumented: list[tuple[Any, str, Any]] = []
        self._documenting_lock = threading.RLock()
        self._documenting_thread: int | None = None
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def spec(self) -> Any:
        if self._undocumented and self._documenting_thread != threading.get_ident():
            with self._documenting_lock:
                self._documenting_thread = threading.get_ident()
                try:
                    while self._undocumented:
                        blueprint, name, parameters = self._undocumented[0]
                        blueprint.register_views_in_doc(self, self._app, self._spec, name=name,
                                                        parameters=parameters)
                        self._spec.tag({"name": name, "description": blueprint.description})
                        self._undocumented.pop(0)
                finally:
                    self._documenting_thread = None
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self._spec = value

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """flask-smorest's, minus documenting the views now (see the class)."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def handle_http_exception(self, error: HTTPException) -> Any:
        return http_problem(error)


def init_app(app: Flask) -> PasscastApi:
    app.url_map.converters["int"] = BoundedInt
    app.config.update(
        API_TITLE="Passcast brand API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="v1/openapi.json",
        # The readable docs page, /api/docs: ReDoc served from our own static files (no CDN).
        OPENAPI_REDOC_PATH="docs",
        OPENAPI_REDOC_URL="/static/vendor/redoc.standalone.js",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {"securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer",
                           "description": "A brand API key (`pk_...`)"},
                "cashierToken": {"type": "http", "scheme": "bearer",
                                 "description": "A cashier token (`ct_...`), or a PIN session from a till"},
                "tillKey": {"type": "http", "scheme": "bearer",
                            "description": "A paired till's key (`tl_...`): PIN sign-in only"},
            }},
            "security": [{"apiKey": []}],
        },
    )
    api = PasscastApi(app)
    fields.register(api)
    from service.api import cards, cashier, deliveries, programs, transactions

    api.register_blueprint(programs.blp)
    from service.api import previews

    api.register_blueprint(previews.blp)
    from service.api import program_reach

    api.register_blueprint(program_reach.blp)
    api.register_blueprint(cards.blp)
    api.register_blueprint(deliveries.blp)
    api.register_blueprint(transactions.blp)
    from service.api import refusals

    api.register_blueprint(refusals.blp)
    api.register_blueprint(cashier.blp)
    from service.api import api_keys, card_admin, docs, stores, webhook_endpoints

    api.register_blueprint(card_admin.blp)
    api.register_blueprint(stores.blp)
    api.register_blueprint(api_keys.blp)
    api.register_blueprint(webhook_endpoints.blp)
    from service.api import campaigns, subscriptions

    api.register_blueprint(campaigns.blp)
    from service.api import messaging_rules

    api.register_blueprint(messaging_rules.blp)
    api.register_blueprint(subscriptions.blp)
    from service.api import analytics, nps

    api.register_blueprint(analytics.blp)
    api.register_blueprint(nps.blp)
    from service.api import enrolment, imports

    api.register_blueprint(enrolment.blp)
    api.register_blueprint(imports.blp)
    from service.api import cashiers, till

    api.register_blueprint(cashiers.blp)
    api.register_blueprint(till.blp)
    from service.api import audit_log

    api.register_blueprint(audit_log.blp)
    from service.api import staff

    api.register_blueprint(staff.blp)
    from service.api import members

    api.register_blueprint(members.blp)
    from service.api import partners

    api.register_blueprint(partners.blp)

    from service.api import rewards

    api.register_blueprint(rewards.blp)
    from service.api import journeys

    api.register_blueprint(journeys.blp)
    from service.api import challenges

    api.register_blueprint(challenges.blp)
    docs.init_app(app)
    return api
