"""A known phone or email on the join page: no card for whoever typed it, a one-time link and
code for whoever owns it. E-mail goes to an SMTP double and SMS to a gateway double, both
over real sockets on loopback."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service.enrolment import recovery
from service.enrolment.recovery_tasks import send_card_recovery
from service.loyalty.cards import display_number, download_key
from service.models import Card, CardRecovery, utcnow
from service.platform import db
from service.platform.config import Settings
from service.platform.jobs import webhook_queue as huey
from tests.doubles.sms_gateway import SmsGatewayDouble
from tests.doubles.smtp import SmtpDouble
from tests.service.enrolment.test_join import count, form_token, join

VICTIM = {"name": "Vera Victim", "email": "vera@example.com", "phone": "+31 6 5555 0101"}
ATTACKER_ADDRESS = {"REMOTE_ADDR": "10.9.9.9"}


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpDouble]:
    with SmtpDouble() as double:
        yield double


@pytest.fixture(scope="module")
def sms_server() -> Iterator[SmsGatewayDouble]:
    with SmsGatewayDouble() as double:
        yield double


@pytest.fixture
def smtp(smtp_server: SmtpDouble) -> SmtpDouble:
    smtp_server.reset()
    return smtp_server


@pytest.fixture
def sms(sms_server: SmsGatewayDouble) -> SmsGatewayDouble:
    sms_server.reset()
    return sms_server


@pytest.fixture
def settings(settings: Settings, smtp: SmtpDouble, sms: SmsGatewayDouble) -> Settings:
    """The suite's settings, with mail and SMS really sent (to the doubles)."""
    return dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none",
                               smtp_from="Demo Coffee <cards@coffee.example>", sms_gateway_url=sms.url,
                               sms_gateway_token=sms.token, join_rate_limit="100/minute")


def victim_card(client: FlaskClient, app: Any) -> Card:
    """The victim joins first, as a new member, and gets a card."""
    assert join(client, **VICTIM).status_code == 303
    with app.app_context():
        card = db.session().scalars(select(Card)).one()
        db.session().expunge(card)
        return card


def attacker_join(client: FlaskClient, **fields: str) -> Any:
    """Someone else (another browser, another address) types the victim's contact."""
    token = form_token(client)
    body = {"name": "Mallory", "consent": "yes", "csrf_token": token, **fields}
    return client.post("/join/demo-coffee", data=body, environ_base=ATTACKER_ADDRESS)


def code_in(text: str) -> str:
    code = re.search(r"\b(\d{6})\b", text)
    assert code, text
    return code.group(1)


def link_and_code(text: str) -> tuple[str, str]:
    link = re.search(r"http://127\.0\.0\.1:8000(/join/demo-coffee/recover/\S+)", text)
    code = re.search(r"\b(\d{6})\b", text)
    assert link and code, text
    return link.group(1), code.group(1)


def test_typing_a_members_email_shows_nothing_of_the_card(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                                          smtp: SmtpDouble) -> None:
    """The attack: type the victim's email, get redirected to their card (name, balance, .pkpass)."""
    card = victim_card(client, app)
    with app.app_context():
        key = download_key(db.session().get(Card, card.id), db.session().get(Card, card.id).program.brand)
    mallory = app.test_client()
    response = attacker_join(mallory, email=VICTIM["email"])
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "/card/" not in location and card.serial_number not in location and key not in location
    page = mallory.get(location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Check your messages" in html
    for secret in (key, card.serial_number, VICTIM["name"], display_number(card), "/passes/", "Balance", "Mallory"):
        assert secret not in html
    # the old redirect target is not reachable without the key, and no second card was made
    assert mallory.get(f"/join/demo-coffee/card/{card.serial_number}").status_code == 404
    assert count(app, Card) == 1
    # the victim, not the attacker, gets the link and code
    [message] = smtp.wait_for(1)
    assert message["To"] == VICTIM["email"] and message["From"] == "Demo Coffee <cards@coffee.example>"
    assert "Your Demo Coffee Rewards card" in message["Subject"]


def test_the_link_opens_the_card_once(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                      smtp: SmtpDouble) -> None:
    card = victim_card(client, app)
    owner = app.test_client()
    attacker_join(owner, email=VICTIM["email"].upper())
    link, _code = link_and_code(smtp.wait_for(1)[0].get_payload(decode=True).decode())
    confirm = owner.get(link)  # a mail scanner's GET uses nothing up
    assert confirm.status_code == 200 and VICTIM["name"] not in confirm.get_data(as_text=True)
    assert owner.get(link).status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)
    opened = owner.post(link, data={"csrf_token": token})
    assert opened.status_code == 303 and f"/card/{card.serial_number}?key=" in opened.headers["Location"]
    page = owner.get(opened.headers["Location"])
    assert page.status_code == 200 and "already a member, Vera Victim" in page.get_data(as_text=True)
    # once only
    assert owner.post(link, data={"csrf_token": token}).status_code == 410
    again = owner.get(link)
    assert again.status_code == 410 and "no longer works" in again.get_data(as_text=True)


