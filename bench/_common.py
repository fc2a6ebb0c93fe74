"""Shared set-up for the service benchmarks (push_fanout.py, pass_fetch.py).

A bench owns everything it touches: a temporary directory (instance, certificates, logs),
its own database (PostgreSQL ``passcast_bench`` by default, dropped and recreated; or a
SQLite file in the temporary directory), its own Redis database number for the job queue,
and the processes it starts (APNs double, huey consumer, gunicorn), which are stopped in
``finally`` whatever happens.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from passes.certificates import ensure_dev_pki  # noqa: E402
from service.models import Card, Customer, Registration  # noqa: E402
from service.platform import migrate  # noqa: E402
from service.platform.config import Settings  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/passcast_bench"
#: A Redis database of its own, so flushing the bench's queue never touches anyone else's.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
PASS_TYPE_IDENTIFIER = Settings().dev_pass_type_identifier
#: One till token drives every bench thread: the per-key limit is still checked on each
#: request (its cost is measured), but set so high that it never refuses one.
BENCH_RATE_LIMIT = "1000000/minute"
TEAM_IDENTIFIER = Settings().dev_team_identifier


# -- directories, settings, environment ------------------------------------------------------


@dataclasses.dataclass
class BenchEnv:
    """Where one bench run keeps its things, and the settings every process shares."""

    workdir: Path
    database_url: str
    redis_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    apns_endpoint: str = "https://127.0.0.1:9"
    apns_ca_file: str | None = None

    @property
    def certs_dir(self) -> Path:
        return self.workdir / "certs"

    @property
    def instance_dir(self) -> Path:
        return self.workdir / "instance"

    @property
    def dev_ca_file(self) -> Path:
        return self.certs_dir / "dev" / "ca.pem"

    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url,
            redis_url=self.redis_url,
            public_base_url=self.public_base_url,
            apns_endpoint=self.apns_endpoint,
            apns_ca_file=self.apns_ca_file,
            certs_dir=self.certs_dir,
            instance_dir=self.instance_dir,
            api_rate_limit=BENCH_RATE_LIMIT,
        )

    def environ(self, **extra: str) -> dict[str, str]:
        """os.environ plus what Settings.from_env reads, for child processes."""
        env = dict(os.environ)
        for name in ("JOBS_IMMEDIATE", "REDIS_URL", "APNS_CA_FILE"):
            env.pop(name, None)
        env.update(
            DATABASE_URL=self.database_url,
            INSTANCE_DIR=str(self.instance_dir),
            CERTS_DIR=str(self.certs_dir),
            PUBLIC_BASE_URL=self.public_base_url,
            APNS_ENDPOINT=self.apns_endpoint,
            PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
            PYTHONUNBUFFERED="1",
            API_RATE_LIMIT=BENCH_RATE_LIMIT,
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        if self.apns_ca_file:
            env["APNS_CA_FILE"] = self.apns_ca_file
        env.update(extra)
        return env


def make_workdir() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="passcast-bench-"))
    (workdir / "instance").mkdir()
    (workdir / "logs").mkdir()
    return workdir


def remove_workdir(workdir: Path, keep: bool = False) -> None:
    if keep:
        print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def ensure_dev_certificates(env: BenchEnv) -> None:
    """The dev Pass Type ID PKI (signing and, for the APNs double, client certificate)."""
    ensure_dev_pki(env.certs_dir / "dev", PASS_TYPE_IDENTIFIER, TEAM_IDENTIFIER)


def database_url_for(args_url: str | None, sqlite: bool, workdir: Path) -> str:
    if sqlite:
        return f"sqlite:///{workdir / 'bench.db'}"
    return args_url or DEFAULT_DATABASE_URL


# -- database -------------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    """A fresh, migrated database: PostgreSQL's is dropped and created again, SQLite's file removed.

    Refuses the test suite's database name ("test"): it resets that schema on its own.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        name = parsed.database
        if not name or name in ("postgres", "test", "template0", "template1"):
            raise SystemExit(f"refusing to recreate database {name!r}: pick one for the bench")
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
    elif parsed.get_backend_name() == "sqlite" and parsed.database:
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    migrate.upgrade(url)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or parsed.database in (None, "postgres", "test"):
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def seed_demo(app: Any) -> dict[str, Any]:
    """The demo brand (certificate, brand, stores, program, API key) in the app's database."""
    from service import demo
    from service.platform import db

    with app.app_context():
        return demo.seed(db.session(), app.config["PASSCAST"])


