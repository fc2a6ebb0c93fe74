"""What one HTTP request costs gunicorn before the view does anything, beside one signature.

    .venv/bin/python bench/http_floor.py [--requests 20000] [--threads 8] [--sign-n 600]

Serves two apps with gunicorn as the storm bench does (`-w 2 --threads 4 --keep-alive 30`):
a bare WSGI callable and a one-route Flask app (bench/_floor_apps.py), each hit by `--threads`
keep-alive `http.client` connections from this process, and reports gunicorn's CPU (master and
workers, from /proc) per request. Then the single-core rate of `PassSigner.sign` over 1 kB
manifests with a dev certificate, as the other benches take it.

Why: bench/campaign_storm.py's target (ratio >= 0.5 on 2 cores) leaves 2 cores / (0.5 x the
signing rate) of CPU per phone for everything: the simulated phone, the APNs double, the
signature, the push, the database and two requests. This prints that budget beside what two
requests of an app with no code in it already cost, so the gap between the target and the
stack it runs on is a measured figure, not a guess.

Last line: JSON {"bare_wsgi_ms", "flask_ms", "sign_only_per_s", "storm_budget_ms"} with the
CPU milliseconds per request and storm_budget_ms = 4000 / sign_only_per_s (2 cores, ratio 0.5).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as common  # noqa: E402
from passes.certificates import ensure_dev_pki  # noqa: E402

PATH = "/passes/pass.dev.passcast.loyalty/0b7cbe6a-4c39-4c55-9d93-0f6a3c1f4a1e"


def hammer(port: int, requests: int, threads: int) -> float:
    """Send `requests` GETs over `threads` keep-alive connections; returns the seconds taken."""
    per_thread = requests // threads

    def run() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(per_thread):
            connection.request("GET", PATH)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
        connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def served_cost(app: str, logs: Path, requests: int, threads: int) -> tuple[float, float]:
    """(gunicorn CPU ms per request, requests/s) for one app, after a warm-up."""
    port = common.free_port()
    server = common.start_process(app.replace(":", "-"), [
        str(common.VENV_BIN / "gunicorn"), "-w", "2", "--threads", "4", "--keep-alive", "30",
        "-b", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning", app], dict(os.environ), logs)
    try:
        common.wait_until(lambda: _answers(port), 30, what=f"{app} answering")
        hammer(port, 1000, threads)  # warm-up
        before = common.group_cpu_seconds(server.process.pid)
        seconds = hammer(port, requests, threads)
        cpu = common.group_cpu_seconds(server.process.pid) - before
        return cpu / requests * 1000, requests / seconds
    finally:
        common.stop_process(server)


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", PATH)
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


def sign_rate(count: int) -> float:
    """Single-core PassSigner.sign rate over distinct 1 kB manifests (a dev certificate)."""
    with tempfile.TemporaryDirectory() as directory:
        signer = ensure_dev_pki(Path(directory), common.PASS_TYPE_IDENTIFIER, common.TEAM_IDENTIFIER) \
            .certificate.signer()
    manifests = [json.dumps({"pass.json": f"{n:040x}", "icon.png": "0" * 40}).encode().ljust(1024)
                 for n in range(count)]
    for manifest in manifests[:20]:
        signer.sign(manifest)
    start = time.perf_counter()
    for manifest in manifests:
        signer.sign(manifest)
    return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000, help="requests per app")
    parser.add_argument("--threads", type=int, default=8, help="client connections")
    parser.add_argument("--sign-n", type=int, default=600, help="signatures timed")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    workdir = common.make_workdir()
    try:
        logs = workdir / "logs"
        bare_ms, bare_rps = served_cost("bench._floor_apps:bare", logs, args.requests, args.threads)
        flask_ms, flask_rps = served_cost("bench._floor_apps:flask_app", logs, args.requests, args.threads)
    finally:
        common.remove_workdir(workdir)
    signs = (sign_rate(args.sign_n) + sign_rate(args.sign_n)) / 2
    budget = 4000 / signs
    print(f"gunicorn -w 2 --threads 4, {args.requests} requests each, {args.threads} keep-alive connections; "
          f"load {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    print(f"  bare WSGI app     {bare_ms:6.3f} ms of gunicorn CPU per request  ({bare_rps:6.0f} req/s)")
    print(f"  one-route Flask   {flask_ms:6.3f} ms of gunicorn CPU per request  ({flask_rps:6.0f} req/s)")
    print(f"  sign only (PassSigner.sign, 1 thread): {signs:.0f} /s, {1000 / signs:.3f} ms each")
    print(f"  the storm's budget at ratio 0.5 on 2 cores: {budget:.2f} ms of CPU per phone for everything; "
          f"two bare Flask requests take {2 * flask_ms:.2f} ms of it, one signature {1000 / signs:.2f} ms")
    print(json.dumps({"bare_wsgi_ms": round(bare_ms, 3), "flask_ms": round(flask_ms, 3),
                      "sign_only_per_s": round(signs, 1), "storm_budget_ms": round(budget, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
