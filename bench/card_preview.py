"""How long the card designer's preview takes: `POST /api/v1/programs/{id}/preview.png` as the
console calls it while the marketer types, through the app (Flask test client, SQLite in a
temporary directory, the demo brand), so routing, the API key, validation, building the
sample card's pass and drawing it are all counted.

    .venv/bin/python bench/card_preview.py          # --n 200

- `draft_miss_p50_ms` / `_p95_ms`: each request a new background colour, so nothing is cached
  (the pass's images are regenerated in the new colours and the picture drawn): a keystroke
  that changes the card.
- `draft_terms_p50_ms`: each request a longer terms text (typing on the back): the images in the
  program's colours are already made (passes/images.py keeps them), the pass and picture are not.
- `draft_hit_p50_ms`: the same draft again (a keystroke that changes nothing on the card, or
  the console asking twice): the picture comes from the cache keyed by its inputs' digest.
- `google_miss_p50_ms`, `back_miss_p50_ms`, `lock_p50_ms`: the other pictures, uncached.

The last line is one JSON object with these figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench._common import percentile  # noqa: E402


def _timed(call: Any, n: int) -> list[float]:
    times = []
    for index in range(n):
        start = time.perf_counter()
        call(index)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="requests per figure")
    args = parser.parse_args()
    from service import create_app, demo
    from service.platform import migrate
    from service.platform.config import Settings

    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        settings = Settings(database_url=f"sqlite:///{work}/bench.db", certs_dir=work / "certs",
                            instance_dir=work / "instance")
        settings.instance_dir.mkdir(parents=True)
        migrate.upgrade(settings.database_url)
        app = create_app(settings)
        with app.app_context():
            from service.platform import db

            seeded = demo.seed(db.session(), settings)
        client = app.test_client()
        key = {"Authorization": f"Bearer {seeded['api_key']}"}
        url = f"/api/v1/programs/{seeded['program_id']}/preview.png"

        def post(query: str, body: dict[str, Any]) -> None:
            answer = client.post(url + query, headers=key, json=body)
            assert answer.status_code == 200, answer.data[:300]

        def colour(index: int, salt: int) -> str:
            return f"#{(index * 7919 + salt) % 0x1000000:06x}"

        post("", {"background_color": "#123456"})  # warm-up: fonts, the app's first request
        figures: dict[str, float] = {}
        for name, query, salt in (("draft_miss", "", 1), ("google_miss", "?platform=google", 2),
                                  ("back_miss", "?side=back", 3)):
            times = _timed(lambda i, q=query, s=salt: post(q, {"background_color": colour(i, s)}), args.n)
            figures[f"{name}_p50_ms"] = round(percentile(times, 0.5), 1)
            figures[f"{name}_p95_ms"] = round(percentile(times, 0.95), 1)
        times = _timed(lambda i: post("", {"terms": "Free coffee at 100 points" + "!" * i}), args.n)
        figures["draft_terms_p50_ms"] = round(percentile(times, 0.5), 1)
        times = _timed(lambda i: post("", {"background_color": "#123456"}), args.n)
        figures["draft_hit_p50_ms"] = round(percentile(times, 0.5), 1)
        times = _timed(lambda i: post("?message=balance", {"background_color": colour(i, 4)}), args.n)
        figures["lock_p50_ms"] = round(percentile(times, 0.5), 1)
    for name, value in figures.items():
        print(f"{name:>20}: {value} ms")
    print(json.dumps({"n": args.n, **figures}))


if __name__ == "__main__":
    main()
