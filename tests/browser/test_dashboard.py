"""The brand dashboard (/console/dashboard) in Debian's headless Chromium, against the app over real HTTP.

Sign in to the console as the demo owner (a wrong password is refused in plain words), see the figures and
the charts drawn (every canvas present and not blank), on a phone and on a laptop, download
a table as CSV, and sign out (the console session ends). Screenshots go to
test-artifacts/dashboard/.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import select

from service.models import Card, Customer, LedgerEntry, NpsAnswer, NpsSurvey, Registration
from service.nps import survey as nps
from service.platform import db

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
PHONE, LAPTOP = (360, 740), (1280, 900)
WAIT = 20  # seconds; generous for a loaded CI machine
CANVASES = ("wallets-chart", "activity-chart", "retention-chart", "nps-month-chart", "nps-store-chart")

pytestmark = [pytest.mark.browser]  # Chromium itself comes from the `chromium` fixture (conftest.py)

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def browser(chromium: Callable[..., Any], tmp_path: Path) -> Callable[..., Any]:
    """Start headless Chromium whose downloads land in tmp_path/downloads."""
    return lambda size=PHONE: chromium(size, downloads=tmp_path / "downloads")


def wait(driver: Any) -> WebDriverWait:
    return WebDriverWait(driver, WAIT)


def visible(driver: Any, element_id: str) -> Any:
    return wait(driver).until(ec.visibility_of_element_located((By.ID, element_id)))


def screenshot(driver: Any, name: str, size: tuple[int, int], full_height: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight") if full_height else size[1]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": size[0], "height": int(height), "deviceScaleFactor": 1, "mobile": False})
    path = ARTIFACTS / f"{name}-{size[0]}x{size[1]}.png"
    assert driver.save_screenshot(str(path))
    return path


# Non-blank: some pixel of the canvas is not fully transparent and not the page's white.
PAINTED_PIXELS = """
  const canvas = document.getElementById(arguments[0]);
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && !(data[i] > 250 && data[i + 1] > 250 && data[i + 2] > 250)) painted++;
  }
  return painted;
