"""A campaign storm, end to end: N phones, one new message, every phone fetching its new pass.

    .venv/bin/python bench/campaign_storm.py [--cards 20000] [--connections 16]
        [--register http|bulk] [--gunicorn-workers 2] [--gunicorn-threads 4] [--worker-processes 1]
        [--database-url postgresql://postgres@127.0.0.1:5432/passcast_bench_storm]
        [--redis-url redis://127.0.0.1:6379/13] [--sign-n 1000] [--timeout 900] [--keep]

Processes, all on this machine: the service as `make run` starts it (gunicorn `-w 2
--threads 4 wsgi:app` and one `python -m service.worker` (`--worker-processes`), every queue, jobs through Redis),
PostgreSQL, the APNs double (tests/doubles/apns.py, its own process, `--forward-port`) and the
phones (bench/storm_phones.py, one asyncio process). The double hands every push it accepts to
the phones over a loopback TCP socket; each phone then lists its updatable passes with the tag
it kept and fetches the pass with If-Modified-Since, as Wallet does, and checks that the new
pass carries the campaign's message and that its signature verifies.

Set-up (untimed): a fresh database (dropped and recreated, migrated), the demo brand, N cards
in bulk (stamped an hour back), and N phones, each registered through the PassKit web
service (POST /passkit/v1/devices/<device>/registrations/<type>/<serial>, then Wallet's first
list for its tag). `--register bulk` (the default above 20 000 cards) writes the
registrations with multi-row INSERTs instead, and the phones then list without a tag.

Timed: from `send` (POST /api/v1/campaigns with send_now, audience all cards, no holdout) to
the moment the last phone holds the new version. Printed: that time, the per-phone delay
(push received -> new pass held, and send -> held: p50, p99), phones served per second, the
CPU seconds of each process over the storm and per phone, and, in the same run, the
single-core rate of `PassSigner.sign` alone over the manifests of the passes served (the
floor; measured before and after the storm, the mean is used).

Checked (exit 1 otherwise): every phone holds the new version, none was pushed or served
the new version twice, no request failed, and the campaign report's `confirmed` equals the
phones that fetched (and its `pushes` equals N).

Last line: JSON {"cards", "seconds_to_all", "phones_per_s", "sign_only_per_s", "ratio"}
with ratio = phones_per_s / sign_only_per_s (target >= 0.5 on 2 cores).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as common  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/passcast_bench_storm"
#: a Redis database of its own (push_fanout 15, scan_earn 14)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
HTTP_REGISTRATION_UP_TO = 20_000
TARGET_RATIO = 0.5


# -- processes -------------------------------------------------------------------------------


def start_double(env: common.BenchEnv) -> tuple[common.ApnsProcess, int]:
    """The APNs double with its forward port (the phones connect there for their pushes)."""
    from tests.doubles.pki import make_pki

    pki = make_pki(env.workdir / "apns-pki", topic=common.PASS_TYPE_IDENTIFIER)
    argv = [
        sys.executable, "-m", "tests.doubles.apns", "--port", "0", "--forward-port", "0",
        "--cert", str(pki.server_cert), "--key", str(pki.server_key),
        "--client-ca", str(env.dev_ca_file), "--topic", common.PASS_TYPE_IDENTIFIER,
    ]  # fmt: skip
    child = common.start_process("apns-double", argv, env.environ(), env.workdir / "logs", stdout_pipe=True)
    assert child.process.stdout is not None
    ports = [child.process.stdout.readline().decode().strip() for _ in range(2)]
    if not all(port.isdigit() for port in ports):
        common.stop_process(child)
        raise RuntimeError(f"APNs double did not start: {ports!r}\n{child.tail()}")
    return common.ApnsProcess(child, int(ports[0]), pki.ca_cert), int(ports[1])


class Phones:
    """bench/storm_phones.py as a child: JSON lines on its stdin and stdout."""

    def __init__(self, argv: list[str], env: dict[str, str], logs: Path) -> None:
        import subprocess

        self.stderr_path = logs / "phones.err"
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(argv, env=env, cwd=common.REPO, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)

    def read(self, kind: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the phones stopped:\n{self.tail()}")
        message = json.loads(line)
        if kind not in message:
            raise RuntimeError(f"the phones said {message!r}, expected {kind!r}")
        return message[kind]

    def send(self, kind: str, value: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({kind: value}) + "\n").encode())
        self.process.stdin.flush()

    def tail(self) -> str:
        return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        child = common.Child("phones", self.process, None, self.stderr_path)
        common.stop_process(child)


def backends_cpu_seconds(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving `database` (their title names it), so
    other databases on this server do not count."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
            if not title.startswith(b"postgres:") or f" {database} ".encode() not in title:
                continue
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# -- the service's API -----------------------------------------------------------------------


def api(port: int, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None,
                           {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, json.loads(data) if data else None


def campaign_report(port: int, key: str, campaign_id: int, timeout: float = 120.0) -> dict[str, Any]:
    """The report once the campaign is finished and nothing is pending."""
    def finished() -> dict[str, Any] | None:
        status, report = api(port, "GET", f"/api/v1/campaigns/{campaign_id}/report", key)
        if status != 200:
            raise RuntimeError(f"report: HTTP {status} {report}")
        return report if report["status"] == "finished" and not report["pending"] else None

    return common.wait_until(finished, timeout, interval=0.5, what="campaign finished")


# -- the floor -------------------------------------------------------------------------------


def sign_only_rate(sign: Callable[[bytes], bytes], manifests: list[bytes], count: int) -> float:
    """`PassSigner.sign` alone, one thread, over `manifests` in turn: signatures per second."""
    began = time.perf_counter()
    for index in range(count):
        sign(manifests[index % len(manifests)])
    return count / (time.perf_counter() - began)


def floor_manifests(app: Any, program_id: int, count: int = 50) -> tuple[Callable[[bytes], bytes], list[bytes]]:
    """The program's signer and the manifests of `count` of its passes as the service builds them."""
    from sqlalchemy import select

    from passes.package import read_pkpass
    from service.apple import pass_files, signing
    from service.models import Card, Program
    from service.platform import db

    with app.app_context():
        session = db.session()
        program = session.get(Program, program_id)
        assert program is not None
        cards = session.scalars(select(Card).where(Card.program_id == program_id).order_by(Card.id).limit(count))
        url = app.config["PASSCAST"].web_service_url
        manifests = [read_pkpass(pass_files.render(card, url))["manifest.json"] for card in cards]
        return signing.signer_for(program).sign, manifests


