"""Fetching the latest pass the way Wallet does, served by gunicorn on this machine.

    .venv/bin/python bench/pass_fetch.py [--cards 1000] [--requests 3000] [--concurrency 8]
        [--database-url postgresql://postgres@127.0.0.1:5432/passcast_bench | --sqlite]
        [--gunicorn-workers 2] [--gunicorn-threads 4] [--sign-n 200] [--keep]

Set-up (not timed): a fresh database (dropped and recreated; PostgreSQL by default), the
demo brand, M cards inserted in bulk, gunicorn (`gunicorn -w 2 --threads 4 wsgi:app`)
with the same settings, and every card's pass fetched once so that its signed bytes are
stored (that first round is timed separately: signing on first fetch, over HTTP).

Timed, each a fixed number of requests spread over the M cards, from `--concurrency`
client threads in this process holding keep-alive connections (http.client: the client
must cost less than the server):
- not_modified: GET /passkit/v1/passes/<type>/<serial> with `Authorization: ApplePass`
  and If-Modified-Since = the Last-Modified of the first fetch -> 304.
- stored: the same request without If-Modified-Since -> 200 with the stored bytes.
- fresh sign: `service.apple.pass_files.render(card, url)` (build + sign, what a fetch after a
  change costs) in this process, one thread, for --sign-n cards.

p99_ms is the 99th-percentile latency of the stored path (client-side, request sent to
body read). Last line: JSON
{"not_modified_rps": .., "stored_rps": .., "fresh_sign_rps": .., "p99_ms": ..}.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as common  # noqa: E402

PKPASS = "application/vnd.apple.pkpass"


@dataclass
class Target:
    path: str
    headers: dict[str, str]
    last_modified: str = ""


@dataclass
class LoadResult:
    name: str
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bytes: int = 0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    database_cpu: float = 0.0
    without_last_modified: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def ms(self, fraction: float) -> float:
        return common.percentile(self.latencies, fraction) * 1000


def drive(
    port: int, targets: Sequence[Target], total: int, concurrency: int, *, name: str, expect: int,
    conditional: bool, max_seconds: float,
) -> LoadResult:
    """`total` GETs round-robin over `targets` from `concurrency` threads with keep-alive
    connections; stops early (bounded) after `max_seconds`."""
    result = LoadResult(name)
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.perf_counter() + max_seconds
    start_gate = threading.Barrier(concurrency + 1)

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies: list[float] = []
        errors: list[str] = []
        received = missing = 0
        start_gate.wait()
        try:
            for index in counter:  # shared iterator: each request index is taken once
                if time.perf_counter() > deadline:
                    break
                target = targets[index % len(targets)]
                headers = dict(target.headers)
                if conditional:
                    headers["If-Modified-Since"] = target.last_modified
                began = time.perf_counter()
                try:
                    connection.request("GET", target.path, headers=headers)
                    response = connection.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    continue
                latencies.append(time.perf_counter() - began)
                received += len(body)
                if response.status != expect:
                    errors.append(f"HTTP {response.status} (expected {expect})")
                elif expect == 200 and (response.getheader("Content-Type") != PKPASS or not body):
                    errors.append(f"not a pkpass: {response.getheader('Content-Type')} {len(body)} bytes")
                if not response.getheader("Last-Modified"):
                    missing += 1  # reported, not fatal: see the README (werkzeug and 304)
        finally:
            connection.close()
            with lock:
                result.latencies.extend(latencies)
                result.errors.extend(errors)
                result.bytes += received
                result.without_last_modified += missing

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    result.requests = len(result.latencies)
    return result


def first_fetch(port: int, targets: Sequence[Target], concurrency: int) -> LoadResult:
    """Fetch every pass once (signs and stores it) and remember its Last-Modified."""
    result = LoadResult("first fetch (sign + store)")
    lock = threading.Lock()
    work = iter(targets)

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for target in work:
                began = time.perf_counter()
                connection.request("GET", target.path, headers=target.headers)
                response = connection.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - began
                with lock:
                    result.latencies.append(elapsed)
                    if response.status != 200 or response.getheader("Content-Type") != PKPASS or not body:
                        result.errors.append(f"HTTP {response.status} {response.getheader('Content-Type')}")
                target.last_modified = response.getheader("Last-Modified") or ""
        finally:
            connection.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    result.requests = len(result.latencies)
    return result


def fresh_sign_rate(app: Any, card_ids: Sequence[int], web_service_url: str) -> tuple[float, int]:
    """Build + sign the passes of `card_ids` in this process (one thread): (per second, bytes)."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from service.apple import pass_files
    from service.models import Card, Program
    from service.platform import db

    with app.app_context():
        session = db.session()
        cards = list(session.scalars(
            select(Card).where(Card.id.in_(card_ids))
            .options(selectinload(Card.program).selectinload(Program.brand), selectinload(Card.customer))
        ))
        pass_files.render(cards[0], web_service_url)  # warm: signer, certificate, program files
        size = 0
        began = time.perf_counter()
        for card in cards:
            size += len(pass_files.render(card, web_service_url))
        elapsed = time.perf_counter() - began
    return len(cards) / elapsed, size // len(cards)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from service import create_app

    workdir = common.make_workdir()
    database_url = common.database_url_for(args.database_url, args.sqlite, workdir)
    port = common.free_port()
    env = common.BenchEnv(workdir=workdir, database_url=database_url, public_base_url=f"http://127.0.0.1:{port}")
    server: common.Child | None = None
    app = None
    try:
        print(f"set-up: {args.cards} cards, database {database_url}, gunicorn -w {args.gunicorn_workers} "
              f"--threads {args.gunicorn_threads} on port {port}")
        common.ensure_dev_certificates(env)
        common.prepare_database(database_url)
        settings = env.settings()
        app = create_app(settings)
        seeded = common.seed_demo(app)
        cards = common.bulk_cards(app.extensions["db_engine"], seeded["program_id"], seeded["brand_id"], args.cards)
        argv = [
            str(common.VENV_BIN / "gunicorn"), "-w", str(args.gunicorn_workers), "--threads",
            str(args.gunicorn_threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app",
        ]  # fmt: skip
        server = common.start_process("gunicorn", argv, env.environ(), workdir / "logs")

        common.wait_for_http_health(server, port)
        type_id = common.PASS_TYPE_IDENTIFIER
        targets = [
            Target(f"/passkit/v1/passes/{type_id}/{card.serial_number}",
                   {"Authorization": f"ApplePass {card.authentication_token}"})
            for card in cards
        ]
        signed = first_fetch(port, targets, args.concurrency)
        if signed.errors:
            raise RuntimeError(f"first fetch failed: {signed.errors[:3]}\n{server.tail()}")

        options = {"concurrency": args.concurrency, "max_seconds": args.max_seconds}
        warm = min(args.requests, 300)
        drive(port, targets, warm, name="warm-up", expect=304, conditional=True, **options)
        drive(port, targets, warm, name="warm-up", expect=200, conditional=False, **options)
        loads = []
        for name, expect, conditional in (("304", 304, True), ("stored", 200, False)):
            server_cpu, client_cpu = common.group_cpu_seconds(server.process.pid), time.process_time()
            database_cpu = common.group_cpu_seconds(name="postgres")
            load = drive(port, targets, args.requests, name=name, expect=expect, conditional=conditional, **options)
            load.server_cpu = common.group_cpu_seconds(server.process.pid) - server_cpu
            load.client_cpu = time.process_time() - client_cpu
            # postgres backends on this machine (any database): meaningless with --sqlite
            load.database_cpu = (common.group_cpu_seconds(name="postgres") - database_cpu) if not args.sqlite else 0.0
            loads.append(load)
        not_modified, stored = loads
        for load in (not_modified, stored):
            if load.errors:
                raise RuntimeError(f"{load.name}: {len(load.errors)} errors, e.g. {load.errors[:3]}\n{server.tail()}")

        sign_ids = [card.id for card in cards[: args.sign_n]]
        fresh_rps, pass_size = fresh_sign_rate(app, sign_ids, settings.web_service_url)
        return {"first": signed, "not_modified": not_modified, "stored": stored, "fresh_sign_rps": fresh_rps,
                "pass_size": pass_size, "args": args}
    except BaseException:
        if server is not None:
            print(f"--- gunicorn stderr (tail) ---\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        common.stop_process(server)
        if app is not None:
            app.extensions["db_engine"].dispose()
        if not args.keep:
            common.drop_database(database_url)
        common.remove_workdir(workdir, keep=args.keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=1000, help="cards (passes) fetched round-robin")
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per path")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="upper bound per timed path")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (keep-alive connections)")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=4)
    parser.add_argument("--sign-n", type=int, default=200, help="passes built + signed in-process")
    parser.add_argument("--database-url", default=None,
                        help=f"PostgreSQL, recreated (default {common.DEFAULT_DATABASE_URL})")
    parser.add_argument("--sqlite", action="store_true", help="use a SQLite file in the temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and database")
    args = parser.parse_args()
    if min(args.cards, args.requests, args.concurrency, args.sign_n) < 1:
        parser.error("sizes must be positive")

    report = run(args)
    first, not_modified, stored = report["first"], report["not_modified"], report["stored"]
    print(f"\npass fetch: {args.cards} passes, gunicorn -w {args.gunicorn_workers} --threads "
          f"{args.gunicorn_threads}, {args.concurrency} client threads (keep-alive), "
          f"{'sqlite' if args.sqlite else 'postgresql'}")
    print(f"  {'path':<28} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   CPU ms per request: "
          f"gunicorn / postgres / client")
    for load in (first, not_modified, stored):
        cpu = (f"  {load.server_cpu / load.requests * 1000:8.2f} {load.database_cpu / load.requests * 1000:8.2f} "
               f"{load.client_cpu / load.requests * 1000:8.2f}" if load.server_cpu else "")
        print(f"  {load.name:<28} {load.requests:8d} {load.rps:8.0f} {load.ms(0.50):8.1f} {load.ms(0.99):8.1f} {cpu}")
    for load in (not_modified, stored):
        if load.without_last_modified:
            print(f"  NOTE: {load.without_last_modified} of {load.requests} {load.name} responses had no Last-Modified")
    print(f"  fresh build + sign in-process (1 thread): {report['fresh_sign_rps']:.0f} passes/s, "
          f"{report['pass_size']} bytes each")
    print(f"  stored / fresh sign: {stored.rps / report['fresh_sign_rps']:.1f}x;  p99_ms = stored path")
    print(json.dumps({
        "not_modified_rps": round(not_modified.rps, 1),
        "stored_rps": round(stored.rps, 1),
        "fresh_sign_rps": round(report["fresh_sign_rps"], 1),
        "p99_ms": round(stored.ms(0.99), 2),
    }))


if __name__ == "__main__":
    main()