def test_the_link_and_code_expire(client: FlaskClient, app: Any, seeded: dict[str, Any], smtp: SmtpDouble) -> None:
    victim_card(client, app)
    owner = app.test_client()
    check = attacker_join(owner, email=VICTIM["email"]).headers["Location"]
    link, code = link_and_code(smtp.wait_for(1)[0].get_payload(decode=True).decode())
    with app.app_context():
        db.session().execute(update(CardRecovery).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        db.session().commit()
    assert owner.get(link).status_code == 410
    token = form_token(owner, check)
    assert owner.post(link, data={"csrf_token": token}).status_code == 410
    assert owner.post(check, data={"csrf_token": token, "code": code}).status_code == 410


def test_the_code_from_the_sms_opens_the_card(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                              sms: SmsGatewayDouble, smtp: SmtpDouble) -> None:
    card = victim_card(client, app)
    owner = app.test_client()
    check = attacker_join(owner, phone="+31655550101", lang="ru").headers["Location"]
    html = owner.get(check).get_data(as_text=True)
    assert "Проверьте сообщения" in html and 'id="dev-logged"' not in html  # the gateway is configured
    [sent] = sms.sent
    assert sent["to"] == "+31655550101" and sent["from"] == "Passcast" and "код" in sent["text"]
    assert "http" not in sent["text"] and len(sent["text"]) <= 70  # one SMS, even in Cyrillic
    assert smtp.messages == []  # the phone matched: the code goes to the phone only
    code = code_in(sent["text"])
    token = form_token(owner, check)
    opened = owner.post(check, data={"csrf_token": token, "code": f"{code[:3]} {code[3:]}"})
    assert opened.status_code == 303 and f"/card/{card.serial_number}?key=" in opened.headers["Location"]
    assert owner.post(check, data={"csrf_token": token, "code": code}).status_code == 410  # used


def test_wrong_codes_lock_the_recovery(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                       smtp: SmtpDouble) -> None:
    victim_card(client, app)
    mallory = app.test_client()
    check = attacker_join(mallory, email=VICTIM["email"]).headers["Location"]
    _link, code = link_and_code(smtp.wait_for(1)[0].get_payload(decode=True).decode())
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    token = form_token(mallory, check)
    for left in range(recovery.MAX_ATTEMPTS - 1, 0, -1):
        response = mallory.post(check, data={"csrf_token": token, "code": wrong}, environ_base=ATTACKER_ADDRESS)
        assert response.status_code == 422 and f"Tries left: {left}." in response.get_data(as_text=True)
    assert mallory.post(check, data={"csrf_token": token, "code": wrong}).status_code == 410
    # the right code no longer helps either
    assert mallory.post(check, data={"csrf_token": token, "code": code}).status_code == 410
    with app.app_context():
        assert db.session().scalar(select(CardRecovery.attempts)) == recovery.MAX_ATTEMPTS


def test_parallel_guesses_cannot_pass_the_limit(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                                smtp: SmtpDouble) -> None:
    """Many guesses at once, each in its own connection: at most MAX_ATTEMPTS are compared."""
    victim_card(client, app)
    attacker_join(app.test_client(), email=VICTIM["email"])
    _link, code = link_and_code(smtp.wait_for(1)[0].get_payload(decode=True).decode())
    guesses = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, 13)]
    start = threading.Barrier(len(guesses))
    outcomes: list[recovery.CodeOutcome] = []
    errors: list[BaseException] = []

    def guess(typed: str) -> None:
        try:
            with app.app_context(), app.extensions["db_sessionmaker"]() as session:
                row = session.scalars(select(CardRecovery)).one()
                brand = row.card.program.brand
                start.wait(10)
                outcomes.append(recovery.redeem_code(session, brand, row, typed))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=guess, args=(typed,)) for typed in guesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(outcomes) == len(guesses)
    assert all(outcome.card is None for outcome in outcomes)
    compared = sorted(outcome.tries_left for outcome in outcomes if outcome.compared)
    assert compared == list(range(recovery.MAX_ATTEMPTS))  # each try counted once: 0, 1, ..., MAX - 1 left
    assert all(outcome.locked for outcome in outcomes if not outcome.compared)
    with app.app_context():
        row = db.session().scalars(select(CardRecovery)).one()
        assert row.attempts == recovery.MAX_ATTEMPTS
        assert recovery.redeem_code(db.session(), row.card.program.brand, row, code).locked


