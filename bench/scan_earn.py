"""Cashiers at the till: scan a card, post a purchase (or a stamp); tx/s, latency and commit-to-push.

    .venv/bin/python bench/scan_earn.py [--seconds 20] [--cashiers 20] [--cards 2000]
        [--kind points|stamps] [--with-limits] [--with-challenge]
        [--gunicorn-workers 2] [--gunicorn-threads 10] [--consumer-workers 4]
        [--client http.client|httpx] [--warmup-seconds 3] [--profile]
        [--database-url postgresql://postgres@127.0.0.1:5432/passcast_bench_scan]
        [--redis-url redis://127.0.0.1:6379/14] [--keep]

Set-up (not timed): a fresh PostgreSQL database (dropped and recreated, migrated), the
demo brand (its cashier token is the till's), M cards with one apple registration each
(distinct 64-hex tokens, `_common.bulk_cards`), the APNs double in a child process of its
own (trusting the dev pass CA; it writes every request's token and `received_at` to a
file when stopped), ONE worker process (`python -m service.worker --threads push=4`: every queue, as `make run`)
on a Redis database of its own (flushed first), and gunicorn
(`gunicorn -w W --threads T wsgi:app`) with the same settings. gunicorn runs through this
script (`--server-child`), which adds bench instrumentation from outside the service: a
SQLAlchemy `after_commit` listener that writes the wall-clock time of each commit that
queued push deliveries, with their ids (and with --profile, per-request SQL counts; with
PASSCAST_BENCH_GC=1 in the environment, every garbage collection's pause, to gc-<pid>.log
in the --keep'd events folder: how the 60-400 ms full-collection pauses were found).

Timed: `--cashiers` threads, each with its own keep-alive connection, loop for
`--seconds`: pick a random card, POST /api/v1/cashier/scan {"code": barcode_message},
then POST /api/v1/cards/<id from the scan>/transactions {"type": "purchase",
"amount": "12.50"} with a fresh Idempotency-Key. One transaction = scan + purchase;
its latency is measured client-side around both requests. A warm-up phase (same
loop, `--warmup-seconds`) runs first and is left out.

`--kind stamps` (issue 16): the cards are in a stamp-card program of 10 stamps (made in the set-up)
and each transaction is POST {"type": "stamp"} instead of the purchase: cards fill, write their
card_full entries and rewards, and the pass's stamp strip changes. `--with-limits` turns the till's
safeguards on for the program (a daily cap and a per-transaction cap set so high that nothing is
refused): the price of their one extra indexed query on the hot path. `--with-challenge` (issue 17)
gives the program a running challenge ("1000 visits in 30 days", out of reach, so every transaction
counts and none completes): the price of counting, one indexed SELECT of the card's open window
plus its INSERT or UPDATE, and the progress field on each pass built.

Every purchase earns points, so the card changes and the outbox queues one push per
registration. After the timed phase the bench waits for all of them to be accepted.
commit_to_push, per push: `received_at` at the APNs double (time.time() when the
request's HTTP/2 stream ended) minus the time.time() taken in gunicorn right after the
COMMIT of the purchase that queued it returned (after_commit). Same machine, same clock.
Deliveries are matched to received requests by push token, in claim order.

The cashiers run in this process, which has the app loaded for the set-up: its start-up
objects are frozen and garbage collection is off during the timed phase, so a pause of the
client's is not counted as server latency (the number of client collections is printed).

Last line: JSON {"tx_per_s": .., "p50_ms": .., "p99_ms": .., "commit_to_push_ms": ..}
where p50/p99 are the scan+purchase latency and commit_to_push_ms is the **p95**
over all pushes of the timed phase (p50/p95/p99/max are printed above it).
Targets: p99 < 50 ms at 20 cashiers; commit_to_push < 1000 ms.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as common  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/passcast_bench_scan"
#: not push_fanout's db 15: both benches may run at the same time
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
TARGET_P99_MS = 50.0
TARGET_PUSH_MS = 1000.0
#: capacity (tx/s) against the single-core signing rate of the same run (issue 18): a ratio holds on a
#: slow machine and a fast one alike, where a fixed tx/s would not
TARGET_CAPACITY_RATIO = 0.1
PROFILE_ENV = "PASSCAST_BENCH_SQL_PROFILE"
GC_ENV = "PASSCAST_BENCH_GC"
PENDING_KEY = "passcast_push_ids"  # service.push.outbox._PENDING, read only


# -- child: the APNs double, recording each request's token and arrival time ------------------


def apns_child(argv: list[str]) -> None:
    """tests.doubles.apns's main(), plus a dump of (token, received_at, status) at exit."""
    import asyncio

    from tests.doubles.apns import ApnsDouble

    parser = argparse.ArgumentParser()
    for name in ("--out", "--cert", "--key", "--client-ca", "--topic"):
        parser.add_argument(name, required=True)
    args = parser.parse_args(argv)
    double = ApnsDouble(args.cert, args.key, topic=args.topic, client_ca=args.client_ca, record=True)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, double.stop_from_loop)
        await double.serve(on_ready=lambda port: print(port, flush=True))

    asyncio.run(run())
    rows = [[r.token, r.received_at, r.status] for r in double.requests]
    Path(args.out).write_text(json.dumps(rows))
    print(json.dumps({**double.summary(), "cpu_seconds": round(time.process_time(), 3)}), file=sys.stderr,
          flush=True)