@dataclasses.dataclass(frozen=True)
class BenchCard:
    id: int
    serial_number: str
    authentication_token: str


def _insert_returning_ids(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Multi-row INSERT ... RETURNING id, ids in the order of `rows` (SQLAlchemy's insertmanyvalues)."""
    ids: list[int] = []
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            result = connection.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows[start : start + 5000]
            )
            ids.extend(result.scalars())
    return ids


def bulk_cards(
    engine: Engine,
    program_id: int,
    brand_id: int,
    count: int,
    *,
    registrations_per_card: int = 0,
    stamp: dt.datetime | None = None,
) -> list[BenchCard]:
    """`count` customers and cards (and apple registrations with distinct 64-hex tokens) in bulk.

    Rows are written with multi-row INSERTs, not the ORM: seconds for 100 000 rows. The
    cards are stamped an hour back by default so that a bump in this second takes the
    plain path, as a campaign on real (older) cards does.
    """
    stamp = (stamp or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
    with engine.connect() as connection:
        highest = connection.execute(select(func.max(Card.number)).where(Card.brand_id == brand_id)).scalar()
    first_number = max(int(highest or 0) + 1, 100_000_000)
    if first_number + count >= 1_000_000_000:
        raise SystemExit("card numbers are 9 digits: too many cards")
    customer_ids = _insert_returning_ids(
        engine,
        Customer.__table__,
        [{"brand_id": brand_id, "name": f"Bench Member {first_number + i}", "language": "en", "created_at": stamp}
         for i in range(count)],
    )
    cards = [
        {
            "program_id": program_id,
            "customer_id": customer_id,
            "brand_id": brand_id,
            "number": first_number + i,
            "serial_number": str(uuid.uuid4()),
            "authentication_token": secrets.token_urlsafe(24),
            "balance": 0,
            "lifetime_points": 0,
            "lifetime_spend": 0,
            "voided": False,
            "version": 1,
            "updated_at": stamp,
            "created_at": stamp,
        }
        for i, customer_id in enumerate(customer_ids)
    ]
    card_ids = _insert_returning_ids(engine, Card.__table__, cards)
    if registrations_per_card:
        rows = [
            {
                "device_library_identifier": secrets.token_hex(16),
                "card_id": card_id,
                "pass_type_identifier": PASS_TYPE_IDENTIFIER,
                "push_token": secrets.token_hex(32),
                "client_kind": "apple",
                "active": True,
                "created_at": stamp,
                "updated_at": stamp,
            }
            for card_id in card_ids
            for _ in range(registrations_per_card)
        ]
        with engine.begin() as connection:
            for start in range(0, len(rows), 5000):
                connection.execute(insert(Registration.__table__), rows[start : start + 5000])
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return [
        BenchCard(card_id, row["serial_number"], row["authentication_token"])
        for card_id, row in zip(card_ids, cards, strict=True)
    ]


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclasses.dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    stdout_path: Path | None
    stderr_path: Path

    def tail(self, lines: int = 30) -> str:
        text_ = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return "\n".join(text_.splitlines()[-lines:])


def start_process(
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    logs: Path,
    *,
    stdout_pipe: bool = False,
) -> Child:
    """Start a child in its own process group (so stopping it stops its workers too)."""
    logs.mkdir(parents=True, exist_ok=True)
    stderr_path = logs / f"{name}.err"
    stdout_path = None if stdout_pipe else logs / f"{name}.out"
    stdout: Any = subprocess.PIPE if stdout_pipe else open(stdout_path, "wb")  # noqa: SIM115
    stderr = open(stderr_path, "wb")  # noqa: SIM115
    try:
        process = subprocess.Popen(
            list(argv), env=env, cwd=REPO, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        stderr.close()
        if not stdout_pipe:
            stdout.close()
    return Child(name, process, stdout_path, stderr_path)


def stop_process(child: Child | None, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
    """Signal the child, wait, then kill its whole process group if it lingers."""
    if child is None:
        return None
    process = child.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    if process.stdout is not None:
        process.stdout.close()
    return process.returncode


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) from /proc, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int | None = None, name: str | None = None) -> float:
    """CPU seconds of the live processes of a process group (a server and its workers), or of
    those with a given command name (e.g. "postgres": its backends on this machine)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, _, tail = (entry / "stat").read_text().rpartition(")")
        except OSError:
            continue
        fields = tail.split()
        if (pgid is not None and int(fields[2]) == pgid) or (name is not None and head.endswith("(" + name)):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wait_until(predicate: Any, timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not met within {timeout:.0f} s")
        time.sleep(interval)


# -- the APNs double as its own process ------------------------------------------------------


@dataclasses.dataclass
class ApnsProcess:
    child: Child
    port: int
    ca_file: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> dict[str, Any] | None:
        """Stop it and return its JSON summary (requests, connections, statuses, cpu)."""
        stop_process(self.child)
        for line in reversed(self.child.stderr_path.read_text(errors="replace").splitlines()):
            with contextlib.suppress(ValueError):
                summary = json.loads(line)
                if isinstance(summary, dict):
                    return summary
        return None


def start_apns_double(env: BenchEnv) -> ApnsProcess:
    """tests.doubles.apns in another process: TLS identity of its own, trusting the dev pass CA
    (APNs client authentication uses the Pass Type ID certificate)."""
    from tests.doubles.pki import make_pki

    pki = make_pki(env.workdir / "apns-pki", topic=PASS_TYPE_IDENTIFIER)
    argv = [
        sys.executable, "-m", "tests.doubles.apns", "--port", "0",
        "--cert", str(pki.server_cert), "--key", str(pki.server_key),
        "--client-ca", str(env.dev_ca_file), "--topic", PASS_TYPE_IDENTIFIER,
    ]  # fmt: skip
    child = start_process("apns-double", argv, env.environ(), env.workdir / "logs", stdout_pipe=True)
    assert child.process.stdout is not None
    line = child.process.stdout.readline().decode().strip()
    if not line.isdigit():
        stop_process(child)
        raise RuntimeError(f"APNs double did not start: {line!r}\n{child.tail()}")
    return ApnsProcess(child, int(line), pki.ca_cert)


def apns_client_certificate(env: BenchEnv) -> Path:
    """The dev pass certificate + WWDR + key in one PEM, as the service's ApnsSender uses it."""
    dev = env.certs_dir / "dev"
    path = env.workdir / "apns-client.pem"
    path.write_bytes((dev / "pass.pem").read_bytes() + b"\n" + (dev / "wwdr.pem").read_bytes() + b"\n"
                     + (dev / "pass.key").read_bytes())
    path.chmod(0o600)
    return path


# -- reporting -------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1) of unsorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[rank]


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """`with timed() as t: ...` then t[0] is the elapsed wall time in seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def wait_for_http_health(process: Any, port: int, timeout: float = 60) -> None:
    """Wait until the server on `port` answers GET /healthz with 200; fail if it exits first."""
    import http.client

    def healthy() -> bool:
        if process.process.poll() is not None:
            raise RuntimeError(f"server exited:\n{process.tail()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            ok = connection.getresponse().status == 200
            connection.close()
            return ok
        except OSError:
            return False

    wait_until(healthy, timeout, what="server /healthz")
