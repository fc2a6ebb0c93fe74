"""One campaign to N registrations, end to end, against the APNs double in another process.

    .venv/bin/python bench/push_fanout.py [--n 20000] [--workers 4]
        [--database-url postgresql://postgres@127.0.0.1:5432/passcast_bench | --sqlite]
        [--redis-url redis://127.0.0.1:6379/15] [--single-n N] [--batch 1000] [--profile] [--chunk C]
        [--plain-consumer] [--keep] [--trickle T [--trickle-rate 20]] [--profile-cpu]

Set-up (not timed): a fresh database (dropped and recreated; PostgreSQL by default), the
demo brand, N cards with one apple registration each (distinct 64-hex tokens), the APNs
double (tests.doubles.apns) as its own process trusting the dev pass CA, and ONE huey
consumer process of the push queue (`huey_consumer service.worker.push_queue -w WORKERS -k thread`) on a Redis
database of its own (flushed first). A one-card warm-up campaign is pushed and waited for,
so the consumer has its app, its database connections and its HTTP/2 connection when the
clock starts.

Timed: in this process (create_app wires the outbox to the same Redis queue)
`bump_cards(session, 1 000 card ids, values={"news": ...}, campaign_id=1)` + commit per batch,
as campaigns.sending.send does (--batch; 0 = all N in one transaction), until the delivery
table shows N accepted deliveries for campaign 1 (polled every 20 ms with a query that stops
at the first pending row: see any_pending): pushes_per_s = N / that time. It includes the
bumps, the enqueue, claiming, sending and recording the results.

Then, in the same run, N requests to the same double one stream at a time
(AsyncApnsClient(max_in_flight=1) on a connection of its own): single_stream_per_s. For
diagnosis the same client with the default max_in_flight is also timed (sender_only_per_s:
the ceiling of the sending layer alone, without database or queue).

Four consumer threads are the default, as `make run` gives the push queue (WORKER_THREADS_PUSH=4):
while one thread claims or records a chunk in the database, another's chunk is on the
wire, all sharing the one HTTP/2 connection per certificate. (Measured 2026-11-23, machine
busy: 1 thread 1785/s, 2 threads 2289/s, 4 threads 2762/s. The consumer spends ~0.13-0.16
ms of CPU per push, so one thread is not CPU-bound: it mostly waits, for the database
between chunks and for the tail of each chunk's answers.)
--chunk overrides delivery.CHUNK in the
consumer for experiments. --plain-consumer starts .venv/bin/huey_consumer itself.

--profile runs the consumer under cProfile (worker threads and the APNs event-loop thread
profiled separately) and prints the top functions; phase times of the delivery code
(claim / send / record) are always collected from the consumer and printed. Both are bench
instrumentation only: the service code is unchanged by them. --profile-cpu profiles the whole
worker loop (huey's polling and bookkeeping too) in thread CPU time instead of wall time.

--trickle T (at most N): after the campaign, T one-card bump_cards + commit at --trickle-rate a
second, one push (and one job) each, as a till's purchases queue them; printed: the consumer's
and PostgreSQL's CPU per push, the consumer's SQL per push (statements by kind, pool checkouts)
and commit -> accepted (accepted_at minus the time right after the commit). Every run prints the
consumer's SQL per push of the campaign and its CPU ms per push.

Target: pushes_per_s >= 3000 with one worker process, and sender_only_per_s about the same
(issue 18: when they differ a lot, something stalls). Last line: JSON
{"pushes_per_s": .., "single_stream_per_s": .., "ratio": .., "sender_only_per_s": .., "load_average": [..]}
(load_average: /proc/loadavg's 1-minute figure before and after the run; the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as common  # noqa: E402

TARGET = 3000.0
CAMPAIGN = 1
WARMUP_CAMPAIGN = 0
TRICKLE_CAMPAIGN = 2
PHASES_ENV = "PASSCAST_BENCH_PHASES"
PROFILE_ENV = "PASSCAST_BENCH_PROFILE"
PROFILE_LOOP_ENV = "PASSCAST_BENCH_PROFILE_LOOP"
CHUNK_ENV = "PASSCAST_BENCH_CHUNK"


# -- the consumer child (bench instrumentation around the real huey consumer) ----------------


def consumer_child(argv: list[str]) -> None:
    """`huey_consumer service.worker.push_queue ...` with phase timers (and cProfile if asked).

    Wrappers are installed on module attributes of service.push.delivery / tasks and on
    ApnsSender; the code they wrap runs unchanged.
    """
    import atexit
    import cProfile
    import threading

    from huey.bin.huey_consumer import consumer_main

    import service.worker  # noqa: F401  (imports the tasks)
    from service.push import apns, delivery, tasks

    lock = threading.Lock()
    phases: dict[str, list[float]] = {}  # name -> [calls, seconds, rows]
    profile_path = os.environ.get(PROFILE_ENV)
    local = threading.local()
    worker_profiles: list[cProfile.Profile] = []
    loop_profiles: list[tuple[Any, cProfile.Profile]] = []

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                with lock:
                    entry = phases.setdefault(name, [0, 0.0])
                    entry[0] += 1
                    entry[1] += elapsed

        return wrapper

    if os.environ.get(CHUNK_ENV):  # experiment: another claim/send chunk size than the service's
        delivery.CHUNK = int(os.environ[CHUNK_ENV])
    for name in ("claim", "claim_lean", "_send", "_record", "_record_lean", "_drop_registrations"):
        if hasattr(delivery, name):
            setattr(delivery, name, timed(name.lstrip("_"), getattr(delivery, name)))
    deliver = timed("deliver (job)", tasks.deliver)

    def profiled_deliver(*args: Any, **kwargs: Any) -> Any:
        if not profile_path:
            return deliver(*args, **kwargs)
        profile = getattr(local, "profile", None)
        if profile is None:
            profile = local.profile = cProfile.Profile()
            with lock:
                worker_profiles.append(profile)
        profile.enable()
        try:
            return deliver(*args, **kwargs)
        finally:
            profile.disable()

    tasks.deliver = profiled_deliver

    if profile_path and os.environ.get(PROFILE_LOOP_ENV):
        # The whole worker loop (polling, huey's own work per job, the job), in CPU time of the
        # thread (time.thread_time): where a job's CPU goes, not where it waits.
        from huey.consumer import Worker

        original_loop = Worker.loop

        def loop(self: Any, now: Any = None) -> Any:
            profile = getattr(local, "cpu_profile", None)
            if profile is None:
                profile = local.cpu_profile = cProfile.Profile(time.thread_time)
                with lock:
                    worker_profiles.append(profile)
            profile.enable()
            try:
                return original_loop(self, now)
            finally:
                profile.disable()

        Worker.loop = loop  # type: ignore[method-assign]
        tasks.deliver = deliver

    if profile_path:
        original_init = apns.ApnsSender.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            # the loop's own thread: with --profile-cpu its CPU time (set up in that thread's first call)
            profile = cProfile.Profile(time.thread_time) if os.environ.get(PROFILE_LOOP_ENV) else cProfile.Profile()
            with lock:
                loop_profiles.append((self._loop, profile))
            self._loop.call_soon_threadsafe(profile.enable)

        apns.ApnsSender.__init__ = init  # type: ignore[method-assign]

    def report() -> None:
        if os.environ.get(PHASES_ENV):
            Path(os.environ[PHASES_ENV]).write_text(json.dumps(phases))
        if profile_path:
            import pstats

            for loop, profile in loop_profiles:
                done = threading.Event()
                if loop.is_running():
                    loop.call_soon_threadsafe(lambda p=profile, d=done: (p.disable(), d.set()))
                    done.wait(5)
            for suffix, profiles in (("worker", worker_profiles), ("loop", [p for _, p in loop_profiles])):
                if profiles:
                    stats = pstats.Stats(profiles[0])
                    for extra in profiles[1:]:
                        stats.add(extra)
                    stats.dump_stats(f"{profile_path}.{suffix}")

    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    def count(name: str) -> None:
        with lock:
            entry = phases.setdefault(name, [0, 0.0])
            entry[0] += 1

    # What the consumer asks of its database, per kind (bench instrumentation: listeners on every
    # engine and pool of the process; the lean driver paths call these listeners too).
    event.listen(Engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: count("sql " + statement.lstrip().split(None, 1)[0].upper()))
    event.listen(Engine, "begin", lambda _c: count("sql BEGIN (transaction)"))
    event.listen(Engine, "commit", lambda _c: count("sql COMMIT"))
    event.listen(Pool, "checkout", lambda *_a: count("sql checkout"))

    def dump_often() -> None:  # the bench reads the counters between its phases
        while True:
            time.sleep(0.2)
            if os.environ.get(PHASES_ENV):
                with lock:
                    text = json.dumps(phases)
                Path(os.environ[PHASES_ENV] + ".live").write_text(text)

    threading.Thread(target=dump_often, name="bench-phases", daemon=True).start()
    atexit.register(report)
    sys.argv = ["huey_consumer", *argv]
    consumer_main()


# -- the bench -------------------------------------------------------------------------------


def sched_seconds(pid: int) -> tuple[float, float]:
    """(on a CPU, waiting in the run queue) of a process, all threads, from /proc schedstat.

    For the single-threaded double, wall - both = the time it slept: waiting for requests.
    A stall shows there whatever the machine's load; a busy machine shows in the run queue.
    """
    on_cpu = waiting = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            ran, waited, _ = (task / "schedstat").read_text().split()
            on_cpu += int(ran)
            waiting += int(waited)
    except OSError:
        return float("nan"), float("nan")
    return on_cpu / 1e9, waiting / 1e9


def idle_share(before: tuple[float, float], after: tuple[float, float], wall: float) -> dict[str, float]:
    on_cpu, waiting = after[0] - before[0], after[1] - before[1]
    return {"on_cpu_s": on_cpu, "run_queue_s": waiting, "asleep_s": wall - on_cpu - waiting, "wall_s": wall}


def backend_cpu(engine: Any) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the bench's database, by pid (the
    server is shared with other work: only our database's backends count). {} on SQLite."""
    from sqlalchemy import text

    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    return {pid: common.cpu_seconds(pid) for pid in pids}


