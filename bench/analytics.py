"""The brand dashboard on a big brand: 1 000 000 cards and 10 000 000 transactions (PostgreSQL).

Generates the data directly in SQL (INSERT ... SELECT over generate_series) in a database of
its own, `passcast_bench_analytics` (dropped at the end unless --keep), then:

- `rollup_s`: the roll-up job's first run (service/analytics/rollups.py: the backfill of the
  whole ledger, then catching up); with --reuse the roll-ups of the kept database are kept
  (only caught up) unless --rebuild;
- `tail_entries` new transactions are written after it (the entries a dashboard counts live
  from the ledger, past the roll-ups' watermark);
- `dashboard_s`: every API call the /dashboard page makes (summary, cohorts, campaigns, NPS;
  default period = the last 12 months), one after the other (an upper bound), cold (no
  analytics_cache rows), end to end through the Flask app (auth, routing, queries, JSON);
  `dashboard_last_90_days_s` and `dashboard_past_period_s` the same for the last 90 days and
  for six months a year ago; `dashboard_at_once_s`: the four made at once, as the page does
  (the median of --rounds page loads per period, each cold; all of them in
  `dashboard_at_once_rounds_s`, and the machine's `load_average` before and after: on a shared
  machine, other work shows there);
- `campaigns_s`: the campaigns call alone (default period, cold), with the campaigns' final
  7-day purchases stored (`stored`: every call above but the very first reads them) and
  counted from the ledger (`counted`: as the first call, which then stores them);
- `rollup_incremental_s`: the job's next run, rolling up those new entries;
- with --check: the summary and cohorts of the last 90 days counted from the raw tables too,
  which must be equal (slow at full size: minutes).

The data: customers and cards issued uniformly over the last 2 years, 3 stores; activity
skewed towards some cards; 85 % purchases (2-80 EUR), 10 % redemptions, 5 % earns; an issue
entry per card; 60 % of cards in Apple Wallet (+5 % Android relay), 20 % saved to Google
Wallet and 3 % of those deleted again, 3 % uninstalled; 6 campaigns of 200 000 cards with
their pushes; 50 000 NPS answers. Prints one JSON line at the end:
{"cards", "transactions", "dashboard_s", "rollup_s", "dashboard_last_90_days_s", ...}.

    .venv/bin/python bench/analytics.py --cards 100000 --transactions 1000000   # a quick run
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from bench._common import (  # noqa: E402
    BenchEnv,
    drop_database,
    ensure_dev_certificates,
    make_workdir,
    prepare_database,
    remove_workdir,
    seed_demo,
    timed,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/passcast_bench_analytics"
DASHBOARD_CALLS = ("summary", "cohorts", "campaigns", "nps")
CAMPAIGNS = 6
CAMPAIGN_SIZE = 200_000
NPS_ANSWERS = 50_000


def step(engine: Engine, what: str, sql: str, **params: Any) -> float:
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        connection.execute(text("SET LOCAL work_mem = '256MB'"))
        result = connection.execute(text(sql), params)
    seconds = time.perf_counter() - started
    print(f"  {what}: {result.rowcount if result.rowcount >= 0 else ''} rows in {seconds:.1f} s", flush=True)
    return seconds


@contextlib.contextmanager
def indexes_dropped(engine: Engine, table: str) -> Iterator[None]:
    """Bulk loading: drop the table's secondary indexes and unique constraints, build them again
    after (one sort each instead of ten million random index inserts)."""
    with engine.begin() as connection:
        constraints = connection.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype = 'u'"), {"t": table}).all()
        names = {name for name, _ in constraints}
        indexes = [(name, definition) for name, definition in connection.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t AND indexname NOT LIKE '%pkey'"),
            {"t": table}) if name not in names]
        for name, _ in constraints:
            connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
    yield
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        for name, definition in constraints:
            connection.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        for _, definition in indexes:
            connection.execute(text(definition))
    print(f"  {table} indexes built again in {time.perf_counter() - started:.1f} s", flush=True)


def generate(engine: Engine, seed: dict[str, Any], cards: int, transactions: int) -> float:
    """Everything in SQL, in the database: no rows travel through Python."""
    brand, program = seed["brand_id"], seed["program_id"]
    store_ids = seed["store_ids"]
    started = time.perf_counter()
    params = {"brand": brand, "program": program, "cards": cards, "s1": store_ids[0], "s2": store_ids[1],
              "s3": store_ids[2]}
    with engine.begin() as connection:
        connection.execute(text("SELECT setseed(0.42)"))
    step(engine, "customers", """
        INSERT INTO customers (brand_id, name, language, home_store_id, created_at)
        SELECT :brand, 'Member ' || g, 'en',
               CASE WHEN g % 4 = 0 THEN NULL WHEN g % 4 = 1 THEN :s1 WHEN g % 4 = 2 THEN :s2 ELSE :s3 END,
               now() - (1 - g::float8 / :cards) * interval '730 days'
        FROM generate_series(1, :cards) AS g""", **params)
    step(engine, "cards", """
        INSERT INTO cards (program_id, customer_id, brand_id, number, serial_number, authentication_token,
                           balance, lifetime_points, lifetime_spend, voided, version, updated_at, created_at)
        SELECT :program, c.id, :brand, 200000000 + c.id, gen_random_uuid()::text, md5(c.id::text || random()::text),
               0, 0, 0, c.id % 500 = 0, 1, c.created_at, c.created_at
        FROM customers c WHERE c.brand_id = :brand AND c.name LIKE 'Member %'""", **params)
    with engine.connect() as connection:
        first, last = connection.execute(text(
            "SELECT min(id), max(id) FROM cards WHERE brand_id = :brand AND number >= 200000000"),
            {"brand": brand}).one()
    params.update(first=first, span=last - first + 1, tx=transactions)
    with indexes_dropped(engine, "ledger_entries"):
        _ledger(engine, params)
    step(engine, "lifetime spend", """
        UPDATE cards SET lifetime_spend = s.spend FROM (
            SELECT card_id, sum(amount) AS spend FROM ledger_entries WHERE kind = 'purchase' GROUP BY card_id) s
        WHERE cards.id = s.card_id""")
    _wallets_campaigns_nps(engine, params, seed, cards)
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as connection:
        started_vacuum = time.perf_counter()
        connection.execute(text("VACUUM ANALYZE"))
        print(f"  vacuum analyze: {time.perf_counter() - started_vacuum:.1f} s", flush=True)
    return time.perf_counter() - started


def _ledger(engine: Engine, params: dict[str, Any]) -> None:
    step(engine, "issue entries", """
        INSERT INTO ledger_entries (card_id, kind, points, reason, created_at)
        SELECT id, 'issue', 0, 'card issued', created_at FROM cards WHERE id BETWEEN :first AND :first + :span - 1
        """, **params)
    # Skewed activity (some cards far more active than others), each entry after its card's issue.
    step(engine, "transactions", """
        INSERT INTO ledger_entries (card_id, kind, points, amount, store_id, created_at)
        SELECT c.id, t.kind,
               CASE t.kind WHEN 'purchase' THEN floor(t.amount * 10)::bigint WHEN 'earn' THEN 50 ELSE -100 END,
               CASE WHEN t.kind = 'purchase' THEN t.amount END,
               CASE t.g % 3 WHEN 0 THEN :s1 WHEN 1 THEN :s2 ELSE :s3 END,
               c.created_at + t.r * (now() - c.created_at)
        FROM (SELECT g, :first + floor(:span * power(random(), 1.6))::bigint AS card_id, random() AS r,
                     round((2 + random() * 78)::numeric, 2) AS amount,
                     CASE WHEN g % 20 < 17 THEN 'purchase' WHEN g % 20 < 19 THEN 'redeem' ELSE 'earn' END AS kind
              FROM generate_series(1, :tx) AS g) AS t
        JOIN cards c ON c.id = t.card_id
        ORDER BY 6""", **params)


def _wallets_campaigns_nps(engine: Engine, params: dict[str, Any], seed: dict[str, Any], cards: int) -> None:
    brand, program, store_ids, first = seed["brand_id"], seed["program_id"], seed["store_ids"], params["first"]
    step(engine, "registrations", """
        INSERT INTO registrations (device_library_identifier, card_id, pass_type_identifier, push_token,
                                   client_kind, active, created_at, updated_at)
        SELECT md5('d' || id), id, 'pass.dev.passcast.loyalty', md5('t' || id) || md5('u' || id),
               CASE WHEN id % 20 < 12 THEN 'apple' ELSE 'relay' END, id % 10 <> 0, created_at, created_at
        FROM cards WHERE id BETWEEN :first AND :first + :span - 1 AND id % 20 < 13""", **params)
    step(engine, "google saves", """
        INSERT INTO google_wallet_events (nonce, card_id, object_id, event_type, created_at)
        SELECT 's' || id, id, 'o.' || id, 'save', created_at + interval '1 hour'
        FROM cards WHERE id BETWEEN :first AND :first + :span - 1 AND id % 5 = 1""", **params)
    step(engine, "google deletes", """
        INSERT INTO google_wallet_events (nonce, card_id, object_id, event_type, created_at)
        SELECT 'd' || id, id, 'o.' || id, 'del', created_at + (now() - created_at) / 2
        FROM cards WHERE id BETWEEN :first AND :first + :span - 1 AND id % 100 IN (1, 6, 11)""", **params)
    step(engine, "uninstall events", """
        INSERT INTO webhook_events (brand_id, uid, type, data, dispatched, created_at)
        SELECT :brand, gen_random_uuid()::text, 'card.uninstalled',
               json_build_object('card_id', id, 'wallet', 'apple', 'client', 'apple'), true,
               created_at + (now() - created_at) / 3
        FROM cards WHERE id BETWEEN :first AND :first + :span - 1 AND id % 100 IN (2, 7, 13)""", **params)
    for n in range(CAMPAIGNS):
        size = min(CAMPAIGN_SIZE, cards)
        with engine.begin() as connection:
            campaign_id = connection.execute(text("""
                INSERT INTO campaigns (brand_id, kind, name, message, messages, audience, status, store_ids, cursor,
                                       started_at, finished_at, created_at)
                VALUES (:brand, 'message', :name, 'Double points', '{}', '{"all_cards": true}', 'finished', '[]', 0,
                        :started, :started, :started)
                RETURNING id"""), {"brand": brand, "name": f"Campaign {n + 1}",
                                     "started": dt.datetime.now(dt.UTC) - dt.timedelta(days=20 + 45 * n)}).scalar_one()
        step(engine, f"campaign {n + 1} recipients", """
            INSERT INTO campaign_recipients (campaign_id, card_id, language, created_at)
            SELECT :campaign, id, 'en', now() FROM cards
            WHERE id BETWEEN :first AND :first + :span - 1 AND id % :every = :n LIMIT :size""",
             campaign=campaign_id, first=first, span=params["span"], every=max(1, cards // size),
             n=n % max(1, cards // size), size=size)
        step(engine, f"campaign {n + 1} pushes", """
            INSERT INTO push_deliveries (card_id, card_version, registration_id, push_token, client_kind, topic,
                                         campaign_id, status, attempts, created_at)
            SELECT r.card_id, :version, r.id, r.push_token, r.client_kind, r.pass_type_identifier, :campaign,
                   CASE WHEN r.id % 10 < 6 THEN 'confirmed' WHEN r.id % 10 < 9 THEN 'accepted' ELSE 'failed' END,
                   1, now()
            FROM campaign_recipients cr JOIN registrations r ON r.card_id = cr.card_id
            WHERE cr.campaign_id = :campaign""", campaign=campaign_id, version=2 + n)
    with engine.begin() as connection:
        survey = connection.execute(text("""
            INSERT INTO nps_surveys (brand_id, program_id, question, starts_at, created_at, shown_on_passes,
                                     removed_from_passes)
            VALUES (:brand, :program, 'How likely are you to recommend us to a friend?',
                    now() - interval '300 days', now() - interval '300 days', true, false) RETURNING id"""),
            {"brand": brand, "program": program}).scalar_one()
    step(engine, "NPS answers", """
        INSERT INTO nps_answers (survey_id, brand_id, card_id, score, store_id, answered_at, created_at)
        SELECT :survey, :brand, id, (id * 7) % 11, CASE id % 3 WHEN 0 THEN :s1 WHEN 1 THEN :s2 ELSE :s3 END,
               now() - (id % 300) * interval '1 day', now() - (id % 300) * interval '1 day'
        FROM cards WHERE id BETWEEN :first AND :first + :span - 1 AND id % :every = 3 % :every LIMIT :n""",
         survey=survey, brand=brand, first=first, span=params["span"], every=max(1, cards // NPS_ANSWERS),
         n=NPS_ANSWERS, s1=store_ids[0], s2=store_ids[1], s3=store_ids[2])


def clear_cache(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM analytics_cache"))


def ensure_schema(engine: Engine) -> None:
    """A --reuse database generated by an older version: add the tables, columns (campaigns'
    stored 7-day purchases, the holdout's) and indexes it lacks (then VACUUM ANALYZE those tables: statistics,
    and the visibility map index-only scans need)."""
    from sqlalchemy import inspect

    from service.models import Base

    tables = [table for name, table in Base.metadata.tables.items() if name.startswith("analytics_")]
    Base.metadata.create_all(engine, tables=tables)
    columns = {column["name"] for column in inspect(engine).get_columns("campaigns")}
    with engine.begin() as connection:
        for name, kind in (("buyers_7d", "bigint"), ("purchases_7d", "bigint"), ("revenue_7d", "numeric(16, 2)"),
                           ("holdout_percent", "integer NOT NULL DEFAULT 0"), ("cost", "numeric(14, 2)")):
            if name not in columns:
                connection.execute(text(f"ALTER TABLE campaigns ADD COLUMN {name} {kind}"))
        # the holdout (migration 0016): recipients kept back, and whether they were reachable
        recipient_columns = {column["name"] for column in inspect(engine).get_columns("campaign_recipients")}
        for name, kind in (("holdout", "boolean NOT NULL DEFAULT false"), ("reachable", "boolean")):
            if name not in recipient_columns:
                connection.execute(text(f"ALTER TABLE campaign_recipients ADD COLUMN {name} {kind}"))
        if "point_value" not in {column["name"] for column in inspect(engine).get_columns("programs")}:
            connection.execute(text("ALTER TABLE programs ADD COLUMN point_value numeric(12, 4)"))
    existing = set()
    for name in Base.metadata.tables:
        existing |= {index["name"] for index in inspect(engine).get_indexes(name)}
    touched = set()
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            if index.name not in existing:
                print(f"  creating index {index.name}", flush=True)
                index.create(engine)
                touched.add(table.name)
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        for name in sorted(touched):
            connection.execute(text(f"VACUUM ANALYZE {name}"))


def write_tail(engine: Engine, brand_id: int, entries: int) -> None:
    """Purchases at the counter just now, on random cards: past the roll-ups' watermark."""
    step(engine, "new transactions (the tail)", """
        INSERT INTO ledger_entries (card_id, kind, points, amount, created_at)
        SELECT c.id, 'purchase', 100, 10.00, now()
        FROM (SELECT id FROM cards WHERE brand_id = :brand ORDER BY random() LIMIT :n) AS c""",
         brand=brand_id, n=entries)


