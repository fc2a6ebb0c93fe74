"""Python function calls and CPU per request of the phones' PassKit GETs, through the app itself.

    .venv/bin/python bench/passkit_calls.py [--requests 2000] [--cards 20]
        [--database-url postgresql://postgres@127.0.0.1:5432/passcast_bench_calls | --sqlite]

No HTTP server: each request is a WSGI environ handed to the app object `gunicorn wsgi:app`
serves (the lean PassKit layer and Flask behind it), so what is counted is the app's own work
per request, not gunicorn's. Set-up: a fresh database (dropped and recreated), the demo brand,
M cards each registered on a device, every pass fetched once (signed and stored). Then, for
each of the three requests every phone makes after a campaign's push (the updatable-passes
list, 200 with one serial; the fetch, 200 from stored bytes; the fetch with If-Modified-Since,
304): a warm-up, `--requests` timed by process CPU time, and 200 more under cProfile for the
function calls (deterministic: the same code gives the same count on any machine, loaded or
not). Last line: JSON {"list_calls", "fetch_calls", "not_modified_calls", "list_cpu_ms",
"fetch_cpu_ms", "not_modified_cpu_ms"}.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as common  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/passcast_bench_calls"
PROFILED = 200


def _environ(path: str, query: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path, query_string=query, headers=headers or {},
                             base_url="http://127.0.0.1:8000").get_environ()
    environ.pop("wsgi.input", None)
    return environ


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    environ = {**environ, "wsgi.input": io.BytesIO(b"")}
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, headers

    body = app(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return answer["status"], answer["headers"], data


def run(args: argparse.Namespace) -> dict[str, float]:
    from sqlalchemy import text

    from service import create_app

    workdir = common.make_workdir()
    database_url = common.database_url_for(args.database_url or DEFAULT_DATABASE_URL, args.sqlite, workdir)
    env = common.BenchEnv(workdir=workdir, database_url=database_url)
    app = None
    try:
        common.ensure_dev_certificates(env)
        common.prepare_database(database_url)
        app = create_app(env.settings())
        seeded = common.seed_demo(app)
        engine = app.extensions["db_engine"]
        cards = common.bulk_cards(engine, seeded["program_id"], seeded["brand_id"], args.cards,
                                  registrations_per_card=1)
        with engine.connect() as connection:
            devices = dict(connection.execute(
                text("SELECT card_id, device_library_identifier FROM registrations")).all())
        type_id = common.PASS_TYPE_IDENTIFIER
        requests: dict[str, list[dict[str, Any]]] = {"list": [], "fetch": [], "not_modified": []}
        for card in cards:
            auth = {"Authorization": f"ApplePass {card.authentication_token}"}
            fetch = f"/passkit/v1/passes/{type_id}/{card.serial_number}"
            status, headers, _ = _call(app, _environ(fetch, headers=auth))  # signs and stores it
            if not status.startswith("200"):
                raise RuntimeError(f"first fetch: {status}")
            requests["list"].append(_environ(f"/passkit/v1/devices/{devices[card.id]}/registrations/{type_id}",
                                             "passesUpdatedSince=2.1000"))
            requests["fetch"].append(_environ(fetch, headers=auth))
            held = {**auth, "If-Modified-Since": dict(headers)["Last-Modified"]}
            requests["not_modified"].append(_environ(fetch, headers=held))
        expected = {"list": "200", "fetch": "200", "not_modified": "304"}
        figures: dict[str, float] = {}
        for name, environs in requests.items():
            for index in range(200):
                _call(app, environs[index % len(environs)])
            began = time.process_time()
            for index in range(args.requests):
                status, _, _ = _call(app, environs[index % len(environs)])
                if not status.startswith(expected[name]):
                    raise RuntimeError(f"{name}: {status}, expected {expected[name]}")
            figures[f"{name}_cpu_ms"] = round((time.process_time() - began) / args.requests * 1000, 3)
            profile = cProfile.Profile()
            profile.enable()
            for index in range(PROFILED):
                _call(app, environs[index % len(environs)])
            profile.disable()
            figures[f"{name}_calls"] = round(pstats.Stats(profile).total_calls / PROFILED)  # type: ignore[attr-defined]
        return figures
    finally:
        if app is not None:
            app.extensions["db_engine"].dispose()
        common.drop_database(database_url)
        common.remove_workdir(workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per kind")
    parser.add_argument("--cards", type=int, default=20, help="cards (and devices) the requests go round")
    parser.add_argument("--database-url", default=None, help=f"PostgreSQL, recreated (default {DEFAULT_DATABASE_URL})")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file in a temporary directory")
    args = parser.parse_args()
    if min(args.requests, args.cards) < 1:
        parser.error("sizes must be positive")
    figures = run(args)
    print(f"\nPassKit requests through the app (WSGI, no server), {args.requests} each, "
          f"{'sqlite' if args.sqlite else 'postgresql'}:")
    for name, label in (("list", "updatable passes, 200"), ("fetch", "fetch, 200 stored"),
                        ("not_modified", "fetch, 304")):
        calls, cpu = figures[f"{name}_calls"], figures[f"{name}_cpu_ms"]
        print(f"  {label:<24} {calls:6.0f} calls  {cpu:.3f} ms CPU per request")
    print(json.dumps({key: figures[key] for key in ("list_calls", "fetch_calls", "not_modified_calls", "list_cpu_ms",
                                                     "fetch_cpu_ms", "not_modified_cpu_ms")}))


if __name__ == "__main__":
    main()
