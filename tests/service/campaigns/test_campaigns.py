"""Message campaigns: every audience rule on crafted data, sending in the customer's
language through the pass's news field, the report, scheduling across a worker restart,
and tenancy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.campaigns import segments, sending, tasks
from service.campaigns.tasks import google_messages
from service.models import (
    Campaign,
    CampaignRecipient,
    Card,
    Customer,
    GoogleMessage,
    LedgerEntry,
    PushDelivery,
    WebhookEvent,
    utcnow,
)
from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue, news, other_brand_key, pass_json, register, token


def run_due(app: Flask, now: dt.datetime | None = None) -> dict[str, int]:
    """What the worker's minute job does, in this test app."""
    with app.app_context():
        return tasks.run_due(now)


NOW = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)  # a Wednesday: the week is 2-8 March


@pytest.fixture
def crafted(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> dict[str, int]:
    """Six cards whose dates, activity, tier and birthday are set relative to NOW."""
    names = ["new_active", "old_lapsed", "old_silent", "birthday_gift_only", "voided", "old_active"]
    ids = {name: issue(client, seeded, name)["id"] for name in names}
    other_key = other_brand_key(app)
    with app.app_context():
        session = db.session()
        days = lambda n: NOW - dt.timedelta(days=n)  # noqa: E731
        plan = {
            # name: (created, activity days ago [(kind, key)], tier, birthday)
            "new_active": (days(2), [(1, "purchase", None)], "Gold", dt.date(1990, 3, 8)),
            "old_lapsed": (days(100), [(80, "purchase", None)], "Silver", dt.date(1985, 3, 20)),
            "old_silent": (days(100), [], None, dt.date(1980, 3, 1)),
            "birthday_gift_only": (days(100), [(1, "earn", "birthday:x:2026")], "Gold", None),
            "voided": (days(1), [(1, "purchase", None)], "Gold", dt.date(1990, 3, 4)),
            "old_active": (days(200), [(5, "redeem", None), (150, "purchase", None)], "Platinum",
                           dt.date(1975, 4, 2)),
        }
        for name, (created, activity, tier, birthday) in plan.items():
            card = session.get(Card, ids[name])
            assert card is not None
            card.created_at, card.tier, card.voided = created, tier, name == "voided"
            card.customer.birthday = birthday
            for ago, kind, key in activity:
                session.add(LedgerEntry(card_id=card.id, kind=kind, points=0, idempotency_key=key,
                                        created_at=days(ago)))
        session.commit()
    # Another brand's card matches everything and must never be counted.
    theirs = client.get("/api/v1/cards", headers=bearer(other_key))
    assert theirs.status_code == 200
    return ids


def audience_names(app: Flask, seeded: dict[str, Any], ids: dict[str, int], audience: dict[str, Any]) -> set[str]:
    by_id = {card_id: name for name, card_id in ids.items()}
    with app.app_context():
        assert segments.validate(audience) == []
        statement = segments.card_ids(seeded["brand_id"], audience, NOW)
        return {by_id[card_id] for card_id in db.session().scalars(statement)}


@pytest.mark.parametrize(("audience", "expected"), [
    ({"all_cards": True}, {"new_active", "old_lapsed", "old_silent", "birthday_gift_only", "old_active"}),
    ({"new": {"days": 30}}, {"new_active"}),
    ({"active": {"days": 30}}, {"new_active", "old_active"}),
    # a birthday gift is not activity; a card younger than the period is not lapsed
    ({"lapsed": {"days": 60}}, {"old_lapsed", "old_silent", "birthday_gift_only"}),
    ({"tier": ["Gold"]}, {"new_active", "birthday_gift_only"}),
    ({"tier": ["Silver", "Platinum"]}, {"old_lapsed", "old_active"}),
    ({"birthday": "week"}, {"new_active"}),
    ({"birthday": "month"}, {"new_active", "old_lapsed", "old_silent"}),
    ({"all": [{"tier": ["Gold"]}, {"lapsed": {"days": 60}}]}, {"birthday_gift_only"}),
    ({"any": [{"new": {"days": 30}}, {"tier": ["Platinum"]}]}, {"new_active", "old_active"}),
    ({"all": [{"birthday": "month"}, {"not": {"tier": ["Gold"]}}]}, {"old_lapsed", "old_silent"}),
])
def test_each_audience_rule(app: Flask, seeded: dict[str, Any], crafted: dict[str, int],
                            audience: dict[str, Any], expected: set[str]) -> None:
    assert audience_names(app, seeded, crafted, audience) == expected


def test_card_ids_and_program_rules(app: Flask, seeded: dict[str, Any], crafted: dict[str, int]) -> None:
    assert audience_names(app, seeded, crafted, {"card_ids": [crafted["old_silent"], crafted["voided"]]}) == {
        "old_silent"}
    assert audience_names(app, seeded, crafted, {"program_id": seeded["program_id"]}) == set(crafted) - {"voided"}
    assert audience_names(app, seeded, crafted, {"program_id": seeded["program_id"] + 999}) == set()


def test_birthday_weeks_around_february() -> None:
    # 2027 is not a leap year: people born on 29 February are in the week ending on the 28th.
    assert (2, 29) in segments.birthday_days(dt.date(2027, 2, 24), "week")
    assert (2, 29) not in segments.birthday_days(dt.date(2027, 3, 3), "week")
    assert len(segments.birthday_days(dt.date(2028, 2, 10), "month")) == 29
    # a week across the new year
    assert segments.birthday_days(dt.date(2026, 12, 31), "week")[-1] == (1, 3)


def test_preview_counts_and_refuses_bad_audiences(client: FlaskClient, seeded: dict[str, Any],
                                                  crafted: dict[str, int]) -> None:
    headers = bearer(seeded["api_key"])
    ok = client.post("/api/v1/campaigns/preview", json={"audience": {"tier": ["Gold"]}}, headers=headers)
    assert ok.status_code == 200 and ok.get_json() == {"count": 2}
    bad = client.post("/api/v1/campaigns/preview", headers=headers,
                      json={"audience": {"all": [{"tier": "Gold"}, {"lapsed": {"days": 0}}, {"vip": True}]}})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert [e["field"] for e in bad.get_json()["errors"]] == [
        "audience.all[0].tier", "audience.all[1].lapsed", "audience.all[2].vip"]
    two_rules = client.post("/api/v1/campaigns/preview", json={"audience": {"new": {"days": 3}, "tier": ["Gold"]}},
                            headers=headers)
    assert two_rules.status_code == 422


def test_send_now_in_each_language_and_report(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                              apns: ApnsDouble) -> None:
    english = issue(client, seeded, "Anna Smith", email="anna@example.com")
    russian = issue(client, seeded, "Ivan Petrov", email="ivan@example.com", language="ru")
    broken = issue(client, seeded, "Old Phone", email="old@example.com")
    silent = issue(client, seeded, "No Phone", email="nophone@example.com")
    register(app, english["id"], token(1))
    register(app, russian["id"], token(2))
    register(app, broken["id"], token(3))
    apns.set_answer(token(3), "bad_token")
    response = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Weekend", "message": "Double points this weekend", "send_now": True,
        "messages": {"ru": "Двойные баллы в эти выходные"}, "audience": {"all_cards": True}})
    assert response.status_code == 201, response.get_json()
    campaign = response.get_json()
    assert campaign["status"] == "finished"

    assert news(pass_json(client, app, english["id"])) == {
        "key": "news", "label": "News", "value": "Double points this weekend", "changeMessage": "%@"}
    assert news(pass_json(client, app, russian["id"]))["value"] == "Двойные баллы в эти выходные"
    assert sorted(request.token for request in apns.requests) == [token(1), token(2), token(3)]

    report = client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=bearer(seeded["api_key"])).get_json()
    assert report["targeted"] == 4 and report["cards_with_devices"] == 3
    apple = report["platforms"]["apple"]
    # both phones that got it fetched the new version (pass_json above): confirmed
    assert (apple["pushes"], apple["sent"], apple["accepted"], apple["confirmed"], apple["failed"]) == (3, 3, 2, 2, 1)
    assert apple["failure_reasons"] == {"BadDeviceToken": 1}
    assert report["failed"] == 1 and report["pending"] == 0 and list(report["platforms"]) == ["apple"]
    with app.app_context():
        card = db.session().get(Card, silent["id"])
        assert card is not None and card.news == "Double points this weekend"


