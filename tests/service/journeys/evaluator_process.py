"""A journeys evaluator in a process of its own, slowed down between batches so that a test can
kill it mid-run (tests/service/journeys/test_journeys_crash.py). Settings come from the environment."""

from __future__ import annotations

import datetime as dt
import sys
import time

from service import create_app
from service.journeys import evaluate
from service.models import utcnow
from service.platform.config import Settings


def main() -> None:
    app = create_app(Settings.from_env())
    pause = float(sys.argv[1]) if len(sys.argv) > 1 else 0.2
    with app.extensions["db_sessionmaker"]() as session:
        evaluate.evaluate_events(session, utcnow() + dt.timedelta(minutes=1), batch=20,
                                 after_batch=lambda _run: time.sleep(pause))


if __name__ == "__main__":
    main()
