"""What the job consumer runs: `huey_consumer service.worker.huey`.

Importing every task module here registers the tasks with the queue.
"""

import threading

from service import analytics_tasks, loyalty_tasks, nps_tasks, webhook_tasks  # noqa: F401
from service.campaigns import tasks as campaign_tasks  # noqa: F401
from service.enrolment import import_tasks, recovery_tasks  # noqa: F401
from service.google_wallet import tasks as google_tasks  # noqa: F401
from service.heap import freeze_startup_objects
from service.jobs import huey, worker_app
from service.push import tasks as push_tasks  # noqa: F401

_settled = threading.Lock()
_frozen = False


@huey.on_startup()
def _load_then_freeze() -> None:
    """Each consumer thread runs this at start; the first builds the app and freezes the heap
    (service/heap.py), so a push job never pauses for a full collection of start-up objects."""
    global _frozen
    with _settled:
        if not _frozen:
            worker_app()
            freeze_startup_objects()
            _frozen = True

__all__ = ["huey"]