def test_draft_scheduled_and_sent_once_across_a_worker_restart(client: FlaskClient, seeded: dict[str, Any],
                                                               app: Flask, apns: ApnsDouble) -> None:
    cards = [issue(client, seeded, f"Member {n}", email=f"m{n}@example.com")["id"] for n in range(5)]
    for n, card_id in enumerate(cards):
        register(app, card_id, token(100 + n))
    headers = bearer(seeded["api_key"])
    draft = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Later", "message": "New menu", "audience": {"all_cards": True}}).get_json()
    assert draft["status"] == "draft" and draft["audience_count"] == 5
    later = (utcnow() + dt.timedelta(hours=1)).isoformat()
    scheduled = client.post(f"/api/v1/campaigns/{draft['id']}/send", json={"send_at": later}, headers=headers)
    assert scheduled.get_json()["status"] == "scheduled"
    assert run_due(app)["campaigns"] == 0  # not due yet
    assert apns.requests == []

    with app.app_context():
        session = db.session()
        campaign = session.get(Campaign, draft["id"])
        assert campaign is not None
        campaign.send_at = utcnow() - dt.timedelta(seconds=1)  # the hour has passed
        session.commit()
        # The worker sends one batch of two and dies (its lease still held).
        assert sending.send(session, draft["id"], batch=2, max_batches=1) == 2
        assert sending.send(session, draft["id"], batch=2) == 0  # another worker: the lease is taken
    assert run_due(app)["campaigns"] == 0
    assert len(apns.requests) == 2

    with app.app_context():
        session = db.session()
        campaign = session.get(Campaign, draft["id"])
        assert campaign is not None and campaign.status == "sending"
        campaign.lease_until = utcnow() - dt.timedelta(seconds=1)  # the dead worker's lease ran out
        session.commit()
    assert run_due(app)["campaigns"] == 1  # the restarted worker resumes
    assert run_due(app)["campaigns"] == 0  # and nothing is left

    assert sorted(request.token for request in apns.requests) == [token(100 + n) for n in range(5)]
    with app.app_context():
        session = db.session()
        recipients = session.execute(select(CampaignRecipient.card_id, func.count())
                                     .where(CampaignRecipient.campaign_id == draft["id"])
                                     .group_by(CampaignRecipient.card_id)).all()
        assert sorted(recipients) == [(card_id, 1) for card_id in cards]
        versions = session.scalars(select(Card.version).where(Card.id.in_(cards))).all()
        assert set(versions) == {2}  # one bump each
        assert session.scalar(select(func.count()).select_from(PushDelivery)
                              .where(PushDelivery.campaign_id == draft["id"])) == 5
        events = session.scalars(select(WebhookEvent).where(WebhookEvent.type == "campaign.finished")).all()
        assert [(e.data["campaign_id"], e.data["targeted"]) for e in events] == [(draft["id"], 5)]
    finished = client.get(f"/api/v1/campaigns/{draft['id']}", headers=headers).get_json()
    assert finished["status"] == "finished" and finished["finished_at"]


