"""What the job consumer runs: `huey_consumer service.worker.huey`.

Importing every task module here registers the tasks with the queue.
"""

from service import loyalty_tasks  # noqa: F401
from service.jobs import huey
from service.push import tasks as push_tasks  # noqa: F401

__all__ = ["huey"]
