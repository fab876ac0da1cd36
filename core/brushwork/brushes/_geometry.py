"""Stroke geometry shared by the brush kinds: quadratic Bezier curves, swept outlines, box frames.

The exact renderer and the SVG writer draw a stroke from what these functions say, so the PNG and
the SVG agree by construction. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from brushwork.brushes.base import Point


def quad_to_cubic(p0: Point, p1: Point, p2: Point) -> tuple[Point, Point]:
    """The two cubic control points of a quadratic Bezier (exact degree elevation)."""
    c1 = (p0[0] + 2 / 3 * (p1[0] - p0[0]), p0[1] + 2 / 3 * (p1[1] - p0[1]))
    c2 = (p2[0] + 2 / 3 * (p1[0] - p2[0]), p2[1] + 2 / 3 * (p1[1] - p2[1]))
    return c1, c2


def bezier_points(params: Sequence[float]) -> tuple[Point, Point, Point]:
    """Start, control and end point of a Bezier stroke (its first six parameters)."""
    x0, y0, x1, y1, x2, y2 = params[:6]
    return (x0, y0), (x1, y1), (x2, y2)


@dataclass(frozen=True)
class SweptOutline:
    """A variable-width stroke as a union of discs and convex quads, every piece wound the same way
    (positive shoelace area in y-down coordinates, the direction cairo's `arc` turns), so the
    nonzero fill rule paints their union once, with no holes or double opacity where they overlap."""

    discs: tuple[tuple[float, float, float], ...]  # (cx, cy, radius)
    quads: tuple[tuple[Point, ...], ...]


def _hull(points: list[Point]) -> list[Point]:
    """Convex hull (monotone chain), positive shoelace orientation, collinear points dropped."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return pts

    def cross(o: Point, a: Point, b: Point) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point] = []
    upper: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]  # counter-clockwise in y-up == positive shoelace in y-down


def bezier_point(p0: Point, p1: Point, p2: Point, t: float) -> Point:
    """The point at parameter t (0..1) of the quadratic Bezier p0, p1, p2."""
    u = 1 - t
    return (u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0], u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1])


def swept_outline(params: Sequence[float], r0: float, r1: float) -> SweptOutline:
    """A Bezier stroke's curve swept by a disc whose radius runs r0 -> r1 (constant for r0 = r1)."""
    p0, p1, p2 = bezier_points(params)
    # The control polygon bounds the curve length; ~5 px between samples keeps the outline smooth.
    length = math.dist(p0, p1) + math.dist(p1, p2)
    n = max(3, min(40, math.ceil(length / 5) + 1))
    discs, sections = [], []
    for i in range(n):
        t = i / (n - 1)
        u = 1 - t
        x, y = bezier_point(p0, p1, p2, t)
        dx = 2 * u * (p1[0] - p0[0]) + 2 * t * (p2[0] - p1[0])
        dy = 2 * u * (p1[1] - p0[1]) + 2 * t * (p2[1] - p1[1])
        norm = math.hypot(dx, dy)
        nx, ny = (-dy / norm, dx / norm) if norm > 1e-9 else (0.0, 1.0)
        r = u * r0 + t * r1
        discs.append((x, y, r))
        sections.append(((x + nx * r, y + ny * r), (x - nx * r, y - ny * r)))
    quads = []
    for (a_left, a_right), (b_left, b_right) in pairwise(sections):
        hull = _hull([a_left, b_left, b_right, a_right])
        if len(hull) >= 3:
            quads.append(tuple(hull))
    return SweptOutline(tuple(discs), tuple(quads))


def bezier_length(params: Sequence[float]) -> float:
    """Roughly a quadratic Bezier's length: it is at least its chord and at most its control polygon."""
    (x0, y0), (x1, y1), (x2, y2) = bezier_points(params)
    return (math.dist((x0, y0), (x2, y2)) + math.dist((x0, y0), (x1, y1)) + math.dist((x1, y1), (x2, y2))) / 2


def box_points(cx: float, cy: float, angle: float, points: Iterable[Point], length: float,
               width: float) -> list[Point]:
    """Unit-space points of a box stroke (x along its length, y across) placed on the canvas."""
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + cos * u * length - sin * v * width, cy + sin * u * length + cos * v * width) for u, v in points]


UNIT_RECT: tuple[Point, ...] = ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5))


def _arc_segments(radius: float) -> int:
    """Segments per quarter circle keeping the polygon within 0.1 px of the true arc."""
    return max(2, min(64, math.ceil(math.pi / 2 / math.acos(max(-1.0, 1 - 0.1 / max(radius, 0.1))))))


def swept_polygon(outline: SweptOutline) -> Any:
    """A swept outline as one shapely geometry (the union of its discs and quads)."""
    from shapely import Point as Disc, Polygon, unary_union

    return unary_union([Disc(x, y).buffer(r, quad_segs=_arc_segments(r)) for x, y, r in outline.discs]
                       + [Polygon(q) for q in outline.quads])


def hash01(k: float) -> float:
    """A fixed pseudo-random number in [0, 1) for k: texture jitter that is identical on every
    machine and in every file (not an RNG)."""
    return (math.sin(k * 12.9898) * 43758.5453) % 1.0