def test_cancelled_campaign_is_not_sent(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                        apns: ApnsDouble) -> None:
    card = issue(client, seeded, "Anna", email="anna@example.com")
    register(app, card["id"], token(7))
    headers = bearer(seeded["api_key"])
    soon = (utcnow() + dt.timedelta(minutes=5)).isoformat()
    campaign = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Soon", "message": "Hi", "send_at": soon, "audience": {"all_cards": True}}).get_json()
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/cancel", headers=headers).get_json()["status"] == (
        "cancelled")
    assert run_due(app, utcnow() + dt.timedelta(minutes=10))["campaigns"] == 0
    assert apns.requests == []
    again = client.post(f"/api/v1/campaigns/{campaign['id']}/send", json={}, headers=headers)
    assert again.status_code == 409


def test_bad_campaign_bodies_write_nothing(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    headers = bearer(seeded["api_key"])
    for body in (
        {"name": "x", "message": "", "audience": {"all_cards": True}},
        {"name": "x", "message": "m", "audience": {"all_cards": True}, "messages": {"Russian!": "m"}},
        {"name": "x", "message": "m", "audience": {"all_cards": True}, "send_at": "2026-01-01T00:00:00",
         "send_now": True},
        {"name": "x", "message": "m", "audience": {"tier": []}},
    ):
        response = client.post("/api/v1/campaigns", json=body, headers=headers)
        assert response.status_code == 422, (body, response.get_json())
        assert response.mimetype == "application/problem+json"
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Campaign)) == 0


