"""Colour refit: the best colours for strokes whose shapes are fixed, by linear least squares.

With every stroke's shape and paint order fixed, the painting is an affine function of the
strokes' colours: a pixel is the sum over strokes of (what the stroke lays down) × (how much of
it the strokes above let through), plus the canvas under them showing through all of them, and
what a stroke lays down is affine in its colour parameters (flat colour, a c0 → c1 gradient, and
the oil brush's grey bristle streaks on top, which do not depend on the colour). So the colours
that minimise the squared error against the target, i.e. maximise PSNR, solve a sparse linear
least-squares problem per channel. The optimiser cannot get there itself: it works block by
block at a coarser resolution, with an L1 loss, for a few dozen steps.

Every stroke is drawn by `raster` (the exact renderer) in its own bounding box, so the fit is
against what the user will see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from brushwork import brushes, raster
from brushwork.strokes import BRUSHES, Stroke

# Pulls each colour toward its current value with the weight of this many pixels, so a stroke
# that is hidden (no equation sees it) keeps its colour and the system stays well posed.
RIDGE = 0.05
BOUND_ROUNDS = 6  # active-set rounds that pin colours outside [0, 1] to the bound


def colour_groups(kind: str) -> list[list[int]]:
    """Indices of each (r, g, b) group of a brush kind's parameters: one, or c0 and c1."""
    names = BRUSHES[kind].names
    suffixes = ("",) if "r" in names else ("0", "1")
    return [[names.index(channel + suffix) for channel in "rgb"] for suffix in suffixes]


def with_colours(stroke: Stroke, colours: Sequence[Sequence[float]]) -> Stroke:
    params = list(stroke.params)
    for group, colour in zip(colour_groups(stroke.kind), colours, strict=True):
        for index, value in zip(group, colour, strict=True):
            params[index] = float(value)
    return Stroke(stroke.kind, tuple(params))


def draw_alone(stroke: Stroke, box: tuple[int, int, int, int]) -> raster.StrokePatch:
    """The stroke alone on transparency inside `box` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    return raster.render_patch(stroke, x1 - x0, y1 - y0, x=x0, y=y0)


@dataclass(frozen=True)
class ColourSystem:
    """painting = offset + matrix @ colours (per channel); column j is colour group `columns[j]`."""

    matrix: sp.csr_matrix  # (pixels, groups)
    offset: np.ndarray  # (pixels, 3)
    columns: list[tuple[int, int]]  # (stroke index, group index)


def colour_system(strokes: Sequence[Stroke], base: np.ndarray) -> ColourSystem:
    height, width = base.shape[:2]
    through = np.ones((height, width), np.float32)  # transmittance of the strokes above
    offset = np.zeros((height, width, 3), np.float32)
    rows, values, column_ids = [], [], []
    columns: list[tuple[int, int]] = []
    for index in range(len(strokes) - 1, -1, -1):  # top to bottom
        stroke = strokes[index]
        box = brushes.pixel_box(stroke, width, height)
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            continue
        groups = colour_groups(stroke.kind)
        black = [(0.0, 0.0, 0.0)] * len(groups)
        fixed = draw_alone(with_colours(stroke, black), box)  # the colour-independent part and the alpha
        fixed_grey = fixed.premultiplied[..., 0]
        seen = through[y0:y1, x0:x1]
        pixels = (np.arange(y0, y1)[:, None] * width + np.arange(x0, x1)[None]).ravel()
        for g in range(len(groups)):
            unit = list(black)
            unit[g] = (1.0, 1.0, 1.0)
            # The same weight in every channel: colour enters each channel alike.
            weight = (seen * (draw_alone(with_colours(stroke, unit), box).premultiplied[..., 0] - fixed_grey)).ravel()
            keep = weight > 1e-4
            rows.append(pixels[keep])
            values.append(weight[keep])
            column_ids.append(np.full(int(keep.sum()), len(columns)))
            columns.append((index, g))
        offset[y0:y1, x0:x1] += seen[..., None] * fixed.premultiplied
        through[y0:y1, x0:x1] = seen * (1.0 - fixed.alpha)
    offset += through[..., None] * base
    if columns:
        matrix = sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(column_ids))),
                               shape=(height * width, len(columns)))
    else:
        matrix = sp.csr_matrix((height * width, 0), dtype=np.float32)
    return ColourSystem(matrix, offset.reshape(-1, 3), columns)


def _bounded_ridge_solve(gram: sp.csr_matrix, rhs: np.ndarray, current: np.ndarray) -> np.ndarray:
    """argmin ‖Mc − y‖² + RIDGE‖c − current‖² over 0 ≤ c ≤ 1, given gram = MᵀM + RIDGE·I and
    rhs = Mᵀy + RIDGE·current: solve, pin the colours that leave [0, 1] to the bound they crossed,
    solve again for the others, a few rounds (an active-set method that keeps pinned colours)."""
    solution = current.copy()
    free = np.ones(len(rhs), bool)
    for _ in range(BOUND_ROUNDS):
        pinned = ~free
        b = rhs[free] - gram[free][:, pinned] @ solution[pinned]
        solution[free] = spsolve(gram[free][:, free].tocsc(), b)
        out = free & ((solution < 0) | (solution > 1))
        solution = solution.clip(0, 1)
        if not out.any():
            break
        free &= ~out
    return solution.clip(0, 1)


def refit_colours(strokes: Sequence[Stroke], target: np.ndarray, base: np.ndarray) -> list[Stroke]:
    """The strokes (in `target`'s pixels, painted in order over `base`) with the colours that
    bring their exact rendering closest to `target` in squared error; shapes are unchanged.

    `target` and `base` are (H, W, 3) float RGB in [0, 1]; `base` is what lies under the strokes
    (the paper, or a resumed painting).
    """
    system = colour_system(strokes, base.astype(np.float32))
    if not system.columns:
        return list(strokes)
    matrix = system.matrix
    residual = target.reshape(-1, 3).astype(np.float64) - system.offset
    current = np.array([[strokes[i].params[j] for j in colour_groups(strokes[i].kind)[g]]
                        for i, g in system.columns])
    gram = (matrix.T @ matrix + RIDGE * sp.identity(len(system.columns))).tocsr().astype(np.float64)
    rhs = np.asarray(matrix.T @ residual) + RIDGE * current
    solved = np.stack([_bounded_ridge_solve(gram, rhs[:, c], current[:, c]) for c in range(3)], axis=1)
    colours: dict[int, list] = {}
    for (index, group), colour in zip(system.columns, solved, strict=True):
        colours.setdefault(index, [None] * len(colour_groups(strokes[index].kind)))[group] = colour
    return [with_colours(s, colours[i]) if i in colours else s for i, s in enumerate(strokes)]