def forget_campaign_purchases(engine: Engine) -> None:
    """The campaigns' stored 7-day purchases: the next campaigns call counts them (and stores them)."""
    with engine.begin() as connection:
        connection.execute(text("UPDATE campaigns SET buyers_7d = NULL, purchases_7d = NULL, revenue_7d = NULL"))


def load_dashboard(client: Any, api_key: str, query: str = "",
                   calls: tuple[str, ...] = DASHBOARD_CALLS) -> dict[str, float]:
    """Every call the page makes, one after the other (the page makes them at once: this is
    an upper bound), each checked for 200."""
    seconds: dict[str, float] = {}
    for name in calls:
        started = time.perf_counter()
        response = client.get(f"/api/v1/analytics/{name}{query}", headers={"Authorization": f"Bearer {api_key}"})
        seconds[name] = round(time.perf_counter() - started, 3)
        if response.status_code != 200:
            raise SystemExit(f"{name}: {response.status_code} {response.get_data(as_text=True)[:500]}")
    return seconds


def load_dashboard_at_once(app: Any, api_key: str, query: str = "") -> float:
    """The page's calls made at once, as the page makes them (one thread each): seconds until the last answer."""
    def call(name: str) -> None:
        response = app.test_client().get(f"/api/v1/analytics/{name}{query}",
                                         headers={"Authorization": f"Bearer {api_key}"})
        if response.status_code != 200:
            raise SystemExit(f"{name}: {response.status_code} {response.get_data(as_text=True)[:500]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(DASHBOARD_CALLS)) as pool:
        list(pool.map(call, DASHBOARD_CALLS))
    return round(time.perf_counter() - started, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database and the work directory")
    parser.add_argument("--reuse", action="store_true", help="measure an existing --keep database, no generation")
    parser.add_argument("--rebuild", action="store_true",
                        help="with --reuse: backfill the roll-ups again (default: keep them if built, catch up)")
    parser.add_argument("--tail", type=int, default=1000, help="transactions written after the roll-up job ran")
    parser.add_argument("--rounds", type=int, default=3,
                        help="page loads (all four calls at once, cold) per period; the median is reported")
    parser.add_argument("--check", action="store_true", help="compare with the figures counted from the raw tables")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        raise SystemExit("this bench generates its data with PostgreSQL's generate_series: give a postgresql:// URL")

    workdir = make_workdir()
    env = BenchEnv(workdir=workdir, database_url=args.database_url)
    result: dict[str, Any] = {}
    try:
        ensure_dev_certificates(env)
        if not args.reuse:
            prepare_database(args.database_url)
        from service import create_app

        app = create_app(env.settings())
        app.config["TESTING"] = True
        seed = seed_demo(app)
        engine = create_engine(args.database_url)
        generate_s = None
        if not args.reuse:
            print(f"generating {args.cards} cards and {args.transactions} transactions", flush=True)
            generate_s = round(generate(engine, seed, args.cards, args.transactions), 1)
        with engine.connect() as connection:
            cards = connection.execute(text("SELECT count(*) FROM cards WHERE brand_id = :b"),
                                       {"b": seed["brand_id"]}).scalar_one()
            transactions = connection.execute(text("SELECT count(*) FROM ledger_entries WHERE kind <> 'issue'"))
            transactions = transactions.scalar_one()
        ensure_schema(engine)
        client = app.test_client()
        from service.analytics import reports as analytics_reports
        from service.analytics import rollups as analytics_rollups
        from service.platform import db

        # The roll-up job (every minute in the worker); its first run backfills the whole ledger.
        with app.app_context():
            if not args.reuse or args.rebuild or not analytics_rollups.ready(db.session()):
                analytics_rollups.rebuild(db.session())
        with timed() as rollup, app.app_context():
            rolled = analytics_rollups.run(db.session())
        print(f"the roll-up job's first run (the backfill: {rolled} card-days) took {rollup[0]:.1f} s", flush=True)
        write_tail(engine, seed["brand_id"], args.tail)
        today = dt.datetime.now(dt.UTC).date()
        periods = {"default": "", "last_90_days": f"?from={today - dt.timedelta(days=89)}",
                   "past_period": f"?from={today.replace(day=1) - dt.timedelta(days=365)}"
                                  f"&to={today.replace(day=1) - dt.timedelta(days=182)}&days=30"}
        by_period: dict[str, dict[str, float]] = {}
        rounds: dict[str, list[float]] = {}
        load_before = [round(x, 2) for x in os.getloadavg()]
        for name, query in periods.items():
            clear_cache(engine)  # cold: nothing counted before
            by_period[name] = load_dashboard(client, seed["api_key"], query)
            print(f"the dashboard's calls, {name} period, cold, one after the other: {by_period[name]}", flush=True)
            rounds[name] = []
            for _ in range(args.rounds):
                clear_cache(engine)
                rounds[name].append(load_dashboard_at_once(app, seed["api_key"], query))
            print(f"the dashboard's calls, {name} period, cold, at once (as the page), {args.rounds} rounds: "
                  f"{rounds[name]} s", flush=True)
        at_once = {name: statistics.median(values) for name, values in rounds.items()}
        # The campaigns call of the default period once its campaigns' 7-day purchases are stored
        # (every call above after the first), and counting them from the ledger (the first call).
        campaigns_s: dict[str, float] = {}
        for name, forget in (("stored", False), ("counted", True), ("stored_again", False)):
            clear_cache(engine)
            if forget:
                forget_campaign_purchases(engine)
            campaigns_s[name] = load_dashboard(client, seed["api_key"], calls=("campaigns",))["campaigns"]
        print(f"the campaigns call, default period, cold: {campaigns_s} s", flush=True)
        load_after = [round(x, 2) for x in os.getloadavg()]
        clear_cache(engine)
        checked = None
        if args.check:
            since = today - dt.timedelta(days=89)
            with app.app_context():
                session = db.session()
                rolled_up = {name: analytics_reports.compute(session, seed["brand_id"], name,
                                                             analytics_reports.Query(since, None))[0]
                             for name in ("summary", "cohorts")}
                session.execute(text("DELETE FROM analytics_rollup_state"))  # not ready: counted raw
                session.commit()
                raw = {name: analytics_reports.compute(session, seed["brand_id"], name,
                                                       analytics_reports.Query(since, None))[0]
                       for name in ("summary", "cohorts")}
            for name in raw:
                for body in (raw[name], rolled_up[name]):
                    body.pop("computed_at")
            checked = raw == rolled_up
            print(f"figures from the roll-ups equal those from the raw tables: {checked}", flush=True)
            if not checked:
                print(json.dumps({"raw": raw, "rolled_up": rolled_up})[:4000], flush=True)
        else:
            with app.app_context():
                later = dt.datetime.now(dt.UTC) + analytics_rollups.LAG
                with timed() as incremental:
                    rolled = analytics_rollups.run(db.session(), later)
            print(f"the roll-up job's next run ({rolled} new entries) took {incremental[0]:.2f} s", flush=True)
        app.extensions["db_engine"].dispose()
        engine.dispose()
        result = {
            "cards": cards,
            "transactions": transactions,
            "dashboard_s": round(sum(by_period["default"].values()), 3),
            "dashboard_by_call_s": by_period["default"],
            "dashboard_at_once_s": at_once,
            "dashboard_at_once_rounds_s": rounds,
            "campaigns_s": campaigns_s,
            "load_average": {"before": load_before, "after": load_after},
            "rollup_s": round(rollup[0], 1),
            "tail_entries": args.tail,
            "dashboard_last_90_days_s": round(sum(by_period["last_90_days"].values()), 3),
            "dashboard_past_period_s": round(sum(by_period["past_period"].values()), 3),
            "by_period_s": by_period,
            "rollup_incremental_s": None if args.check else round(incremental[0], 2),
            "equal_to_raw": checked,
            "generate_s": generate_s,
        }
    finally:
        if not args.keep:
            drop_database(args.database_url)
        remove_workdir(workdir, keep=args.keep)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