def start_apns_double(env: common.BenchEnv, out: Path) -> common.ApnsProcess:
    from tests.doubles.pki import make_pki

    pki = make_pki(env.workdir / "apns-pki", topic=common.PASS_TYPE_IDENTIFIER)
    argv = [
        sys.executable, str(Path(__file__).resolve()), "--apns-child", "--out", str(out),
        "--cert", str(pki.server_cert), "--key", str(pki.server_key),
        "--client-ca", str(env.dev_ca_file), "--topic", common.PASS_TYPE_IDENTIFIER,
    ]  # fmt: skip
    child = common.start_process("apns-double", argv, env.environ(), env.workdir / "logs", stdout_pipe=True)
    assert child.process.stdout is not None
    line = child.process.stdout.readline().decode().strip()
    if not line.isdigit():
        common.stop_process(child)
        raise RuntimeError(f"APNs double did not start: {line!r}\n{child.tail()}")
    return common.ApnsProcess(child, int(line), pki.ca_cert)


# -- child: gunicorn with commit timestamps (and, with --profile, SQL counts) ----------------


def server_child(argv: list[str]) -> None:
    """gunicorn's own entry point, after installing listeners on the Session / Engine classes.

    The listeners are registered in the master before the fork, so every worker has them;
    each worker appends to files named by its pid. The service code is not changed.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    events_dir = Path(argv[0])
    files: dict[str, Any] = {}
    lock = threading.Lock()

    def write(kind: str, line: str) -> None:
        key = f"{kind}-{os.getpid()}"
        with lock:
            handle = files.get(key)
            if handle is None:
                handle = files[key] = open(events_dir / f"{key}.log", "a", buffering=1)  # noqa: SIM115
            handle.write(line + "\n")

    # insert=True: before service.push.outbox's after_commit listener pops the ids
    @event.listens_for(Session, "after_commit", insert=True)
    def _committed(session: Session) -> None:
        ids = session.info.get(PENDING_KEY)
        if ids:
            write("commit", f"{time.time():.6f} {','.join(map(str, ids))}")

    if os.environ.get(GC_ENV):  # each collection: wall time, generation, pause ms, objects freed
        gc_start: dict[str, float] = {}

        def _gc(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                gc_start["t"] = time.perf_counter()
            else:
                pause_ms = (time.perf_counter() - gc_start["t"]) * 1000
                write("gc", f"{time.time():.6f} {info['generation']} {pause_ms:.2f} {info['collected']}")

        gc.callbacks.append(_gc)

    if os.environ.get(PROFILE_ENV):
        import flask

        local = threading.local()

        @event.listens_for(Engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            local.sql_start = time.perf_counter()

        @event.listens_for(Engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            stats = getattr(local, "stats", None)
            if stats is not None:
                stats["n"] += 1
                stats["sql_s"] += time.perf_counter() - local.sql_start
                stats["statements"].append(" ".join(statement.split())[:90])

        @event.listens_for(Engine, "engine_connect")
        def _connect(conn: Any) -> None:
            stats = getattr(local, "stats", None)
            if stats is not None:
                stats["checkouts"] += 1

        def started(sender: Any, **extra: Any) -> None:
            local.stats = {"n": 0, "sql_s": 0.0, "checkouts": 0, "statements": [], "t0": time.perf_counter()}

        def finished(sender: Any, response: Any, **extra: Any) -> None:
            stats = getattr(local, "stats", None)
            if stats is None:
                return
            local.stats = None
            endpoint = flask.request.endpoint or "?"
            wall = time.perf_counter() - stats.pop("t0")
            write("sql", json.dumps({"endpoint": endpoint, "wall_s": wall, **stats}))

        flask.request_started.connect(started, weak=False)
        flask.request_finished.connect(finished, weak=False)

    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", *argv[1:]]
    run()


def read_commits(events_dir: Path) -> dict[int, float]:
    commits: dict[int, float] = {}
    for path in events_dir.glob("commit-*.log"):
        for line in path.read_text().splitlines():
            stamp, _, ids = line.partition(" ")
            for delivery_id in ids.split(","):
                commits[int(delivery_id)] = float(stamp)
    return commits


def sql_profile(events_dir: Path, skip: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per endpoint: requests, server wall times, SQL statements and time; `skip` lines per file (warm-up)."""
    by_endpoint: dict[str, dict[str, Any]] = {}
    for path in events_dir.glob("sql-*.log"):
        for line in path.read_text().splitlines()[skip.get(path.name, 0):]:
            row = json.loads(line)
            entry = by_endpoint.setdefault(row["endpoint"], {"requests": 0, "wall": [], "sql_s": 0.0, "n": 0,
                                                             "checkouts": 0, "statements": None})
            entry["requests"] += 1
            entry["wall"].append(row["wall_s"])
            entry["sql_s"] += row["sql_s"]
            entry["n"] += row["n"]
            entry["checkouts"] += row["checkouts"]
            entry["statements"] = entry["statements"] or row["statements"]
    return by_endpoint