"""


def painted(driver: Any, canvas_id: str) -> int:
    return int(driver.execute_script(PAINTED_PIXELS, canvas_id))


def default_period_start(now: dt.datetime) -> dt.datetime:
    """The dashboard's default period starts on the 1st of the month 11 months ago."""
    months = now.year * 12 + now.month - 1 - 11
    return dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def brand(live: dict[str, Any], awkward_moment: dt.datetime) -> dict[str, Any]:
    """The demo brand with a few months of members, purchases, phones and NPS answers, all of
    them inside the default period of the (awkward) moment the test runs at."""
    app: Flask = live["app"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    span = now - default_period_start(now) - dt.timedelta(hours=1)
    with app.app_context():
        session = db.session()
        survey = NpsSurvey(brand_id=live["brand_id"], program_id=live["program_id"],
                           starts_at=now - dt.timedelta(days=200))
        session.add(survey)
        session.flush()
        for n in range(24):
            joined = now - span * (15 * n + 3) / 348  # 3 days to the period's first hour
            customer = Customer(brand_id=live["brand_id"], name=f"Member {n}", created_at=joined,
                                home_store_id=live["store_ids"][n % 3])
            session.add(customer)
            session.flush()
            card = Card(program_id=live["program_id"], customer_id=customer.id, brand_id=live["brand_id"],
                        number=400_000_000 + n, serial_number=str(uuid.uuid4()),
                        authentication_token=secrets.token_hex(16),
                        lifetime_spend=Decimal(10 * n), created_at=joined, updated_at=joined)
            session.add(card)
            session.flush()
            for k in range(n % 5 + 1):
                when = min(now - dt.timedelta(minutes=30), joined + dt.timedelta(days=9 * k + 1))
                session.add(LedgerEntry(card_id=card.id, kind="purchase", points=10 * (k + 1), amount=Decimal(k + 1),
                                        store_id=live["store_ids"][k % 3], created_at=when))
            if n % 4 == 0:
                session.add(LedgerEntry(card_id=card.id, kind="redeem", points=-5,
                                        created_at=now - dt.timedelta(days=1)))
            if n % 3:
                session.add(Registration(device_library_identifier=secrets.token_hex(8), card_id=card.id,
                                         pass_type_identifier="pass.dev.passcast.loyalty",
                                         push_token=secrets.token_hex(32), client_kind="apple"))
            comment = f"<img src=x onerror=alert(1)> coffee #{n}" if n % 6 == 0 else None
            session.add(NpsAnswer(survey_id=survey.id, brand_id=live["brand_id"], card_id=card.id, score=(n * 7) % 11,
                                  comment=comment, store_id=live["store_ids"][n % 3],
                                  answered_at=now - dt.timedelta(days=8 * n)))
        session.commit()
    return live


def sign_in(driver: Any, brand: dict[str, Any], password: str | None = None) -> None:
    """Sign in to the console as the demo owner; the dashboard is where it lands."""
    driver.get(f"{brand['base']}/dashboard")
    visible(driver, "email").send_keys(brand["owner_email"])
    driver.find_element(By.ID, "password").send_keys(password or brand["owner_password"], Keys.ENTER)
    visible(driver, "board")
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#tiles div"))


def test_sign_in_see_the_charts_download_csv_and_sign_out(browser: Callable[..., Any], brand: dict[str, Any],
                                                          tmp_path: Path) -> None:
    driver = browser(PHONE)
    driver.get(f"{brand['base']}/dashboard")
    visible(driver, "email").send_keys(brand["owner_email"])
    driver.find_element(By.ID, "password").send_keys("not the password", Keys.ENTER)
    assert "Wrong e-mail, password or code." in visible(driver, "signin-title").find_element(
        By.XPATH, "ancestor::main").text

    sign_in(driver, brand)
    tiles = {tile.find_element(By.TAG_NAME, "dt").text: tile.find_element(By.TAG_NAME, "dd").text
             for tile in driver.find_elements(By.CSS_SELECTOR, "#tiles div")}
    assert tiles["Issued"] == "24" and tiles["Apple Wallet"] == "16"  # 24 members, 2 in 3 with an iPhone
    for canvas in CANVASES:
        wait(driver).until(lambda d, c=canvas: painted(d, c) > 200, f"{canvas} stays blank")
    rows = driver.find_elements(By.CSS_SELECTOR, "#cohorts-table tr")
    assert len(rows) > 5 and re.fullmatch(r"\d{4}-\d{2}", rows[1].find_element(By.TAG_NAME, "th").text)
    assert driver.find_element(By.ID, "nps-total").text.startswith("NPS ")
    comments = driver.find_elements(By.CSS_SELECTOR, "#nps-comments li")
    assert [c.find_element(By.TAG_NAME, "q").text for c in comments] == [
        f"<img src=x onerror=alert(1)> coffee #{n}" for n in (18, 12, 6, 0)], "newest first, as plain text"
    assert not driver.find_elements(By.CSS_SELECTOR, "#nps-comments img")
    assert comments[0].find_element(By.CLASS_NAME, "meta").text.startswith("5/10 · card ")
    too_wide = driver.execute_script(
        "return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > "
        "document.documentElement.clientWidth && !e.closest('.scroll')).map((e) => e.tagName + '#' + e.id + '.' "
        "+ e.className + ' ' + e.getBoundingClientRect().right)")
    assert not too_wide, "no sideways scrolling on a phone (wide tables scroll in their own box)"
    screenshot(driver, "1-dashboard", PHONE)

    # The cohort table as CSV: fetched with the key, saved by the browser.
    driver.find_element(By.CSS_SELECTOR, "a.csv[data-report=cohorts]").click()
    downloads = tmp_path / "downloads"
    files = wait(driver).until(lambda d: [p for p in downloads.glob("*.csv")] if downloads.exists() else [])
    text = files[0].read_text()
    assert files[0].name.startswith("passcast-cohorts-")
    assert text.startswith("cohort,cards,lifetime_value,currency,month_0")
    # The customers' comments as CSV, from the NPS panel's own link.
    driver.find_element(By.CSS_SELECTOR, "a.csv[data-report='nps/comments']").click()
    comments_csv = wait(driver).until(lambda d: list(downloads.glob("passcast-nps-comments-*.csv")))
    assert comments_csv[0].read_text().startswith("answered_at,score,comment,card_id,survey_id,store_id,store")

    # The session survives a reload (an HttpOnly cookie the page's script cannot read), and signing out ends it.
    driver.refresh()
    wait(driver).until(lambda d: painted(d, "retention-chart") > 200)
    assert driver.execute_script("return document.cookie").find("passcast_console") == -1
    driver.find_element(By.ID, "sign-out").click()
    visible(driver, "email")
    driver.get(f"{brand['base']}/console/dashboard")
    visible(driver, "email")

    laptop = browser(LAPTOP)
    sign_in(laptop, brand)
    for canvas in CANVASES:
        wait(laptop).until(lambda d, c=canvas: painted(d, c) > 200, f"{canvas} stays blank")
    screenshot(laptop, "2-dashboard", LAPTOP)


def test_a_period_with_nothing_in_it_says_so(browser: Callable[..., Any], brand: dict[str, Any]) -> None:
    driver = browser(PHONE)
    sign_in(driver, brand)
    driver.execute_script("document.getElementById('from').value = '2020-01-01';"
                          "document.getElementById('to').value = '2020-03-31';")
    driver.find_element(By.CSS_SELECTOR, "#period button[type=submit]").click()
    wait(driver).until(lambda d: "2020-01-01 to 2020-03-31" in d.find_element(By.ID, "as-of").text)
    assert driver.find_element(By.ID, "cohorts-table").text == "No cards issued in this period."
    assert driver.find_element(By.ID, "nps-total").text == "No answers in this period yet."
    assert driver.find_element(By.ID, "nps-comments").text == "No comments in this period."
    assert [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#tiles dd")][0] == "0"


def test_the_dashboard_speaks_russian_when_asked(browser: Callable[..., Any], brand: dict[str, Any]) -> None:
    """Headings from the server, tiles, tables and empty states from the script: all in Russian."""
    driver = browser(PHONE)
    sign_in(driver, brand)
    driver.get(f"{brand['base']}/console/dashboard?lang=ru")
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#tiles div"))
    assert driver.find_element(By.CSS_SELECTOR, "h1").text == "Что работает"
    tiles = {tile.find_element(By.TAG_NAME, "dt").text: tile.find_element(By.TAG_NAME, "dd").text
             for tile in driver.find_elements(By.CSS_SELECTOR, "#tiles div")}
    assert tiles["Выпущено"] == "24" and "Уснувшие" in tiles
    assert driver.find_element(By.ID, "nps-total").text.startswith("NPS ") and "ответов" in \
        driver.find_element(By.ID, "nps-total").text
    assert driver.find_element(By.CSS_SELECTOR, "#cohorts-table th").text == "Когорта"
    driver.execute_script("document.getElementById('from').value = '2020-01-01';"
                          "document.getElementById('to').value = '2020-03-31';")
    driver.find_element(By.CSS_SELECTOR, "#period button[type=submit]").click()
    wait(driver).until(lambda d: "с 2020-01-01 по 2020-03-31" in d.find_element(By.ID, "as-of").text)
    assert driver.find_element(By.ID, "nps-comments").text == "За этот период комментариев нет."
    screenshot(driver, "3-dashboard-ru", PHONE)


def test_the_customer_answers_the_nps_survey_on_a_phone(browser: Callable[..., Any], brand: dict[str, Any]) -> None:
    """The link on the back of the pass opens a form that works on a phone; the answer counts."""
    app: Flask = brand["app"]
    with app.app_context():
        card = db.session().scalar(select(Card).where(Card.brand_id == brand["brand_id"]).order_by(Card.id).limit(1))
        assert card is not None
        url = nps.survey_url(card, brand["base"])
        answers_before = db.session().query(NpsAnswer).filter(NpsAnswer.card_id == card.id).count()
    driver = browser(PHONE)
    driver.get(url)
    assert "recommend" in visible(driver, "question").text
    driver.find_element(By.XPATH, "//input[@name='score'][@value='9']/..").click()  # the label: what a thumb taps
    screenshot(driver, "3-nps-form", PHONE, full_height=False)
    driver.find_element(By.ID, "send").click()
    assert "Thank you!" in visible(driver, "message").text
    screenshot(driver, "4-nps-thanks", PHONE, full_height=False)
    with app.app_context():
        answers = db.session().query(NpsAnswer).filter(NpsAnswer.card_id == card.id).all()
        assert len(answers) == answers_before and [a.score for a in answers] == [9], "changed, not added"
    assert httpx.get(url.replace(url[-4:], "0000")).status_code == 404


# The first answer for the summary is the 202 a big brand gets while a job counts its figures.
COUNTING_FIRST = """
  const realFetch = window.fetch;
  window.countingAnswered = 0;
  window.fetch = async (url, init) => {
    if (String(url).includes("/analytics/summary") && window.countingAnswered === 0) {
      window.countingAnswered++;
      return new Response(JSON.stringify({status: "counting"}),
                          {status: 202, headers: {"Retry-After": "1", "Content-Type": "application/json"}});
    }
    return realFetch(url, init);
  };
"""


def test_figures_being_counted_are_waited_for(browser: Callable[..., Any], brand: dict[str, Any]) -> None:
    driver = browser(PHONE)
    sign_in(driver, brand)
    driver.execute_script(COUNTING_FIRST)
    driver.find_element(By.ID, "reset").click()
    wait(driver).until(lambda d: "Counting these figures" in d.find_element(By.ID, "status").text)
    wait(driver).until(lambda d: not d.find_element(By.ID, "status").is_displayed())
    assert driver.execute_script("return window.countingAnswered") == 1
    assert driver.find_elements(By.CSS_SELECTOR, "#tiles dd")[0].text == "24"
