"""The documentation keeps up with the code: what `mkdocs build --strict` cannot see.

The site build (in `make test`) fails on broken links, missing anchors and pages left out of
the navigation. These tests add what a link checker cannot know: every environment variable
the code reads is documented, the fixed names that outside tools rely on stay documented,
and the README stays a front door (short, with the one-minute tour and the card picture).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _documentation() -> str:
    pages = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted(DOCS.rglob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


def _variables_read_by_the_code() -> set[str]:
    pattern = re.compile(r"""(?:\bget|environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]{2,})["']""")
    found: set[str] = set()
    for source in [*(ROOT / "service").rglob("*.py"), *(ROOT / "passes").rglob("*.py"), ROOT / "wsgi.py"]:
        found.update(pattern.findall(source.read_text(encoding="utf-8")))
    return found


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    variables = _variables_read_by_the_code()
    assert {"DATABASE_URL", "PUBLIC_BASE_URL", "APNS_ENDPOINT"} <= variables  # the scan itself works
    text = _documentation()
    assert sorted(name for name in variables if f"`{name}`" not in text and name not in text) == []


def test_the_fixed_names_stay_documented() -> None:
    """The names outside tools and scripts rely on (the project's API contract)."""
    text = _documentation()
    fixed = [
        "make run", "make test", "flask --app wsgi demo --json", "api_key", "program_id", "cashier_token",
        "store_ids", "dev_ca_file", "google_service_account_file",
        "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "APNS_ENDPOINT", "APNS_CA_FILE", "FCM_ENDPOINT",
        "GOOGLE_WALLET_API", "GOOGLE_TOKEN_URI", "TEST_DATABASE_URL",
        "/api/v1/programs/$PROGRAM/cards", "/api/v1/cards/1/transactions", "Idempotency-Key",
        "/api/v1/cashier/scan", "/passkit/v1", "/api/v1/openapi.json", "application/problem+json",
        "serial_number", "barcode_message", "apple_pass_url", "google_save_url",
    ]
    assert [name for name in fixed if name not in text] == []


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    assert "\n## Try it in one minute\n" in readme
    assert "make run" in readme and "make test" in readme
    assert "docs/img/card.png" in readme and (DOCS / "img" / "card.png").is_file()
    for link in re.findall(r"\]\(((?:docs|bench)/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link


def test_every_page_is_in_the_site_navigation() -> None:
    """mkdocs --strict warns about pages left out of nav; this names them without a build."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s*-\s+(?:[^:\n]+:\s+)?([\w/.-]+\.md)\s*$", config, flags=re.MULTILINE))
    pages = {page.relative_to(DOCS).as_posix() for page in DOCS.rglob("*.md")}
    assert pages - listed == set()
