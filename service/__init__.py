"""The Passcast Flask application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from service.platform.config import Settings


class PasscastFlask(Flask):
    """Flask, remembering which hooks and views are plain functions.

    Flask's `ensure_sync` asks `inspect.iscoroutinefunction` about every before/after/teardown
    hook and the view, on every request (about 50 Python calls a request here); the answer
    never changes for a function, so it is kept. `async def` functions are wrapped as before."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain_functions: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self._plain_functions:
                return func
        except TypeError:  # an unhashable callable: ask every time, as Flask does
            return super().ensure_sync(func)
        wrapped = super().ensure_sync(func)
        if wrapped is func:
            self._plain_functions.add(func)
        return wrapped


def create_app(settings: Settings | None = None) -> Flask:
    """App factory: everything configurable comes in through `settings` (default: the environment)."""
    settings = settings or Settings.from_env()
    app = PasscastFlask(__name__, template_folder="web/templates", static_folder="web/static",
                instance_path=str(settings.instance_dir))
    app.config["PASSCAST"] = settings
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from service import cli
    from service.access.keys_page import bp as keys_page_bp
    from service.analytics.dashboard import bp as dashboard_page_bp
    from service.api import init_app as init_api
    from service.apple import lean_wsgi, signing
    from service.apple.downloads import bp as downloads_bp
    from service.apple.web_service import bp as passkit_bp
    from service.audit.console_page import bp as audit_page_bp
    from service.campaigns import optout as messages_optout
    from service.campaigns.console_page import bp as campaigns_page_bp
    from service.campaigns.optout_page import bp as messages_page_bp
    from service.campaigns.rules_page import bp as messaging_rules_page_bp
    from service.cashier.page import bp as cashier_page_bp
    from service.cashier.staff_page import bp as staff_page_bp
    from service.console.page import bp as console_bp
    from service.design.console_page import bp as design_page_bp
    from service.enrolment import import_tasks, recovery_tasks  # noqa: F401  (members import, card recovery jobs)
    from service.enrolment.imports_page import bp as imports_page_bp
    from service.enrolment.page import bp as join_bp
    from service.enrolment.settings_page import bp as enrolment_page_bp
    from service.google_wallet import tasks as google_tasks  # noqa: F401  (Google Wallet sync jobs and hook)
    from service.google_wallet.callbacks import bp as google_wallet_bp
    from service.journeys import challenges
    from service.journeys.challenges_page import bp as challenges_page_bp
    from service.journeys.console_page import bp as journeys_page_bp
    from service.journeys.tasks_page import bp as journey_tasks_page_bp
    from service.loyalty.members_page import bp as members_page_bp
    from service.loyalty.partners_page import bp as partners_page_bp
    from service.loyalty.rewards_page import bp as rewards_page_bp
    from service.nps import survey as nps_survey
    from service.nps.answers_page import bp as nps_console_bp
    from service.nps.page import bp as nps_page_bp
    from service.platform import db, jobs
    from service.push import tasks  # noqa: F401  (registers the push jobs and the outbox's queue)
    from service.start_page import bp as start_page_bp
    from service.stores.console_page import bp as stores_page_bp
    from service.web import client_address, health, problems, rate_limits, request_guard
    from service.webhooks.console_page import bp as webhooks_page_bp
    from service.webhooks.tasks import sweep_webhooks  # noqa: F401  (registers the webhook jobs and queue)

    jobs.configure(settings)
    jobs.set_app_factory(create_app)
    nps_survey.register()  # the survey link on the pass's back (service/design hook)
    challenges.register()  # challenges count transactions and show their progress on both wallets
    messages_optout.register()  # the messages page's link on the pass's back and the Google object
    signing.configure(settings.signing_key_passphrase)
    db.init_app(app, settings.database_url)
    problems.register(app)
    request_guard.register(app)
    health.register(app)
    client_address.init_app(app)
    rate_limits.init_app(app)
    init_api(app)
    app.register_blueprint(downloads_bp)
    app.register_blueprint(passkit_bp)
    app.register_blueprint(google_wallet_bp)
    app.register_blueprint(cashier_page_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(dashboard_page_bp)
    app.register_blueprint(audit_page_bp)
    app.register_blueprint(keys_page_bp)
    app.register_blueprint(design_page_bp)
    app.register_blueprint(stores_page_bp)
    app.register_blueprint(staff_page_bp)
    app.register_blueprint(campaigns_page_bp)
    app.register_blueprint(messages_page_bp)
    app.register_blueprint(messaging_rules_page_bp)
    app.register_blueprint(members_page_bp)
    app.register_blueprint(partners_page_bp)
    app.register_blueprint(rewards_page_bp)
    app.register_blueprint(challenges_page_bp)
    app.register_blueprint(nps_page_bp)
    app.register_blueprint(join_bp)
    app.register_blueprint(start_page_bp)
    app.register_blueprint(enrolment_page_bp)
    app.register_blueprint(imports_page_bp)
    app.register_blueprint(nps_console_bp)
    app.register_blueprint(webhooks_page_bp)
    app.register_blueprint(journeys_page_bp)
    app.register_blueprint(journey_tasks_page_bp)
    cli.register(app)
    # The phones' updatable-passes list and pass fetch, answered below Flask (issue 18).
    app.wsgi_app = lean_wsgi.LeanPassKit(app, app.wsgi_app)  # type: ignore[method-assign]
    return app
