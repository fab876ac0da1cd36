"""Paint as both writers store it, and the drawing primitives the brush kinds share.

Colours and opacities are quantised the way the SVG stores them, and the exact renderer draws those
same values, so the PNG and the SVG agree. Torch-free; cairo and svgwrite objects come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from brushwork.brushes.base import Point


def color8(r: float, g: float, b: float) -> tuple[int, int, int]:
    """Colour as the SVG stores it (8 bits per channel); the raster draws this same value."""
    return (round(r * 255), round(g * 255), round(b * 255))


def opacity4(a: float) -> float:
    """Opacity as the SVG stores it (4 decimals)."""
    return round(a, 4)


def rgb(r: float, g: float, b: float) -> tuple[float, float, float]:
    """A colour for cairo, quantised as the SVG stores it."""
    q = color8(r, g, b)
    return q[0] / 255, q[1] / 255, q[2] / 255


def hex_colour(r: float, g: float, b: float) -> str:
    """A colour for SVG: #rrggbb."""
    red, green, blue = color8(r, g, b)
    return f"#{red:02x}{green:02x}{blue:02x}"


def grey_hex(grey: float) -> str:
    level = round(grey * 255)
    return f"#{level:02x}{level:02x}{level:02x}"


def num(v: float) -> str:
    """Geometry at 1/1000 px: far below what any renderer resolves, and compact."""
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def polygon_d(points: Iterable[Point]) -> str:
    """SVG path data of one closed polygon."""
    first, *rest = points
    return f"M{num(first[0])} {num(first[1])}" + "".join(f"L{num(x)} {num(y)}" for x, y in rest) + "Z"


def quad_d(p0: Point, p1: Point, p2: Point) -> str:
    """SVG path data of one quadratic Bezier."""
    return f"M{num(p0[0])} {num(p0[1])}Q{num(p1[0])} {num(p1[1])} {num(p2[0])} {num(p2[1])}"


def cairo_polygon(ctx: Any, points: Iterable[Point]) -> None:
    first, *rest = points
    ctx.move_to(*first)
    for p in rest:
        ctx.line_to(*p)
    ctx.close_path()


def mean_colour(params: dict[str, float] | Any, names: Sequence[str]) -> tuple[float, float, float]:
    """(r, g, b) of a one-colour stroke, or the middle of a c0 -> c1 gradient's ends."""
    if "r" in names:
        return params["r"], params["g"], params["b"]
    return ((params["r0"] + params["r1"]) / 2, (params["g0"] + params["g1"]) / 2, (params["b0"] + params["b1"]) / 2)


def shape_d(shape: Any) -> str:
    """A shapely silhouette as SVG path data: closed subpaths, every outer boundary, then its holes."""
    polygons = list(getattr(shape, "geoms", [shape]))
    return "".join(polygon_d(ring.coords[:-1]) for polygon in polygons if not polygon.is_empty
                   for ring in (polygon.exterior, *polygon.interiors))
