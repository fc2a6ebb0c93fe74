"""Import a generated members CSV of N rows into PostgreSQL the way `flask import-members` does.

    .venv/bin/python bench/import_members.py [--rows 100000] [--batch 1000]
        [--database-url postgresql://postgres@127.0.0.1:5432/passcast_bench_import] [--sqlite] [--keep]

Set-up (not timed): a fresh database (dropped and recreated, migrated), the demo brand
(one program with Silver/Gold/Platinum tiers), and a CSV of N rows in a temporary directory:
every row has an external_id, an email, most a phone and a birthday, a balance, a tier
for one in five, and a joined_at date.

Timed: `service.enrolment.imports.import_members` over the file's bytes, as the CLI and the
API job call it (validation while streaming, one commit per --batch rows). Then, untimed, a
check that every row became exactly one card, the ledger's `import` entries add up to the
balances, and a second run (re-run) creates nothing and adds no balance; its time is printed too.

Last line: JSON {"rows": .., "seconds": .., "rows_per_s": .., "rerun_seconds": .., "rerun_rows_per_s": ..,
"batch": .., "database": ..}: the first run, then the re-run of the same file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BenchEnv,
    database_url_for,
    drop_database,
    ensure_dev_certificates,
    make_workdir,
    prepare_database,
    remove_workdir,
    seed_demo,
)
from sqlalchemy import func, make_url, select  # noqa: E402

from service import create_app  # noqa: E402
from service.enrolment.imports import COLUMNS, import_members  # noqa: E402
from service.models import Card, LedgerEntry, Program  # noqa: E402
from service.platform import db  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/passcast_bench_import"
FIRST = ["Anna", "Boris", "Chloé", "Dmitri", "Eva", "Fatima", "Grégoire", "Hana", "Иван", "Юлия", "Zoë"]
LAST = ["Ivanova", "Müller", "O'Brien", "Петров", "García", "Nakamura", "Smith", "Dubois", "Kowalski"]
TIERS = ["", "", "", "", "Silver", "Gold", "Platinum"]


def generate(path: Path, rows: int, seed: int = 7) -> int:
    """A members CSV; returns the sum of the balances."""
    rng = random.Random(seed)
    total = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for i in range(rows):
            balance = rng.randrange(0, 2000)
            total += balance
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}".replace('"', "")
            phone = f"+3161{i:07d}" if rng.random() < 0.8 else ""
            birthday = f"{rng.randrange(1950, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}" \
                if rng.random() < 0.7 else ""
            tier = TIERS[rng.randrange(len(TIERS))] if i % 5 == 0 else ""
            joined = f"20{rng.randrange(15, 25)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            out.write(f'"{name}",member{i}@example.com,{phone},{birthday},{balance},{tier},{joined},ext-{i}\n')
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and database")
    args = parser.parse_args()

    workdir = make_workdir()
    url = database_url_for(args.database_url or DEFAULT_DATABASE_URL, args.sqlite, workdir)
    env = BenchEnv(workdir=workdir, database_url=url)
    app = None
    try:
        ensure_dev_certificates(env)
        prepare_database(url)
        app = create_app(env.settings())
        seed_demo(app)
        csv_path = workdir / "members.csv"
        expected_points = generate(csv_path, args.rows)
        data = csv_path.read_bytes()
        print(f"{args.rows} rows, {len(data) / 1e6:.1f} MB, {url.split('@')[-1]}", file=sys.stderr)

        with app.app_context():
            session = db.session()
            program = session.scalars(select(Program)).one()
            started = time.perf_counter()
            report = import_members(session, program, data, batch=args.batch)
            seconds = time.perf_counter() - started
            cards = session.scalar(select(func.count()).select_from(Card))
            points = session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                                    .where(LedgerEntry.kind == "import"))
            balances = session.scalar(select(func.coalesce(func.sum(Card.balance), 0)))
            assert report.error_rows == 0, report.errors[:5]
            assert cards == args.rows == report.created, (cards, report.created)
            assert points == balances == expected_points, (points, balances, expected_points)
            print(f"first run: {report.created} cards, {report.balances_added} opening balances, "
                  f"{seconds:.1f} s ({args.rows / seconds:.0f} rows/s)", file=sys.stderr)

            started = time.perf_counter()
            again = import_members(session, session.scalars(select(Program)).one(), data, batch=args.batch)
            rerun = time.perf_counter() - started
            assert (again.created, again.matched, again.balances_added) == (0, args.rows, 0)
            assert session.scalar(select(func.coalesce(func.sum(Card.balance), 0))) == expected_points
            print(f"re-run: matched {again.matched}, created 0, added 0 ({rerun:.1f} s, "
                  f"{args.rows / rerun:.0f} rows/s)", file=sys.stderr)
        print(json.dumps({"rows": args.rows, "seconds": round(seconds, 2), "rows_per_s": round(args.rows / seconds, 1),
                          "rerun_seconds": round(rerun, 2), "rerun_rows_per_s": round(args.rows / rerun, 1),
                          "batch": args.batch, "database": make_url(url).get_backend_name()}))
    finally:
        if app is not None:
            app.extensions["db_engine"].dispose()
        if not args.keep:
            drop_database(url)
        remove_workdir(workdir, keep=args.keep)


if __name__ == "__main__":
    main()
