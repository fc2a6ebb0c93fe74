"""The phone's pass fetch after a push, counted statement by statement over real HTTP: one
SELECT when the signed bytes are stored, the confirming UPDATE only when a push waits for
it, and no Session (so no BEGIN, COMMIT or liveness ping) on either path (issue 18)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event, insert, select

from service.apple import lean_paths, pass_files
from service.models import Card, PushDelivery, utcnow
from service.platform import db
from tests.service.apple.test_passkit import TOKEN_A, Phone, change_card, issue_and_install


@contextmanager
def statements(app: Any) -> Iterator[dict[str, list[str]]]:
    """The SQL each of the app's two engines ran inside the block, by engine."""
    seen: dict[str, list[str]] = {"session": [], "lean": []}
    engines: dict[str, Engine] = {"session": app.extensions["db_engine"], "lean": app.extensions["db_lean_engine"]}
    listeners = {}
    for name, engine in engines.items():
        def listener(_conn: Any, _cursor: Any, statement: str, *_: Any, name: str = name) -> None:
            seen[name].append(" ".join(statement.split()[:1]).upper())
        listeners[name] = listener
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        for name, engine in engines.items():
            event.remove(engine, "before_cursor_execute", listeners[name])


def _pending_push(app: Any, card_id: int, version: int, status: str, token: str) -> int:
    with app.app_context():
        session = db.session()
        delivery_id = session.execute(insert(PushDelivery).values(
            card_id=card_id, card_version=version, push_token=token, client_kind="apple", topic="pass.test",
            status=status, created_at=utcnow()).returning(PushDelivery.id)).scalar_one()
        session.commit()
        return delivery_id


def _statuses(app: Any, card_id: int) -> dict[str, str]:
    with app.app_context():
        rows = db.session().execute(select(PushDelivery.push_token, PushDelivery.status)
                                    .where(PushDelivery.card_id == card_id)).all()
        return dict(rows)  # type: ignore[arg-type]


def test_a_stored_fetch_and_a_304_are_one_select_each(live: dict[str, Any], tmp_path: Path) -> None:
    app = live["app"]
    with httpx.Client(timeout=20) as http:
        _, phone = issue_and_install(http, live, tmp_path)  # the download stored the signed bytes
        with statements(app) as seen:
            stored = phone.fetch()
        assert stored.status_code == 200 and stored.headers["content-type"] == "application/vnd.apple.pkpass"
        assert stored.headers["Content-Disposition"].endswith('.pkpass"') and stored.headers["Last-Modified"]
        assert seen == {"session": [], "lean": ["SELECT"]}
        with statements(app) as seen:
            not_modified = phone.fetch(if_modified_since=stored.headers["Last-Modified"])
        assert not_modified.status_code == 304
        assert not_modified.headers["Last-Modified"] == stored.headers["Last-Modified"]
        assert seen == {"session": [], "lean": ["SELECT"]}
        with statements(app) as seen:
            assert phone.updatable().status_code == 204  # not registered on this device
        assert seen == {"session": [], "lean": ["SELECT"]}
        with statements(app) as seen:
            head = phone.fetch(method="HEAD")
        assert head.status_code == 200 and head.content == b""
        assert seen == {"session": [], "lean": ["SELECT"]}


def test_a_304_reads_no_bytes_and_a_200_reads_them(live: dict[str, Any], tmp_path: Path) -> None:
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        body = phone.fetch().content
    with live["app"].app_context():
        updated_at = db.session().scalar(select(Card.updated_at).where(Card.id == card["id"]))
        assert updated_at is not None
        fresh = lean_paths.pass_row(phone.type_id, phone.serial)
        assert fresh is not None and fresh.data is not None and fresh.stored_version == fresh.version
        assert fresh.resources is not None and pass_files.stored_archive(fresh.resources, fresh.data) == body
        assert fresh.updated_at == updated_at and fresh.updated_at.tzinfo == dt.UTC  # as the ORM reads it
        assert fresh.last_modified is not None and fresh.last_modified.tzinfo == dt.UTC
        assert fresh.unconfirmed is False
        held = lean_paths.pass_row(phone.type_id, phone.serial, updated_at + dt.timedelta(seconds=1))
        assert held is not None and held.data is None and held.stored_version == fresh.version
        assert lean_paths.pass_row(phone.type_id, "no-such-serial") is None
        assert lean_paths.pass_row("pass.other.type", phone.serial) is None


def test_a_fetch_confirms_its_pushes_once_and_leaves_newer_ones(live: dict[str, Any], tmp_path: Path) -> None:
    app = live["app"]
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        phone.fetch()
        with app.app_context():
            current = db.session().scalar(select(Card.version).where(Card.id == card["id"]))
        assert current is not None
        _pending_push(app, card["id"], current, "accepted", "announced")
        _pending_push(app, card["id"], current - 1, "retry", "older")
        _pending_push(app, card["id"], current + 1, "queued", "newer")  # a version the phone does not hold
        _pending_push(app, card["id"], current, "failed", "failed")  # not waiting for anything
        with statements(app) as seen:
            assert phone.fetch().status_code == 200
        assert seen == {"session": [], "lean": ["SELECT", "UPDATE"]}
        assert _statuses(app, card["id"]) == {"announced": "confirmed", "older": "confirmed", "newer": "queued",
                                              "failed": "failed"}
        with statements(app) as seen:
            assert phone.fetch().status_code == 200
        assert seen == {"session": [], "lean": ["SELECT"]}  # nothing left to confirm: no write
        with app.app_context():
            confirmed_at = db.session().scalars(select(PushDelivery.confirmed_at)
                                                .where(PushDelivery.status == "confirmed")).all()
        assert len(confirmed_at) == 2 and all(moment is not None for moment in confirmed_at)


def test_a_new_version_is_signed_on_fetch_and_then_served_lean(live: dict[str, Any], tmp_path: Path) -> None:
    app = live["app"]
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        old = phone.fetch()
        change_card(http, live, card, 7)
        with statements(app) as seen:
            new = phone.fetch(if_modified_since=old.headers["Last-Modified"])
        assert new.status_code == 200 and new.content != old.content
        assert seen["lean"] == ["SELECT"] and "UPDATE" in seen["session"]  # signed and stored in the Session
        with statements(app) as seen:
            again = phone.fetch()
        assert again.content == new.content and again.headers["Last-Modified"] == new.headers["Last-Modified"]
        assert seen == {"session": [], "lean": ["SELECT"]}


def test_a_wrong_token_reads_the_same_and_writes_nothing(live: dict[str, Any], tmp_path: Path) -> None:
    app = live["app"]
    with httpx.Client(timeout=20) as http:
        card, phone = issue_and_install(http, live, tmp_path)
        with app.app_context():
            current = db.session().scalar(select(Card.version).where(Card.id == card["id"]))
        _pending_push(app, card["id"], int(current or 1), "accepted", TOKEN_A)
        stranger = Phone(http, {"webServiceURL": phone.base.removesuffix("/v1"), "passTypeIdentifier": phone.type_id,
                                "serialNumber": phone.serial, "authenticationToken": "z" * 32})
        with statements(app) as seen:
            assert stranger.fetch().status_code == 401
            assert Phone(http, {"webServiceURL": phone.base.removesuffix("/v1"), "passTypeIdentifier": phone.type_id,
                                "serialNumber": "unknown", "authenticationToken": "z" * 32}).fetch().status_code == 401
        assert seen == {"session": [], "lean": ["SELECT", "SELECT"]}
        assert _statuses(app, card["id"]) == {TOKEN_A: "accepted"}
