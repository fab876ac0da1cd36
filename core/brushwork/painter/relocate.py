"""Strokes that earn almost nothing, started again where the painting is most wrong.

After the progressive passes, and again while refining, a quarter of a 1,000-stroke painting's
strokes remove less than a quarter of the median stroke's error: hidden under later strokes, or
left where the optimiser cannot improve the painting. Refinement alone only nudges them. Here the
least useful are lifted out and started again on top of the painting, at the peaks of the
remaining error, small, turned along the photo's edges there and in its colour, so the rest of the
refinement fits them (the way differentiable vector graphics re-initialise paths that faded out).
Pure functions of strokes and pictures ((H, W, 3) float RGB, the strokes' pixels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter, sobel, uniform_filter

from brushwork import brushes
from brushwork.painter.colours import colour_groups, with_colours
from brushwork.strokes import Stroke

USELESS = 0.25  # a stroke removing less than this fraction of the median stroke's error is moved
MOST = 0.15  # at most this fraction of the strokes at once, the least useful first
SIZE_QUANTILE = 0.1  # moved strokes take the size of the painting's smaller strokes (fine detail)


def useless(gains: np.ndarray, most: int) -> list[int]:
    """Indices of the strokes whose removal gain is below USELESS times the median, the least
    useful first, at most `most` of them."""
    if not len(gains):
        return []
    threshold = USELESS * float(np.median(gains))
    return [int(i) for i in np.argsort(gains, kind="stable")[:most] if gains[i] < threshold]


def size_of(stroke: Stroke) -> float:
    """The square root of the stroke's area, pixels."""
    return math.sqrt(max(brushes.get(stroke.kind).area(stroke), 1e-6))


def error_peaks(error: np.ndarray, count: int, radius: float) -> list[tuple[float, float]]:
    """Up to `count` (x, y) pixel centres of the largest values of an (H, W) error map blurred over
    2 * radius + 1 pixels, each clearing its neighbourhood so the strokes spread out."""
    r = max(1, round(radius))
    blurred = uniform_filter(error.astype(np.float64), 2 * r + 1, mode="constant")
    peaks: list[tuple[float, float]] = []
    while len(peaks) < count:
        y, x = np.unravel_index(int(np.argmax(blurred)), blurred.shape)
        if blurred[y, x] <= 0:
            break
        peaks.append((x + 0.5, y + 0.5))
        blurred[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1] = -1.0
    return peaks


def edge_angles(picture: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W) angle, radians, along the edges of `picture`: across its grey level's gradient, from
    the structure tensor smoothed over `sigma` pixels."""
    grey = picture.mean(axis=2)
    gx, gy = sobel(grey, axis=1), sobel(grey, axis=0)
    jxx, jyy, jxy = (gaussian_filter(a, max(sigma, 1.0)) for a in (gx * gx, gy * gy, gx * gy))
    return 0.5 * np.arctan2(2 * jxy, jxx - jyy) + math.pi / 2


def direction(stroke: Stroke) -> float:
    """The angle of the stroke's length: its `angle`, or its curve's chord."""
    if "angle" in stroke.brush.names:
        return stroke["angle"]
    return math.atan2(stroke["y2"] - stroke["y0"], stroke["x2"] - stroke["x0"])


def turned(stroke: Stroke, turn: float) -> Stroke:
    """The stroke turned by `turn` radians about the origin."""
    cos, sin = math.cos(turn), math.sin(turn)
    values = list(stroke.params)
    for i, f in enumerate(stroke.brush.fields):
        if f.role == "x":  # an x is always followed by its y
            x, y = values[i], values[i + 1]
            values[i], values[i + 1] = x * cos - y * sin, x * sin + y * cos
        elif f.role == "angle":
            values[i] += turn
    return Stroke(stroke.kind, tuple(values))


def moved(stroke: Stroke, centre: tuple[float, float], size: float, along: float, target: np.ndarray) -> Stroke:
    """`stroke` turned to the angle `along`, scaled to `size` (square root of its area), centred on
    `centre` and in the colour of `target` there."""
    stroke = turned(stroke, along - direction(stroke))
    left, top, right, bottom = brushes.get(stroke.kind).bounds(stroke)
    scale = size / size_of(stroke)
    placed = stroke.transformed(scale, centre[0] - (left + right) / 2 * scale, centre[1] - (top + bottom) / 2 * scale)
    height, width = target.shape[:2]
    x, y = min(width - 1, int(centre[0])), min(height - 1, int(centre[1]))
    colour = target[max(0, y - 1): y + 2, max(0, x - 1): x + 2].reshape(-1, 3).mean(0)
    return with_colours(placed, [colour] * len(colour_groups(stroke.kind)))


def relocations(strokes: Sequence[Stroke], gains: np.ndarray, painting: np.ndarray, target: np.ndarray
                ) -> list[tuple[int, Stroke]]:
    """(index, new stroke) for the least useful of `strokes` (`gains`: `pruning.removal_gains`),
    each moved to a peak of the squared error of `painting` against `target`."""
    chosen = useless(gains, round(MOST * len(strokes)))
    if not chosen:
        return []
    size = float(np.quantile([size_of(s) for s in strokes], SIZE_QUANTILE))
    peaks = error_peaks(((painting - target) ** 2).sum(axis=2), len(chosen), size / 2)
    edges = edge_angles(target, size / 4)
    return [(i, moved(strokes[i], (x, y), size, float(edges[int(y), int(x)]), target))
            for i, (x, y) in zip(chosen, peaks, strict=False)]
