"""Outgoing messages to customers: e-mail over SMTP (mail.py) and SMS through an HTTP gateway (sms.py).

One entry point, `deliver(settings, message)`, so callers do not care how a message travels.
A channel that is not configured (no SMTP_HOST / SMS_GATEWAY_URL: development, `make run`)
writes the message to the log at WARNING instead, where a developer finds the link or code.
Sending raises on a refusal or a network error, so the job that called it is retried.
Callers send from a job (huey), never from a request: a slow SMTP server must not hold a page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from service.notify import mail, sms
from service.platform.config import Settings

log = logging.getLogger("passcast.notify")

CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class Message:
    channel: str  # email | sms
    to: str
    subject: str
    text: str


def configured(settings: Settings, channel: str) -> bool:
    """Whether `channel` really sends (False: the message only goes to the log)."""
    return bool(settings.smtp_host) if channel == "email" else bool(settings.sms_gateway_url)


def deliver(settings: Settings, message: Message) -> bool:
    """Send `message`; False when its channel is not configured and it was logged instead."""
    if message.channel not in CHANNELS:
        raise ValueError(f"unknown channel {message.channel!r}")
    if not configured(settings, message.channel):
        log.warning("%s to %s not sent (%s is not configured); it reads:\n%s\n%s", message.channel, message.to,
                    "SMTP_HOST" if message.channel == "email" else "SMS_GATEWAY_URL", message.subject, message.text)
        return False
    if message.channel == "email":
        mail.send(settings, message.to, message.subject, message.text)
    else:
        sms.send(settings, message.to, message.text)
    return True