# -- the cashiers ----------------------------------------------------------------------------


@dataclass
class Till:
    card_id: int
    code: str


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    scan: list[float] = field(default_factory=list)
    purchase: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.latencies)

    def ms(self, values: list[float], fraction: float) -> float:
        return common.percentile(values, fraction) * 1000


class HttpClientSession:
    """http.client with keep-alive, the cheapest client (so the client costs less than the server)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
        try:
            self.connection.request("POST", path, json.dumps(body), {**self.headers, **(headers or {})})
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            raise
        return response.status, json.loads(data) if data else None

    def close(self) -> None:
        self.connection.close()


class HttpxSession:
    def __init__(self, port: int, token: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                   headers={"Authorization": f"Bearer {token}"})

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
        response = self.client.post(path, json=body, headers=headers)
        return response.status_code, response.json() if response.content else None

    def close(self) -> None:
        self.client.close()


class GcPauses:
    """Garbage-collection pauses (ms) in this process while installed: the client's share of a tail."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._started) * 1000)

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)


PURCHASE: dict[str, Any] = {"type": "purchase", "amount": "12.50"}
STAMP: dict[str, Any] = {"type": "stamp"}


def drive(port: int, token: str, tills: list[Till], cashiers: int, seconds: float, client: str,
          pace: float | None = None, body: dict[str, Any] = PURCHASE) -> LoadResult:
    """`cashiers` threads for `seconds`. With `pace`, each cashier starts a transaction every
    `pace` seconds (staggered) and its latency counts from the scheduled start, so a server
    that falls behind shows it; without, each starts the next as soon as one is done."""
    result = LoadResult()
    lock = threading.Lock()
    gate = threading.Barrier(cashiers + 1)
    stop = threading.Event()
    session_class = HttpxSession if client == "httpx" else HttpClientSession

    def cashier(seed: int) -> None:
        rng = random.Random(seed)
        session = session_class(port, token)
        latencies: list[float] = []
        scans: list[float] = []
        purchases: list[float] = []
        errors: list[str] = []
        gate.wait()
        scheduled = start_at[0] + (pace or 0) * seed / cashiers
        try:
            while not stop.is_set():
                till = rng.choice(tills)
                if pace:
                    pause = scheduled - time.perf_counter()
                    if pause > 0 and stop.wait(pause):
                        break
                    began = scheduled
                    scheduled += pace
                else:
                    began = time.perf_counter()
                try:
                    status, card = session.post("/api/v1/cashier/scan", {"code": till.code})
                    scanned = time.perf_counter()
                    if status != 200 or card.get("id") != till.card_id:
                        errors.append(f"scan: HTTP {status} {str(card)[:200]}")
                        continue
                    status, answer = session.post(
                        f"/api/v1/cards/{card['id']}/transactions", body,
                        {"Idempotency-Key": uuid.uuid4().hex})
                    done = time.perf_counter()
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                if status != 201 or answer.get("points", 0) <= 0:
                    errors.append(f"{body['type']}: HTTP {status} {str(answer)[:200]}")
                    continue
                latencies.append(done - began)
                scans.append(scanned - began)
                purchases.append(done - scanned)
        finally:
            session.close()
            with lock:
                result.latencies.extend(latencies)
                result.scan.extend(scans)
                result.purchase.extend(purchases)
                result.errors.extend(errors)

    start_at = [0.0]
    threads = [threading.Thread(target=cashier, args=(i,), daemon=True) for i in range(cashiers)]
    for thread in threads:
        thread.start()
    start_at[0] = began = time.perf_counter()
    gate.wait()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    # the clock stops when the last transaction started before the deadline has finished
    result.seconds = time.perf_counter() - began
    return result


# -- the bench -------------------------------------------------------------------------------