def test_another_brands_key_gets_404(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    headers = bearer(seeded["api_key"])
    issue(client, seeded, "Anna", email="anna@example.com")
    campaign = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Ours", "message": "Hi", "audience": {"all_cards": True}}).get_json()
    theirs = bearer(other_brand_key(app))
    for method, path, body in (
        ("get", f"/api/v1/campaigns/{campaign['id']}", None),
        ("get", f"/api/v1/campaigns/{campaign['id']}/report", None),
        ("post", f"/api/v1/campaigns/{campaign['id']}/send", {}),
        ("post", f"/api/v1/campaigns/{campaign['id']}/cancel", None),
        ("post", "/api/v1/campaigns/preview", {"audience": {"program_id": seeded["program_id"]}}),
        ("get", f"/api/v1/programs/{seeded['program_id']}/birthday", None),
        ("put", f"/api/v1/programs/{seeded['program_id']}/birthday", {"points": 5}),
    ):
        response = getattr(client, method)(path, json=body, headers=theirs)
        assert response.status_code == 404, (method, path, response.get_json())
    assert client.get("/api/v1/campaigns", headers=theirs).get_json() == []
    # Their "all cards" is their cards only.
    assert client.post("/api/v1/campaigns/preview", json={"audience": {"all_cards": True}},
                       headers=theirs).get_json() == {"count": 0}
    with app.app_context():
        assert db.session().scalar(select(Customer.id).where(Customer.name == "Anna")) is not None


def test_cards_in_google_wallet_get_one_message_each(client: FlaskClient, seeded: dict[str, Any],
                                                     app: Flask) -> None:
    """Cards with a Google object get addMessage (through the Google Wallet module; recorded as
    "dev" while no issuer is configured), once per campaign, and the report counts them."""
    google = issue(client, seeded, "Gina", email="gina@example.com", language="ru")["id"]
    issue(client, seeded, "Apple Only", email="apple@example.com")
    with app.app_context():
        card = db.session().get(Card, google)
        assert card is not None
        card.google_synced_version = card.version
        db.session().commit()
    headers = bearer(seeded["api_key"])
    campaign = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "G", "message": "Hello", "messages": {"ru": "Привет"}, "send_now": True,
        "audience": {"all_cards": True}}).get_json()
    with app.app_context():
        session = db.session()
        rows = session.scalars(select(GoogleMessage).where(GoogleMessage.campaign_id == campaign["id"])).all()
        assert [(row.card_id, row.header, row.body) for row in rows] == [(google, "Demo Coffee", "Привет")]
        assert google_messages.call_local(campaign["id"]) == 0  # a retried job: nothing twice
    report = client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=headers).get_json()
    assert report["targeted"] == 2 and report["platforms"]["google"]["pushes"] == 1


