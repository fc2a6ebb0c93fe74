"""A small picture of where a brand's stores are, drawn here as SVG numbers (no map tiles).

Without a tile server (MAP_TILE_URL) the store page must not ask any other origin for anything,
so it shows the stores' positions relative to each other: an equirectangular plot of the box
around them, longitude scaled by the cosine of the middle latitude so a city's shape is not
squashed. Each dot carries the store's number in the list beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 320.0, 200.0, 18.0
#: The smallest box drawn, in degrees (~1 km): one store, or stores on one street, stay readable.
MIN_SPAN = 0.01


@dataclass(frozen=True)
class Dot:
    number: int  #: the store's place in the list (1-based)
    name: str
    x: float
    y: float


def place(points: Sequence[tuple[str, float, float]]) -> list[Dot]:
    """(name, latitude, longitude) -> dots inside a WIDTH x HEIGHT box, north up, numbered in order."""
    if not points:
        return []
    lats = [lat for _, lat, _ in points]
    lons = [lon for _, _, lon in points]
    middle = (min(lats) + max(lats)) / 2
    squeeze = max(math.cos(math.radians(middle)), 0.05)  # a degree of longitude is shorter away from the equator
    lat_span = max(max(lats) - min(lats), MIN_SPAN)
    lon_span = max((max(lons) - min(lons)) * squeeze, MIN_SPAN)
    scale = min((WIDTH - 2 * PAD) / lon_span, (HEIGHT - 2 * PAD) / lat_span)
    lat_mid, lon_mid = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    return [Dot(number, name,
                round(WIDTH / 2 + (lon - lon_mid) * squeeze * scale, 1),
                round(HEIGHT / 2 - (lat - lat_mid) * scale, 1))
            for number, (name, lat, lon) in enumerate(points, start=1)]


def span_km(points: Sequence[tuple[str, float, float]]) -> float:
    """How far apart the two farthest-apart stores are (great circle, km): the plot's scale note."""
    far = 0.0
    for index, (_, lat1, lon1) in enumerate(points):
        for _, lat2, lon2 in points[index + 1:]:
            p1, p2 = math.radians(lat1), math.radians(lat2)
            a = (math.sin((p2 - p1) / 2) ** 2
                 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
            far = max(far, 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a))))
    return far
