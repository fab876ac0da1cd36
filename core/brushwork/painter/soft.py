"""A differentiable analytic renderer: strokes drawn in canvas pixels from signed distances.

The neural renderer draws one stroke inside one S x S block, so the painter can only move a
stroke within its block and at the block's resolution. To refine every stroke of a painting
together on the whole canvas, at the working resolution, each brush kind is also written here as
a closed-form signed distance to its outline (in pixels; the antialiased coverage is
clamp(0.5 + distance, 0, 1), as a box-filtered edge) times its paint, so that gradients reach
positions, sizes, angles and colours. It follows `shapes` and `raster` closely (the same outlines,
gradients and the oil brush's bristle streaks, sampled from a texture drawn by cairo), but not
exactly: the exact renderer stays the ground truth of what the user sees.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from brushwork import raster
from brushwork.painter.colours import bounding_box
from brushwork.strokes import Stroke

MAX_SEGMENTS = 8  # of the polyline that finds a pixel's nearest point on a quadratic Bezier
OIL_HEAD = -0.32  # where the oil mark's rounded head joins its body (see shapes._oil_half_width)
OIL_TAIL = 0.475  # the bristle fingers end between 0.45 and 0.5


@dataclass(frozen=True)
class Window:
    """The canvas pixels x0 .. x0 + width - 1, y0 .. y0 + height - 1 in which a stroke is drawn."""

    x0: int
    y0: int
    width: int
    height: int


def _coverage(distance: torch.Tensor) -> torch.Tensor:
    return (distance + 0.5).clamp(0, 1)


def _local_frame(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres in a box stroke's frame (along, across), pixels. p: (N, d) cx cy length width angle ..."""
    cx, cy, angle = p[:, 0, None, None], p[:, 1, None, None], p[:, 4, None, None]
    dx, dy = xs - cx, ys - cy
    cos, sin = torch.cos(angle), torch.sin(angle)
    return dx * cos + dy * sin, -dx * sin + dy * cos


@functools.lru_cache(maxsize=1)
def _bristle_texture(width: int = 256, height: int = 128) -> torch.Tensor:
    """(1, 2, h, w) opacity B and grey-times-opacity G of the oil brush's bristle streaks over the
    unit mark [-0.5, 0.5]^2: the exact renderer draws the mark in black (G) and in white
    (A (1 - B) + G, A the body's coverage)."""
    drawn = []
    for grey in (0.0, 1.0):
        mark = Stroke.make("oilbrush", cx=width / 2, cy=height / 2, length=width, width=height, angle=0.0,
                           r0=grey, g0=grey, b0=grey, r1=grey, g1=grey, b1=grey)
        drawn.append(raster.render_patch(mark, width, height))
    black, white = drawn
    streaks = black.premultiplied[..., 0]
    body = white.alpha
    opacity = np.where(body > 0.5, 1 - (white.premultiplied[..., 0] - streaks) / np.maximum(body, 1e-6), 0.0)
    return torch.from_numpy(np.stack([opacity.clip(0, 1), streaks]).astype(np.float32))[None]


