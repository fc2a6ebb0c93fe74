"""Ready-made designs for a new program: a first card looks designed in one click.

Data only, one entry per kind of business: colours (checked for contrast: the label and value
colours stay readable on the background), a strip motif drawn in those colours
(passes/motifs.py), the pass's description and default terms text. A preset sets design
fields a brand can change afterwards; it never touches earn rules, tiers or expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from passes.motifs import strip_png


@dataclass(frozen=True)
class Preset:
    name: str
    title: dict[str, str]  # what the designer's picker says, per language
    background_color: str
    foreground_color: str
    label_color: str
    motif: str
    description: str
    terms: str

    def fields(self) -> dict[str, Any]:
        """The program fields this preset sets (strip_png included)."""
        return {"background_color": self.background_color, "foreground_color": self.foreground_color,
                "label_color": self.label_color, "description": self.description, "terms": self.terms,
                "strip_png": strip_png(self.motif, self.background_color, self.foreground_color)}


PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    Preset("cafe", {"en": "Café", "ru": "Кофейня"}, "#3b2417", "#ffffff", "#e8c9a0", "beans",
           "Coffee loyalty card",
           "Show this card when you pay to collect points. Points cannot be exchanged for cash."),
    Preset("bakery", {"en": "Bakery", "ru": "Пекарня"}, "#f4e3c3", "#3d2b1f", "#8a5a2b", "wheat",
           "Bakery loyalty card",
           "Show this card at the counter to collect points on every purchase. "
           "Points cannot be exchanged for cash."),
    Preset("fashion", {"en": "Fashion", "ru": "Одежда"}, "#111111", "#ffffff", "#c9a96e", "stripes",
           "Member card",
           "Show this card at the till or enter its number online. Points are not collected on gift cards."),
    Preset("beauty", {"en": "Beauty", "ru": "Салон красоты"}, "#f7dfe4", "#4a1f2c", "#a23b5a", "petals",
           "Beauty club card",
           "Show this card before you pay for services or products. Points cannot be exchanged for cash."),
)}


def preset(name: str) -> Preset | None:
    return PRESETS.get(name)