def delivery_counts(engine: Any, after_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from service.models import PushDelivery

    with engine.connect() as connection:
        rows = connection.execute(select(PushDelivery.status, func.count()).where(PushDelivery.id > after_id)
                                  .group_by(PushDelivery.status)).all()
    return {status: count for status, count in rows}


def wait_for_pushes(engine: Any, after_id: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = delivery_counts(engine, after_id)
        if counts and set(counts) == {"accepted"}:
            return counts
        if counts.get("failed") or counts.get("unregistered"):
            raise RuntimeError(f"deliveries failed: {counts}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"deliveries not all accepted after {timeout:.0f} s: {counts}")
        time.sleep(0.05)


def max_delivery_id(engine: Any) -> int:
    from sqlalchemy import func, select

    from service.models import PushDelivery

    with engine.connect() as connection:
        return int(connection.execute(select(func.coalesce(func.max(PushDelivery.id), 0))).scalar())


def push_latencies(engine: Any, after_id: int, commits: dict[int, float], received_file: Path) -> dict[str, Any]:
    """Per delivery of the timed phase: commit -> claimed (sent_at) -> received at the double."""
    from sqlalchemy import select

    from service.models import PushDelivery

    with engine.connect() as connection:
        rows = connection.execute(
            select(PushDelivery.id, PushDelivery.push_token, PushDelivery.created_at, PushDelivery.sent_at)
            .where(PushDelivery.id > after_id)).all()
    received: dict[str, list[float]] = defaultdict(list)
    for token, received_at, status in json.loads(received_file.read_text()):
        if status == 200 and token:
            received[token.lower()].append(received_at)
    by_token: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_token[row.push_token.lower()].append(row)
    to_push: list[float] = []
    to_claim: list[float] = []
    claim_to_push: list[float] = []
    unmatched = missing_commit = 0
    for token, deliveries in by_token.items():
        # requests before the timed phase (warm-up) came first: take this token's last ones
        arrivals = sorted(received.get(token, []))[-len(deliveries):]
        deliveries.sort(key=lambda row: (row.sent_at, row.id))
        if len(arrivals) < len(deliveries):
            unmatched += len(deliveries) - len(arrivals)
            continue
        for row, arrived in zip(deliveries, arrivals, strict=True):
            committed = commits.get(row.id)
            if committed is None:
                missing_commit += 1
                continue
            to_push.append(arrived - committed)
            claimed = row.sent_at.timestamp()
            to_claim.append(claimed - committed)
            claim_to_push.append(arrived - claimed)
    return {"deliveries": len(rows), "matched": len(to_push), "unmatched": unmatched,
            "missing_commit": missing_commit, "to_push": to_push, "to_claim": to_claim,
            "claim_to_push": claim_to_push}


def bench_program(app: Any, seeded: dict[str, Any], kind: str, with_limits: bool,
                  with_challenge: bool = False) -> int:
    """The program the bench's cards are in: the demo's (points), or a stamp-card program of 10 stamps
    made here; with `with_limits`, the till's safeguards on but never refusing (caps out of reach)."""
    from service.models import Program
    from service.platform import db

    with app.app_context():
        session = db.session()
        program = session.get(Program, seeded["program_id"])
        assert program is not None
        if kind == "stamps":
            program = Program(brand_id=program.brand_id, name="Bench Stamps", kind="stamps", stamps_required=10,
                              stamp_rule="visit", stamp_ladder=[{"at": 5, "reward": "A pastry"}],
                              pass_type_identifier=program.pass_type_identifier,
                              team_identifier=program.team_identifier, certificate_id=program.certificate_id,
                              currency=program.currency)
            session.add(program)
        if with_limits:
            program.daily_cap = 10_000_000
            program.per_transaction_cap = 1000
        if with_challenge:
            import datetime as dt

            from service.journeys import challenges
            from service.models import Challenge, utcnow

            session.flush()
            now = utcnow()
            session.add(Challenge(brand_id=program.brand_id, program_id=program.id, name="Bench challenge",
                                  counts="visits", target=1000, starts_at=now - dt.timedelta(hours=1),
                                  ends_at=now + dt.timedelta(days=30), bonus="coupon", coupon_name="Bench cake",
                                  enabled=True, created_at=now, updated_at=now))
            challenges.changed(session, program)
        session.commit()
        return program.id


def postgres_backend_pids(engine: Any) -> list[int]:
    """The PostgreSQL backends serving this bench's database (the pools of gunicorn, consumer and bench):
    other helpers' databases on the same server are not counted."""
    from sqlalchemy import text

    with engine.connect() as connection:
        return [int(pid) for pid in connection.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()]


@dataclass
class CpuMeter:
    """CPU seconds (utime + stime from /proc) of every process of the run, between `start` and `stop`."""

    engine: Any
    pids: dict[str, int]  # name -> pid (a group leader for "gunicorn")
    started: dict[str, float] = field(default_factory=dict)
    backends: dict[int, float] = field(default_factory=dict)

    def _sample(self) -> dict[str, float]:
        return {"bench client": time.process_time(), "gunicorn": common.group_cpu_seconds(self.pids["gunicorn"]),
                "consumer": common.cpu_seconds(self.pids["consumer"]),
                "apns double": common.cpu_seconds(self.pids["apns double"])}

    def start(self) -> None:
        self.backends = {pid: common.cpu_seconds(pid) for pid in postgres_backend_pids(self.engine)}
        self.started = self._sample()

    def stop(self) -> dict[str, float]:
        now = self._sample()
        spent = {name: now[name] - self.started[name] for name in now}
        # a backend started during the phase spent all its CPU in it; one that ended is lost (pools keep theirs)
        pids = postgres_backend_pids(self.engine)
        postgres = sum(common.cpu_seconds(pid) - self.backends.get(pid, 0.0) for pid in pids)
        return {**spent, "postgres": postgres}


def per_transaction_ms(cpu: dict[str, float], count: int) -> dict[str, float]:
    return {name: seconds / max(count, 1) * 1000 for name, seconds in cpu.items()}


def sign_only_per_s(signs: int = 600, rounds: int = 3) -> float:
    """Single-core signing rate (PassSigner.sign over real pass manifests), as bench/pass_build.py takes
    it: the same machine, the same moment as the load, so capacity can be judged against it."""
    import tempfile

    from bench import pass_build
    from service.apple import signing

    with tempfile.TemporaryDirectory(prefix="passcast-bench-sign-") as tmp:
        program = pass_build.make_program(pass_build.signing_row(Path(tmp) / "certs"))
    signer = signing.signer_for(program)
    cards = pass_build.make_cards(program, 0, 20)
    _, pkpasses = pass_build.time_builds(cards)
    manifests = pass_build.check_round(cards, pkpasses, set())
    batch = [manifests[i % len(manifests)] for i in range(signs // rounds)]
    pass_build.time_signs(batch[:20], signer)  # warm
    elapsed = sum(pass_build.time_signs(batch, signer) for _ in range(rounds))
    return len(batch) * rounds / elapsed


def half_capacity_pace(capacity: float, cashiers: int) -> float:
    """Seconds between one cashier's transactions so that all of them together make capacity / 2."""
    return cashiers / (capacity / 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import select

    from service import create_app
    from service.loyalty.cards import barcode_message
    from service.models import Brand, Card
    from service.platform import jobs
    from service.platform.heap import freeze_startup_objects

    workdir = common.make_workdir()
    events_dir = workdir / "events"
    events_dir.mkdir()
    received_file = workdir / "apns-requests.json"
    database_url = args.database_url
    port = common.free_port()
    env = common.BenchEnv(workdir=workdir, database_url=database_url, redis_url=args.redis_url,
                          public_base_url=f"http://127.0.0.1:{port}")
    logs = workdir / "logs"
    double: common.ApnsProcess | None = None
    consumer = server = None
    app = None
    try:
        print(f"set-up: {args.cards} cards with one registration each, database {database_url}, "
              f"gunicorn -w {args.gunicorn_workers} --threads {args.gunicorn_threads}, huey consumer "
              f"-w {args.consumer_workers} -k thread, {args.cashiers} cashiers ({args.client})")
        common.ensure_dev_certificates(env)
        common.prepare_database(database_url)
        double = start_apns_double(env, received_file)
        env.apns_endpoint, env.apns_ca_file = double.url, str(double.ca_file)
        app = create_app(env.settings())
        for queue in jobs.QUEUES.values():  # the bench's own Redis db: stale jobs of an earlier run
            queue.storage.flush_all()
        seeded = common.seed_demo(app)
        engine = app.extensions["db_engine"]
        program_id = bench_program(app, seeded, args.kind, args.with_limits, args.with_challenge)
        cards = common.bulk_cards(engine, program_id, seeded["brand_id"], args.cards,
                                  registrations_per_card=1)
        body = STAMP if args.kind == "stamps" else PURCHASE
        with app.app_context():
            from service.platform import db

            session = db.session()
            brand = session.get(Brand, seeded["brand_id"])
            by_id = {card.id: card for card in session.scalars(select(Card).where(Card.brand_id == brand.id))}
            tills = [Till(card.id, barcode_message(by_id[card.id], brand)) for card in cards]

        consumer_argv = [sys.executable, "-m", "service.worker", "--threads", f"push={args.consumer_workers}"]
        consumer = common.start_process("consumer", consumer_argv, env.environ(), logs)
        server_argv = [
            sys.executable, str(Path(__file__).resolve()), "--server-child", str(events_dir),
            "-w", str(args.gunicorn_workers), "--threads", str(args.gunicorn_threads),
            # a cashier's connection may wait longer than gunicorn's 2 s default between customers
            "--keep-alive", "30",
            "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app",
        ]  # fmt: skip
        extra = {PROFILE_ENV: "1"} if args.profile else {}
        server = common.start_process("gunicorn", server_argv, env.environ(**extra), logs)

        common.wait_for_http_health(server, port)
        token = seeded["cashier_token"]

        # The cashiers run in this process, which has the whole app loaded (set-up): freeze it, as
        # the service's processes do, so a full collection here does not pass for server latency.
        freeze_startup_objects()
        client_gc = GcPauses()
        warm = drive(port, token, tills, args.cashiers, args.warmup_seconds, args.client, body=body)
        if warm.errors or not warm.count:
            raise RuntimeError(f"warm-up: {len(warm.errors)} errors, e.g. {warm.errors[:3]}\n{server.tail()}")
        wait_for_pushes(engine, 0, timeout=60)
        meter = CpuMeter(engine, {"gunicorn": server.process.pid, "consumer": consumer.process.pid,
                                  "apns double": double.child.process.pid})
        signs = [sign_only_per_s()]  # servers idle; again after the load, the run's rate is the mean
        # No collections in the client from here to the end of the timed phase (a few MB of garbage; one
        # between phases, untimed): a pause here stalls all cashier threads and would count as the server's.
        gc.collect()
        gc.disable()
        saturated = half = None
        saturated_cpu = half_cpu = None
        if args.saturation_seconds > 0:
            # capacity: the same cashiers with no pause between customers
            meter.start()
            saturated = drive(port, token, tills, args.cashiers, args.saturation_seconds, args.client, body=body)
            saturated_cpu = meter.stop()
            if saturated.errors:
                raise RuntimeError(f"saturation: {len(saturated.errors)} errors, e.g. {saturated.errors[:3]}")
            wait_for_pushes(engine, 0, timeout=args.push_timeout)
            gc.collect()
            print(f"  saturation: {saturated.count / saturated.seconds:.1f} tx/s, p99 "
                  f"{saturated.ms(saturated.latencies, 0.99):.1f} ms")
            if args.half_capacity_seconds > 0:
                pace = half_capacity_pace(saturated.count / saturated.seconds, args.cashiers)
                meter.start()
                half = drive(port, token, tills, args.cashiers, args.half_capacity_seconds, args.client,
                             pace=pace, body=body)
                half_cpu = meter.stop()
                if half.errors:
                    raise RuntimeError(f"half capacity: {len(half.errors)} errors, e.g. {half.errors[:3]}")
                wait_for_pushes(engine, 0, timeout=args.push_timeout)
                gc.collect()
                print(f"  half capacity: {half.count / half.seconds:.1f} tx/s (each cashier one every "
                      f"{pace * 1000:.0f} ms), p99 {half.ms(half.latencies, 0.99):.1f} ms")
        after_id = max_delivery_id(engine)
        # the profile covers the timed phase only (workers keep their files open: skip, don't delete)
        skip = {path.name: len(path.read_text().splitlines()) for path in events_dir.glob("sql-*.log")}
        print(f"  warm-up: {warm.count} transactions in {warm.seconds:.1f} s, their pushes accepted")

        if args.pace == "auto":
            if saturated is None:
                raise RuntimeError("--pace auto needs the saturation phase")
            pace_s: float | None = half_capacity_pace(saturated.count / saturated.seconds, args.cashiers)
        else:
            pace_s = float(args.pace) or None
        client_gc.pauses.clear()
        meter.start()
        try:
            load = drive(port, token, tills, args.cashiers, args.seconds, args.client, pace=pace_s, body=body)
            client_pauses = list(client_gc.pauses)  # before enabling: the collection then is after the phase
        finally:
            cpu = meter.stop()
            client_gc.stop()
            gc.enable()
        drained_at = time.perf_counter()
        counts = wait_for_pushes(engine, after_id, timeout=args.push_timeout)
        drain_s = time.perf_counter() - drained_at
        if load.errors:
            raise RuntimeError(f"{len(load.errors)} errors, e.g. {load.errors[:3]}\n{server.tail()}")

        signs.append(sign_only_per_s())
        common.stop_process(consumer, signal.SIGINT)
        common.stop_process(server)
        summary = double.stop()
        pushes = push_latencies(engine, after_id, read_commits(events_dir), received_file)
        return {"load": load, "warm": warm, "saturated": saturated, "half": half, "pace_s": pace_s,
                "saturated_cpu": saturated_cpu, "half_cpu": half_cpu, "signs": signs,
                "cpu": cpu, "counts": counts, "drain_s": drain_s, "pushes": pushes,
                "double": summary, "client_gc_ms": client_pauses,
                "profile": sql_profile(events_dir, skip) if args.profile else None}
    except BaseException:
        for child in (server, consumer):
            if child is not None:
                print(f"--- {child.name} stderr (tail) ---\n{child.tail()}", file=sys.stderr)
        raise
    finally:
        common.stop_process(server)
        common.stop_process(consumer, signal.SIGINT)
        if double is not None:
            double.stop()
        if app is not None:
            app.extensions["db_engine"].dispose()
        if not args.keep:
            common.drop_database(database_url)
        common.remove_workdir(workdir, keep=args.keep)


def print_profile(profile: dict[str, dict[str, Any]]) -> None:
    print("\n  --profile: server side, per request (gunicorn worker, Flask request_started -> finished)")
    for endpoint, entry in sorted(profile.items()):
        count = entry["requests"]
        wall = entry["wall"]
        print(f"  {endpoint:<28} {count:6d} req  wall p50 {common.percentile(wall, 0.5) * 1000:6.1f} ms "
              f"p99 {common.percentile(wall, 0.99) * 1000:6.1f} ms  {entry['n'] / count:4.1f} SQL statements, "
              f"{entry['sql_s'] / count * 1000:5.2f} ms in SQL, {entry['checkouts'] / count:.1f} connections")
        for statement in entry["statements"] or []:
            print(f"      {statement}")


def pace_argument(text: str) -> float | str:
    if text == "auto":
        return text
    return float(text)


def print_cpu(phase: str, cpu: dict[str, float] | None, count: int, seconds: float) -> None:
    """CPU milliseconds per transaction in each process of the run, and what 2 cores allow."""
    if cpu is None:
        return
    per_tx = per_transaction_ms(cpu, count)
    total = sum(per_tx.values())
    cores = os.cpu_count() or 1
    print(f"  CPU ms per transaction, {phase}: " + ", ".join(f"{name} {value:.2f}" for name, value in per_tx.items())
          + f"; total {total:.2f} ms ({sum(cpu.values()):.1f} of {cores * seconds:.0f} CPU s on {cores} cores: "
          f"at most {cores * 1000 / total if total else 0:.0f} tx/s if nothing else ran)")


def main() -> None:
    if sys.argv[1:2] == ["--apns-child"]:
        apns_child(sys.argv[2:])
        return
    if sys.argv[1:2] == ["--server-child"]:
        server_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the timed phase")
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--pace", type=pace_argument, default=1.0,
                        help="seconds between one cashier's transactions in the timed phase (0: no pause; "
                             "auto: half the capacity the saturation phase measured)")
    parser.add_argument("--saturation-seconds", type=float, default=10.0,
                        help="a phase with no pause first, for capacity (0: skip)")
    parser.add_argument("--half-capacity-seconds", type=float, default=10.0,
                        help="after saturation, a paced phase at half the capacity it measured (0: skip)")
    parser.add_argument("--cashiers", type=int, default=20, help="concurrent cashier threads (keep-alive each)")
    parser.add_argument("--cards", type=int, default=2000, help="cards (one registration each), picked at random")
    parser.add_argument("--kind", choices=("points", "stamps"), default="points",
                        help="points: scan + purchase on the demo program; stamps: scan + stamp on a stamp card")
    parser.add_argument("--with-challenge", action="store_true",
                        help="a running challenge on the program: every transaction counts (none completes)")
    parser.add_argument("--with-limits", action="store_true",
                        help="the till's safeguards on (caps out of reach: their query, never a refusal)")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=10)
    parser.add_argument("--consumer-workers", type=int, default=4, help="push queue threads of the worker")
    # http.client by default: in this 20-thread client, httpx's clients delayed the other threads'
    # wake-ups by up to 340 ms (p99 136 ms) before any request was sent, which the open-loop clock
    # counted as server latency (bench/README.md, "The client's own tail")
    parser.add_argument("--client", choices=("httpx", "http.client"), default="http.client")
    parser.add_argument("--profile", action="store_true",
                        help="count SQL statements and time per request in gunicorn (adds some overhead)")
    parser.add_argument("--push-timeout", type=float, default=120.0)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="PostgreSQL, dropped and recreated")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="job queue (a Redis db of its own, flushed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and database")
    args = parser.parse_args()
    if min(args.seconds, args.cashiers, args.cards) <= 0:
        parser.error("sizes must be positive")

    load_before = os.getloadavg()[0]
    report = run(args)
    load, pushes, cpu = report["load"], report["pushes"], report["cpu"]
    tx_per_s = load.count / load.seconds
    p50, p99 = load.ms(load.latencies, 0.50), load.ms(load.latencies, 0.99)
    to_push = pushes["to_push"]
    push_ms = {q: common.percentile(to_push, q) * 1000 for q in (0.5, 0.95, 0.99, 1.0)}
    pacing = f"each starting one every {report['pace_s']:.3g} s" if report["pace_s"] else "no pause"
    what = "scan + stamp" if args.kind == "stamps" else "scan + purchase"
    limits = " (till limits on)" if args.with_limits else ""
    limits += " (a challenge running)" if args.with_challenge else ""
    print(f"\n{what}{limits}: {args.cashiers} cashiers ({pacing}), {args.cards} cards, "
          f"gunicorn -w {args.gunicorn_workers} "
          f"--threads {args.gunicorn_threads}, consumer -w {args.consumer_workers}, client {args.client}, "
          f"postgresql")
    print(f"  {load.count} transactions in {load.seconds:.1f} s: {tx_per_s:.1f} tx/s "
          f"({2 * tx_per_s:.0f} requests/s)")
    print(f"  {'latency ms':<22} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
    for name, values in ((what, load.latencies), ("  scan", load.scan), (f"  {what.split()[-1]}", load.purchase)):
        print(f"  {name:<22} " + " ".join(f"{load.ms(values, q):7.1f}" for q in (0.5, 0.9, 0.99, 1.0)))
    print(f"  pushes: {pushes['deliveries']} deliveries {report['counts']}, {pushes['matched']} matched to the "
          f"double's requests (unmatched {pushes['unmatched']}, no commit stamp {pushes['missing_commit']}); "
          f"last accepted {report['drain_s']:.2f} s after the load stopped")
    print(f"  {'push ms':<22} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    for name, values in (("commit -> at double", to_push), ("  commit -> claimed", pushes["to_claim"]),
                         ("  claimed -> at double", pushes["claim_to_push"])):
        print(f"  {name:<22} " + " ".join(f"{common.percentile(values, q) * 1000:7.1f}"
                                          for q in (0.5, 0.95, 0.99, 1.0)))
    saturated, half = report["saturated"], report["half"]
    print_cpu("timed phase", cpu, load.count, load.seconds)
    if saturated is not None:
        print_cpu("saturation", report["saturated_cpu"], saturated.count, saturated.seconds)
    if half is not None:
        print_cpu("half capacity", report["half_cpu"], half.count, half.seconds)
    client_gc = report["client_gc_ms"]
    print(f"  bench client garbage collections in the timed phase: {len(client_gc)}, longest "
          f"{max(client_gc, default=0.0):.1f} ms (collection is off in the client while timed)")
    if report["profile"]:
        print_profile(report["profile"])
    ok_latency, ok_push = p99 < TARGET_P99_MS, push_ms[0.95] < TARGET_PUSH_MS
    print(f"  p99 target ({TARGET_P99_MS:.0f} ms) {'met' if ok_latency else 'NOT met'}: {p99:.1f} ms;  "
          f"commit-to-push p95 target ({TARGET_PUSH_MS:.0f} ms) {'met' if ok_push else 'NOT met'}: "
          f"{push_ms[0.95]:.1f} ms")
    figures = {"tx_per_s": round(tx_per_s, 1), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
               "commit_to_push_ms": round(push_ms[0.95], 1), "kind": args.kind, "limits": args.with_limits,
               "challenge": args.with_challenge}
    signs = report["signs"]
    sign_rate = sum(signs) / len(signs)
    figures["sign_only_per_s"] = round(sign_rate, 1)
    if saturated is not None:
        # capacity beside the paced figures: tx_per_s is then what the server can do at most
        capacity = saturated.count / saturated.seconds
        figures = {"tx_per_s": round(capacity, 1), "p50_ms": round(p50, 2),
                   "p99_ms": round(p99, 2), "commit_to_push_ms": round(push_ms[0.95], 1),
                   "paced_tx_per_s": round(tx_per_s, 1),
                   "saturated_p99_ms": round(saturated.ms(saturated.latencies, 0.99), 2),
                   "challenge": args.with_challenge, "sign_only_per_s": round(sign_rate, 1),
                   "capacity_ratio": round(capacity / sign_rate, 4)}
        ok_ratio = capacity >= TARGET_CAPACITY_RATIO * sign_rate
        print(f"  capacity {capacity:.1f} tx/s beside the single-core signing rate {sign_rate:.0f}/s "
              f"({' and '.join(f'{rate:.0f}' for rate in signs)}, before and after the load): ratio "
              f"{capacity / sign_rate:.3f}; target >= {TARGET_CAPACITY_RATIO} {'met' if ok_ratio else 'NOT met'}")
        if half is not None:
            half_p99 = half.ms(half.latencies, 0.99)
            figures.update(half_capacity_tx_per_s=round(half.count / half.seconds, 1),
                           half_capacity_p99_ms=round(half_p99, 2))
            print(f"  at half capacity ({half.count / half.seconds:.1f} tx/s): p99 {half_p99:.1f} ms, target "
                  f"{TARGET_P99_MS:.0f} ms {'met' if half_p99 < TARGET_P99_MS else 'NOT met'}")
    # the 1-minute load average before and after the run: the machine may be shared
    figures["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
