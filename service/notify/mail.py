"""E-mail over SMTP with the standard library (smtplib + email), plain text, UTF-8."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from service.platform.config import Settings


def build(settings: Settings, to: str, subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2].strip("> ") or None)
    message.set_content(text)
    return message


def send(settings: Settings, to: str, subject: str, text: str) -> None:
    """One connection per message; raises smtplib.SMTPException or OSError when it was not accepted."""
    host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.smtp_timeout_seconds
    tls = settings.smtp_tls
    if tls not in ("starttls", "ssl", "none"):
        raise ValueError(f"SMTP_TLS must be starttls, ssl or none, not {tls!r}")
    context = ssl.create_default_context()
    if settings.smtp_ca_file:
        context.load_verify_locations(settings.smtp_ca_file)
    client: smtplib.SMTP = (smtplib.SMTP_SSL(host, port, timeout=timeout, context=context) if tls == "ssl"
                            else smtplib.SMTP(host, port, timeout=timeout))
    with client:
        if tls == "starttls":
            client.starttls(context=context)
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password)
        client.send_message(build(settings, to, subject, text))
