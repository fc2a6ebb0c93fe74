"""The journeys evaluator on a big program: 1 000 000 cards, 1 % of them changed today (PostgreSQL).

Generates the data directly in SQL (INSERT ... SELECT over generate_series) in a database of its
own, `passcast_bench_journeys` (dropped at the end unless --keep):

- N customers and cards of the demo program; card i has (i / 7) % 6 purchases in the past year,
  its last visit (i % 365) days ago, 100 points expiring in (i % 365) days;
- 1 % of the cards (i % 100 = 0) make a purchase today, written after the evaluator's ledger
  watermark (what the minute job would find), their last visit today;
- three enabled journeys with a message each and the default 10 % holdout: the 5th visit, lapsed
  30 days, points expiring in 7 days.

Then one full evaluation is timed, as the jobs run it: `evaluate_events` (the minute job: the
changed cards' ledger entries, their visit counts, the entries and messages) and `evaluate_daily`
(the daily job: the cards whose last visit was 30 days ago, whose points expire in 7 days). Neither
may scale with the cards that did not change: the first reads only the ledger past its watermark,
the second only an index range of one day per journey.

Prints a few lines and, last, one JSON line: {"cards", "changed", "seconds", "events_s",
"daily_s", "entered", "held", "sent", ...}.

    .venv/bin/python bench/journeys.py --cards 100000          # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from bench._common import (  # noqa: E402
    BenchEnv,
    drop_database,
    ensure_dev_certificates,
    make_workdir,
    prepare_database,
    remove_workdir,
    seed_demo,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/passcast_bench_journeys"
JOURNEYS = (("5th visit", "nth_visit", 5, "Your 5th visit: thank you!"),
            ("Lapsed 30 days", "lapsed", 30, "We miss you: come back this week"),
            ("Points expiring in 7 days", "points_expiring", 7, "Your points expire in 7 days"))


def step(engine: Engine, what: str, sql: str, **params: Any) -> float:
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        connection.execute(text("SET LOCAL work_mem = '256MB'"))
        connection.execute(text(sql), params)
    seconds = time.perf_counter() - started
    print(f"  {what}: {seconds:.1f} s", flush=True)
    return seconds


def generate(engine: Engine, seed: dict[str, Any], cards: int) -> None:
    params = {"brand": seed["brand_id"], "program": seed["program_id"], "n": cards}
    step(engine, "customers", """
        INSERT INTO customers (brand_id, name, language, created_at)
        SELECT :brand, 'Member ' || g, 'en', now() - interval '400 days' FROM generate_series(1, :n) g""", **params)
    step(engine, "cards", """
        INSERT INTO cards (program_id, customer_id, brand_id, number, serial_number, authentication_token,
                           balance, lifetime_points, version, updated_at, created_at, lifetime_spend, voided,
                           stamp_cards_completed, points_expire_at, last_visit_at)
        SELECT :program, c.id, :brand, 100000000 + c.rn, 'bench-' || c.rn, 'token', 100, 100, 1,
               now() - interval '1 day', now() - interval '400 days', 10, false, 0,
               date_trunc('day', now()) + (c.rn % 365) * interval '1 day' + interval '10 hours',
               date_trunc('day', now()) - (c.rn % 365) * interval '1 day' + interval '9 hours'
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM customers WHERE brand_id = :brand) c""",
         **params)
    step(engine, "past purchases", """
        INSERT INTO ledger_entries (card_id, kind, points, amount, created_at)
        SELECT c.id, 'purchase', 10, 1.00, now() - interval '1 day' * (30 + k * 50)
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM cards WHERE brand_id = :brand) c,
             generate_series(1, 5) k
        WHERE k <= (c.rn / 7) % 6""", **params)
    step(engine, "the watermark", """
        UPDATE journey_watermarks SET last_id = (SELECT COALESCE(MAX(id), 0) FROM ledger_entries)
        WHERE stream = 'ledger'""")
    step(engine, "today's purchases (1 %)", """
        INSERT INTO ledger_entries (card_id, kind, points, amount, created_at, response)
        SELECT c.id, 'purchase', 50, 5.00, now() - interval '1 hour',
               json_build_object('balance', 150, 'points', 50, 'tier_change', NULL, 'type', 'purchase')
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM cards WHERE brand_id = :brand) c
        WHERE c.rn % 100 = 0""", **params)
    step(engine, "their last visit", """
        UPDATE cards SET last_visit_at = now() - interval '1 hour', balance = 150
        WHERE id IN (SELECT card_id FROM ledger_entries WHERE id > (SELECT last_id FROM journey_watermarks
                                                                    WHERE stream = 'ledger'))""")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        started = time.perf_counter()
        connection.execute(text("VACUUM ANALYZE"))
        print(f"  vacuum analyze: {time.perf_counter() - started:.1f} s", flush=True)


def add_journeys(app: Any, program_id: int) -> None:
    from service.journeys.definitions import validate
    from service.models import Journey, Program
    from service.platform import db

    with app.app_context():
        session = db.session()
        program = session.get(Program, program_id)
        assert program is not None
        for name, trigger, value, message in JOURNEYS:
            definition = validate(trigger, value, {}, [{"type": "message", "text": message}])
            session.add(Journey(brand_id=program.brand_id, program_id=program_id, name=name,
                                trigger=definition.trigger, trigger_value=definition.trigger_value,
                                conditions={}, actions=definition.actions, holdout_percent=10, enabled=True))
        session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database and the work directory")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        raise SystemExit("this bench generates its data with PostgreSQL's generate_series: give a postgresql:// URL")
    workdir = make_workdir()
    env = BenchEnv(workdir=workdir, database_url=args.database_url)
    result: dict[str, Any] = {}
    try:
        ensure_dev_certificates(env)
        prepare_database(args.database_url)
        from service import create_app

        app = create_app(env.settings())
        app.config["TESTING"] = True
        seed = seed_demo(app)
        engine = create_engine(args.database_url)
        print(f"generating {args.cards} cards", flush=True)
        generate(engine, seed, args.cards)
        add_journeys(app, seed["program_id"])
        from service.journeys import evaluate
        from service.models import JourneyEntry, utcnow
        from service.platform import db

        with engine.connect() as connection:
            changed = connection.execute(text(
                "SELECT count(DISTINCT card_id) FROM ledger_entries WHERE id > "
                "(SELECT last_id FROM journey_watermarks WHERE stream = 'ledger')")).scalar_one()
        now = utcnow()
        with app.app_context():
            session = db.session()
            started = time.perf_counter()
            events = evaluate.evaluate_events(session, now)
            events_s = time.perf_counter() - started
            started = time.perf_counter()
            daily = evaluate.evaluate_daily(session, now)
            daily_s = time.perf_counter() - started
            by_journey = dict(session.execute(select(JourneyEntry.journey_id, func.count())
                                              .group_by(JourneyEntry.journey_id)).all())
        total = events.entered + daily.entered
        print(f"events: {events.read} ledger entries read, {events.entered} entered in {events_s:.2f} s", flush=True)
        print(f"daily: {daily.read} cards selected, {daily.entered} entered in {daily_s:.2f} s", flush=True)
        print(f"entries per journey: {by_journey}", flush=True)
        result = {"cards": args.cards, "changed": changed, "seconds": round(events_s + daily_s, 2),
                  "events_s": round(events_s, 2), "daily_s": round(daily_s, 2), "entered": total,
                  "held": events.held + daily.held,
                  "sent": events.messages["sent"] + daily.messages["sent"],
                  "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        engine.dispose()
        app.extensions["db_engine"].dispose()
    finally:
        if not args.keep:
            drop_database(args.database_url)
        remove_workdir(workdir, keep=args.keep)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
