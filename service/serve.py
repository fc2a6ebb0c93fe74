"""`make run`: the web server and the job worker together, stopped together.

The worker is `python -m service.worker`: every job queue in one process, each with its own
threads (WORKER_THREADS_<KIND>, see service/worker.py). In production run them separately
(`gunicorn wsgi:app`, and `python -m service.worker` or `huey_consumer` per queue, see the
README's "Running at scale") on as many machines as needed; this is the one-command local setup.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def worker_command() -> list[str]:
    """Every queue in one process, threads per queue from WORKER_THREADS_<KIND> (or the defaults)."""
    # poll the SQLite queues at least twice a second (Redis blocks instead)
    return [sys.executable, "-m", "service.worker", "-q", "--delay", "0.05", "--max-delay", "0.5"]


def main() -> int:
    port = os.environ.get("PORT", "8000")
    bin_dir = os.path.dirname(sys.executable)
    web = subprocess.Popen([os.path.join(bin_dir, "gunicorn"), "--bind", f"127.0.0.1:{port}",
                            "--workers", os.environ.get("WEB_CONCURRENCY", "2"), "--threads", "4",
                            # no control socket: gunicorn 27 puts it in ~/.gunicorn, shared by every
                            # `make run` of this user, so a second checkout would take over the first's
                            "--no-control-socket", "--access-logfile", "-", "wsgi:app"])
    worker = subprocess.Popen(worker_command())
    children = [web, worker]
    print(f"Passcast on http://127.0.0.1:{port} (worker pid {worker.pid}); Ctrl-C stops both.", flush=True)

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
    return max((child.returncode or 0) for child in children)


if __name__ == "__main__":
    sys.exit(main())