def test_any_json_audience_is_refused_or_counted(app: Flask, seeded: dict[str, Any]) -> None:
    """Whatever JSON a client sends as an audience: a list of field errors, or a query that runs."""
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from hypothesis import strategies as st

    rules = st.sampled_from(["all_cards", "card_ids", "program_id", "new", "active", "lapsed", "tier", "birthday",
                             "all", "any", "not", "days", "vip"])
    leaves = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats()
              | st.sampled_from(["week", "month", "Gold", ""]))
    json = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(rules, inner, max_size=2),
                        max_leaves=12)

    @given(audience=json)
    @hypothesis_settings(max_examples=300, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))
    def check(audience: Any) -> None:
        errors = segments.validate(audience)
        if errors:
            assert all(set(error) == {"field", "message"} for error in errors)
            return
        with app.app_context():
            assert segments.count(db.session(), seeded["brand_id"], audience, NOW) >= 0

    check()


ODD_BODIES = [
    ("post", "/api/v1/campaigns/preview", {"audience": [1]}),
    ("post", "/api/v1/campaigns/preview", {"audience": {"card_ids": [1.5, "2"]}}),
    ("post", "/api/v1/campaigns/preview", {"audience": {"not": None}}),
    ("post", "/api/v1/campaigns/preview", {"audience": {"all": [[]]}}),
    ("post", "/api/v1/campaigns/preview", {"audience": {"birthday": ["week"]}}),
    ("post", "/api/v1/campaigns/preview", {"audience": {"new": {"days": 10**30}}}),
    ("post", "/api/v1/campaigns/preview", {"audience": {"program_id": 10**30}}),
    ("post", "/api/v1/campaigns/preview", "not an object"),
    ("post", "/api/v1/campaigns", {"name": "x", "message": "m", "audience": {"all_cards": True},
                                   "messages": {"ru": 5}}),
    ("post", "/api/v1/campaigns", {"name": "x", "message": "m", "audience": {"all_cards": True}, "send_at": "soon"}),
    ("post", "/api/v1/campaigns", {"name": "x" * 201, "message": "m", "audience": {"all_cards": True}}),
    ("post", "/api/v1/campaigns", {"name": "x", "message": "m" * 1001, "audience": {"all_cards": True}}),
    ("post", "/api/v1/campaigns/999999/send", {"send_at": "tomorrow"}),
    ("post", "/api/v1/geo-campaigns", {"name": "g", "store_ids": ["1"], "relevant_text": "t",
                                       "ends_at": "2030-01-01T00:00:00Z"}),
    ("post", "/api/v1/geo-campaigns", {"name": "g", "store_ids": [999999], "relevant_text": "t",
                                       "ends_at": "2030-01-01T00:00:00Z"}),
    ("post", "/api/v1/geo-campaigns", {"name": "g", "store_ids": [1], "relevant_text": "t" * 201,
                                       "ends_at": "2030-01-01T00:00:00Z"}),
    ("post", "/api/v1/geo-campaigns", {"name": "g", "store_ids": [1], "relevant_text": "t",
                                       "ends_at": "2000-01-01T00:00:00Z"}),
    ("put", "/api/v1/programs/{program}/birthday", {"points": -1}),
    ("put", "/api/v1/programs/{program}/birthday", {"points": 1.5}),
    ("put", "/api/v1/programs/{program}/birthday", {"message": ""}),
    ("post", "/api/v1/cards/{card}/subscriptions", {"sku": None}),
    ("post", "/api/v1/cards/{card}/subscriptions", {"sku": "A", "size": "M" * 51}),
    ("post", "/api/v1/restock-events", {"sku": "A", "store_id": "x"}),
    ("post", "/api/v1/restock-events", {"sku": "A", "store_id": 10**30}),
    ("get", "/api/v1/cards/{card}/subscriptions?active=maybe", None),
]


