"""The till's scan + purchase in one process, no HTTP: the request path's deterministic costs (issue 18).

    .venv/bin/python bench/scan_path.py [--database-url postgresql://postgres@127.0.0.1:5432/passcast_bench_path]
        [--redis-url redis://127.0.0.1:6379/13] [--n 300] [--cards 20] [--setup] [--profile] [--statements]

The database named is dropped and created again with `--setup` (or when this script has not set it up
yet: a state file in the system's temp dir), with the demo brand and `--cards` cards with one apple
registration each; the Redis database is flushed. Then the WSGI app is called directly (a hand-made
environ, as gunicorn passes it) for POST /api/v1/cashier/scan + POST a purchase of 12.50, 250 times
to warm up (every card then lists ten recent entries, as a card with some history does), and measured:

- `py_calls_per_tx`: Python function calls per scan + purchase (a profile hook; deterministic for a
  given code and data, so it compares two versions on a busy machine where CPU time does not);
- `sql_per_tx`: statements the engine's cursor listeners see (`--statements` lists them);
- `round_trips_per_tx`: psycopg's waits on the connection (each statement, COMMIT, ROLLBACK; a BEGIN
  rides inside its statement's wait; toggles of autocommit count though they send nothing);
- `cpu_ms_per_tx` (this process) and `pg_cpu_ms_per_tx` (the database's backends, from /proc).
`--profile`: a cProfile (CPU clock) of `--n` more transactions, sorted by `--sort`.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import _common as common  # noqa: E402

DB = "postgresql://postgres@127.0.0.1:5432/passcast_bench_path"
REDIS = "redis://127.0.0.1:6379/13"

def _backend_cpu_seconds(engine: Any) -> float:
    """CPU seconds of the database's other backends (utime + stime from /proc)."""
    from sqlalchemy import text

    with engine.connect() as connection:
        pids = list(connection.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                            "AND pid <> pg_backend_pid()")))
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _set_up(app: Any, cards: int, state: Path) -> None:
    from service.loyalty.cards import barcode_message
    from service.models import Brand, Card
    from service.platform import db

    seeded = common.seed_demo(app)
    made = common.bulk_cards(app.extensions["db_engine"], seeded["program_id"], seeded["brand_id"], cards,
                             registrations_per_card=1)
    with app.app_context():
        session = db.session()
        brand = session.get(Brand, seeded["brand_id"])
        codes = [[card.id, barcode_message(session.get(Card, card.id), brand)] for card in made]
    state.write_text(json.dumps({"token": seeded["cashier_token"], "codes": codes}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--statements", action="store_true")
    parser.add_argument("--database-url", default=DB)
    parser.add_argument("--redis-url", default=REDIS)
    args = parser.parse_args()
    workdir = Path(tempfile.gettempdir()) / "passcast-bench-path"
    (workdir / "instance").mkdir(parents=True, exist_ok=True)
    env = common.BenchEnv(workdir=workdir, database_url=args.database_url, redis_url=args.redis_url)
    common.ensure_dev_certificates(env)
    from sqlalchemy import event

    from service import create_app
    from service.platform import jobs

    state = workdir / f"state-{hashlib.sha256(args.database_url.encode()).hexdigest()[:12]}.json"
    if args.setup or not state.exists():
        common.prepare_database(args.database_url)
        app = create_app(env.settings())
        _set_up(app, args.cards, state)
    else:
        app = create_app(env.settings())
    for queue in jobs.QUEUES.values():
        queue.storage.flush_all()
    saved = json.loads(state.read_text())
    token, codes = saved["token"], saved["codes"]
    engine = app.extensions["db_engine"]
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(" ".join(statement.split())[:110])

    def call(path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes]:
        data = json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5555", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)), "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {token}",
            **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()},
        }  # fmt: skip
        status: list[str] = []
        answer = b"".join(app(environ, lambda line, _headers, _exc=None: status.append(line)))
        return int(status[0][:3]), answer

    rng = random.Random(1)

    def transaction() -> None:
        card_id, code = rng.choice(codes)
        status, answer = call("/api/v1/cashier/scan", {"code": code}, {})
        assert status == 200, (status, answer[:300])
        status, answer = call(f"/api/v1/cards/{card_id}/transactions", {"type": "purchase", "amount": "12.50"},
                              {"Idempotency-Key": uuid.uuid4().hex})
        assert status == 201, (status, answer[:300])

    for _ in range(250):  # every card with ten recent entries, pools and caches warm
        transaction()
    gc.collect()
    gc.freeze()
    statements.clear()
    transaction()
    sql_per_tx = len(statements)
    if args.statements:
        for statement in statements:
            print("   ", statement)

    import psycopg.waiting as waiting

    real_wait, waits = waiting.wait, [0]

    def counting_wait(*wait_args: Any, **wait_kwargs: Any) -> Any:
        waits[0] += 1
        return real_wait(*wait_args, **wait_kwargs)

    waiting.wait = counting_wait
    for _ in range(20):
        transaction()
    waiting.wait = real_wait
    calls = [0]

    def count(_frame: Any, event_name: str, _arg: Any) -> None:
        if event_name == "call":
            calls[0] += 1

    sys.setprofile(count)
    for _ in range(20):
        transaction()
    sys.setprofile(None)
    backends = _backend_cpu_seconds(engine)
    started = time.process_time()
    for _ in range(args.n):
        transaction()
    cpu_ms = (time.process_time() - started) / args.n * 1000
    pg_ms = (_backend_cpu_seconds(engine) - backends) / args.n * 1000
    if args.profile:
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(args.n):
            transaction()
        profile.disable()
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.lines)
    for queue in jobs.QUEUES.values():
        queue.storage.flush_all()
    print(json.dumps({"py_calls_per_tx": calls[0] / 20, "sql_per_tx": sql_per_tx, "round_trips_per_tx": waits[0] / 20,
                      "cpu_ms_per_tx": round(cpu_ms, 2), "pg_cpu_ms_per_tx": round(pg_ms, 2),
                      "load_average": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
