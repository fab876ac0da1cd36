"""Stroke geometry and paint shared by the exact renderer and the SVG writer.

Both `raster` and `svg` draw a stroke from what this module says, so the PNG and the SVG agree by
construction: the same outlines, the same quantised colours, the same oil-brush texture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

from brushwork.strokes import Stroke

Point = tuple[float, float]


def color8(r: float, g: float, b: float) -> tuple[int, int, int]:
    """Colour as the SVG stores it (8 bits per channel); the raster draws this same value."""
    return (round(r * 255), round(g * 255), round(b * 255))


def opacity4(a: float) -> float:
    """Opacity as the SVG stores it (4 decimals)."""
    return round(a, 4)


def quad_to_cubic(p0: Point, p1: Point, p2: Point) -> tuple[Point, Point]:
    """The two cubic control points of a quadratic Bezier (exact degree elevation)."""
    c1 = (p0[0] + 2 / 3 * (p1[0] - p0[0]), p0[1] + 2 / 3 * (p1[1] - p0[1]))
    c2 = (p2[0] + 2 / 3 * (p1[0] - p2[0]), p2[1] + 2 / 3 * (p1[1] - p2[1]))
    return c1, c2


def bezier_points(stroke: Stroke) -> tuple[Point, Point, Point]:
    x0, y0, x1, y1, x2, y2 = stroke.params[:6]
    return (x0, y0), (x1, y1), (x2, y2)


# --- watercolor ---------------------------------------------------------------------------------


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


def watercolor_outline(stroke: Stroke) -> SweptOutline:
    """Discs of radius width(t)/2 along the curve, joined by the hulls of neighbouring cross-sections."""
    return swept_outline(stroke, stroke["width0"] / 2, stroke["width1"] / 2)


def swept_outline(stroke: Stroke, r0: float, r1: float) -> SweptOutline:
    """A Bezier stroke's curve swept by a disc whose radius runs r0 -> r1 (for the marker pen, r0 = r1)."""
    p0, p1, p2 = bezier_points(stroke)
    # The control polygon bounds the curve length; ~5 px between samples keeps the outline smooth.
    length = math.dist(p0, p1) + math.dist(p1, p2)
    n = max(3, min(40, math.ceil(length / 5) + 1))
    discs, sections = [], []
    for i in range(n):
        t = i / (n - 1)
        u = 1 - t
        x = u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0]
        y = u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1]
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


# --- oil brush ----------------------------------------------------------------------------------
# One brush mark in unit space: x in [-0.5, 0.5] along the length (the colour runs c0 -> c1 from
# -0.5 to 0.5), y in [-0.5, 0.5] across it. Strokes place it with
# translate(cx, cy) rotate(angle) scale(length, width). The jitter is a fixed hash, not an RNG, so
# the mark is identical on every machine and in every file.


def _hash01(k: float) -> float:
    return (math.sin(k * 12.9898) * 43758.5453) % 1.0


def _oil_half_width(x: float, side: int) -> float:
    head_end = -0.32
    if x < head_end:  # rounded head where the brush lands
        return 0.5 * math.sqrt(max(0.0, 1 - ((x - head_end) / 0.18) ** 2))
    along = x - head_end  # 0 where the head joins the body, so the outline has no kink
    return 0.5 - 0.04 * along + 0.03 * math.sin(11 * x + 2.1 * side) * along


def _oil_body() -> tuple[Point, ...]:
    # Dense samples around the rounded head, sparser along the straight body.
    head = [-0.32 - 0.18 * math.cos(math.pi / 2 * i / 12) for i in range(12)]
    body = [-0.32 + 0.75 * i / 16 for i in range(17)]
    top = [(x, -_oil_half_width(x, -1)) for x in head + body]
    bottom = [(x, _oil_half_width(x, 1)) for x, _ in reversed(top)]
    # Split bristle ends along the tail.
    y_top, y_bottom = top[-1][1], bottom[0][1]
    fingers = 11
    tail = []
    for j in range(1, 2 * fingers):
        y = y_top + (y_bottom - y_top) * j / (2 * fingers)
        x = 0.5 - 0.01 * _hash01(j) if j % 2 else 0.45 + 0.025 * _hash01(j + 50)
        tail.append((x, y))
    return tuple(top + tail + bottom)


@dataclass(frozen=True)
class BristleLayer:
    """Thin streaks painted over the body in one grey at one opacity (they never overlap)."""

    grey: float
    opacity: float
    streaks: tuple[tuple[Point, ...], ...]


def _oil_bristles() -> tuple[BristleLayer, ...]:
    count = 16
    layers: dict[tuple[float, float], list[tuple[Point, ...]]] = {}
    for k in range(count):
        y = -0.42 + 0.84 * (k + 0.2 + 0.6 * _hash01(k + 1)) / count
        half = 0.006 + 0.012 * _hash01(k + 7)
        x_start = -0.3 + 0.15 * _hash01(k + 13)
        x_end = 0.38 - 0.25 * _hash01(k + 19)
        x_mid = x_start + (x_end - x_start) * (0.3 + 0.4 * _hash01(k + 23))
        streak = ((x_start, y), (x_mid, y - half), (x_end, y), (x_mid, y + half))
        grey, opacity = (0.0, 0.22 if k % 4 else 0.32) if k % 2 else (1.0, 0.16)
        layers.setdefault((grey, opacity), []).append(streak)
    return tuple(BristleLayer(g, a, tuple(s)) for (g, a), s in sorted(layers.items()))


OIL_BODY: tuple[Point, ...] = _oil_body()
OIL_BRISTLES: tuple[BristleLayer, ...] = _oil_bristles()
