"""What a rate-limit check adds to a request, per store: the database (SQLite, PostgreSQL) and Redis.

    .venv/bin/python bench/rate_limits.py [--n 2000]
        [--database-url postgresql://postgres@127.0.0.1:5432/passcast_bench_rate] [--redis-url redis://127.0.0.1:6379/14]

For each store: `rate_limits.spend` alone (one request's check: one upsert or one Lua call), then the
cashier scan (POST /api/v1/cashier/scan, in-process test client, one card) with the real store and
with a store that counts nothing, so the difference is the check's share of the scan. One thread;
p50/p99 in milliseconds. Last line: JSON {store: {"spend_p50_ms", "spend_p99_ms", "scan_p99_ms",
"scan_p99_without_ms"}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    BenchEnv,
    drop_database,
    ensure_dev_certificates,
    make_workdir,
    percentile,
    prepare_database,
    remove_workdir,
    seed_demo,
)
from service import create_app  # noqa: E402
from service.web import rate_limits  # noqa: E402


class _CountsNothing:
    def hit(self, windows: Sequence[tuple[str, int]], amount: int = 1) -> list[tuple[int, float]]:
        return [(1, time.time() + seconds) for _key, seconds in windows]


def _ms(samples: list[float]) -> tuple[float, float]:
    return round(percentile(samples, 0.5) * 1000, 3), round(percentile(samples, 0.99) * 1000, 3)


def measure(env: BenchEnv, n: int) -> dict[str, float]:
    app = create_app(env.settings())
    seeded = seed_demo(app)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {seeded['cashier_token']}"}
    code = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", json={"customer": {"name": "Bench"}},
                       headers={"Authorization": f"Bearer {seeded['api_key']}"}).get_json()["barcode_message"]
    spend: list[float] = []
    with app.test_request_context():
        for number in range(n):
            start = time.perf_counter()
            rate_limits.spend("100000000/minute", "bench", f"id{number % 50}")
            spend.append(time.perf_counter() - start)

    def scans() -> list[float]:
        samples = []
        for _ in range(n // 4):
            start = time.perf_counter()
            assert client.post("/api/v1/cashier/scan", json={"code": code}, headers=headers).status_code == 200
            samples.append(time.perf_counter() - start)
        return samples

    with_check = scans()
    real = app.extensions["passcast_rate_counters"]
    app.extensions["passcast_rate_counters"] = _CountsNothing()
    without_check = scans()
    app.extensions["passcast_rate_counters"] = real
    app.extensions["db_engine"].dispose()
    spend_p50, spend_p99 = _ms(spend)
    return {"spend_p50_ms": spend_p50, "spend_p99_ms": spend_p99, "scan_p99_ms": _ms(with_check)[1],
            "scan_p99_without_ms": _ms(without_check)[1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/passcast_bench_rate")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    workdir = make_workdir()
    figures: dict[str, dict[str, float]] = {}
    try:
        sqlite_url = f"sqlite:///{workdir / 'bench.db'}"
        stores: list[tuple[str, str, Any]] = [("sqlite", sqlite_url, None),
                                              ("postgresql", args.database_url, None),
                                              ("redis", sqlite_url, args.redis_url)]
        for name, url, redis_url in stores:
            env = BenchEnv(workdir=workdir, database_url=url, redis_url=redis_url)
            ensure_dev_certificates(env)
            prepare_database(url)
            figures[name] = measure(env, args.n)
            print(name, figures[name], flush=True)
            drop_database(url)
    finally:
        remove_workdir(workdir)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
