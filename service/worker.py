"""The job consumers: every queue in one process (`python -m service.worker`, what `make run`
starts), or one queue per process (`huey_consumer service.worker.push_queue -w 4 -k thread`).

Each queue gets its own threads (a budget per queue, `--threads push=4,webhooks=4`), so jobs
of one kind can occupy only their own threads: a push backlog or a brand's slow webhook
receiver never holds the threads that run imports or campaigns. Importing every task module
here registers the tasks with their queues.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping

from huey.consumer import Consumer

from service import create_app
from service.analytics import tasks as analytics_tasks  # noqa: F401
from service.campaigns import tasks as campaign_tasks  # noqa: F401
from service.enrolment import import_tasks, recovery_tasks  # noqa: F401
from service.google_wallet import tasks as google_tasks  # noqa: F401
from service.journeys import tasks as journey_tasks  # noqa: F401
from service.loyalty import tasks as loyalty_tasks  # noqa: F401
from service.nps import tasks as nps_tasks  # noqa: F401
from service.platform import jobs
from service.platform.heap import freeze_startup_objects
from service.platform.jobs import (
    QUEUES,
    campaign_queue,
    google_queue,
    import_queue,
    maintenance_queue,
    push_queue,
    signing_queue,
    webhook_queue,
    worker_app,
)
from service.push import tasks as push_tasks  # noqa: F401
from service.webhooks import tasks as webhook_tasks  # noqa: F401

log = logging.getLogger(__name__)
jobs.set_app_factory(create_app)

#: Threads per queue when nothing else is asked for. Push: 4, so one thread's chunk is on the
#: wire while another's is in the database; webhooks: 4, of which one brand takes at most
#: WEBHOOK_BRAND_CONCURRENCY; maintenance: 3, as its two long roll-ups run one at a time each;
#: signing: 2, a campaign's chunks of passes (CPU: more worker processes, not threads, add cores).
DEFAULT_THREADS: Mapping[str, int] = {"push": 4, "webhooks": 4, "imports": 2, "campaigns": 2, "signing": 2,
                                      "google": 2, "maintenance": 3}

_settled = threading.Lock()
_frozen = False


def _load_then_freeze() -> None:
    """Each consumer thread runs this at start; the first builds the app and freezes the heap
    (service/platform/heap.py), so a push job never pauses for a full collection of start-up objects."""
    global _frozen
    with _settled:
        if not _frozen:
            worker_app()
            freeze_startup_objects()
            _frozen = True


for _queue in QUEUES.values():
    _queue.on_startup("load-then-freeze")(_load_then_freeze)


def thread_budget(spec: str | None = None, environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """Threads per queue: the defaults, then WORKER_THREADS_<KIND> variables, then `spec`
    ("push=4,webhooks=2"). A queue given 0 threads is not consumed by this process."""
    budget = dict(DEFAULT_THREADS)
    for kind in QUEUES:
        value = environ.get(f"WORKER_THREADS_{kind.upper()}")
        if value:
            budget[kind] = int(value)
    for item in filter(None, (part.strip() for part in (spec or "").split(","))):
        kind, _, count = item.partition("=")
        if kind not in QUEUES or not count.isdigit():
            raise ValueError(f"--threads wants KIND=N with KIND one of {', '.join(QUEUES)}; got {item!r}")
        budget[kind] = int(count)
    return {kind: count for kind, count in budget.items() if count > 0}


class Consumers:
    """One huey consumer per queue in this process, each with its own thread pool and
    scheduler; started and stopped together. Signals are the caller's business (`main`)."""

    def __init__(self, threads: Mapping[str, int], *, delay: float = 0.1, max_delay: float = 10.0,
                 periodic: bool = True) -> None:
        self.consumers: dict[str, Consumer] = {
            kind: QUEUES[kind].create_consumer(workers=count, worker_type="thread", initial_delay=delay,
                                               max_delay=max_delay, periodic=periodic)
            for kind, count in threads.items()}

    def start(self) -> None:
        for kind, consumer in self.consumers.items():
            if consumer.huey.immediate:
                raise RuntimeError(f"queue {kind} runs jobs inline (JOBS_IMMEDIATE=1): nothing to consume")
            consumer.scheduler.start()
            for _worker, thread in consumer.worker_threads:
                thread.start()
            log.info("queue %s: %d threads", kind, consumer.workers)

    def check_health(self) -> None:
        """Replace worker threads or schedulers that died (what huey_consumer does every 10 s)."""
        for consumer in self.consumers.values():
            consumer.check_worker_health()

    def stop(self, *, graceful: bool = True, timeout: float | None = None) -> None:
        """Stop every queue's threads; graceful: wait (up to `timeout`) for running jobs."""
        for consumer in self.consumers.values():
            consumer.stop_flag.set()
        if not graceful:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        for consumer in self.consumers.values():
            for thread in [thread for _worker, thread in consumer.worker_threads] + [consumer.scheduler]:
                thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))
        for consumer in self.consumers.values():
            consumer.huey.notify_interrupted_tasks()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default=None,
                        help="threads per queue, e.g. push=4,webhooks=4,imports=2 (0: not here); defaults "
                             + ",".join(f"{kind}={count}" for kind, count in DEFAULT_THREADS.items()))
    parser.add_argument("--delay", type=float, default=0.1, help="first polling interval of an idle queue (s)")
    parser.add_argument("--max-delay", type=float, default=10.0, help="longest polling interval (s)")
    parser.add_argument("--no-periodic", action="store_true", help="leave the minute jobs to another process")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="[%(asctime)s] %(levelname)s:%(name)s:%(threadName)s:%(message)s")
    try:
        threads = thread_budget(args.threads)
    except ValueError as error:
        parser.error(str(error))
    consumers = Consumers(threads, delay=args.delay, max_delay=args.max_delay, periodic=not args.no_periodic)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    consumers.start()
    log.info("consumers started, pid %d: %s", os.getpid(), ", ".join(f"{k}={n}" for k, n in threads.items()))
    while not stopping.wait(10):
        consumers.check_health()
    log.info("stopping: waiting for running jobs (a second signal stops at once)")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    consumers.stop(graceful=True)
    return 0


__all__ = ["Consumers", "campaign_queue", "google_queue", "import_queue", "main", "maintenance_queue",
           "push_queue", "signing_queue", "thread_budget", "webhook_queue"]

if __name__ == "__main__":
    sys.exit(main())
