"""Passes follow a challenge's calendar: a running challenge made, changed or removed updates every
pass of its program at once; its start and its end, and a rolling window running out, are swept
within the hour, once, and a missed hour is caught up."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.journeys import challenge_passes
from service.models import Card, utcnow
from service.platform import db
from tests.helpers import bearer
from tests.service.journeys.test_challenges import buy, iso, make_challenge
from tests.service.loyalty.test_loyalty import issue


def versions(app: Flask, program_id: int) -> dict[int, int]:
    with app.app_context():
        return dict(db.session().execute(select(Card.id, Card.version).where(Card.program_id == program_id)).all())


def sweep(app: Flask, now: dt.datetime) -> dict[str, int]:
    with app.app_context():
        return challenge_passes.sweep(db.session(), now)


def test_a_running_challenge_made_changed_or_removed_updates_every_pass_of_its_program(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    program_id = seeded["program_id"]
    for n in range(3):
        issue(client, seeded, name=f"Member {n}")
    before = versions(app, program_id)
    later = make_challenge(client, seeded, name="Next month", starts_at=iso(utcnow() + dt.timedelta(days=30)),
                           ends_at=iso(utcnow() + dt.timedelta(days=60)))
    assert versions(app, program_id) == before  # not shown yet: no pass changes
    running = make_challenge(client, seeded)
    bumped = versions(app, program_id)
    assert all(bumped[card] == before[card] + 1 for card in before)
    assert client.patch(f"/api/v1/challenges/{running['id']}", json={"target": 4},
                        headers=bearer(seeded["api_key"])).status_code == 200
    assert all(versions(app, program_id)[card] == bumped[card] + 1 for card in before)
    assert client.patch(f"/api/v1/challenges/{later['id']}", json={"target": 4},
                        headers=bearer(seeded["api_key"])).status_code == 200
    assert versions(app, program_id) == {card: bumped[card] + 1 for card in before}  # still not shown
    assert client.delete(f"/api/v1/challenges/{running['id']}", headers=bearer(seeded["api_key"])).status_code == 204
    assert all(versions(app, program_id)[card] == bumped[card] + 2 for card in before)


def test_the_hourly_sweep_shows_a_start_and_an_end_once_and_catches_up_a_missed_hour(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    program_id = seeded["program_id"]
    now = utcnow().replace(microsecond=0)
    cards = [issue(client, seeded, name=f"Member {n}")["id"] for n in range(2)]
    assert sweep(app, now) == {"programs": 0, "cards": 0}  # the first sweep looks an hour back
    make_challenge(client, seeded, starts_at=iso(now + dt.timedelta(hours=2)), ends_at=iso(now + dt.timedelta(days=2)))
    start = versions(app, program_id)
    assert sweep(app, now + dt.timedelta(hours=1)) == {"programs": 0, "cards": 0}
    # the worker was down at the start: three hours later the sweep still shows it
    assert sweep(app, now + dt.timedelta(hours=4)) == {"programs": 1, "cards": len(start)}
    assert versions(app, program_id) == {card: start[card] + 1 for card in start}
    assert sweep(app, now + dt.timedelta(hours=4)) == {"programs": 0, "cards": 0}  # once
    assert sweep(app, now + dt.timedelta(hours=5)) == {"programs": 0, "cards": 0}
    assert sweep(app, now + dt.timedelta(days=2, minutes=5))["programs"] == 1  # the end takes it off the passes
    assert all(versions(app, program_id)[card] == start[card] + 2 for card in cards)


def test_a_rolling_window_that_runs_out_updates_that_cards_pass(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    now = utcnow().replace(microsecond=0)
    assert sweep(app, now) == {"programs": 0, "cards": 0}
    make_challenge(client, seeded, name="Two in a week", target=2, ends_at=None, rolling_days=7,
                   starts_at=iso(now - dt.timedelta(days=1)))
    started, idle = issue(client, seeded, name="Keen")["id"], issue(client, seeded, name="Idle")["id"]
    buy(client, seeded, started)
    before = versions(app, seeded["program_id"])
    assert sweep(app, now + dt.timedelta(days=6)) == {"programs": 0, "cards": 0}
    assert sweep(app, now + dt.timedelta(days=7, hours=1)) == {"programs": 0, "cards": 1}
    after = versions(app, seeded["program_id"])
    assert after[started] == before[started] + 1 and after[idle] == before[idle]