@pytest.mark.parametrize("method, path, body", ODD_BODIES)
def test_odd_input_is_a_problem_never_a_500(client: FlaskClient, seeded: dict[str, Any], method: str, path: str,
                                            body: Any) -> None:
    card = issue(client, seeded, "Anna", email="anna@example.com")["id"]
    url = path.format(program=seeded["program_id"], card=card)
    kwargs: dict[str, Any] = {"headers": bearer(seeded["api_key"])}
    if body is not None:
        kwargs["json"] = body
    response = getattr(client, method)(url, **kwargs)
    assert 400 <= response.status_code < 500, (url, body, response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"


def test_an_audience_over_the_drivers_parameter_limit_is_refused_before_anything_is_stored(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    """The attack: 7 rules of 10 000 ids each (70 000 parameters) answered 500 after the draft was
    committed, and the draft then answered 500 on every GET. The default body limit (64 KiB) stops
    such a body already; with a larger BODY_LIMIT_BYTES the audience's own bound must hold."""
    import dataclasses

    app.config["PASSCAST"] = dataclasses.replace(app.config["PASSCAST"], body_limit_bytes=2 * 1024 * 1024)
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    headers = bearer(seeded["api_key"])
    audience = {"any": [{"card_ids": list(range(1 + k * 10_000, 1 + (k + 1) * 10_000))} for k in range(7)]}
    response = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Huge", "message": "Hello", "audience": audience})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == "audience"
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Campaign)) == 0
    at_the_bound = {"any": [{"card_ids": list(range(1, 5_001))}, {"card_ids": list(range(5_001, 10_001))}]}
    preview = client.post("/api/v1/campaigns/preview", json={"audience": at_the_bound}, headers=headers)
    assert preview.status_code == 200, preview.get_json()
    draft = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Big", "message": "Hello", "audience": at_the_bound})
    assert draft.status_code == 201, draft.get_json()
    assert client.get(f"/api/v1/campaigns/{draft.get_json()['id']}", headers=headers).status_code == 200


def test_a_send_at_in_the_past_is_refused_not_sent(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    headers = bearer(seeded["api_key"])
    issue(client, seeded, "Anna", email="anna@example.com")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
    refused = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Late", "message": "Hi", "audience": {"all_cards": True}, "send_at": past})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["errors"] == [{"field": "send_at", "message": (
        "is in the past; give a time to come, or send_now: true to send now")}]
    draft = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Draft", "message": "Hi", "audience": {"all_cards": True}}).get_json()
    moved = client.post(f"/api/v1/campaigns/{draft['id']}/send", json={"send_at": past}, headers=headers)
    assert moved.status_code == 422 and moved.get_json()["errors"][0]["field"] == "send_at"
    assert client.get(f"/api/v1/campaigns/{draft['id']}", headers=headers).get_json()["status"] == "draft"
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Campaign)) == 1
    # A few seconds' clock difference is "now", not an error.
    just_now = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)).isoformat()
    assert client.post(f"/api/v1/campaigns/{draft['id']}/send", json={"send_at": just_now},
                       headers=headers).status_code == 200


def test_an_audience_naming_an_unknown_tier_is_refused_by_name(client: FlaskClient, seeded: dict[str, Any],
                                                               app: Flask) -> None:
    headers = bearer(seeded["api_key"])
    for path, audience, field in (
            ("/api/v1/campaigns/preview", {"tier": ["Gold", "Diamond"]}, "audience.tier"),
            ("/api/v1/campaigns/preview", {"all": [{"new": {"days": 3}}, {"not": {"tier": ["gold"]}}]},
             "audience.all[1].not.tier")):
        response = client.post(path, json={"audience": audience}, headers=headers)
        assert response.status_code == 422 and response.mimetype == "application/problem+json", audience
        [error] = response.get_json()["errors"]
        assert error["field"] == field
        assert error["message"].startswith(f'unknown tier "{"Diamond" if "Diamond" in str(audience) else "gold"}"; ')
        assert error["message"].endswith("tiers are: Gold, Platinum, Silver")
    refused = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "VIP", "message": "Hi", "audience": {"tier": ["Diamond"]}})
    assert refused.status_code == 422 and 'unknown tier "Diamond"' in refused.get_json()["detail"]
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Campaign)) == 0
