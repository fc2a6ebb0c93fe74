"""The app's Flask class: `ensure_sync` remembers plain functions (Flask asked `inspect` about
every hook and view on every request), and still hands `async def` ones to Flask's wrapper."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import PasscastFlask


def test_plain_functions_are_returned_as_they_are_and_remembered(app: Flask) -> None:
    assert isinstance(app, PasscastFlask)

    def view() -> str:
        return "ok"

    assert app.ensure_sync(view) is view
    assert view in app._plain_functions  # noqa: SLF001 - the cache itself is what is tested
    assert app.ensure_sync(view) is view


def test_coroutine_functions_still_go_through_flasks_wrapper(app: Flask) -> None:
    async def view() -> str:
        return "ok"

    if importlib.util.find_spec("asgiref") is None:
        with pytest.raises(RuntimeError):  # Flask's own answer without its async extra
            app.ensure_sync(view)
    else:
        assert app.ensure_sync(view) is not view
    assert view not in app._plain_functions  # noqa: SLF001


def test_unhashable_callables_are_asked_about_each_time(app: Flask) -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> str:
            return "ok"

    handler: Any = Unhashable()
    assert app.ensure_sync(handler) is handler


def test_every_request_still_runs_its_hooks(client: FlaskClient) -> None:
    for _ in range(3):  # the remembered hooks run each time: the guard still refuses control characters
        assert client.get("/api/v1/cards/%01").status_code == 422
        assert client.get("/livez").status_code == 200
