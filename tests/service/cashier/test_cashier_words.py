"""The cashier's page in English and Russian: every text in both languages with the same
{places}, the language from `?lang=` (remembered), else Accept-Language, else English."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service.cashier.words import PAGE, SCRIPT, WORDS, script_words, words_for
from service.console.guard import LANGUAGE_COOKIE

CASHIER = Path(__file__).resolve().parents[3] / "service" / "cashier"
PLACE = re.compile(r"\{(\w+)\}")
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


class Page(HTMLParser):
    """The bits of the page the tests look at: <html lang>, the words block, the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = ""
        self.words: dict[str, str] = {}
        self.text: list[str] = []
        self.current: list[str] = []
        self._in_words = False
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang") or ""
        if tag == "script":
            self._in_words = found.get("id") == "cashier-words"
            self._skip += 1
        if tag == "a" and found.get("aria-current"):
            self.current.append(found.get("hreflang") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._skip -= 1
            self._in_words = False

    def handle_data(self, data: str) -> None:
        if self._in_words:
            self.words = json.loads(data)
        elif not self._skip and data.strip():
            self.text.append(data.strip())


def page(client: FlaskClient, url: str = "/cashier", **headers: str) -> Page:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    parsed = Page()
    parsed.feed(response.get_data(as_text=True))
    return parsed


def test_every_text_has_both_languages_with_the_same_places() -> None:
    assert len(WORDS) == len(PAGE) + len(SCRIPT)
    for key, texts in WORDS.items():
        assert len(texts) == 2, key
        english, russian = texts
        assert english.strip() and russian.strip(), key
        assert set(PLACE.findall(english)) == set(PLACE.findall(russian)), key
        if any(c.isalpha() for c in PLACE.sub("", english)) and key not in {"page_title"}:
            assert CYRILLIC.search(russian) or russian == english, f"{key}: {russian!r} is not Russian"
    # The plural forms come in full sets, each with its {n}.
    for key in WORDS:
        if key.endswith("_one"):
            base = key.removesuffix("_one")
            for form in ("one", "few", "many", "other"):
                assert f"{base}_{form}" in SCRIPT, f"{base}_{form}"
                assert "{n}" in WORDS[f"{base}_{form}"][0]


def test_every_word_the_template_and_the_script_use_exists() -> None:
    template = (CASHIER / "templates" / "cashier" / "cashier.html").read_text()
    used = set(re.findall(r"words\.(\w+)", template))
    assert used and used <= PAGE.keys(), used - PAGE.keys()
    assert not PAGE.keys() - used, f"unused page words: {PAGE.keys() - used}"
    script = (CASHIER / "static" / "cashier.js").read_text()
    called = set(re.findall(r"\bt\(\"(\w+)\"", script))
    plurals = {f"{base}_other" for base in re.findall(r"\bplural\(\"(\w+)\"", script)}
    assert called and plurals and (called | plurals) <= SCRIPT.keys(), (called | plurals) - SCRIPT.keys()
    assert "kind_purchase" in SCRIPT and "`kind_${entry.type}`" in script


def test_the_page_is_english_by_default(client: FlaskClient) -> None:
    english = page(client)
    assert english.lang == "en"
    assert {"Till", "Sign in", "Cashier token", "Find the card", "Balance", "Purchase"} <= set(english.text)
    assert english.words == script_words("en")
    assert english.words["points_many"] == "{n} points"
    assert english.current == ["en"]


def test_the_page_in_russian_by_lang(client: FlaskClient) -> None:
    response = client.get("/cashier?lang=ru")
    assert f"{LANGUAGE_COOKIE}=ru" in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]
    russian = page(client, "/cashier?lang=ru")
    assert russian.lang == "ru"
    assert {"Касса", "Вход", "Токен кассира", "Поиск карты", "Баланс", "Покупка", "Списать баллы",
            "Выйти", "Последние операции"} <= set(russian.text)
    assert "Sign in" not in russian.text and "Balance" not in russian.text
    assert russian.words == script_words("ru")
    assert russian.words["points_many"] == "{n} баллов"
    assert russian.words["new_balance"] == "Новый баланс: {balance}."
    assert russian.current == ["ru"]
    body = client.get("/cashier?lang=ru").get_data(as_text=True)
    assert 'placeholder="например, 123 456 789"' in body and 'placeholder="12,50"' in body


def test_the_cookie_remembers_the_choice(client: FlaskClient) -> None:
    client.get("/cashier?lang=ru")
    assert page(client).lang == "ru"  # no ?lang=: the cookie
    assert page(client, **{"Accept-Language": "en-US,en;q=0.9"}).lang == "ru", "a choice beats the browser"
    client.get("/cashier?lang=en")
    assert page(client, **{"Accept-Language": "ru"}).lang == "en"


@pytest.mark.parametrize("header", ["ru", "ru-RU,ru;q=0.9,en;q=0.5", "de-DE,ru;q=0.8,en;q=0.3"])
def test_the_browser_language_when_nothing_was_chosen(client: FlaskClient, header: str) -> None:
    russian = page(client, **{"Accept-Language": header})
    assert russian.lang == "ru"
    assert "Касса" in russian.text and russian.words["signed_out"] == "Вы вышли из кассы."
    response = client.get("/cashier", headers={"Accept-Language": header})
    assert "Set-Cookie" not in response.headers, "only an explicit choice is remembered"
    assert "Accept-Language" in response.headers["Vary"]


def test_an_unknown_language_falls_back(client: FlaskClient) -> None:
    assert page(client, "/cashier?lang=xx", **{"Accept-Language": "de"}).lang == "en"
    assert page(client, "/cashier?lang=xx", **{"Accept-Language": "ru"}).lang == "ru"


def test_the_words_block_is_data_under_the_pages_csp(client: FlaskClient) -> None:
    """The CSP forbids inline scripts; a JSON block is not run, and `</script>` in it is escaped."""
    response = client.get("/cashier?lang=ru")
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[-1].split(";", 1)[0]
    assert '<script type="application/json" id="cashier-words">' in response.get_data(as_text=True)
    assert words_for("fr") == words_for("en")