def test_a_refused_email_is_sent_again_later(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                              smtp: SmtpDouble) -> None:
    victim_card(client, app)
    smtp.refuse = 1
    owner = app.test_client()
    check = attacker_join(owner, email=VICTIM["email"]).headers["Location"]
    assert owner.get(check).status_code == 200  # the page does not wait for, nor fail with, the mail server
    assert smtp.messages == []
    retries = [task for task in huey.scheduled() if task.name.endswith("send_card_recovery")]
    assert len(retries) == 1 and retries[0].retries == send_card_recovery.retries - 1
    retries[0].eta = None  # the consumer would run it RETRY_DELAY_SECONDS later; run it now
    with app.app_context():
        huey.execute(retries[0])
    [message] = smtp.wait_for(1)
    _link, code = link_and_code(message.get_payload(decode=True).decode())
    opened = owner.post(check, data={"csrf_token": form_token(owner, check), "code": code})
    assert opened.status_code == 303 and "/card/" in opened.headers["Location"]


def test_one_card_gets_at_most_three_messages_an_hour(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                                      smtp: SmtpDouble) -> None:
    """The form cannot be used to flood a member's inbox; the page looks the same regardless."""
    victim_card(client, app)
    mallory = app.test_client()
    pages = [attacker_join(mallory, email=VICTIM["email"]) for _ in range(recovery.MAX_PER_HOUR + 2)]
    assert all(page.status_code == 303 and "/check/" in page.headers["Location"] for page in pages)
    assert len(smtp.wait_for(recovery.MAX_PER_HOUR)) == recovery.MAX_PER_HOUR
    assert len(smtp.messages) == recovery.MAX_PER_HOUR
    assert count(app, CardRecovery) == recovery.MAX_PER_HOUR


def test_mail_goes_through_starttls_and_login(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                              apns_pki: Any) -> None:
    """The production default: STARTTLS (certificate checked against SMTP_CA_FILE), then AUTH;
    an untrusted certificate is refused before any password is sent."""
    from service import notify

    with SmtpDouble(tls=(str(apns_pki.server_cert), str(apns_pki.server_key)), login=("cards", "s3cret")) as server:
        secure = dataclasses.replace(app.config["PASSCAST"], smtp_port=server.port, smtp_tls="starttls",
                                     smtp_ca_file=str(apns_pki.ca_cert), smtp_user="cards", smtp_password="s3cret")
        assert notify.deliver(secure, notify.Message("email", VICTIM["email"], "Ваша карта", "Код: 123456"))
        [message] = server.wait_for(1)
        assert message["Subject"] == "Ваша карта" and "123456" in message.get_payload(decode=True).decode()
        untrusted = dataclasses.replace(secure, smtp_ca_file=None)
        with pytest.raises(ssl.SSLCertVerificationError):
            notify.deliver(untrusted, notify.Message("email", VICTIM["email"], "x", "y"))
    assert len(server.messages) == 1
