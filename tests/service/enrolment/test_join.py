"""The public join page /join/<program>: form, CSRF, validation, languages, devices, posters."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from service.models import Card, Customer, Program, WebhookEvent
from service.platform import db

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0 Mobile Safari/537.36")
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def form_token(client: FlaskClient, path: str = "/join/demo-coffee", **headers: str) -> str:
    page = client.get(path, headers=headers)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match
    return match.group(1)


def join(client: FlaskClient, *, user_agent: str = IPHONE, path: str = "/join/demo-coffee",
         **fields: str) -> Any:
    token = form_token(client, path)
    body = {"name": "Anna Smith", "phone": "+31 6 1234 5678", "consent": "yes", "csrf_token": token, **fields}
    return client.post(path, data={k: v for k, v in body.items() if v is not None},
                       headers={"User-Agent": user_agent})


def count(app: Any, model: Any) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model)) or 0


def test_form_page_shows_the_brand(client: FlaskClient, seeded: dict[str, Any]) -> None:
    page = client.get("/join/demo-coffee")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Join Demo Coffee Rewards" in html and "Demo Coffee" in html
    assert 'name="consent"' in html and "100 points = one free coffee." in html  # the brand's terms
    assert "Every 1 EUR spent earns 10 points." in html  # and the rules, written from the rules
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "passcast_join=" in page.headers["Set-Cookie"] and "HttpOnly" in page.headers["Set-Cookie"]
    theme = client.get("/join/demo-coffee/theme.css").get_data(as_text=True)
    assert "--brand-bg:#3b2417" in theme
    logo = client.get("/join/demo-coffee/logo.png")
    assert logo.mimetype == "image/png" and Image.open(io.BytesIO(logo.data)).width > 0
    # the id works as well as the slug; an unknown program is a 404
    assert client.get(f"/join/{seeded['program_id']}").status_code == 200
    assert client.get("/join/no-such-program").status_code == 404
    assert client.get("/join/99999999999999999999").status_code == 404


def test_join_issues_a_card_and_offers_the_iphone_button(client: FlaskClient, app: Any,
                                                        seeded: dict[str, Any]) -> None:
    response = join(client, email="Anna@Example.com", birthday="1990-04-01")
    assert response.status_code == 303
    page = client.get(response.headers["Location"], headers={"User-Agent": IPHONE})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Welcome, Anna Smith" in html
    apple = re.search(r'id="add-apple" href="([^"]+)"', html)
    assert apple and "/passes/" in apple.group(1)
    # on an iPhone the Google button is behind "Other phone?"
    other = html.index('id="other-phone"')
    assert html.index('id="add-apple"') < other < html.index('id="add-google"')
    pkpass = client.get(apple.group(1).replace("http://127.0.0.1:8000", ""))
    assert pkpass.status_code == 200 and pkpass.mimetype == "application/vnd.apple.pkpass"
    with app.app_context():
        customer = db.session().scalars(select(Customer)).one()
        assert (customer.name, customer.email, customer.phone) == ("Anna Smith", "anna@example.com", "+31612345678")
        assert str(customer.birthday) == "1990-04-01" and customer.language == "en"
        assert db.session().scalar(select(WebhookEvent.type)) == "card.issued"


def test_android_gets_google_first_and_desktop_gets_both(client: FlaskClient, seeded: dict[str, Any]) -> None:
    location = join(client, user_agent=ANDROID).headers["Location"]
    html = client.get(location, headers={"User-Agent": ANDROID}).get_data(as_text=True)
    google = re.search(r'id="add-google" href="([^"]+)"', html)
    assert google and google.group(1).startswith("https://pay.google.com/gp/v/save/")
    assert html.index('id="add-google"') < html.index('id="other-phone"') < html.index('id="add-apple"')
    html = client.get(location, headers={"User-Agent": DESKTOP}).get_data(as_text=True)
    assert 'id="other-phone"' not in html and 'id="add-apple"' in html and 'id="add-google"' in html


def logged_code(caplog: pytest.LogCaptureFixture) -> str:
    """The code of the last message the unconfigured notifier wrote to the log (development)."""
    [record] = [record for record in caplog.records if record.name == "passcast.notify"][-1:]
    match = re.search(r"code is (\d{6})", record.getMessage())
    assert match, record.getMessage()
    return match.group(1)


def test_the_same_phone_again_gets_a_code_not_the_card(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Typing a member's phone proves nothing: the card opens only with the code sent to that phone.
    Without SMS_GATEWAY_URL (development) the message is logged, and the page says so."""
    caplog.set_level("WARNING", logger="passcast.notify")
    first = join(client).headers["Location"]
    again = join(client, name="Anna S.", phone="+31612345678")
    assert again.status_code == 303 and "/check/" in again.headers["Location"]
    check = again.headers["Location"]
    html = client.get(check).get_data(as_text=True)
    assert "Check your messages" in html and "Anna" not in html and "SMS_GATEWAY_URL is not set" in html
    opened = client.post(check, data={"csrf_token": form_token(client, check), "code": logged_code(caplog)})
    assert opened.status_code == 303
    assert opened.headers["Location"].split("?")[0] == first.split("?")[0]
    assert "already a member" in client.get(opened.headers["Location"]).get_data(as_text=True)
    assert count(app, Card) == 1


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"name": ""}, "name", "Please enter your name."),
    ({"phone": "", "email": ""}, "email", "Please enter a phone number or an email."),
    ({"email": "anna@", "phone": ""}, "email", "This email address does not look right."),
    ({"phone": "call me"}, "phone", "Use digits, spaces, dashes"),
    ({"birthday": "1990-02-31"}, "birthday", "Please enter a valid date."),
    ({"birthday": "2999-01-01"}, "birthday", "cannot be in the future"),
    ({"consent": None}, "consent", "Please accept the terms to join."),
])
def test_bad_input_is_explained_and_writes_nothing(client: FlaskClient, app: Any, seeded: dict[str, Any],
                                                   fields: dict[str, Any], field: str, message: str) -> None:
    response = join(client, **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'data-field="{field}"' in html and message in html
    assert count(app, Card) == 0 and count(app, Customer) == 0


def test_a_post_without_the_token_or_cookie_is_refused(client: FlaskClient, app: Any,
                                                       seeded: dict[str, Any]) -> None:
    body = {"name": "Mallory", "phone": "+31611111111", "consent": "yes"}
    assert client.post("/join/demo-coffee", data=body).status_code == 400
    token = form_token(client)
    assert client.post("/join/demo-coffee", data={**body, "csrf_token": token + "x"}).status_code == 400
    other = client.application.test_client()  # another browser: no cookie, a token from elsewhere
    response = other.post("/join/demo-coffee", data={**body, "csrf_token": token})
    assert response.status_code == 400 and "The form expired" in response.get_data(as_text=True)
    assert count(app, Card) == 0


def test_one_address_is_slowed_after_ten_joins_a_minute(client: FlaskClient, app: Any,
                                                        seeded: dict[str, Any]) -> None:
    """Typing other people's phone numbers to find their cards is slowed down (JOIN_RATE_LIMIT)."""
    for number in range(10):
        assert join(client, phone=f"+3161000{number:04d}").status_code == 303
    refused = join(client, phone="+31610009999")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many tries" in html and 'value="+31610009999"' in html  # the form is kept
    assert count(app, Card) == 10
    other = client.application.test_client()  # another address has its own budget
    token = form_token(other)
    body = {"name": "Bo", "phone": "+31612120000", "consent": "yes", "csrf_token": token}
    assert other.post("/join/demo-coffee", data=body, environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 303
    assert count(app, Card) == 11


def test_russian_from_accept_language_and_lang_overrides(client: FlaskClient, seeded: dict[str, Any]) -> None:
    html = client.get("/join/demo-coffee", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}).get_data(True)
    assert "Получить карту" in html and 'lang="ru"' in html
    html = client.get("/join/demo-coffee?lang=en", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Get my card" in html
    html = client.get("/join/demo-coffee?lang=ru").get_data(as_text=True)
    assert "Получить карту" in html
    response = join(client, lang="ru", name="")
    assert "Введите ваше имя." in response.get_data(as_text=True)
    location = join(client, lang="ru").headers["Location"]
    html = client.get(location).get_data(as_text=True)
    assert "Добавить в" in html and "Google Кошелек" in html


def test_a_card_page_needs_its_key(client: FlaskClient, seeded: dict[str, Any]) -> None:
    location = join(client).headers["Location"]
    assert client.get(location).status_code == 200
    assert client.get(re.sub(r"key=[0-9a-f]+", "key=" + "0" * 32, location)).status_code == 404


@pytest.mark.parametrize("kind", ["png", "pdf"])
def test_poster_carries_the_join_link_as_qr(client: FlaskClient, seeded: dict[str, Any], kind: str) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    response = client.get(f"/join/demo-coffee/poster.{kind}")
    assert response.status_code == 200
    if kind == "pdf":
        assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
        # Pillow writes the page as one embedded JPEG: read it back out and scan it
        start = response.data.index(b"\xff\xd8")
        image = Image.open(io.BytesIO(response.data[start:response.data.rindex(b"\xff\xd9") + 2]))
    else:
        assert response.mimetype == "image/png"
        image = Image.open(io.BytesIO(response.data))
    assert image.size == (1240, 1754)
    texts = [result.text for result in zxingcpp.read_barcodes(image)]
    assert texts == ["http://127.0.0.1:8000/join/demo-coffee"]


def test_program_without_slug_joins_by_id(client: FlaskClient, app: Any, seeded: dict[str, Any]) -> None:
    with app.app_context():
        program = db.session().get(Program, seeded["program_id"])
        program.slug = None
        db.session().commit()
    response = join(client, path=f"/join/{seeded['program_id']}")
    assert response.status_code == 303 and f"/join/{seeded['program_id']}/card/" in response.headers["Location"]


def test_a_card_issued_by_the_api_is_found_by_its_phone_as_typed(client: FlaskClient, app: Any,
                                                                 seeded: dict[str, Any],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    from tests.helpers import bearer

    caplog.set_level("WARNING", logger="passcast.notify")
    issued = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                         json={"customer": {"name": "Anna", "phone": "+31 6 1234 5678"}})
    assert issued.status_code == 201
    check = join(client, phone="+31 6 1234 5678").headers["Location"]
    assert "/check/" in check and count(app, Card) == 1
    assert "sms to +31612345678 not sent" in caplog.text  # to the stored phone, as a gateway wants it
    opened = client.post(check, data={"csrf_token": form_token(client, check), "code": logged_code(caplog)})
    assert issued.get_json()["serial_number"] in opened.headers["Location"]


def test_a_poster_is_drawn_once_per_design(client: FlaskClient, app: Any, seeded: dict[str, Any]) -> None:
    """Unauthenticated and costly: the second request is served from instance/posters/."""
    from service.enrolment import poster

    before = poster.renders
    first = client.get("/join/demo-coffee/poster.png")
    second = client.get("/join/demo-coffee/poster.png")
    assert first.status_code == second.status_code == 200 and first.data == second.data
    assert poster.renders == before + 1
    files = list((app.config["PASSCAST"].instance_dir / "posters").iterdir())
    assert [path.suffix for path in files] == [".png"]
    assert client.get("/join/demo-coffee/poster.png", headers={"If-None-Match": first.headers["ETag"]}
                      ).status_code == 304
    assert poster.renders == before + 1
    with app.app_context():  # a design change draws anew
        db.session().get(Program, seeded["program_id"]).background_color = "#112233"
        db.session().commit()
    changed = client.get("/join/demo-coffee/poster.png")
    assert changed.status_code == 200 and changed.data != first.data and poster.renders == before + 2
    client.get("/join/demo-coffee/poster.png?lang=ru")  # and so does another language
    assert poster.renders == before + 3


def test_the_card_page_says_balance_and_expiry_in_the_customers_language(
        client: FlaskClient, app: Any, seeded: dict[str, Any]) -> None:
    import datetime as dt
    from decimal import Decimal

    location = re.sub(r"&lang=\w+", "", join(client).headers["Location"])
    serial = location.split("/card/")[1].split("?")[0]
    with app.app_context():
        card = db.session().scalar(select(Card).where(Card.serial_number == serial))
        assert card is not None
        card.balance, card.points_expire_at = 21, dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
        db.session().commit()
    english = client.get(location + "&lang=en").get_data(as_text=True)
    assert re.search(r'id="card-balance">21\xa0points<', english)
    assert "Points expire on 2 December 2026" in english
    russian = client.get(location + "&lang=ru").get_data(as_text=True)
    assert re.search(r'id="card-balance">21\xa0балл<', russian)
    assert "Баллы сгорают 2 декабря 2026" in russian

    with app.app_context():  # a cashback program: the balance is money, in the program's currency
        card = db.session().scalar(select(Card).where(Card.serial_number == serial))
        assert card is not None
        card.program.kind, card.balance = "cashback", 123456
        db.session().commit()
    assert re.search(r'id="card-balance">1,234.56\xa0EUR<', client.get(location + "&lang=en").get_data(as_text=True))
    assert re.search(r'id="card-balance">1\xa0234,56\xa0EUR<', client.get(location + "&lang=ru").get_data(as_text=True))
    with app.app_context():
        card = db.session().scalar(select(Card).where(Card.serial_number == serial))
        assert card is not None
        card.program.kind, card.program.discount_percent = "discount", Decimal("5.00")
        db.session().commit()
    assert re.search(r'id="card-balance">5&nbsp;%<', client.get(location + "&lang=en").get_data(as_text=True))


@pytest.mark.parametrize(("count", "english", "russian"), [
    (0, "0\xa0points", "0\xa0баллов"), (1, "1\xa0point", "1\xa0балл"), (3, "3\xa0points", "3\xa0балла"),
    (11, "11\xa0points", "11\xa0баллов"), (22, "22\xa0points", "22\xa0балла"), (105, "105\xa0points", "105\xa0баллов")])
def test_point_counts_in_words(count: int, english: str, russian: str) -> None:
    from service.enrolment import formats

    assert (formats.points(count, "en"), formats.points(count, "ru")) == (english, russian)
