"""The job that sends a card recovery's link and code (recovery.py) to the customer's contact.

Retried with a growing delay when the SMTP server or SMS gateway refuses or cannot be
reached, so a message is not lost to a short outage; each try makes a fresh link and code.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, has_app_context

from service import notify
from service.enrolment import recovery
from service.enrolment.i18n import Words
from service.models import CardRecovery
from service.platform.jobs import webhook_queue as huey  # outgoing messages, like webhooks
from service.platform.jobs import worker_app

log = logging.getLogger(__name__)

RETRIES = 6
RETRY_DELAY_SECONDS = 20


def _app() -> Flask:
    return current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]


def message_for(recovery_row: CardRecovery, made: recovery.Secrets, public_base_url: str) -> notify.Message:
    card = recovery_row.card
    program, brand = card.program, card.program.brand
    words = Words(recovery_row.language)
    link = f"{public_base_url.rstrip('/')}/join/{program.slug or program.id}/recover/{made.link_token}"
    minutes = int(recovery.LIFETIME.total_seconds() // 60)
    if recovery_row.channel == "sms":
        # the code only: one short SMS, and nothing for a link preview to open
        text = words("recovery_sms", brand=brand.name, code=made.code, minutes=minutes)
    else:
        text = words("recovery_email", brand=brand.name, program=program.name, code=made.code, link=link,
                     minutes=minutes)
    return notify.Message(channel=recovery_row.channel, to=recovery_row.destination,
                          subject=words("recovery_subject", program=program.name), text=text)


@huey.task(retries=RETRIES, retry_delay=RETRY_DELAY_SECONDS)
def send_card_recovery(recovery_id: int) -> bool:
    """True when sent, False when logged (channel not configured) or nothing was left to send."""
    app = _app()
    settings = app.config["PASSCAST"]
    with app.extensions["db_sessionmaker"]() as session:
        row = session.get(CardRecovery, recovery_id)
        if row is None:
            return False
        made = recovery.make_secrets(session, row, row.card.program.brand)
        if made is None:
            return False
        message = message_for(row, made, settings.public_base_url)
        session.commit()
    return notify.deliver(settings, message)
