"""Normalised stroke parameters: what the neural renderer and the painter optimise.

Every parameter lives in [0, 1]; a vector describes one stroke inside a square block (the local
block coordinates of the neural renderer, side S pixels). `to_canvas` maps such vectors to the
canonical parameter layout of `brushwork.strokes` in a block's pixels, so the exact renderer can
draw exactly what the optimiser holds.
"""

from __future__ import annotations

import math

import torch

from brushwork.strokes import BRUSHES, Stroke

# Extents as fractions of the block side: (smallest, largest). Bezier widths are stroke widths
# (diameters); box kinds have a length along and a width across their axis.
BEZIER_WIDTH = (0.01, 0.25)
BOX_LENGTH = (0.05, 0.9)
BOX_WIDTH = (0.02, 0.4)


def _span(v: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    return bounds[0] + (bounds[1] - bounds[0]) * v


def _unspan(x: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    return (x - bounds[0]) / (bounds[1] - bounds[0])


def to_canvas(kind: str, v: torch.Tensor, size: float) -> torch.Tensor:
    """(N, d) normalised parameters -> (N, d) parameters of `brushwork.strokes` in pixels of a
    size x size block. Differentiable; colours and opacity pass through unchanged."""
    out = v.clone()
    names = BRUSHES[kind].names
    for i, name in enumerate(names):
        if name[0] in "xy" and name[1:] in ("0", "1", "2") or name in ("cx", "cy"):
            out[:, i] = v[:, i] * size
        elif name in ("width", "width0", "width1") and kind in ("markerpen", "watercolor"):
            out[:, i] = _span(v[:, i], BEZIER_WIDTH) * size
        elif name == "length":
            out[:, i] = _span(v[:, i], BOX_LENGTH) * size
        elif name == "width":
            out[:, i] = _span(v[:, i], BOX_WIDTH) * size
        elif name == "angle":
            out[:, i] = (2 * v[:, i] - 1) * math.pi
    return out


def from_canvas(kind: str, p: torch.Tensor, size: float) -> torch.Tensor:
    """Inverse of `to_canvas` (values outside the normalised ranges map outside [0, 1])."""
    out = p.clone()
    names = BRUSHES[kind].names
    for i, name in enumerate(names):
        if name[0] in "xy" and name[1:] in ("0", "1", "2") or name in ("cx", "cy"):
            out[:, i] = p[:, i] / size
        elif name in ("width", "width0", "width1") and kind in ("markerpen", "watercolor"):
            out[:, i] = _unspan(p[:, i] / size, BEZIER_WIDTH)
        elif name == "length":
            out[:, i] = _unspan(p[:, i] / size, BOX_LENGTH)
        elif name == "width":
            out[:, i] = _unspan(p[:, i] / size, BOX_WIDTH)
        elif name == "angle":
            out[:, i] = (p[:, i] / math.pi + 1) / 2
    return out


def size_bounds(kind: str, low_px: float | None, high_px: float | None,
                size: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-parameter (low, high) normalised bounds that keep every extent of a stroke between
    low_px and high_px pixels of a size x size block; other parameters keep [0, 1]."""
    count = len(BRUSHES[kind].fields)
    px = torch.tensor([[low_px if low_px is not None else -1e9] * count,
                       [high_px if high_px is not None else 1e9] * count], dtype=torch.float64)
    bounds = from_canvas(kind, px, size)
    extent = [f.role == "size" for f in BRUSHES[kind].fields]
    low = torch.where(torch.tensor(extent), bounds[0].clamp(0, 1), torch.zeros(count, dtype=torch.float64))
    high = torch.where(torch.tensor(extent), bounds[1].clamp(0, 1), torch.ones(count, dtype=torch.float64))
    return low.float(), torch.maximum(low, high).float()


def to_strokes(kind: str, v: torch.Tensor, size: float) -> list[Stroke]:
    """Normalised vectors -> strokes in the pixels of a size x size block."""
    canvas = to_canvas(kind, v.detach().to(torch.float64).clamp(0, 1), size)
    return [Stroke(kind, tuple(row)) for row in canvas.tolist()]


def sample(kind: str, count: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform random normalised parameters, (count, d) float32: the training distribution."""
    return torch.rand(count, len(BRUSHES[kind].fields), generator=generator)
