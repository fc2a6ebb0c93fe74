"""Chromium's "node does not belong to the document" is a stale element to every wait (conftest.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)

from tests.browser.conftest import detached_nodes_are_stale  # noqa: E402

DETACHED = ('unknown error: unhandled inspector error: {"code":-32000,'
            '"message":"Node with given id does not belong to the document"}')


def answer(message: str, error: str = "unknown error") -> dict[str, Any]:
    return {"status": 500, "value": json.dumps({"value": {"error": error, "message": message, "stacktrace": ""}})}


@pytest.mark.parametrize(("response", "raised"), [
    (answer(DETACHED), StaleElementReferenceException),
    (answer("unknown error: session deleted because of page crash"), WebDriverException),
    (answer("no such element: #switch", "no such element"), NoSuchElementException),
])
def test_only_the_detached_node_error_becomes_a_stale_element(response: dict[str, Any], raised: type) -> None:
    with pytest.raises(WebDriverException) as caught:
        detached_nodes_are_stale().check_response(response)
    assert type(caught.value) is raised


def test_a_good_answer_raises_nothing() -> None:
    detached_nodes_are_stale().check_response({"status": 0, "value": {"value": None}})