def _oilbrush(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    along, across = _local_frame(p, xs, ys)
    length, width = p[:, 2, None, None], p[:, 3, None, None]
    u, v = along / length, across / width
    # The half-width profile along the mark (rounded head, slightly wavy body) is looked up
    # without autograd: the sides still move with the stroke's width and position, and its ends
    # with the length, below; this halves the cost of the backward pass.
    with torch.no_grad():
        side = torch.where(v < 0, -2.1, 2.1)
        body = 0.5 - 0.04 * (u - OIL_HEAD) + 0.03 * torch.sin(11 * u + side) * (u - OIL_HEAD)
        head = 0.5 * (1 - ((u - OIL_HEAD) / 0.18) ** 2).clamp_min(0).sqrt()
        half = torch.where(u < OIL_HEAD, head, body)
    distance = torch.minimum((half - v.abs()) * width, torch.minimum((u + 0.5) * length, (OIL_TAIL - u) * length))
    alpha = _coverage(distance)
    t = (u + 0.5).clamp(0, 1)
    colour = p[:, 5:8, None, None] * (1 - t[:, None]) + p[:, 8:11, None, None] * t[:, None]
    # The streaks are texture, not shape: their sampling positions carry no gradient.
    grid = torch.stack([2 * u, 2 * v], dim=-1).detach()
    streaks = F.grid_sample(_bristle_texture().expand(len(p), -1, -1, -1), grid, align_corners=False)
    premultiplied = alpha[:, None] * (colour * (1 - streaks[:, :1]) + streaks[:, 1:])
    return premultiplied, alpha


def _tape(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    along, across = _local_frame(p, xs, ys)
    length, width = p[:, 2, None, None], p[:, 3, None, None]
    distance = torch.minimum(length / 2 - along.abs(), width / 2 - across.abs())
    alpha = _coverage(distance) * p[:, 8, None, None]
    return p[:, 5:8, None, None] * alpha[:, None], alpha


def _curve_distance(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance (N, h, w) from every pixel centre to the stroke's quadratic Bezier, and the curve
    parameter t of the nearest point.

    The nearest point is found on a polyline through points of the curve, without autograd (K
    chords lie within |p0 - 2 p1 + p2| / 4K^2 of the curve: K is chosen for a quarter pixel); the
    distance is then measured to the curve's point at that t, with autograd. By the envelope
    theorem that is the true gradient of the distance to the curve (the nearest t moves, but the
    distance is stationary in t there), at a fraction of the memory and arithmetic.
    """
    with torch.no_grad():
        bend = torch.hypot(p[:, 0] - 2 * p[:, 2] + p[:, 4], p[:, 1] - 2 * p[:, 3] + p[:, 5]).max()
        segments = int(min(MAX_SEGMENTS, max(1, math.ceil(math.sqrt(float(bend))))))
        t = torch.linspace(0, 1, segments + 1)
        s = 1 - t
        bx = s * s * p[:, 0, None] + 2 * s * t * p[:, 2, None] + t * t * p[:, 4, None]  # (N, K)
        by = s * s * p[:, 1, None] + 2 * s * t * p[:, 3, None] + t * t * p[:, 5, None]
        # Segments along the last axis, where argmin is fast: (N, 1, 1, K-1) against (N, h, w, 1).
        ax, ay = bx[:, None, None, :-1], by[:, None, None, :-1]
        ex, ey = bx[:, None, None, 1:] - ax, by[:, None, None, 1:] - ay
        rx, ry = xs[..., None] - ax, ys[..., None] - ay
        along = ((rx * ex + ry * ey) / (ex * ex + ey * ey).clamp_min(1e-6)).clamp(0, 1)
        squared = (rx - along * ex) ** 2 + (ry - along * ey) ** 2
        k = squared.argmin(dim=-1, keepdim=True)
        nearest = ((k + along.gather(-1, k)) / segments)[..., 0]
    t, s = nearest, 1 - nearest
    x = s * s * p[:, 0, None, None] + 2 * s * t * p[:, 2, None, None] + t * t * p[:, 4, None, None]
    y = s * s * p[:, 1, None, None] + 2 * s * t * p[:, 3, None, None] + t * t * p[:, 5, None, None]
    return ((xs - x) ** 2 + (ys - y) ** 2 + 1e-6).sqrt(), nearest


def _markerpen(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d, _ = _curve_distance(p, xs, ys)
    alpha = _coverage(p[:, 6, None, None] / 2 - d) * p[:, 10, None, None]
    return p[:, 7:10, None, None] * alpha[:, None], alpha


def _watercolor(p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d, t = _curve_distance(p, xs, ys)
    radius = (p[:, 6, None, None] * (1 - t) + p[:, 7, None, None] * t) / 2
    alpha = _coverage(radius - d) * p[:, 14, None, None]
    # cairo's linear gradient along the chord p0 -> p2, padded beyond its ends.
    cx, cy = p[:, 4, None, None] - p[:, 0, None, None], p[:, 5, None, None] - p[:, 1, None, None]
    s = ((xs - p[:, 0, None, None]) * cx + (ys - p[:, 1, None, None]) * cy) / (cx * cx + cy * cy).clamp_min(1e-6)
    s = s.clamp(0, 1)[:, None]
    colour = p[:, 8:11, None, None] * (1 - s) + p[:, 11:14, None, None] * s
    return colour * alpha[:, None], alpha


_DRAW = {"oilbrush": _oilbrush, "tape": _tape, "markerpen": _markerpen, "watercolor": _watercolor}


def draw(kind: str, params: torch.Tensor, windows: list[Window]) -> tuple[torch.Tensor, torch.Tensor]:
    """Strokes of one kind, (N, d) canonical parameters in canvas pixels, each drawn in its window
    (one batch: every window is drawn at the largest window's size). Returns premultiplied colour
    (N, 3, h, w) and alpha (N, h, w) over transparency."""
    h, w = max(win.height for win in windows), max(win.width for win in windows)
    origin = torch.tensor([(win.x0, win.y0) for win in windows], dtype=params.dtype)
    xs = origin[:, 0, None, None] + torch.arange(w, dtype=params.dtype)[None, None, :] + 0.5
    ys = origin[:, 1, None, None] + torch.arange(h, dtype=params.dtype)[None, :, None] + 0.5
    return _DRAW[kind](params, xs.expand(-1, h, w), ys.expand(-1, h, w))


def window(stroke: Stroke, width: int, height: int, margin: int = 2) -> Window | None:
    """The stroke's bounding box on a width x height canvas, plus `margin` pixels, or None when it
    misses the canvas."""
    x0, y0, x1, y1 = bounding_box(stroke, width, height)
    x0, y0, x1, y1 = max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)
    if x1 <= x0 or y1 <= y0:
        return None
    return Window(x0, y0, x1 - x0, y1 - y0)


def params_tensor(strokes: list[Stroke]) -> torch.Tensor:
    return torch.tensor([s.params for s in strokes], dtype=torch.float32)


@dataclass(frozen=True)
class Placement:
    """Where a drawn stroke goes: item `item` of drawing `drawing` (a pair of premultiplied
    (n, 3, h, w) and alpha (n, h, w) tensors), over `window` of the canvas."""

    drawing: int
    item: int
    window: Window


class _Over(torch.autograd.Function):
    """Strokes composited one over another onto a canvas, in order. Autograd through a chain of
    in-place window updates would copy the whole canvas (and its gradient) once per stroke; this
    keeps only each window's canvas before its stroke, and runs the chain backwards by hand."""

    @staticmethod
    def forward(ctx, base: torch.Tensor, placements: list[Placement], *drawings: torch.Tensor) -> torch.Tensor:
        canvas = base.detach().clone()
        through = [1 - alpha for alpha in drawings[1::2]]  # once per drawing, not per stroke
        under = []
        for place in placements:
            w = place.window
            premultiplied = drawings[2 * place.drawing][place.item, :, : w.height, : w.width]
            view = canvas[:, w.y0: w.y0 + w.height, w.x0: w.x0 + w.width]
            under.append(view.clone())
            view.mul_(through[place.drawing][place.item, : w.height, : w.width]).add_(premultiplied)
        ctx.placements = placements
        ctx.under = under
        ctx.save_for_backward(*drawings)
        return canvas

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        drawings = ctx.saved_tensors
        through = [1 - alpha for alpha in drawings[1::2]]
        grads = [torch.zeros_like(d) for d in drawings]
        grad = grad.clone()
        for place, under in zip(reversed(ctx.placements), reversed(ctx.under), strict=True):
            w = place.window
            view = grad[:, w.y0: w.y0 + w.height, w.x0: w.x0 + w.width]
            grads[2 * place.drawing][place.item, :, : w.height, : w.width] = view
            grads[2 * place.drawing + 1][place.item, : w.height, : w.width] = -(view * under).sum(0)
            view.mul_(through[place.drawing][place.item, : w.height, : w.width])
        return (grad, None, *grads)


def composite(base: torch.Tensor, placements: list[Placement],
              drawings: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """The (3, H, W) canvas `base` with the placed strokes composited over it in order."""
    return _Over.apply(base, placements, *(t for pair in drawings for t in pair))
