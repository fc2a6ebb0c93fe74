"""The console's sections, in the order the menu shows them.

Each page's module adds its own section where its blueprint is defined, so the menu grows with
the pages and a role sees only the sections its permissions open (the server refuses the rest
anyway: service/console/guard.py and service/access/scopes.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class Section:
    endpoint: str  #: the page the menu links to, e.g. "stores_page.index"
    words_key: str  #: the menu text's key in service/console/words.py
    permission: str  #: the permission a role needs to see it ("read" for everyone signed in)
    order: int  #: the menu's order, small first
    prefix: str  #: the URL prefix that marks the section current, e.g. "/console/stores"


SECTIONS: list[Section] = []


def add(section: Section) -> None:
    if any(known.endpoint == section.endpoint for known in SECTIONS):
        raise ValueError(f"console section added twice: {section.endpoint}")
    SECTIONS.append(section)
    SECTIONS.sort(key=lambda known: known.order)


def visible(permissions: frozenset[str]) -> list[Section]:
    """The sections this role may open, among those whose page this app has registered."""
    return [section for section in SECTIONS
            if section.permission in permissions and section.endpoint in current_app.view_functions]
