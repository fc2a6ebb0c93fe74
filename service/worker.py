"""What the job consumer runs: `huey_consumer service.worker.huey`.

Importing every task module here registers the tasks with the queue.
"""

from service import analytics_tasks, loyalty_tasks, webhook_tasks  # noqa: F401
from service.campaigns import tasks as campaign_tasks  # noqa: F401
from service.enrolment import import_tasks  # noqa: F401
from service.google_wallet import tasks as google_tasks  # noqa: F401
from service.jobs import huey
from service.push import tasks as push_tasks  # noqa: F401

__all__ = ["huey"]