# -- the bench -------------------------------------------------------------------------------


def wait_until_idle(cpu: dict[str, Callable[[], float]], *, below: float = 0.05, window: float = 0.5,
                    timeout: float = 60.0) -> float:
    """Wait until these processes together use under `below` of a core over `window` seconds
    (or `timeout` passed); returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        before = sum(read() for read in cpu.values())
        time.sleep(window)
        if sum(read() for read in cpu.values()) - before < below * window:
            break
    return time.monotonic() - start


def http_date(moment: Any) -> str:
    from werkzeug.http import http_date as format_date

    return format_date(moment)


def bulk_registrations(engine: Any, cards: list[common.BenchCard]) -> list[tuple[str, str]]:
    """(device, push token) per card, written with multi-row INSERTs (`--register bulk`)."""
    from sqlalchemy import insert

    from service.models import Registration, utcnow

    now = utcnow()
    pairs = [(secrets.token_hex(16), secrets.token_hex(32)) for _ in cards]
    rows = [{"device_library_identifier": device, "card_id": card.id,
             "pass_type_identifier": common.PASS_TYPE_IDENTIFIER, "push_token": token, "client_kind": "apple",
             "active": True, "created_at": now, "updated_at": now}
            for card, (device, token) in zip(cards, pairs, strict=True)]
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(Registration.__table__), rows[start:start + 5000])
    return pairs


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import select

    from service import create_app
    from service.models import Card
    from service.platform import jobs

    workdir = common.make_workdir()
    logs = workdir / "logs"
    port = common.free_port()
    env = common.BenchEnv(workdir=workdir, database_url=args.database_url, redis_url=args.redis_url,
                          public_base_url=f"http://127.0.0.1:{port}")
    double: common.ApnsProcess | None = None
    server = None
    workers: list[Any] = []
    phones: Phones | None = None
    app = None
    try:
        print(f"set-up: {args.cards} cards, registrations over {args.register}, database {args.database_url}, "
              f"gunicorn -w {args.gunicorn_workers} --threads {args.gunicorn_threads}, "
              f"{args.worker_processes} service.worker, {args.connections} phone connections")
        common.ensure_dev_certificates(env)
        common.prepare_database(args.database_url)
        double, forward_port = start_double(env)
        env.apns_endpoint, env.apns_ca_file = double.url, str(double.ca_file)
        app = create_app(env.settings())
        for queue in jobs.QUEUES.values():
            queue.storage.flush_all()
        seeded = common.seed_demo(app)
        engine = app.extensions["db_engine"]
        with common.timed() as t_cards:
            cards = common.bulk_cards(engine, seeded["program_id"], seeded["brand_id"], args.cards)
        with engine.connect() as connection:
            stamps = dict(connection.execute(select(Card.id, Card.updated_at).where(
                Card.brand_id == seeded["brand_id"])).all())
        pairs: list[tuple[str | None, str | None]] = [(None, None)] * len(cards)
        if args.register == "bulk":
            pairs = list(bulk_registrations(engine, cards))
        print(f"  {len(cards)} cards inserted in {t_cards[0]:.1f} s")
        cards_file = workdir / "cards.json"
        cards_file.write_text(json.dumps([
            [card.serial_number, card.authentication_token, device, token, http_date(stamps[card.id])]
            for card, (device, token) in zip(cards, pairs, strict=True)]))

        server_argv = [str(common.VENV_BIN / "gunicorn"), "-w", str(args.gunicorn_workers), "--threads",
                       str(args.gunicorn_threads), "-b", f"127.0.0.1:{port}", "--no-control-socket",
                       "--log-level", "warning", "wsgi:app"]
        server = common.start_process("gunicorn", server_argv, env.environ(), logs)
        # The first worker runs the minute jobs too; any other runs every queue without them, as a
        # second worker machine would: a campaign's signing chunks spread over all of them.
        workers = [common.start_process(f"worker{n}", [sys.executable, "-m", "service.worker", "-q",
                                                       *(["--no-periodic"] if n else [])], env.environ(), logs)
                   for n in range(args.worker_processes)]
        common.wait_for_http_health(server, port)

        sign, manifests = floor_manifests(app, seeded["program_id"])

        phones = Phones([sys.executable, str(Path(__file__).resolve().parent / "storm_phones.py"),
                         "--server-port", str(port), "--forward-port", str(forward_port),
                         "--cards", str(cards_file), "--register", "http" if args.register == "http" else "none",
                         "--pass-type", common.PASS_TYPE_IDENTIFIER, "--ca-file", str(env.dev_ca_file),
                         "--connections", str(args.connections), "--timeout", str(args.timeout)],
                        env.environ(), logs)
        ready = phones.read("ready")
        print(f"  phones ready: registered in {ready['register_s']:.1f} s "
              f"({'PassKit web service' if ready['registered_over_http'] else 'bulk INSERT'})")
        time.sleep(1.0)  # let the registration's webhook jobs and gunicorn settle

        service_cpu = {"gunicorn": lambda: common.group_cpu_seconds(server.process.pid),
                       "worker": lambda: sum(common.group_cpu_seconds(worker.process.pid) for worker in workers),
                       "postgres": lambda: backends_cpu_seconds(args.database_url.rsplit("/", 1)[1])}
        settled_s = wait_until_idle(service_cpu)
        # The floor is taken with the service idle (the workers' start-up and the registrations'
        # jobs done): taken during them, it came out a third low and flattered the ratio.
        sign_before = sign_only_rate(sign, manifests, args.sign_n)

        processes = {"gunicorn": lambda: common.group_cpu_seconds(server.process.pid),
                     "worker": lambda: sum(common.group_cpu_seconds(worker.process.pid) for worker in workers),
                     "apns double": lambda: common.cpu_seconds(double.child.process.pid),
                     "phones": lambda: common.cpu_seconds(phones.process.pid),
                     "postgres": lambda: backends_cpu_seconds(args.database_url.rsplit("/", 1)[1]),
                     "bench": time.process_time}
        cpu0 = {name: read() for name, read in processes.items()}
        load_at_send = os.getloadavg()[0]
        message = f"Storm {secrets.token_hex(4)}: double points this weekend"
        t0 = time.time()
        phones.send("go", {"message": message, "t0": t0})
        status, campaign = api(port, "POST", "/api/v1/campaigns", seeded["api_key"], {
            "name": "Storm", "audience": {"all_cards": True}, "message": message, "send_now": True,
            "holdout_percent": 0})
        if status != 201:
            raise RuntimeError(f"campaign: HTTP {status} {campaign}")
        done = phones.read("done")
        cpu = {name: read() - cpu0[name] for name, read in processes.items()}
        report = campaign_report(port, seeded["api_key"], campaign["id"])
        wait_until_idle(service_cpu)
        sign_after = sign_only_rate(sign, manifests, args.sign_n)
        summary = double.stop()
        return {"phones": done, "cpu": cpu, "report": report, "sign_before": sign_before, "settled_s": settled_s,
                "sign_after": sign_after, "double": summary, "ready": ready, "load_at_send": load_at_send}
    except BaseException:
        for name, child in (("gunicorn", server), *((f"worker {n}", worker) for n, worker in enumerate(workers))):
            if child is not None:
                print(f"--- {name} stderr (tail) ---\n{child.tail()}", file=sys.stderr)
        if phones is not None:
            print(f"--- phones stderr (tail) ---\n{phones.tail()}", file=sys.stderr)
        raise
    finally:
        if phones is not None:
            phones.stop()
        common.stop_process(server)
        for worker in workers:
            common.stop_process(worker)
        if double is not None:
            double.stop()
        if app is not None:
            app.extensions["db_engine"].dispose()
        if not args.keep:
            common.drop_database(args.database_url)
        common.remove_workdir(workdir, keep=args.keep)


def check(result: dict[str, Any], cards: int) -> list[str]:
    """Everything that must hold: nothing lost, nothing doubled, the report agrees."""
    phones, report = result["phones"], result["report"]
    problems = []
    if phones["held"] != cards:
        problems.append(f"{cards - phones['held']} of {cards} phones do not hold the new version")
    if phones["errors"]:
        problems.append(f"{phones['errors']} failed requests, e.g. {phones['error_examples']}")
    if phones["phones_pushed_twice"] or phones["phones_fetched_twice"]:
        problems.append(f"doubled: {phones['phones_pushed_twice']} phones pushed twice, "
                        f"{phones['phones_fetched_twice']} served the new version twice")
    if phones["unknown_tokens"]:
        problems.append(f"{phones['unknown_tokens']} pushes for tokens no phone has")
    if report["pushes"] != cards:
        problems.append(f"the report counts {report['pushes']} pushes for {cards} phones")
    if report["confirmed"] != phones["fetched_200"]:
        problems.append(f"the report's confirmed ({report['confirmed']}) is not the phones that fetched "
                        f"({phones['fetched_200']})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=20_000, help="cards, one phone each (up to 1 000 000)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections the phones share")
    parser.add_argument("--register", choices=("http", "bulk"), default=None,
                        help=f"registrations through the PassKit web service (default up to "
                             f"{HTTP_REGISTRATION_UP_TO} cards) or bulk INSERTs")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=4)
    parser.add_argument("--worker-processes", type=int, default=1,
                        help="python -m service.worker processes (make run starts one); a campaign's signing "
                             "spreads over them")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="PostgreSQL, dropped and recreated")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="the job queue (flushed)")
    parser.add_argument("--sign-n", type=int, default=1000, help="signatures timed for the floor, before and after")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds the phones wait for the storm")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and database")
    args = parser.parse_args()
    if not 1 <= args.cards <= 1_000_000:
        parser.error("--cards must be 1 .. 1 000 000")
    if args.register is None:
        args.register = "http" if args.cards <= HTTP_REGISTRATION_UP_TO else "bulk"

    load_before = os.getloadavg()[0]
    result = run(args)
    load_after = os.getloadavg()[0]
    phones, report, cpu = result["phones"], result["report"], result["cpu"]
    n = args.cards
    seconds = phones["seconds_to_all"] or float("nan")
    phones_per_s = n / seconds
    sign_only = (result["sign_before"] + result["sign_after"]) / 2
    print(f"\ncampaign storm: {n} phones, gunicorn -w {args.gunicorn_workers} --threads {args.gunicorn_threads}, "
          f"{args.worker_processes} service.worker, {args.connections} phone connections; "
          f"load {load_before:.2f} at start, "
          f"{result['load_at_send']:.2f} at send, {load_after:.2f} at end")
    print(f"  send -> every phone holds the new version  {seconds:8.2f} s  -> {phones_per_s:8.0f} phones/s")
    print(f"  first push at the phones {phones['first_push_s']:.2f} s, last {phones['last_push_s']:.2f} s after send")
    for name in ("push_to_held", "send_to_held"):
        figures = phones[name]
        print(f"  {name:<13} p50 {figures['p50'] * 1000:8.0f} ms  p90 {figures['p90'] * 1000:8.0f} ms  "
              f"p99 {figures['p99'] * 1000:8.0f} ms  max {figures['max'] * 1000:8.0f} ms")
    print(f"  sign only (PassSigner.sign, 1 thread, the service idle after {result['settled_s']:.1f} s): "
          f"{result['sign_before']:.0f} /s before, "
          f"{result['sign_after']:.0f} /s after -> floor {sign_only:.0f} /s, {1000 / sign_only:.3f} ms each")
    total = sum(cpu.values())
    print(f"  CPU over the storm: {total:.1f} s, {total / n * 1000:.2f} ms per phone "
          f"({total / seconds:.2f} cores busy)")
    for name, seconds_ in sorted(cpu.items(), key=lambda item: -item[1]):
        print(f"    {name:<12} {seconds_:7.1f} s  {seconds_ / n * 1000:6.2f} ms per phone")
    print(f"  phones: {phones['pushes']} pushes, lists {phones['lists_200']} x 200 / {phones['lists_204']} x 204, "
          f"fetches {phones['fetched_200']} x 200 / {phones['fetches_304']} x 304, {phones['reconnects']} "
          f"reconnects, {phones['errors']} errors; signatures checked (first by openssl cms -verify)")
    print(f"  report: pushes {report['pushes']}, accepted {report['accepted']}, confirmed {report['confirmed']}, "
          f"failed {report['failed']}, pending {report['pending']}; double: {result['double']}")
    problems = check(result, n)
    for problem in problems:
        print(f"  FAIL: {problem}")
    ratio = phones_per_s / sign_only
    print(f"  confirmed == phones that fetched: {'yes' if report['confirmed'] == phones['fetched_200'] else 'NO'}; "
          f"ratio {ratio:.3f} (target >= {TARGET_RATIO}) {'met' if ratio >= TARGET_RATIO else 'NOT met'}")
    print(json.dumps({"cards": n, "seconds_to_all": round(seconds, 2), "phones_per_s": round(phones_per_s, 1),
                      "sign_only_per_s": round(sign_only, 1), "ratio": round(ratio, 3)}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
