"""Every module imports on its own, whatever was imported before it.

An import cycle can hide for months: the app factory imports modules in an order that works,
and a job consumer or a single test file imports them in another and fails to start
(service.nps.survey -> google_wallet.tasks -> sync -> pass_design -> nps did exactly that).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# One interpreter; before each module, our packages are forgotten (third-party ones stay loaded,
# which keeps this quick), so each import starts from nothing of ours.
PROBE = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "service" or m.startswith(("service.", "passes"))]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc().strip().splitlines()[-1])
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def modules() -> list[str]:
    names = []
    for package in ("passes", "service"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_first() -> None:
    names = modules()
    assert "service.nps.survey" in names and "passes.google" in names
    result = subprocess.run([sys.executable, "-c", PROBE, *names], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
