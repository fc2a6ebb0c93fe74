"""The cashier's page (/cashier) in Debian's headless Chromium, against the app over real HTTP.

Cards reach the page the two ways a till sees them: a USB/Bluetooth scanner that types the
QR message and Enter (or the short number typed by hand), and the camera, here Chromium's
fake capture device playing a Y4M video of the card's QR code (decoded by the page with the
browser's BarcodeDetector where it has one, else the vendored jsQR). Screenshots go to
test-artifacts/cashier/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import qrcode
from flask import Flask
from PIL import Image

from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.apple.test_passkit import issue_and_install

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "cashier"
PHONE, TABLET = (360, 740), (1024, 768)
WAIT = 20  # seconds; generous for a loaded CI machine

pytestmark = [pytest.mark.browser]  # Chromium itself comes from the `chromium` fixture (conftest.py)

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

# ---- the fake camera ------------------------------------------------------------------------


def qr_video(message: str | None, path: Path, size: tuple[int, int] = (640, 480), frames: int = 5) -> Path:
    """A Y4M (YUV 4:2:0) video of the QR code of `message` (None: nothing) on white,
    for Chromium's --use-file-for-fake-video-capture."""
    frame = Image.new("L", size, 255)
    if message is not None:
        code = qrcode.make(message, border=4).get_image().convert("L")
        side = min(size) - 40
        frame.paste(code.resize((side, side), Image.Resampling.NEAREST),
                    ((size[0] - side) // 2, (size[1] - side) // 2))
    y, cb, cr = frame.convert("RGB").convert("YCbCr").split()
    half = (size[0] // 2, size[1] // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + planes)
    return path


# ---- the browser ----------------------------------------------------------------------------


def camera(video: Path) -> tuple[str, ...]:
    """Chromium flags for a fake camera playing `video`, granted without asking."""
    return ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}")


def wait(driver: Any) -> WebDriverWait:
    return WebDriverWait(driver, WAIT)


def status_text(driver: Any, pattern: str) -> str:
    """Wait until the status line matches `pattern` (a regex); return it."""
    wait(driver).until(lambda d: re.search(pattern, d.find_element(By.ID, "status").text))
    return driver.find_element(By.ID, "status").text


def visible(driver: Any, element_id: str) -> Any:
    return wait(driver).until(ec.visibility_of_element_located((By.ID, element_id)))


def screenshot(driver: Any, name: str, size: tuple[int, int]) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
    path = ARTIFACTS / f"{name}-{size[0]}x{size[1]}.png"
    assert driver.save_screenshot(str(path))
    return path


def sign_in(driver: Any, base: str, token: str) -> None:
    driver.get(f"{base}/cashier")
    field = visible(driver, "token")
    field.send_keys(token, Keys.ENTER)
    visible(driver, "code")
    wait(driver).until(lambda d: d.switch_to.active_element == d.find_element(By.ID, "code"))


def post_purchase(driver: Any, amount: str, shot: str | None = None) -> str:
    """Enter a purchase, continue, confirm; the status line once the push report is in."""
    visible(driver, "amount").send_keys(amount, Keys.ENTER)
    assert amount.replace(",", ".") in visible(driver, "confirm-text").text
    if shot:
        screenshot(driver, shot, PHONE)
    visible(driver, "confirm-yes").click()
    return status_text(driver, r"Card updated;.*(notified|could not|no phone)")


# ---- the app --------------------------------------------------------------------------------


@pytest.fixture
def till(live_app: tuple[Flask, str], apns: ApnsDouble, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The demo brand on the live app, and a card installed on one iPhone (so a push has somewhere to go)."""
    app, base = live_app
    with app.app_context():
        from service import demo

        seed = demo.seed(db.session(), app.config["PASSCAST"])
    live = {**seed, "base": base}
    with httpx.Client(timeout=10) as http:
        card, phone = issue_and_install(http, live, tmp_path / "phone")
        assert phone.register("c3" * 32).status_code == 201
        yield {**live, "card": card, "http": http, "apns": apns}


def api_card(till: dict[str, Any]) -> dict[str, Any]:
    response = till["http"].get(f"{till['base']}/api/v1/cards/{till['card']['id']}", headers=bearer(till["api_key"]))
    assert response.status_code == 200
    return response.json()


# ---- the tests ------------------------------------------------------------------------------


def test_scanner_wedge_purchase_updates_the_balance_and_notifies_the_phone(
        chromium: Callable[..., Any], till: dict[str, Any]) -> None:
    driver = chromium()
    driver.get(f"{till['base']}/cashier")
    visible(driver, "token").send_keys("ct_not_a_real_token", Keys.ENTER)
    assert "Unknown cashier token" in status_text(driver, "token")  # problem+json detail, in plain words
    driver.find_element(By.ID, "token").clear()
    sign_in(driver, till["base"], till["cashier_token"])
    screenshot(driver, "1-signed-in", PHONE)

    # A mistyped short number and Enter: the API's problem detail is shown as it is.
    driver.switch_to.active_element.send_keys("123 456 789", Keys.ENTER)
    assert "wrong check digit (a typo?)" in status_text(driver, "check digit")

    # A scanner types the QR message and Enter; the page was focused on the code field.
    code = driver.find_element(By.ID, "code")
    code.clear()
    code.send_keys(till["card"]["barcode_message"], Keys.ENTER)
    assert visible(driver, "holder").text == "Nina Berg"
    before = api_card(till)["balance"]
    assert driver.find_element(By.ID, "balance").text.startswith(f"{before} points")
    pushes_before = len(till["apns"].requests)

    status = post_purchase(driver, "12.50", shot="2-confirm")
    after = api_card(till)
    assert after["balance"] > before, "a purchase earns points in the demo program"
    assert f"New balance: {after['balance']} points" in status
    assert "1 phone notified" in status
    assert driver.find_element(By.ID, "balance").text.startswith(f"{after['balance']} points")
    assert len(till["apns"].requests) > pushes_before
    screenshot(driver, "2-purchase-done", PHONE)
    screenshot(driver, "2-purchase-done", TABLET)

    # The ledger entry carries the page's Idempotency-Key: a fresh UUID.
    newest = driver.find_elements(By.CSS_SELECTOR, "#recent li")[0].text
    assert "purchase 12.50" in newest
    ledger = till["http"].get(f"{till['base']}/api/v1/cards/{till['card']['id']}/transactions",
                              headers=bearer(till["api_key"])).json()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        ledger[0]["idempotency_key"])

    # Next customer: the same card by its short number typed by hand; redeem more than there is.
    driver.find_element(By.ID, "next").click()
    driver.switch_to.active_element.send_keys(till["card"]["number"], Keys.ENTER)
    assert visible(driver, "holder").text == "Nina Berg"
    driver.find_element(By.CSS_SELECTOR, "input[name=kind][value=redeem]").click()
    visible(driver, "points").send_keys(str(after["balance"] + 1), Keys.ENTER)
    assert f"only {after['balance']} points" in status_text(driver, "only")
    screenshot(driver, "3-redeem-refused", PHONE)

    # The token survives a reload (localStorage); signing out forgets it.
    driver.refresh()
    visible(driver, "code")
    driver.find_element(By.ID, "sign-out").click()
    visible(driver, "token")
    assert driver.execute_script("return localStorage.length") == 0


def test_camera_scan_finds_the_card(chromium: Callable[..., Any], till: dict[str, Any], tmp_path: Path) -> None:
    driver = chromium(flags=camera(qr_video(till["card"]["barcode_message"], tmp_path / "card-qr.y4m")))
    sign_in(driver, till["base"], till["cashier_token"])
    driver.find_element(By.ID, "camera-start").click()
    assert visible(driver, "holder").text == "Nina Berg"
    assert not driver.find_element(By.ID, "camera").is_displayed(), "the camera stops once a card is found"
    # Chromium on Linux has no BarcodeDetector, so this is the vendored jsQR reading the video.
    has_detector = driver.execute_script("return 'BarcodeDetector' in window")
    assert has_detector or driver.execute_script("return typeof window.jsQR") == "function"
    status = post_purchase(driver, "4,20")  # a decimal comma, as typed in much of Europe
    assert "New balance" in status
    screenshot(driver, "4-camera-scan", PHONE)



def test_camera_view_stops_and_foreign_codes_are_explained(chromium: Callable[..., Any],
                                                           till: dict[str, Any], tmp_path: Path) -> None:
    # Nothing in front of the camera: the live view stays open until the cashier stops it.
    driver = chromium(flags=camera(qr_video(None, tmp_path / "nothing.y4m")))
    sign_in(driver, till["base"], till["cashier_token"])
    driver.find_element(By.ID, "camera-start").click()
    visible(driver, "camera")
    screenshot(driver, "5-camera-open", PHONE)
    driver.find_element(By.ID, "camera-stop").click()
    visible(driver, "camera-start")
    assert driver.execute_script("return document.getElementById('video').srcObject") is None

    # A QR code that is not one of our cards: the camera stops and the API's reason is shown.
    driver = chromium(flags=camera(qr_video("https://example.com/not-a-loyalty-card", tmp_path / "other.y4m")))
    sign_in(driver, till["base"], till["cashier_token"])
    driver.find_element(By.ID, "camera-start").click()
    status = status_text(driver, r"\S")
    assert driver.find_element(By.ID, "status").get_attribute("class") == "status error", status
    assert not driver.find_element(By.ID, "card").is_displayed()
    visible(driver, "camera-start")


# The server records the purchase, then the answer is lost on the way back to the till.
LOSE_FIRST_TRANSACTION_ANSWER = """
  const realFetch = window.fetch;
  let lost = false;
  window.fetch = async (url, init) => {
    const response = await realFetch(url, init);
    if (!lost && String(url).endsWith("/transactions")) {
      lost = true;
      throw new TypeError("Failed to fetch");
    }
    return response;
  };
"""


def test_retrying_a_confirm_whose_answer_was_lost_records_the_purchase_once(
        chromium: Callable[..., Any], till: dict[str, Any]) -> None:
    driver = chromium()
    sign_in(driver, till["base"], till["cashier_token"])
    driver.find_element(By.ID, "code").send_keys(till["card"]["barcode_message"], Keys.ENTER)
    visible(driver, "holder")
    driver.execute_script(LOSE_FIRST_TRANSACTION_ANSWER)
    visible(driver, "amount").send_keys("20.00", Keys.ENTER)
    visible(driver, "confirm-yes").click()
    assert "Press Confirm to try again" in status_text(driver, "try again")
    after_first = api_card(till)["balance"]
    assert after_first > 0, "the server did record it"

    driver.find_element(By.ID, "confirm-yes").click()  # same submit, same Idempotency-Key
    status = status_text(driver, r"Card updated;.*notified")
    assert "nothing was done twice" in status
    assert api_card(till)["balance"] == after_first
    ledger = till["http"].get(f"{till['base']}/api/v1/cards/{till['card']['id']}/transactions",
                              headers=bearer(till["api_key"])).json()
    assert [entry["type"] for entry in ledger] == ["purchase", "issue"]


def test_a_paired_till_signs_cashiers_in_with_their_pin(chromium: Callable[..., Any], till: dict[str, Any]) -> None:
    """The manager pairs the tablet once with the brand's pair link; cashiers pick their name and type a PIN."""
    http, base, key = till["http"], till["base"], bearer(till["api_key"])
    store = till["store_ids"][0]
    eva, olga = (http.post(f"{base}/api/v1/cashiers", headers=key, json={"name": name, "store_id": store, "pin": pin})
                 .json() for name, pin in (("Eva", "4071"), ("Olga", "8080")))
    assert eva["has_pin"] and olga["has_pin"]
    paired = http.post(f"{base}/api/v1/tills", headers=key, json={"name": "Counter 1", "store_id": store}).json()

    driver = chromium()  # a 360 px phone-sized window: the smallest till there is
    driver.get(paired["pair_url"])
    assert "paired" in status_text(driver, "paired")
    assert driver.execute_script("return location.hash") == "", "the till key leaves the address bar"
    assert driver.execute_script("return localStorage.getItem('passcast.tillKey')") == paired["key"]
    assert not driver.find_element(By.ID, "signin-form").is_displayed()
    wait(driver).until(lambda d: len(Select(d.find_element(By.ID, "pin-cashier")).options) == 2)
    assert driver.find_element(By.ID, "till-name").text == "Demo Coffee · Demo Coffee Centraal · Counter 1"
    assert [o.text for o in Select(driver.find_element(By.ID, "pin-cashier")).options] == ["Eva", "Olga"]

    # A wrong PIN: said plainly, with the tries left; the field is emptied.
    Select(driver.find_element(By.ID, "pin-cashier")).select_by_visible_text("Eva")
    driver.find_element(By.ID, "pin").send_keys("0000", Keys.ENTER)
    assert "4 tries left" in status_text(driver, "Wrong PIN")
    assert driver.find_element(By.ID, "pin").get_attribute("value") == ""
    screenshot(driver, "6-pin-sign-in", PHONE)
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]

    driver.find_element(By.ID, "pin").send_keys("4071", Keys.ENTER)
    visible(driver, "code")
    assert driver.find_element(By.ID, "who").text == "Eva · Demo Coffee Centraal · Demo Coffee"
    session = driver.execute_script("return localStorage.getItem('passcast.cashierToken')")
    assert session.startswith(f"ct_s{eva['id']}t{paired['id']}_")
    screenshot(driver, "7-pin-signed-in", PHONE)

    # The till works as with a token: the purchase is Eva's.
    driver.find_element(By.ID, "code").send_keys(till["card"]["barcode_message"], Keys.ENTER)
    assert visible(driver, "holder").text == "Nina Berg"
    assert "New balance" in post_purchase(driver, "3.80")
    ledger = http.get(f"{base}/api/v1/cards/{till['card']['id']}/transactions", headers=key).json()
    assert (ledger[0]["type"], ledger[0]["cashier_id"]) == ("purchase", eva["id"])

    # Signing out brings the PIN screen back for the next cashier; the pairing stays.
    driver.find_element(By.ID, "sign-out").click()
    visible(driver, "pin")
    assert driver.execute_script("return localStorage.getItem('passcast.cashierToken')") is None
    assert driver.execute_script("return localStorage.getItem('passcast.tillKey')") == paired["key"]

    # Five wrong PINs lock Olga's PIN sign-in; the page says until when.
    Select(driver.find_element(By.ID, "pin-cashier")).select_by_visible_text("Olga")
    for attempt in range(5):
        driver.find_element(By.ID, "pin").send_keys(f"{1000 + attempt}", Keys.ENTER)
        status_text(driver, "1 try left|locked" if attempt >= 3 else f"{4 - attempt} tries left")
    assert "locked until" in status_text(driver, "locked until")
    driver.execute_script("document.getElementById('status').textContent = ''")
    driver.find_element(By.ID, "pin").send_keys("8080", Keys.ENTER)  # the right PIN waits too
    assert "locked until" in status_text(driver, "locked until")
    assert not driver.find_element(By.ID, "till").is_displayed()
    screenshot(driver, "8-pin-locked", PHONE)

    # The token form is one tap away; a revoked till forgets its key and asks for a token.
    driver.find_element(By.ID, "use-token").click()
    visible(driver, "token")
    driver.find_element(By.ID, "use-pin").click()
    visible(driver, "pin")
    assert http.delete(f"{base}/api/v1/tills/{paired['id']}", headers=key).status_code == 200
    driver.refresh()
    assert "pair this till again" in status_text(driver, "pair this till")
    visible(driver, "token")
    assert driver.execute_script("return localStorage.getItem('passcast.tillKey')") is None


def test_a_pin_session_left_unused_signs_itself_out(chromium: Callable[..., Any], till: dict[str, Any]) -> None:
    """A shared till left signed in would record the next person's sales under your name: the
    brand sets how long a PIN session may sit unused on each till; any key or touch restarts it."""
    http, base, key = till["http"], till["base"], bearer(till["api_key"])
    eva = http.post(f"{base}/api/v1/cashiers", headers=key,
                    json={"name": "Eva", "store_id": till["store_ids"][0], "pin": "4071"}).json()
    paired = http.post(f"{base}/api/v1/tills", headers=key,
                       json={"name": "Counter 2", "store_id": till["store_ids"][0], "idle_seconds": 5}).json()
    assert paired["idle_seconds"] == 5
    driver = chromium()
    driver.get(paired["pair_url"])
    wait(driver).until(lambda d: len(Select(d.find_element(By.ID, "pin-cashier")).options) == 1)
    driver.find_element(By.ID, "pin").send_keys("4071", Keys.ENTER)
    visible(driver, "code")
    assert driver.find_element(By.ID, "who").text.startswith(eva["name"])
    time.sleep(3)
    driver.find_element(By.ID, "code").send_keys("1")  # use: the 5 seconds start again
    time.sleep(3)
    assert driver.find_element(By.ID, "till").is_displayed()  # 6 s after sign-in, 3 s after the key
    assert "Signed out after 5 seconds without use" in status_text(driver, "without use")
    visible(driver, "pin")
    assert driver.execute_script("return localStorage.getItem('passcast.cashierToken')") is None
    # A cashier token (not a PIN session) on the same page is not signed out by the till's timer.
    driver.find_element(By.ID, "use-token").click()
    visible(driver, "token").send_keys(till["cashier_token"], Keys.ENTER)
    visible(driver, "code")
    time.sleep(6)
    assert driver.find_element(By.ID, "till").is_displayed()


def russian_points(n: int) -> str:
    """How a Russian cashier reads a count of points: 1 балл, 2 балла, 5 баллов, 21 балл."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} балл"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return f"{n} балла"
    return f"{n} баллов"


def test_the_till_speaks_russian(chromium: Callable[..., Any], till: dict[str, Any]) -> None:
    """A Russian cashier on a 360 px phone: the labels, the figures and the status lines in Russian;
    the EN/RU switch is a pair of links, so a keyboard reaches it too."""
    driver = chromium()
    driver.get(f"{till['base']}/cashier?lang=ru")
    assert driver.execute_script("return document.documentElement.lang") == "ru"
    assert driver.find_element(By.ID, "signin-title").text == "Вход"
    assert driver.find_element(By.CSS_SELECTOR, "label[for=token]").text == "Токен кассира"
    visible(driver, "token").send_keys(till["cashier_token"], Keys.ENTER)
    visible(driver, "code")
    assert driver.find_element(By.ID, "scan-title").text == "Поиск карты"
    assert driver.find_element(By.ID, "sign-out").text == "Выйти"
    assert driver.find_element(By.ID, "code").get_attribute("placeholder") == "например, 123 456 789"

    driver.find_element(By.ID, "code").send_keys(till["card"]["barcode_message"], Keys.ENTER)
    assert visible(driver, "holder").text == "Nina Berg"
    before = api_card(till)["balance"]
    assert driver.find_element(By.ID, "balance").text.startswith(russian_points(before))
    assert driver.find_element(By.ID, "card-meta").text.startswith(f"Карта {till['card']['number']} · ")
    assert [dt.text for dt in driver.find_elements(By.CSS_SELECTOR, ".facts dt") if dt.is_displayed()][:2] == [
        "Баланс", "Уровень"]
    assert driver.find_element(By.CSS_SELECTOR, "input[name=kind][value=redeem]").find_element(
        By.XPATH, "..").text == "Списать баллы"
    assert "выпуск карты" in driver.find_elements(By.CSS_SELECTOR, "#recent li")[0].text
    screenshot(driver, "9-russian-card", PHONE)
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]

    # A purchase typed with a decimal comma: the confirmation and the status line in Russian.
    visible(driver, "amount").send_keys("12,50", Keys.ENTER)
    assert visible(driver, "confirm-text").text.startswith("Провести покупку на 12,50 ")
    driver.find_element(By.ID, "confirm-yes").click()
    status = status_text(driver, r"Карта обновлена;.*(уведомлени|недоступ|ни на одном)")
    after = api_card(till)["balance"]
    assert f"Сохранено. Новый баланс: {russian_points(after)}." in status
    assert "1 телефон получил уведомление" in status
    assert "покупка 12,50" in driver.find_elements(By.CSS_SELECTOR, "#recent li")[0].text
    screenshot(driver, "9-russian-purchase-done", PHONE)

    # Too many points to redeem: said in Russian, with the right plural.
    driver.find_element(By.CSS_SELECTOR, "input[name=kind][value=redeem]").click()
    visible(driver, "points").send_keys(str(after + 1), Keys.ENTER)
    assert f"На карте только {russian_points(after)}." in status_text(driver, "только")

    # The switch: the "EN" link by keyboard; the till stays signed in and speaks English.
    english = driver.find_element(By.CSS_SELECTOR, ".lang a[hreflang=en]")
    driver.execute_script("arguments[0].focus()", english)
    english.send_keys(Keys.ENTER)
    wait(driver).until(lambda d: d.execute_script("return document.documentElement.lang") == "en")
    visible(driver, "code")
    assert driver.find_element(By.ID, "scan-title").text == "Find the card"
    assert driver.find_element(By.CSS_SELECTOR, ".lang a[aria-current]").text == "EN"
def test_a_stamp_card_is_stamped_at_the_till_and_its_reward_shown(
        chromium: Callable[..., Any], till: dict[str, Any]) -> None:
    """A stamp card offers Stamp (not Redeem points); a stamp that fills the card says its reward."""
    http, base, key = till["http"], till["base"], bearer(till["api_key"])
    program = http.post(f"{base}/api/v1/programs", headers=key, json={
        "name": "Coffee Stamps", "kind": "stamps", "stamps_required": 3,
        "stamp_ladder": [{"at": 3, "reward": "A free coffee"}]}).json()
    card = http.post(f"{base}/api/v1/programs/{program['id']}/cards", headers=key,
                     json={"customer": {"name": "Sam Stamp"}}).json()
    driver = chromium()
    sign_in(driver, base, till["cashier_token"])
    driver.switch_to.active_element.send_keys(card["barcode_message"], Keys.ENTER)
    assert visible(driver, "holder").text == "Sam Stamp"
    assert driver.find_element(By.ID, "balance").text == "0 of 3 stamps"
    assert not driver.find_element(By.ID, "redeem-kind").is_displayed()
    assert visible(driver, "stamps") == driver.switch_to.active_element  # the stamp is the default at a stamp card
    driver.switch_to.active_element.send_keys("2", Keys.ENTER)
    assert "2 stamps for Sam Stamp?" in visible(driver, "confirm-text").text
    visible(driver, "confirm-yes").click()
    assert "New balance: 2 of 3 stamps." in status_text(driver, r"Card updated;")
    screenshot(driver, "4-stamped", PHONE)
    wait(driver).until(lambda d: d.find_element(By.ID, "balance").text == "2 of 3 stamps")
    visible(driver, "stamps").send_keys(Keys.ENTER)  # empty: one stamp
    visible(driver, "confirm-yes").click()
    status = status_text(driver, r"Card updated;")
    assert "New balance: 0 of 3 stamps. Reward earned: A free coffee." in status
    wait(driver).until(lambda d: d.find_element(By.ID, "rewards").text == "Rewards earned: A free coffee.")
    screenshot(driver, "4-card-full", PHONE)
    screenshot(driver, "4-card-full", TABLET)
    answer = http.get(f"{base}/api/v1/cards/{card['id']}", headers=key).json()
    assert (answer["stamps"], answer["stamp_cards_completed"]) == (0, 1)
