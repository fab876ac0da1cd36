"""Normalised stroke parameters: what the neural renderer and the painter optimise.

Every parameter lives in [0, 1]; a vector describes one stroke inside a square block (the local
block coordinates of the neural renderer, side S pixels). `to_canvas` maps such vectors to the
canonical parameter layout of `brushwork.strokes` in a block's pixels, so the exact renderer can
draw exactly what the optimiser holds.
"""

from __future__ import annotations

import math

import torch

from brushwork import brushes
from brushwork.strokes import Stroke


def _span(v: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    return bounds[0] + (bounds[1] - bounds[0]) * v


def _unspan(x: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    return (x - bounds[0]) / (bounds[1] - bounds[0])


def to_canvas(kind: str, v: torch.Tensor, size: float) -> torch.Tensor:
    """(N, d) normalised parameters -> (N, d) parameters of `brushwork.strokes` in pixels of a
    size x size block. Differentiable; colours and opacity pass through unchanged."""
    out = v.clone()
    brush = brushes.get(kind)
    for i, field in enumerate(brush.kind.fields):
        if field.role in ("x", "y"):
            out[:, i] = v[:, i] * size
        elif field.role == "size":
            out[:, i] = _span(v[:, i], brush.neural_extents[field.name]) * size
        elif field.role == "angle":
            out[:, i] = (2 * v[:, i] - 1) * math.pi
    return out


def from_canvas(kind: str, p: torch.Tensor, size: float) -> torch.Tensor:
    """Inverse of `to_canvas` (values outside the normalised ranges map outside [0, 1])."""
    out = p.clone()
    brush = brushes.get(kind)
    for i, field in enumerate(brush.kind.fields):
        if field.role in ("x", "y"):
            out[:, i] = p[:, i] / size
        elif field.role == "size":
            out[:, i] = _unspan(p[:, i] / size, brush.neural_extents[field.name])
        elif field.role == "angle":
            out[:, i] = (p[:, i] / math.pi + 1) / 2
    return out


def size_bounds(kind: str, low_px: float | None, high_px: float | None, size: float,
                device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-parameter (low, high) normalised bounds that keep every extent of a stroke between
    low_px and high_px pixels of a size x size block; other parameters keep [0, 1]. On `device`
    (default: torch's)."""
    fields = brushes.get(kind).kind.fields
    count = len(fields)
    px = torch.tensor([[low_px if low_px is not None else -1e9] * count,
                       [high_px if high_px is not None else 1e9] * count], dtype=torch.float64, device=device)
    bounds = from_canvas(kind, px, size)
    extent = torch.tensor([f.role == "size" for f in fields], device=px.device)
    low = torch.where(extent, bounds[0].clamp(0, 1), torch.zeros_like(bounds[0]))
    high = torch.where(extent, bounds[1].clamp(0, 1), torch.ones_like(bounds[1]))
    return low.float(), torch.maximum(low, high).float()


def to_strokes(kind: str, v: torch.Tensor, size: float) -> list[Stroke]:
    """Normalised vectors -> strokes in the pixels of a size x size block."""
    canvas = to_canvas(kind, v.detach().to(torch.float64).clamp(0, 1), size)
    return [Stroke(kind, tuple(row)) for row in canvas.tolist()]


def sample(kind: str, count: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform random normalised parameters, (count, d) float32 on the generator's device: the
    training distribution."""
    return torch.rand(count, len(brushes.get(kind).kind.fields), generator=generator, device=generator.device)