def backend_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU of our backends between two snapshots (a backend opened meanwhile counts from 0)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items() if seconds == seconds)


def statuses(connection: Any, campaign_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from service.models import PushDelivery

    rows = connection.execute(
        select(PushDelivery.status, func.count()).where(PushDelivery.campaign_id == campaign_id)
        .group_by(PushDelivery.status)
    ).all()
    return {status: count for status, count in rows}


#: Deliveries nobody has finished with. Counted through ix_push_deliveries_status alone.
PENDING = ("queued", "sending", "retry")


def any_pending(connection: Any) -> bool:
    """Whether some delivery is still waiting or in flight (any campaign: the warm-up's are done).

    The bench asks this every 20 ms during the campaign, on the same two cores, so it must cost
    next to nothing: the first live entry of the pending part of ix_push_deliveries_status ends
    it (LIMIT 1, a plain index scan; a bitmap scan would read them all, and never marks the
    entries of rows that moved on as dead, which the plain scan does so that the next poll
    skips them). Counting instead cost PostgreSQL as much as the campaign's own statements: the
    first version of this bench counted every delivery of the campaign by status (4-15 ms a
    poll at 5 000-20 000 rows), a count of the pending ones still read thousands of entries.
    """
    from sqlalchemy import select

    from service.models import PushDelivery

    return connection.execute(
        select(PushDelivery.id).where(PushDelivery.status.in_(PENDING)).limit(1)).first() is not None


def wait_for_campaign(connection: Any, campaign_id: int, expected: int, timeout: float) -> tuple[float, dict[str, int]]:
    """Poll until nothing is pending (every batch is committed before the first poll), then
    check that `expected` deliveries are accepted; fail fast when some end otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        left = any_pending(connection)  # autocommit: no snapshot held between polls
        now = time.perf_counter()
        if not left:
            counts = statuses(connection, campaign_id)
            if counts.get("accepted", 0) >= expected:
                return now, counts
            raise RuntimeError(f"campaign {campaign_id}: nothing pending, but {counts} (expected {expected} accepted)")
        if time.monotonic() > deadline:
            counts = statuses(connection, campaign_id)
            raise TimeoutError(f"campaign {campaign_id}: {counts} after {timeout:.0f} s (expected {expected} accepted)")
        time.sleep(0.02)



def read_counters(workdir: Path) -> dict[str, float]:
    """The consumer's counters so far (phase calls, SQL statements by kind), as it last dumped them."""
    time.sleep(0.5)  # at least two of its dumps after the phase ended
    path = Path(str(workdir / "phases.json") + ".live")
    try:
        return {name: entry[0] for name, entry in json.loads(path.read_text()).items()}
    except (OSError, ValueError):
        return {}


def run_trickle(args: argparse.Namespace, factory: Any, card_ids: list[int], consumer_pid: int, poll: Any,
                poll_engine: Any, poll_pid: int | None, workdir: Path) -> dict[str, Any]:
    """The till's pattern: one card changed per commit, `--trickle` commits at `--trickle-rate` a
    second, each queuing ONE push (its own job). Per push: consumer CPU, PostgreSQL CPU, SQL, and
    commit -> accepted (accepted_at, stamped by the consumer after APNs answered, minus the
    time.time() right after the commit; one clock)."""
    from sqlalchemy import select

    from service.models import PushDelivery
    from service.push.fanout import bump_cards

    idle_0, idle_start = common.cpu_seconds(consumer_pid), time.perf_counter()
    time.sleep(2.0)  # the consumer with nothing to do: polling the queue, its scheduler
    idle_ms_per_s = (common.cpu_seconds(consumer_pid) - idle_0) * 1000 / (time.perf_counter() - idle_start)
    before = read_counters(workdir)
    cpu_consumer_0 = common.cpu_seconds(consumer_pid)
    cpu_postgres_0 = backend_cpu(poll_engine)
    cpu_poll_0 = common.cpu_seconds(poll_pid) if poll_pid else 0.0
    committed: dict[int, float] = {}
    interval = 1.0 / args.trickle_rate
    start = time.perf_counter()
    for n, card_id in enumerate(card_ids[:args.trickle]):
        pause = start + n * interval - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        with factory() as session:
            bump_cards(session, [card_id], values={"news": f"trickle {n}"}, campaign_id=TRICKLE_CAMPAIGN)
            session.commit()
            committed[card_id] = time.time()
    count = len(committed)
    wait_for_campaign(poll, TRICKLE_CAMPAIGN, count, timeout=args.timeout)
    wall = time.perf_counter() - start
    cpu_consumer = common.cpu_seconds(consumer_pid) - cpu_consumer_0
    cpu_poll = (common.cpu_seconds(poll_pid) - cpu_poll_0) if poll_pid else 0.0
    cpu_postgres = backend_cpu_delta(cpu_postgres_0, backend_cpu(poll_engine)) - cpu_poll
    after = read_counters(workdir)
    rows = poll.execute(select(PushDelivery.card_id, PushDelivery.accepted_at)
                        .where(PushDelivery.campaign_id == TRICKLE_CAMPAIGN)).all()
    delays = sorted((accepted.timestamp() - committed[card]) * 1000 for card, accepted in rows)
    return {
        "pushes": count, "rate": args.trickle_rate, "wall_s": wall, "idle_consumer_ms_per_s": idle_ms_per_s,
        "consumer_ms_per_push": cpu_consumer * 1000 / count,
        "postgres_ms_per_push": cpu_postgres * 1000 / count,
        "commit_to_accepted_ms": {str(q): common.percentile(delays, q) for q in (0.5, 0.95, 0.99)},
        "per_push": {name: (after.get(name, 0) - before.get(name, 0)) / count
                     for name in sorted(after) if after.get(name, 0) != before.get(name, 0)},
    }


async def stream_rate(url: str, ca_file: str, cert_file: str, count: int, max_in_flight: int) -> tuple[float, int]:
    """Send `count` pushes (fresh tokens) on a connection of their own; (seconds, accepted)."""
    from service.push.apns import AsyncApnsClient, CertificateCredentials

    tokens = [secrets.token_hex(32) for _ in range(count)]
    async with AsyncApnsClient(CertificateCredentials(cert_file), endpoint=url, ca_file=ca_file,
                               max_in_flight=max_in_flight) as client:
        warm = await client.send(secrets.token_hex(32), common.PASS_TYPE_IDENTIFIER)  # TLS + HTTP/2 set-up
        if not warm.ok:
            raise RuntimeError(f"APNs double refused the bench client: {warm}")
        start = time.perf_counter()
        results = await client.send_many(tokens, common.PASS_TYPE_IDENTIFIER)
        elapsed = time.perf_counter() - start
    return elapsed, sum(1 for result in results if result.ok)


def print_profile(path: str, title: str, limit: int) -> None:
    import pstats

    if not Path(path).exists():
        return
    print(f"\n--- consumer profile: {title} (top {limit} by own time) ---")
    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(limit)
    print(f"--- consumer profile: {title} (top {limit} cumulative) ---")
    stats.sort_stats("cumulative").print_stats(limit)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import create_engine

    from service import create_app
    from service.platform import jobs
    from service.push.fanout import bump_cards

    workdir = common.make_workdir()
    database_url = common.database_url_for(args.database_url, args.sqlite, workdir)
    env = common.BenchEnv(workdir=workdir, database_url=database_url, redis_url=args.redis_url)
    logs = workdir / "logs"
    double: common.ApnsProcess | None = None
    consumer: common.Child | None = None
    engine = app = None
    report: dict[str, Any] = {}
    try:
        print(f"set-up: {args.n} cards with one registration each, database {database_url}")
        common.ensure_dev_certificates(env)
        common.prepare_database(database_url)
        double = common.start_apns_double(env)
        env.apns_endpoint, env.apns_ca_file = double.url, str(double.ca_file)
        settings = env.settings()
        app = create_app(settings)  # outbox -> huey (Redis) in this process, as in the web app
        for queue in jobs.QUEUES.values():
            queue.storage.flush_all()
        seeded = common.seed_demo(app)
        engine = app.extensions["db_engine"]
        with common.timed() as t_setup:
            cards = common.bulk_cards(engine, seeded["program_id"], seeded["brand_id"], args.n + 1,
                                      registrations_per_card=1)
        warmup_card, cards = cards[0], cards[1:]
        card_ids = [card.id for card in cards]
        print(f"  {len(cards) + 1} cards + registrations inserted in {t_setup[0]:.1f} s")

        child_env = env.environ(**{PHASES_ENV: str(workdir / "phases.json")})
        consumer_args = ["service.worker.push_queue", "-w", str(args.workers), "-k", "thread"]
        if args.plain_consumer:
            argv = [str(common.VENV_BIN / "huey_consumer"), *consumer_args]
        else:  # the same consumer_main, with the bench's phase timers (and profiler) around it
            argv = [sys.executable, str(Path(__file__).resolve()), "--consumer-child", *consumer_args]
        if args.chunk:
            child_env[CHUNK_ENV] = str(args.chunk)
        if args.profile:
            child_env[PROFILE_ENV] = str(workdir / "consumer.prof")
        if args.profile_cpu:
            child_env[PROFILE_ENV] = str(workdir / "consumer.prof")
            child_env[PROFILE_LOOP_ENV] = "1"
        consumer = common.start_process("consumer", argv, child_env, logs)

        factory = app.extensions["db_sessionmaker"]
        poll_engine = create_engine(database_url, isolation_level="AUTOCOMMIT")  # one round trip a poll
        poll = poll_engine.connect()
        if poll_engine.dialect.name == "postgresql":
            poll.exec_driver_sql("SET enable_bitmapscan = off")  # see any_pending
            poll_pid = poll.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        else:
            poll_pid = None
        try:
            with factory() as session:  # warm-up: the consumer builds its app, pools, TLS connection
                bump_cards(session, [warmup_card.id], values={"news": "warm-up"}, campaign_id=WARMUP_CAMPAIGN)
                session.commit()
            wait_for_campaign(poll, WARMUP_CAMPAIGN, 1, timeout=60)
            print(f"  consumer ready ({args.workers} threads), APNs double on {double.url}")

            cpu_consumer_0 = common.cpu_seconds(consumer.process.pid)
            cpu_double_0 = common.cpu_seconds(double.child.process.pid)
            sched_double_0 = sched_seconds(double.child.process.pid)
            sched_consumer_0 = sched_seconds(consumer.process.pid)
            cpu_postgres_0 = backend_cpu(poll_engine)
            cpu_poll_0 = common.cpu_seconds(poll_pid) if poll_pid else 0.0
            cpu_self_0 = time.process_time()
            # As campaigns.sending.send does: one transaction per batch of CAMPAIGN_BATCH cards
            # (--batch; 0 = all cards in one transaction, as this bench did before).
            batch = args.batch or len(card_ids)
            queued, bump_seconds = 0, 0.0
            start = time.perf_counter()
            for first in range(0, len(card_ids), batch):
                with factory() as session:
                    began = time.perf_counter()
                    queued += bump_cards(session, card_ids[first:first + batch],
                                         values={"news": "Double points this weekend"}, campaign_id=CAMPAIGN)
                    session.commit()
                    bump_seconds += time.perf_counter() - began
            committed = time.perf_counter()
            done, counts = wait_for_campaign(poll, CAMPAIGN, args.n, timeout=args.timeout)
            cpu_consumer = common.cpu_seconds(consumer.process.pid) - cpu_consumer_0
            cpu_double = common.cpu_seconds(double.child.process.pid) - cpu_double_0
            sched_double = sched_seconds(double.child.process.pid)
            sched_consumer = sched_seconds(consumer.process.pid)
            cpu_self = time.process_time() - cpu_self_0
            cpu_poll = (common.cpu_seconds(poll_pid) - cpu_poll_0) if poll_pid else 0.0
            cpu_postgres = backend_cpu_delta(cpu_postgres_0, backend_cpu(poll_engine)) - cpu_poll
            counters_campaign = read_counters(workdir)
            trickle = (run_trickle(args, factory, card_ids, consumer.process.pid, poll, poll_engine, poll_pid,
                                   workdir) if args.trickle else None)
        finally:
            poll.close()
            poll_engine.dispose()
        if queued != args.n:
            raise RuntimeError(f"bump_cards queued {queued} deliveries, expected {args.n}")
        elapsed = done - start
        pushes_per_s = args.n / elapsed

        cert_file = str(common.apns_client_certificate(env))
        single_n = args.single_n or args.n
        single_s, single_ok = asyncio.run(stream_rate(double.url, str(double.ca_file), cert_file, single_n, 1))
        sender_sched_0, sender_start = sched_seconds(double.child.process.pid), time.perf_counter()
        sender_cpu_0 = time.process_time()
        sender_s, sender_ok = asyncio.run(stream_rate(double.url, str(double.ca_file), cert_file, args.n, 1000))
        sender_cpu = time.process_time() - sender_cpu_0
        sender_sched = idle_share(sender_sched_0, sched_seconds(double.child.process.pid),
                                  time.perf_counter() - sender_start)
        if single_ok != single_n or sender_ok != args.n:
            raise RuntimeError(f"stream runs: {single_ok}/{single_n} and {sender_ok}/{args.n} accepted")
        single_per_s = single_n / single_s

        common.stop_process(consumer, signal.SIGINT)
        summary = double.stop()
        expected_requests = 1 + args.n + (single_n + 1) + (args.n + 1)
        report = {
            "trickle": trickle,
            "sql_campaign": counters_campaign,
            "n": args.n,
            "workers": args.workers,
            "database": engine.dialect.name,
            "bump_commit_s": bump_seconds,
            "last_commit_s": committed - start,
            "batch": args.batch,
            "elapsed_s": elapsed,
            "pushes_per_s": pushes_per_s,
            "single_stream_per_s": single_per_s,
            "sender_only_per_s": args.n / sender_s,
            "statuses": counts,
            "cpu_consumer_s": cpu_consumer,
            "cpu_double_s": cpu_double,
            "cpu_bench_s": cpu_self,
            "cpu_postgres_s": cpu_postgres,
            "cpu_postgres_poll_s": cpu_poll,
            "double_campaign": idle_share(sched_double_0, sched_double, done - start),
            "double_sender_only": sender_sched,
            "cpu_sender_only_client_s": sender_cpu,
            "consumer_sched": [sched_consumer[0] - sched_consumer_0[0], sched_consumer[1] - sched_consumer_0[1]],
            "double": summary,
            "expected_requests": expected_requests,
        }
        phases_file = workdir / "phases.json"
        report["phases"] = json.loads(phases_file.read_text()) if phases_file.exists() else {}
        if args.profile or args.profile_cpu:
            print_profile(str(workdir / "consumer.prof.worker"), "worker threads (deliver)", args.profile_lines)
            print_profile(str(workdir / "consumer.prof.loop"), "APNs event-loop thread", args.profile_lines)
        return report
    except BaseException:
        if consumer is not None:
            print(f"--- consumer stderr (tail) ---\n{consumer.tail()}", file=sys.stderr)
        raise
    finally:
        common.stop_process(consumer, signal.SIGINT)
        if double is not None:
            double.stop()
        if engine is not None:
            engine.dispose()
        if not args.keep:
            common.drop_database(database_url)
        common.remove_workdir(workdir, keep=args.keep)


def main() -> None:
    if sys.argv[1:2] == ["--consumer-child"]:
        consumer_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="registrations (one card each) in the campaign")
    parser.add_argument("--workers", type=int, default=4, help="huey consumer threads (one process)")
    parser.add_argument("--single-n", type=int, default=0, help="requests of the single-stream run (default N)")
    parser.add_argument("--database-url", default=None,
                        help=f"PostgreSQL, recreated (default {common.DEFAULT_DATABASE_URL})")
    parser.add_argument("--sqlite", action="store_true", help="use a SQLite file in the temporary directory")
    parser.add_argument("--redis-url", default=common.DEFAULT_REDIS_URL, help="job queue (a Redis db of its own)")
    parser.add_argument("--batch", type=int, default=1000,
                        help="cards per bump_cards + commit, as the campaign sender's CAMPAIGN_BATCH "
                             "(0: all N in one transaction)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the campaign")
    parser.add_argument("--profile", action="store_true", help="cProfile the consumer and print the top functions")
    parser.add_argument("--profile-cpu", action="store_true",
                        help="cProfile the consumer's whole worker loop in thread CPU time (not wall time)")
    parser.add_argument("--profile-lines", type=int, default=25)
    parser.add_argument("--chunk", type=int, default=0,
                        help="experiment: override service.push.delivery.CHUNK in the consumer")
    parser.add_argument("--plain-consumer", action="store_true",
                        help="run .venv/bin/huey_consumer itself (no phase timers, no --profile)")
    parser.add_argument("--trickle", type=int, default=0,
                        help="after the campaign: this many one-card commits (at most --n), one push each "
                             "(the till's pattern)")
    parser.add_argument("--trickle-rate", type=float, default=20.0, help="commits per second of --trickle")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and database")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be positive")
    if (args.profile or args.chunk) and args.plain_consumer:
        parser.error("--profile and --chunk need the instrumented consumer (drop --plain-consumer)")

    load_before = os.getloadavg()[0]
    report = run(args)
    load_after = os.getloadavg()[0]
    phases = report["phases"]
    double = report["double"] or {}
    print(f"\npush fan-out: {report['n']} registrations, 1 consumer process x {report['workers']} threads, "
          f"{report['database']}")
    batches = f"batches of {report['batch']}" if report["batch"] else "one transaction"
    print(f"  bump_cards + commit        {report['bump_commit_s'] * 1000:8.0f} ms ({batches}; last commit "
          f"{report['last_commit_s'] * 1000:.0f} ms after the start)")
    print(f"  commit start -> all accepted {report['elapsed_s']:8.2f} s   -> {report['pushes_per_s']:8.0f} pushes/s "
          f"(target {TARGET:.0f})")
    print(f"  single stream, same double {report['single_stream_per_s']:8.0f} pushes/s")
    print(f"  sender only (multiplexed)  {report['sender_only_per_s']:8.0f} pushes/s  (no database, no queue)")
    print(f"  CPU during the campaign: consumer {report['cpu_consumer_s']:.2f} s, APNs double "
          f"{report['cpu_double_s']:.2f} s, bench {report['cpu_bench_s']:.2f} s, "
          f"PostgreSQL (the bench database's backends) {report['cpu_postgres_s']:.2f} s "
          f"+ {report['cpu_postgres_poll_s']:.2f} s for the bench's polling")
    print(f"  CPU during sender only: client (this process) {report['cpu_sender_only_client_s']:.2f} s, "
          f"APNs double {report['double_sender_only']['on_cpu_s']:.2f} s")
    for phase in ("campaign", "sender_only"):
        share = report[f"double_{phase}"]
        print(f"  APNs double, {phase:<12} on CPU {share['on_cpu_s']:5.2f} s, waiting for a CPU "
              f"{share['run_queue_s']:5.2f} s, asleep (no requests) {share['asleep_s']:5.2f} s "
              f"of {share['wall_s']:5.2f} s")
    on_cpu, waiting = report["consumer_sched"]
    print(f"  consumer, campaign         on CPU {on_cpu:5.2f} s, waiting for a CPU {waiting:5.2f} s "
          "(summed over its threads)")
    for name, (calls, seconds) in sorted(phases.items()):
        print(f"  phase {name:<22} {int(calls):5d} calls {seconds:7.2f} s (wall, summed over threads)")
    print(f"  APNs double: {double.get('requests')} requests (expected {report['expected_requests']}), "
          f"{double.get('connections')} connections, statuses {double.get('statuses')}")
    campaign_sql = {name: count / report["n"] for name, count in report["sql_campaign"].items()
                    if name.startswith("sql ")}
    if campaign_sql:
        print("  consumer SQL per push, campaign: " + ", ".join(f"{name[4:]} {value:.4f}"
                                                           for name, value in sorted(campaign_sql.items())))
    print(f"  CPU ms per push, campaign: consumer {report['cpu_consumer_s'] * 1000 / report['n']:.3f}, "
          f"PostgreSQL {report['cpu_postgres_s'] * 1000 / report['n']:.3f}")
    trickle = report["trickle"]
    if trickle:
        delays = trickle["commit_to_accepted_ms"]
        print(f"  trickle: {trickle['pushes']} one-push commits at {trickle['rate']:.0f}/s in "
              f"{trickle['wall_s']:.1f} s: CPU ms per push consumer {trickle['consumer_ms_per_push']:.2f}, "
              f"PostgreSQL {trickle['postgres_ms_per_push']:.2f}; commit -> accepted ms p50 {delays['0.5']:.1f} "
              f"p95 {delays['0.95']:.1f} p99 {delays['0.99']:.1f}; idle consumer "
              f"{trickle['idle_consumer_ms_per_s']:.1f} ms of CPU per s")
        print("  trickle, consumer per push: " + ", ".join(f"{name} {value:.2f}"
                                                       for name, value in trickle["per_push"].items()))
    ok = report["pushes_per_s"] >= TARGET
    print(f"  target {'met' if ok else 'NOT met'}: {report['pushes_per_s']:.0f} vs {TARGET:.0f} pushes/s")
    print(json.dumps({
        "pushes_per_s": round(report["pushes_per_s"], 1),
        "single_stream_per_s": round(report["single_stream_per_s"], 1),
        "ratio": round(report["pushes_per_s"] / report["single_stream_per_s"], 2),
        "sender_only_per_s": round(report["sender_only_per_s"], 1),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        **({"trickle_consumer_ms_per_push": round(trickle["consumer_ms_per_push"], 3),
            "trickle_postgres_ms_per_push": round(trickle["postgres_ms_per_push"], 3),
            "trickle_commit_to_accepted_p95_ms": round(trickle["commit_to_accepted_ms"]["0.95"], 1)}
           if trickle else {}),
    }))


if __name__ == "__main__":
    main()
