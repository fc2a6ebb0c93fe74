"""Rewrite migrations/versions/0001 from the models (only until the first deployment).

Nothing has been deployed yet, so the schema is one initial migration; after the first
release, add new revisions with `alembic revision --autogenerate` instead of running this.
Usage: .venv/bin/python migrations/regenerate_initial.py
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402

from service.migrate import alembic_config  # noqa: E402


def main() -> None:
    target = ROOT / "migrations" / "versions" / "0001_initial_schema.py"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        command.revision(alembic_config(f"sqlite:///{scratch}/empty.db"), message="initial schema",
                         autogenerate=True, rev_id="0001")
    text = target.read_text()
    text = text.replace("service.models.UTCDateTime(timezone=True)", "sa.DateTime(timezone=True)")
    text = re.sub(r"Create Date: .*\n", "", text)
    text = re.sub(r"^ *# ### (commands auto generated|end Alembic commands).*\n", "", text, flags=re.M)
    target.write_text(text)
    print(f"rewrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
